/* sys_futex.c: syscall(SYS_futex, ...) as libstdc++ and hand-written locks use it.
 * FUTEX_WAIT / FUTEX_WAIT_BITSET with a value that differs (EAGAIN), relative and
 * absolute timeouts on both clocks (ETIMEDOUT), bad arguments (EINVAL), wakes with
 * nobody waiting (0), a wake whose bitset misses the waiter (0) and one that hits
 * (1); a thread woken by another (a started ticker keeps counting meanwhile); EINTR
 * from a handler without SA_RESTART, and a wait that goes on through a SA_RESTART
 * handler; a thread the program did not make with pthread_create (timer_create's
 * SIGEV_THREAD: glibc's own thread) waking a waiting thread and being woken by one;
 * a shared (not FUTEX_PRIVATE) word in shared memory woken from a forked child. */
// compat-ldlibs: -lrt
#include "compat.h"
#include "ticker.h"
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts, uint32_t val3)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, val3);
}

static uint32_t word, word2;
static volatile int state;	/* waker: 1 when the waiter may be waiting */

static void *waker(void *arg)
{
	usleep(50000);
	__atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
	long n = futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	return (void *)n;
}

static void on_sig(int s)
{
	(void)s;
}

struct kick { pthread_t t; int sig; };

static void *kicker(void *arg)
{
	struct kick *k = arg;
	usleep(50000);
	pthread_kill(k->t, k->sig);
	usleep(50000);
	__atomic_store_n(&word2, 1, __ATOMIC_SEQ_CST);
	futex(&word2, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	return NULL;
}

/* The SIGEV_THREAD notify function runs on a thread of glibc's. */
static uint32_t tword, tdone;
static unsigned long tmark;	/* the ticks when main began to wait */
static void notify(union sigval v)
{
	if (v.sival_int == 1) {	/* wake a thread of ours */
		/* Not before the ticker has gone on (up to 5 s): on a loaded machine
		 * 30 ms may pass with no tick although nothing is stopped. If the
		 * wait stopped the ticker's OS thread, it still reports 0 ticks. */
		for (int i = 0; i < 5000 && ticker_mark() == tmark; i++)
			usleep(1000);
		__atomic_store_n(&tword, 1, __ATOMIC_SEQ_CST);
		futex(&tword, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	} else {		/* wait until one of ours wakes us */
		while (__atomic_load_n(&tword, __ATOMIC_SEQ_CST) == 2)
			futex(&tword, FUTEX_WAIT_PRIVATE, 2, NULL, 0);
		__atomic_store_n(&tdone, 1, __ATOMIC_SEQ_CST);
		futex(&tdone, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	}
}

static timer_t start_timer(int what)
{
	timer_t tm;
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = notify,
			       .sigev_value.sival_int = what };
	CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &tm));
	struct itimerspec its = { .it_value = ts_ms(30) };
	CHECK_SYS(timer_settime(tm, 0, &its, NULL));
	return tm;
}

static uint32_t bword;
static int breturns;
static void *bwaiter(void *arg)
{
	while (__atomic_load_n(&bword, __ATOMIC_SEQ_CST) == 0) {
		futex(&bword, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, 2);
		breturns++;
	}
	return NULL;
}

/* Cancelled while in a futex wait: syscall() is no cancellation point, so the wait
 * goes on until the wake, and the thread ends at its next cancellation point. */
static uint32_t cword;
static int creturns;
static void *cancel_target(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&cword, __ATOMIC_SEQ_CST) == 0) {
		futex(&cword, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
		creturns++;
	}
	pthread_testcancel();
	return NULL;
}

static int handled;
static void on_handled(int s)
{
	(void)s;
	handled++;
}

int main(void)
{
	ticker_start();
	uint32_t w = 5;
	struct timespec rel = ts_ms(20);

	CHECK_ERRNO(futex(&w, FUTEX_WAIT_PRIVATE, 4, NULL, 0), EAGAIN);
	long long t0 = now_ns(CLOCK_MONOTONIC);
	CHECK_ERRNO(futex(&w, FUTEX_WAIT_PRIVATE, 5, &rel, 0), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_MONOTONIC, t0, 20);
	struct timespec abs = deadline_ms(CLOCK_MONOTONIC, 20);
	t0 = now_ns(CLOCK_MONOTONIC);
	CHECK_ERRNO(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	CHECK_ELAPSED(CLOCK_MONOTONIC, t0, 19);
	abs = deadline_ms(CLOCK_REALTIME, 20);
	CHECK_ERRNO(futex(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &abs,
			  FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	abs = deadline_ms(CLOCK_MONOTONIC, -10);	/* already past */
	CHECK_ERRNO(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	CHECK_ERRNO(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, 0), EINVAL);
	struct timespec bad = { 0, 1000000000 };
	CHECK_ERRNO(futex(&w, FUTEX_WAIT_PRIVATE, 5, &bad, 0), EINVAL);
	CHECK_ERRNO(futex((uint32_t *)((char *)&w + 1), FUTEX_WAIT_PRIVATE, 5, NULL, 0), EINVAL);
	CHECK_EQ(futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL, 0), 0);
	CHECK_EQ(futex(&w, FUTEX_WAKE, 1, NULL, 0), 0);
	printf("errors and timeouts as natively\n");

	/* Woken by another thread; the ticker goes on. */
	pthread_t t;
	void *n;
	CHECK_RC(pthread_create(&t, NULL, waker, NULL), 0);
	unsigned long m = ticker_mark();
	while (__atomic_load_n(&word, __ATOMIC_SEQ_CST) == 0)
		futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
	ticker_report("FUTEX_WAIT woken by a thread", m);
	CHECK_RC(pthread_join(t, &n), 0);
	printf("the waker woke %ld\n", (long)n);

	/* Bitsets: a wake that misses, then one that hits. */
	CHECK_RC(pthread_create(&t, NULL, bwaiter, NULL), 0);
	for (int i = 0; i < 5; i++) {
		usleep(10000);
		CHECK_EQ(futex(&bword, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, 1), 0);
	}
	__atomic_store_n(&bword, 1, __ATOMIC_SEQ_CST);
	futex(&bword, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, 2 | 4);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("bitset waiter returned %d time(s)\n", breturns);

	/* Signals: without SA_RESTART EINTR; with it the wait goes on, unless it has a
	 * timeout (the kernel then returns EINTR whatever the flag). */
	struct sigaction sa = { .sa_handler = on_handled };
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	sa.sa_flags = SA_RESTART;
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	struct kicker kk;
	kicker_start(&kk, SIGUSR1);
	CHECK_ERRNO(futex(&word2, FUTEX_WAIT_PRIVATE, 0, NULL, 0), EINTR);
	kicker_stop(&kk);
	struct kick k = { pthread_self(), SIGUSR2 };
	CHECK_RC(pthread_create(&t, NULL, kicker, &k), 0);
	CHECK_EQ(futex(&word2, FUTEX_WAIT_PRIVATE, 0, NULL, 0), 0);
	CHECK_EQ(word2, 1);
	CHECK_RC(pthread_join(t, NULL), 0);
	word2 = 0;
	struct timespec five = ts_ms(5000);
	kicker_start(&kk, SIGUSR2);
	CHECK_ERRNO(futex(&word2, FUTEX_WAIT_PRIVATE, 0, &five, 0), EINTR);
	kicker_stop(&kk);
	printf("signals: handled %d, EINTR as natively\n", handled >= 3);

	/* A thread of glibc's wakes us, and we wake it. */
	m = tmark = ticker_mark();
	timer_t tm = start_timer(1);
	while (__atomic_load_n(&tword, __ATOMIC_SEQ_CST) == 0)
		futex(&tword, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
	ticker_report("woken by glibc's timer thread", m);
	usleep(50000);
	CHECK_SYS(timer_delete(tm));
	__atomic_store_n(&tword, 2, __ATOMIC_SEQ_CST);
	tm = start_timer(2);
	usleep(100000);	/* it waits in the kernel by now, or soon will */
	__atomic_store_n(&tword, 3, __ATOMIC_SEQ_CST);
	futex(&tword, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	while (__atomic_load_n(&tdone, __ATOMIC_SEQ_CST) == 0)
		futex(&tdone, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
	printf("woke glibc's timer thread\n");
	usleep(50000);
	CHECK_SYS(timer_delete(tm));

	CHECK_RC(pthread_create(&t, NULL, cancel_target, NULL), 0);
	usleep(30000);
	CHECK_RC(pthread_cancel(t), 0);
	usleep(30000);
	__atomic_store_n(&cword, 1, __ATOMIC_SEQ_CST);
	futex(&cword, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	CHECK_RC(pthread_join(t, &n), 0);
	printf("cancelled in a futex wait: %d, returns from the wait %d\n", n == PTHREAD_CANCELED,
	       creturns);

	/* A shared word woken from another process. */
	uint32_t *sw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sw != MAP_FAILED);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		usleep(50000);
		__atomic_store_n(sw, 1, __ATOMIC_SEQ_CST);
		futex(sw, FUTEX_WAKE, 1, NULL, 0);
		_exit(0);
	}
	m = ticker_mark();
	while (__atomic_load_n(sw, __ATOMIC_SEQ_CST) == 0)
		futex(sw, FUTEX_WAIT, 0, NULL, 0);
	ticker_report("shared word woken by another process", m);
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK_EQ(st, 0);
	ticker_end();
	return 0;
}
