/* pshared_live.c: compat test of process-shared objects waited on inside one
 * process (DESIGN.md §2.2: "a wait parks the G, never the M"): a thread blocked
 * on a PTHREAD_PROCESS_SHARED mutex, rwlock, condvar, barrier or semaphore must
 * not stop the thread that will release it, even when both share one OS thread
 * (GOSHIM_PROCS=1). Also: timeouts, EINTR of sem_wait, and owner checks of
 * recursive and errorcheck mutexes and of rwlocks between threads (EBUSY and a
 * wait, not a recursive grant or EDEADLK, for another thread's lock).
 */
#include "compat.h"
#include "ticker.h"
#include <semaphore.h>
#include <signal.h>
#include <unistd.h>

static pthread_mutex_t mu, mrec, merr;
static pthread_rwlock_t rw;
static pthread_cond_t cv;
static pthread_mutex_t priv = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;
static sem_t sem;
static int flag, held, serials;
static pthread_t main_thread;

static void set(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static int get(int *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void wait_for(int *p)
{
	while (!get(p))
		usleep(1000);
}

/* Locks arg, says so, holds it 30 ms. */
static void *hold_mutex(void *arg)
{
	CHECK_RC(pthread_mutex_lock(arg), 0);
	set(&held, 1);
	usleep(30000);
	CHECK_RC(pthread_mutex_unlock(arg), 0);
	return NULL;
}

static void *hold_mutex_long(void *arg)
{
	CHECK_RC(pthread_mutex_lock(arg), 0);
	set(&held, 1);
	usleep(150000);
	CHECK_RC(pthread_mutex_unlock(arg), 0);
	return NULL;
}

static void *hold_write(void *arg)
{
	CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
	set(&held, 1);
	usleep(30000);
	CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	return NULL;
}

static void *read_lock(void *arg)
{
	int r = pthread_rwlock_tryrdlock(&rw);

	set(&held, 1);
	if (r == 0)
		return (void *)-1L;
	CHECK_EQ(r, EBUSY);
	r = pthread_rwlock_rdlock(&rw);
	if (r == 0)
		CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	return (void *)(long)r;
}

/* Sets flag under m after 30 ms and signals cv. */
static void *signal_later(void *arg)
{
	usleep(30000);
	CHECK_RC(pthread_mutex_lock(arg), 0);
	set(&flag, 1);
	CHECK_RC(pthread_cond_signal(&cv), 0);
	CHECK_RC(pthread_mutex_unlock(arg), 0);
	return NULL;
}

static void *post_later(void *arg)
{
	usleep(30000);
	CHECK_SYS(sem_post(&sem));
	return NULL;
}

static void *kill_later(void *arg)
{
	usleep(30000);
	CHECK_RC(pthread_kill(main_thread, SIGUSR1), 0);
	usleep(30000);
	CHECK_SYS(sem_post(&sem));
	return NULL;
}

static void *barrier_rounds(void *arg)
{
	int i, r;

	for (i = 0; i < 5; i++) {
		r = pthread_barrier_wait(&bar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&serials, 1, __ATOMIC_SEQ_CST);
		else
			CHECK_EQ(r, 0);
		if (arg)
			usleep(5000);	/* one thread late at every round */
	}
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	set(&held, 0);
	CHECK_RC(pthread_create(t, NULL, fn, arg), 0);
}

static void init_mutex(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;

	CHECK_RC(pthread_mutexattr_init(&a), 0);
	CHECK_RC(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_mutexattr_settype(&a, type), 0);
	CHECK_RC(pthread_mutex_init(m, &a), 0);
	CHECK_RC(pthread_mutexattr_destroy(&a), 0);
}

int main(void)
{
	pthread_t t, tb[3];
	struct timespec dl;
	void *ret;
	int i, v, r1, r2, r3;

	main_thread = pthread_self();
	init_mutex(&mu, PTHREAD_MUTEX_NORMAL);
	init_mutex(&mrec, PTHREAD_MUTEX_RECURSIVE);
	init_mutex(&merr, PTHREAD_MUTEX_ERRORCHECK);

	start(&t, hold_mutex, &mu);
	wait_for(&held);
	r1 = pthread_mutex_trylock(&mu);
	r2 = pthread_mutex_lock(&mu);
	printf("mutex held by another thread: trylock %s, lock %s\n", errname(r1), errname(r2));
	CHECK_RC(pthread_mutex_unlock(&mu), 0);
	CHECK_RC(pthread_join(t, NULL), 0);

	start(&t, hold_mutex_long, &mu);
	wait_for(&held);
	dl = deadline_ms(CLOCK_REALTIME, 20);
	printf("timedlock: %s\n", errname(pthread_mutex_timedlock(&mu, &dl)));
	dl = deadline_ms(CLOCK_MONOTONIC, 20);
	printf("clocklock: %s\n", errname(pthread_mutex_clocklock(&mu, CLOCK_MONOTONIC, &dl)));
	CHECK_RC(pthread_join(t, NULL), 0);

	start(&t, hold_mutex, &mrec);
	wait_for(&held);
	r1 = pthread_mutex_trylock(&mrec);
	r2 = pthread_mutex_unlock(&mrec);
	r3 = pthread_mutex_lock(&mrec);
	printf("recursive held by another thread: trylock %s, unlock %s, lock %s\n",
	       errname(r1), errname(r2), errname(r3));
	printf("recursive relock: %s\n", errname(pthread_mutex_lock(&mrec)));
	CHECK_RC(pthread_mutex_unlock(&mrec), 0);
	CHECK_RC(pthread_mutex_unlock(&mrec), 0);
	printf("recursive unlock once too often: %s\n", errname(pthread_mutex_unlock(&mrec)));
	CHECK_RC(pthread_join(t, NULL), 0);

	start(&t, hold_mutex, &merr);
	wait_for(&held);
	r1 = pthread_mutex_trylock(&merr);
	r2 = pthread_mutex_lock(&merr);
	printf("errorcheck held by another thread: trylock %s, lock %s\n", errname(r1), errname(r2));
	r1 = pthread_mutex_lock(&merr);
	r2 = pthread_mutex_trylock(&merr);
	printf("errorcheck relock: lock %s, trylock %s\n", errname(r1), errname(r2));
	CHECK_RC(pthread_mutex_unlock(&merr), 0);
	CHECK_RC(pthread_join(t, NULL), 0);

	pthread_rwlockattr_t ra;
	CHECK_RC(pthread_rwlockattr_init(&ra), 0);
	CHECK_RC(pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_rwlock_init(&rw, &ra), 0);
	start(&t, hold_write, NULL);
	wait_for(&held);
	r1 = pthread_rwlock_tryrdlock(&rw);
	r2 = pthread_rwlock_rdlock(&rw);
	printf("rwlock written by another thread: tryrdlock %s, rdlock %s\n", errname(r1), errname(r2));
	CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
	r1 = pthread_rwlock_wrlock(&rw);
	r2 = pthread_rwlock_rdlock(&rw);
	r3 = pthread_rwlock_trywrlock(&rw);
	printf("rwlock relock by its writer: wrlock %s, rdlock %s, trywrlock %s\n",
	       errname(r1), errname(r2), errname(r3));
	start(&t, read_lock, NULL);
	wait_for(&held);
	usleep(20000);
	CHECK_RC(pthread_rwlock_unlock(&rw), 0);
	CHECK_RC(pthread_join(t, &ret), 0);
	printf("another thread's rdlock while written: %s\n", errname((int)(long)ret));

	pthread_condattr_t ca;
	CHECK_RC(pthread_condattr_init(&ca), 0);
	CHECK_RC(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_cond_init(&cv, &ca), 0);
	for (i = 0; i < 2; i++) {
		pthread_mutex_t *m = i ? &priv : &mu;
		set(&flag, 0);
		CHECK_RC(pthread_create(&t, NULL, signal_later, m), 0);
		CHECK_RC(pthread_mutex_lock(m), 0);
		while (!get(&flag))
			CHECK_RC(pthread_cond_wait(&cv, m), 0);
		/* A wait may end early (spuriously), as POSIX allows: loop. */
		dl = deadline_ms(CLOCK_REALTIME, 20);
		while ((r1 = pthread_cond_timedwait(&cv, m, &dl)) == 0)
			;
		printf("cond wait (%s mutex): signalled; timedwait: %s\n", i ? "private" : "shared",
		       errname(r1));
		CHECK_RC(pthread_mutex_unlock(m), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
	}

	CHECK_SYS(sem_init(&sem, 1, 0));
	CHECK_RC(pthread_create(&t, NULL, post_later, NULL), 0);
	CHECK_SYS(sem_wait(&sem));
	CHECK_RC(pthread_join(t, NULL), 0);
	dl = deadline_ms(CLOCK_REALTIME, 20);
	errno = 0;
	v = sem_timedwait(&sem, &dl);
	printf("sem_wait: posted; sem_timedwait: %d %s\n", v, errname(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	/* A signal every 20 ms until the wait ends: one that came before the
	 * wait began (a loaded machine) must not leave it waiting for good. */
	struct kicker k;
	kicker_start(&k, SIGUSR1);
	errno = 0;
	v = sem_wait(&sem);
	printf("sem_wait, signal without SA_RESTART: %d %s\n", v, errname(errno));
	kicker_stop(&k);
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK_RC(pthread_create(&t, NULL, kill_later, NULL), 0);
	errno = 0;
	v = sem_wait(&sem);
	printf("sem_wait, signal with SA_RESTART: %d %s\n", v, errname(errno));
	CHECK_RC(pthread_join(t, NULL), 0);
	CHECK_SYS(sem_destroy(&sem));

	pthread_barrierattr_t ba;
	CHECK_RC(pthread_barrierattr_init(&ba), 0);
	CHECK_RC(pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_barrier_init(&bar, &ba, 3), 0);
	for (i = 0; i < 3; i++)
		CHECK_RC(pthread_create(&tb[i], NULL, barrier_rounds, i == 1 ? &flag : NULL), 0);
	for (i = 0; i < 3; i++)
		CHECK_RC(pthread_join(tb[i], NULL), 0);
	printf("barrier of 3, 5 rounds: %d serial\n", get(&serials));
	CHECK_RC(pthread_barrier_destroy(&bar), 0);
	return 0;
}
