/* sig_waits.c: compat test of signals sent to a thread that waits (issue 17): the
 * handler runs while the thread is blocked in pthread_rwlock_rdlock, _wrlock,
 * pthread_barrier_wait, pthread_once, pthread_join and pthread_mutex_lock (glibc runs
 * it and the wait goes on: none of these returns EINTR), with and without
 * SA_RESTART; then the wait ends normally when what it waits for happens. The
 * handler records that it ran in the target thread. Main waits for the handler with
 * a bounded poll (10 s): a handler that does not run while the thread waits prints
 * "handler did not run". */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_int handled;
static _Atomic pthread_t handled_in;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_release, waiting;
static pthread_t held_t;
static atomic_int held_release;

static void handler(int sig)
{
	(void)sig;
	atomic_store(&handled_in, pthread_self());
	atomic_fetch_add(&handled, 1);
}

static void slow_init(void)
{
	while (!atomic_load(&once_release))
		usleep(1000);
}

static void *once_runner(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_once(&once, slow_init), 0);
	return NULL;
}

static void *held(void *arg)
{
	(void)arg;
	while (!atomic_load(&held_release))
		usleep(1000);
	return (void *)3;
}

enum { RDLOCK, WRLOCK, BARRIER, ONCE, JOIN, MUTEX, NKINDS };
static const char *const names[NKINDS] = { "rwlock rdlock", "rwlock wrlock", "barrier wait",
					   "once", "join", "mutex lock" };

static void *waiter(void *arg)
{
	int kind = (int)(long)arg;
	void *r;
	int rc = 0;

	atomic_store(&waiting, 1);
	switch (kind) {
	case RDLOCK:
		rc = pthread_rwlock_rdlock(&rw);
		if (!rc)
			pthread_rwlock_unlock(&rw);
		break;
	case WRLOCK:
		rc = pthread_rwlock_wrlock(&rw);
		if (!rc)
			pthread_rwlock_unlock(&rw);
		break;
	case BARRIER:
		rc = pthread_barrier_wait(&bar);
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
			rc = 0;
		break;
	case ONCE:
		rc = pthread_once(&once, slow_init);
		break;
	case JOIN:
		rc = pthread_join(held_t, &r);
		if (!rc)
			CHECK(r == (void *)3);
		break;
	case MUTEX:
		rc = pthread_mutex_lock(&mu);
		if (!rc)
			pthread_mutex_unlock(&mu);
		break;
	}
	return (void *)(long)rc;
}

static void one(int kind, int restart)
{
	pthread_t t, o = 0;
	void *r;
	int before = atomic_load(&handled);

	switch (kind) {
	case RDLOCK:
		CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
		break;
	case WRLOCK:
		CHECK_RC(pthread_rwlock_rdlock(&rw), 0);
		break;
	case BARRIER:
		CHECK_RC(pthread_barrier_init(&bar, NULL, 2), 0);
		break;
	case ONCE:
		once = (pthread_once_t)PTHREAD_ONCE_INIT;
		atomic_store(&once_release, 0);
		CHECK_RC(pthread_create(&o, NULL, once_runner, NULL), 0);
		usleep(20000); /* lets it start the routine; the waiter waits either way */
		break;
	case JOIN:
		atomic_store(&held_release, 0);
		CHECK_RC(pthread_create(&held_t, NULL, held, NULL), 0);
		break;
	case MUTEX:
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		break;
	}
	atomic_store(&waiting, 0);
	CHECK_RC(pthread_create(&t, NULL, waiter, (void *)(long)kind), 0);
	while (!atomic_load(&waiting))
		usleep(1000);
	usleep(30000); /* lets it block; a signal before the wait runs the handler too */
	CHECK_RC(pthread_kill(t, SIGUSR1), 0);
	for (int i = 0; i < 10000 && atomic_load(&handled) == before; i++)
		usleep(1000);
	int ran = atomic_load(&handled) > before && pthread_equal(atomic_load(&handled_in), t);
	switch (kind) {
	case RDLOCK:
	case WRLOCK:
		CHECK_RC(pthread_rwlock_unlock(&rw), 0);
		break;
	case BARRIER:
		pthread_barrier_wait(&bar); /* serial or not: either is right */
		break;
	case ONCE:
		atomic_store(&once_release, 1);
		CHECK_RC(pthread_join(o, NULL), 0);
		break;
	case JOIN:
		atomic_store(&held_release, 1);
		break;
	case MUTEX:
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	}
	CHECK_RC(pthread_join(t, &r), 0);
	if (kind == BARRIER)
		CHECK_RC(pthread_barrier_destroy(&bar), 0);
	printf("%s%s: handler %s in the waiter, wait returned %s\n", names[kind],
	       restart ? " (SA_RESTART)" : "", ran ? "ran" : "did not run", errname((int)(long)r));
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	for (int restart = 0; restart < 2; restart++) {
		sa.sa_flags = restart ? SA_RESTART : 0;
		CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
		for (int k = 0; k < NKINDS; k++)
			one(k, restart);
	}
	return 0;
}
