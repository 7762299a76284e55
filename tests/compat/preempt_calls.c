/* preempt_calls.c: compat test of preemption in a loop of calls that never block
 * (issue 17, starvation at GOSHIM_PROCS=1): main loops on one kind of call
 * (pthread_mutex_lock+unlock, pthread_mutex_trylock+unlock, pthread_spin_trylock+
 * unlock, pthread_kill(t, 0), pthread_sigmask, sem_post+sem_trywait,
 * pthread_cond_signal) until a thread it created has run and set a flag. Natively the
 * thread runs on another CPU or by time-slicing. Under goshim with one P the loop's PC
 * is mostly inside the shim or libc, where the preemption signal may not yield, so
 * without a preemption point in those hooks the thread never runs and the program
 * hangs (the runner's timeout fails it). Each loop is bounded (a very large count),
 * so a native run always ends. Prints one line per kind; no time is asserted. */
#include "compat.h"
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>

#define BOUND 4000000000UL

static atomic_int flag;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_spinlock_t spin;
static sem_t sem;

static void *setter(void *arg)
{
	(void)arg;
	atomic_store(&flag, 1);
	return NULL;
}

enum { MUTEX, TRYLOCK, SPIN, KILL0, SIGMASK, SEM, CONDSIG, NKINDS };
static const char *const names[NKINDS] = { "mutex lock/unlock", "mutex trylock/unlock",
					   "spin trylock/unlock", "pthread_kill 0",
					   "pthread_sigmask", "sem_post/trywait",
					   "cond_signal" };

static void one(int kind)
{
	pthread_t t;
	sigset_t old, usr2;
	unsigned long i;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);

	atomic_store(&flag, 0);
	CHECK_RC(pthread_create(&t, NULL, setter, NULL), 0);
	for (i = 0; i < BOUND && !atomic_load_explicit(&flag, memory_order_relaxed); i++) {
		switch (kind) {
		case MUTEX:
			pthread_mutex_lock(&mu);
			pthread_mutex_unlock(&mu);
			break;
		case TRYLOCK:
			if (pthread_mutex_trylock(&mu) == 0)
				pthread_mutex_unlock(&mu);
			break;
		case SPIN:
			if (pthread_spin_trylock(&spin) == 0)
				pthread_spin_unlock(&spin);
			break;
		case KILL0:
			pthread_kill(t, 0); /* alive or exited unjoined: 0 either way */
			break;
		case SIGMASK: /* each call changes the mask: a system call */
			pthread_sigmask((i & 1) ? SIG_UNBLOCK : SIG_BLOCK, &usr2, &old);
			break;
		case SEM:
			sem_post(&sem);
			sem_trywait(&sem);
			break;
		case CONDSIG:
			pthread_cond_signal(&cv);
			break;
		}
	}
	CHECK(atomic_load(&flag));
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("%s: the other thread ran\n", names[kind]);
}

int main(void)
{
	CHECK_RC(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE), 0);
	CHECK_SYS(sem_init(&sem, 0, 0));
	for (int k = 0; k < NKINDS; k++)
		one(k);
	return 0;
}
