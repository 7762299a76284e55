/* thread_cancel.c: compat test of deferred cancellation (DESIGN.md §2.1): a thread
 * blocked in a cancellation point (condition wait, sleep, nanosleep, sem_wait, join,
 * pause) is cancelled, its cleanup handlers run in reverse order (the condition wait one
 * with the mutex held again), its TSD destructors run, and join returns PTHREAD_CANCELED;
 * with cancellation disabled the request stays pending until enabled and testcancel;
 * blocking calls that are not cancellation points (mutex lock) are not interrupted.
 */
#include "compat.h"
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t started, never;
static char trace[256];
static pthread_key_t key;
static atomic_int dtor_calls;
static pid_t started_tid;	/* gettid() of the thread that posted started last */

static void note(const char *s)
{
	/* Only one thread runs cleanups at a time in this test. */
	strcat(trace, s);
}

static void dtor(void *v)
{
	(void)v;
	atomic_fetch_add(&dtor_calls, 1);
}

static void unlock_mu(void *arg)
{
	(void)arg;
	/* The condition wait reacquired the mutex before running this: trylock by the
	 * owner of a normal mutex is EBUSY, and unlocking works. */
	CHECK_RC(pthread_mutex_trylock(&mu), EBUSY);
	note("[unlock]");
	CHECK_RC(pthread_mutex_unlock(&mu), 0);
}

static void say(void *arg)
{
	note(arg);
}

static void *in_cond(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_setspecific(key, (void *)1), 0);
	pthread_mutex_lock(&mu);
	pthread_cleanup_push(say, "[outer]");
	pthread_cleanup_push(unlock_mu, NULL);
	started_tid = gettid();
	CHECK_SYS(sem_post(&started));
	for (;;)
		pthread_cond_wait(&cv, &mu);
	pthread_cleanup_pop(1);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *in_call(void *arg)
{
	int which = (int)(long)arg;
	struct timespec ts = { 100, 0 };

	CHECK_RC(pthread_setspecific(key, (void *)1), 0);
	pthread_cleanup_push(say, "[c]");
	started_tid = gettid();
	CHECK_SYS(sem_post(&started));
	switch (which) {
	case 0: sleep(100); break;
	case 1: nanosleep(&ts, NULL); break;
	case 2: sem_wait(&never); break;
	case 3: pause(); break;
	case 4: usleep(100000000); break;
	case 5: clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL); break;
	case 6: { sigset_t s; int sig; sigemptyset(&s); sigaddset(&s, SIGUSR2); sigwait(&s, &sig); } break;
	default: break;
	}
	FAIL("call %d returned instead of being cancelled", which);
	pthread_cleanup_pop(0);
	return NULL;
}

static atomic_int stage;

/* Cancellation disabled: the request waits until enabled and a cancellation point. */
static void *disabled(void *arg)
{
	int old;

	(void)arg;
	CHECK_RC(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
	CHECK_EQ(old, PTHREAD_CANCEL_ENABLE);
	CHECK_SYS(sem_post(&started));
	while (atomic_load(&stage) == 0)
		usleep(1000); /* a cancellation point, but disabled */
	note("[survived]");
	CHECK_RC(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
	pthread_testcancel();
	FAIL("testcancel returned with a pending cancel");
	return NULL;
}

static void *on_mutex(void *arg)
{
	(void)arg;
	started_tid = gettid();
	CHECK_SYS(sem_post(&started));
	pthread_mutex_lock(&mu); /* not a cancellation point */
	note("[got mutex]");
	pthread_mutex_unlock(&mu);
	pthread_testcancel();
	FAIL("testcancel returned with a pending cancel");
	return NULL;
}

static void cancel_and_join(pthread_t t)
{
	void *r;

	wait_blocked(started_tid, -1, -1); /* blocked in its call */
	CHECK_RC(pthread_cancel(t), 0);
	CHECK_RC(pthread_join(t, &r), 0);
	CHECK(r == PTHREAD_CANCELED);
}

static void wait_started(void)
{
	while (sem_wait(&started) != 0)
		CHECK(errno == EINTR);
}

int main(void)
{
	const char *names[] = { "sleep", "nanosleep", "sem_wait", "pause", "usleep",
				"clock_nanosleep", "sigwait" };
	sigset_t s;
	pthread_t t;
	long i;

	/* sigwait needs the signal blocked everywhere; threads inherit this mask. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
	CHECK_SYS(sem_init(&started, 0, 0));
	CHECK_SYS(sem_init(&never, 0, 0));
	CHECK_RC(pthread_key_create(&key, dtor), 0);

	CHECK_RC(pthread_create(&t, NULL, in_cond, NULL), 0);
	wait_started();
	cancel_and_join(t);
	printf("cond_wait cancelled, cleanups: %s\n", trace);
	CHECK(strcmp(trace, "[unlock][outer]") == 0);
	CHECK_RC(pthread_mutex_trylock(&mu), 0); /* the cleanup left it unlocked */
	CHECK_RC(pthread_mutex_unlock(&mu), 0);

	for (i = 0; i < (long)(sizeof(names) / sizeof(names[0])); i++) {
		trace[0] = 0;
		CHECK_RC(pthread_create(&t, NULL, in_call, (void *)i), 0);
		wait_started();
		cancel_and_join(t);
		printf("%s cancelled, cleanups: %s\n", names[i], trace);
		CHECK(strcmp(trace, "[c]") == 0);
	}
	printf("TSD destructors run by cancelled threads: %d\n", atomic_load(&dtor_calls));
	CHECK_EQ(dtor_calls, 1 + (int)(sizeof(names) / sizeof(names[0])));

	trace[0] = 0;
	CHECK_RC(pthread_create(&t, NULL, disabled, NULL), 0);
	wait_started();
	CHECK_RC(pthread_cancel(t), 0);
	usleep(20000);
	atomic_store(&stage, 1);
	CHECK_RC(pthread_join(t, (void **)&i), 0);
	CHECK((void *)i == PTHREAD_CANCELED);
	printf("disabled cancel: %s then cancelled\n", trace);
	CHECK(strcmp(trace, "[survived]") == 0);

	trace[0] = 0;
	pthread_mutex_lock(&mu);
	CHECK_RC(pthread_create(&t, NULL, on_mutex, NULL), 0);
	wait_started();
	wait_blocked(started_tid, -1, -1); /* blocked in the lock */
	CHECK_RC(pthread_cancel(t), 0);
	usleep(20000);
	pthread_mutex_unlock(&mu);
	CHECK_RC(pthread_join(t, (void **)&i), 0);
	CHECK((void *)i == PTHREAD_CANCELED);
	printf("mutex lock not interrupted: %s then cancelled\n", trace);
	CHECK(strcmp(trace, "[got mutex]") == 0);
	return 0;
}
