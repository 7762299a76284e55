/* tests/unit/test_futex.c: gs_futex_wait/gs_futex_wake of sched/futex.c from
 * plain OS threads.
 *
 * This binary is not preloaded and never starts the scheduler, so gs_self() is
 * NULL everywhere and the calls take the kernel futex path, the one a thread
 * the shim did not create uses. A test that needs a waiter asleep before it
 * wakes waits until the kernel reports that thread blocked in futex(2) on the
 * word (/proc/self/task/TID/syscall), so no assertion depends on timing. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gs.h"

#define MS 1000000ull

struct waiter {
	pthread_t t;
	_Atomic pid_t tid;
	_Atomic uint32_t *word;
	uint32_t val;
	uint64_t deadline;		/* 0: none; else relative ns, made absolute in the thread */
	int interruptible;
	_Atomic int done;
	int r;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	uint64_t deadline = w->deadline ? gs_nanotime() + w->deadline : 0;
	w->r = gs_futex_wait(w->word, w->val, deadline, w->interruptible, "test");
	atomic_store(&w->done, 1);
	return NULL;
}

static void start(struct waiter *w, _Atomic uint32_t *word, uint32_t val)
{
	w->word = word;
	w->val = val;
	atomic_store(&w->tid, 0);
	atomic_store(&w->done, 0);
	ck_assert_int_eq(pthread_create(&w->t, NULL, waiter_main, w), 0);
}

/* The number /proc/TID/syscall shows for futex(2): SYS_futex, or the host's
 * under an emulator (qemu-user runs the guest's futex as the host's own call).
 * Learnt once from a thread blocked in futex(2) on a word of its own: the line
 * that names that word as the first argument. */
static _Atomic uint32_t probe_word;
static _Atomic pid_t probe_tid;

static void *probe_main(void *arg)
{
	(void)arg;
	atomic_store(&probe_tid, (pid_t)syscall(SYS_gettid));
	while (!atomic_load(&probe_word))
		syscall(SYS_futex, &probe_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static long futex_nr(void)
{
	static long nr = -1;
	if (nr >= 0)
		return nr;
	pthread_t t;
	atomic_store(&probe_word, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, probe_main, NULL), 0);
	pid_t tid;
	while (!(tid = atomic_load(&probe_tid)))
		sched_yield();
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	for (long seen = -1; seen < 0;) {
		FILE *f = fopen(path, "re");
		ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		long k;
		unsigned long a0;
		if (sscanf(buf, "%ld %lx", &k, &a0) == 2 && a0 == (uintptr_t)&probe_word)
			seen = k;
		else
			usleep(1000);
		nr = seen;
	}
	atomic_store(&probe_word, 1);
	syscall(SYS_futex, &probe_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(t, NULL);
	return nr;
}

/* Returns once thread tid is blocked in futex(2) on addr. */
static void wait_blocked(struct waiter *w)
{
	long futex = futex_nr();
	pid_t tid;
	while (!(tid = atomic_load(&w->tid)))
		sched_yield();
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	for (;;) {
		FILE *f = fopen(path, "re");
		ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		long nr;
		unsigned long a0;
		if (sscanf(buf, "%ld %lx", &nr, &a0) == 2 && nr == futex && a0 == (uintptr_t)w->word)
			return;
		ck_assert_msg(!atomic_load(&w->done), "waiter returned %d before it was woken", w->r);
		usleep(1000);
	}
}

static int join(struct waiter *w)
{
	ck_assert_int_eq(pthread_join(w->t, NULL), 0);
	return w->r;
}

START_TEST(futex_not_from_a_g)
{
	ck_assert_ptr_null(gs_self());
}
END_TEST

START_TEST(futex_value_differs)
{
	_Atomic uint32_t word = 1;
	errno = 1234;
	ck_assert_int_eq(gs_futex_wait(&word, 0, 0, 0, "test"), -EAGAIN);
	ck_assert_int_eq(gs_futex_wait(&word, 2, gs_nanotime() + 1000 * MS, 0, "test"), -EAGAIN);
	ck_assert_int_eq(gs_futex_wait(&word, 0, 0, 1, "test"), -EAGAIN);
	ck_assert_int_eq(errno, 1234);		/* errno untouched */
}
END_TEST

START_TEST(futex_wake_nobody)
{
	_Atomic uint32_t word = 0;
	errno = 1234;
	ck_assert_int_eq(gs_futex_wake(&word, 1), 0);
	ck_assert_int_eq(gs_futex_wake(&word, INT_MAX), 0);
	ck_assert_int_eq(errno, 1234);
}
END_TEST

/* The value does not change: only the wake can end the wait. */
START_TEST(futex_wake_one)
{
	_Atomic uint32_t word = 0;
	struct waiter w = { 0 };
	start(&w, &word, 0);
	wait_blocked(&w);
	errno = 1234;
	ck_assert_int_eq(gs_futex_wake(&word, 1), 1);
	ck_assert_int_eq(join(&w), 0);
	ck_assert_int_eq(errno, 1234);
	ck_assert_int_eq(gs_futex_wake(&word, 1), 0);
}
END_TEST

/* The usual pattern: change the value, then wake. */
START_TEST(futex_store_then_wake)
{
	_Atomic uint32_t word = 0;
	struct waiter w = { 0 };
	start(&w, &word, 0);
	wait_blocked(&w);
	atomic_store(&word, 1);
	ck_assert_int_eq(gs_futex_wake(&word, INT_MAX), 1);
	ck_assert_int_eq(join(&w), 0);
}
END_TEST

/* n bounds the number woken; the rest stay asleep until woken. */
START_TEST(futex_wake_n)
{
	enum { N = 3 };
	_Atomic uint32_t word = 0, other = 0;
	struct waiter w[N] = { 0 }, o = { 0 };
	start(&o, &other, 0);
	for (int i = 0; i < N; i++)
		start(&w[i], &word, 0);
	wait_blocked(&o);
	for (int i = 0; i < N; i++)
		wait_blocked(&w[i]);
	ck_assert_int_eq(gs_futex_wake(&word, 2), 2);
	/* Exactly one is still asleep on word; the waiter on other still is. */
	int left = -1;
	for (int done = 0; done < 2;) {
		done = 0;
		for (int i = 0; i < N; i++)
			done += atomic_load(&w[i].done);
		if (done < 2)
			usleep(1000);
	}
	for (int i = 0; i < N; i++)
		if (!atomic_load(&w[i].done))
			left = i;
	ck_assert_int_ge(left, 0);
	wait_blocked(&w[left]);
	wait_blocked(&o);
	ck_assert_int_eq(gs_futex_wake(&word, INT_MAX), 1);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(join(&w[i]), 0);
	ck_assert_int_eq(gs_futex_wake(&word, INT_MAX), 0);
	ck_assert(!atomic_load(&o.done));
	ck_assert_int_eq(gs_futex_wake(&other, 1), 1);
	ck_assert_int_eq(join(&o), 0);
}
END_TEST

START_TEST(futex_timeout)
{
	_Atomic uint32_t word = 0;
	errno = 1234;
	uint64_t deadline = gs_nanotime() + 20 * MS;
	ck_assert_int_eq(gs_futex_wait(&word, 0, deadline, 0, "test"), -ETIMEDOUT);
	ck_assert_uint_ge(gs_nanotime(), deadline);	/* not before the deadline */
	ck_assert_int_eq(errno, 1234);
	/* Interruptible waits time out the same way. */
	deadline = gs_nanotime() + 20 * MS;
	ck_assert_int_eq(gs_futex_wait(&word, 0, deadline, 1, "test"), -ETIMEDOUT);
	ck_assert_uint_ge(gs_nanotime(), deadline);
}
END_TEST

START_TEST(futex_deadline_past)
{
	_Atomic uint32_t word = 0;
	ck_assert_int_eq(gs_futex_wait(&word, 0, gs_nanotime() - 1, 0, "test"), -ETIMEDOUT);
	ck_assert_int_eq(gs_futex_wait(&word, 0, 1, 0, "test"), -ETIMEDOUT);
	/* The value check comes first. */
	ck_assert_int_eq(gs_futex_wait(&word, 5, 1, 0, "test"), -EAGAIN);
}
END_TEST

/* A wait with a far deadline ends at the wake, with 0. */
START_TEST(futex_wake_before_deadline)
{
	_Atomic uint32_t word = 0;
	struct waiter w = { .deadline = 3600000 * MS };
	start(&w, &word, 0);
	wait_blocked(&w);
	ck_assert_int_eq(gs_futex_wake(&word, 1), 1);
	ck_assert_int_eq(join(&w), 0);
}
END_TEST

static _Atomic int handled;
static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void set_handler(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

/* A handled signal ends an interruptible wait with -EINTR. */
START_TEST(futex_interrupted)
{
	_Atomic uint32_t word = 0;
	struct waiter w = { .interruptible = GS_INTR_ALWAYS };
	set_handler(0);
	start(&w, &word, 0);
	wait_blocked(&w);
	ck_assert_int_eq(pthread_kill(w.t, SIGUSR1), 0);
	ck_assert_int_eq(join(&w), -EINTR);
	ck_assert_int_eq(atomic_load(&handled), 1);
}
END_TEST

/* Not interruptible: a signal is at most a spurious wakeup (0), never -EINTR. */
START_TEST(futex_not_interruptible)
{
	_Atomic uint32_t word = 0;
	struct waiter w = { .interruptible = GS_INTR_NONE };
	set_handler(0);
	start(&w, &word, 0);
	wait_blocked(&w);
	ck_assert_int_eq(pthread_kill(w.t, SIGUSR1), 0);
	ck_assert_int_eq(join(&w), 0);
	ck_assert_int_eq(atomic_load(&handled), 1);
}
END_TEST

/* Many waits and wakes on one word: nobody is lost (a hang fails by timeout). */
#define PINGS 20000
static _Atomic uint32_t ping;

static void *pinger(void *arg)
{
	uint32_t me = (uint32_t)(uintptr_t)arg;
	for (uint32_t i = 0; i < PINGS; i++) {
		uint32_t v;
		while ((v = atomic_load(&ping)) % 2 != me)
			gs_futex_wait(&ping, v, 0, 0, "ping");
		atomic_store(&ping, v + 1);
		gs_futex_wake(&ping, 1);
	}
	return NULL;
}

START_TEST(futex_ping_pong)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, pinger, (void *)(uintptr_t)i), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_uint_eq(atomic_load(&ping), 2 * PINGS);
}
END_TEST

static Suite *futex_suite(void)
{
	Suite *s = suite_create("futex");
	TCase *tc = tcase_create("native");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, futex_not_from_a_g);
	tcase_add_test(tc, futex_value_differs);
	tcase_add_test(tc, futex_wake_nobody);
	tcase_add_test(tc, futex_wake_one);
	tcase_add_test(tc, futex_store_then_wake);
	tcase_add_test(tc, futex_wake_n);
	tcase_add_test(tc, futex_timeout);
	tcase_add_test(tc, futex_deadline_past);
	tcase_add_test(tc, futex_wake_before_deadline);
	tcase_add_test(tc, futex_interrupted);
	tcase_add_test(tc, futex_not_interruptible);
	tcase_add_test(tc, futex_ping_pong);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(futex_suite());
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, normal by default */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
