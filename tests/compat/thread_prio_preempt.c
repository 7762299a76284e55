/* thread_prio_preempt.c: compat test of a wake that preempts (issue 17 point 1): main,
 * on one CPU (prio_common.h) at SCHED_FIFO 10, makes a SCHED_FIFO 50 thread H runnable
 * and then appends 'M' to a string, where H appends 'H'. H is made runnable by
 * sem_post, pthread_mutex_unlock, pthread_cond_signal, pthread_barrier_wait (main the
 * last to arrive), pthread_create, and by main lowering itself below H with
 * pthread_setschedparam (from 60 to 10, and to SCHED_OTHER). Natively the kernel runs H
 * at once: "HM" each time; so must goshim (a hook that made a G of higher priority
 * runnable yields to it), where before main went on first ("MH"). */
// compat-procs: 1: the order is defined on one processor (the native run pins itself to one CPU; at GOSHIM_PROCS=4 the thread made runnable runs on another OS thread at once, as on another CPU)
#include "prio_common.h"
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

enum { SEM, MUTEX, COND, BARRIER, CREATE, LOWER, OTHER, NKINDS };
static const char *const names[NKINDS] = { "sem_post", "mutex unlock", "cond_signal", "barrier",
					   "create", "lower to 10", "lower to SCHED_OTHER" };

static sem_t sem;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static int flag;			/* mu */
static atomic_int ready;
static char seq[8];
static atomic_int len;

static void add(char c)
{
	seq[atomic_fetch_add(&len, 1)] = c;
}

static void setme(int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	CHECK_RC(pthread_setschedparam(pthread_self(), policy, &sp), 0);
}

static void *high(void *arg)
{
	int kind = (int)(long)arg;

	atomic_fetch_add(&ready, 1);
	switch (kind) {
	case SEM:
		while (sem_wait(&sem) != 0)
			CHECK(errno == EINTR);
		break;
	case MUTEX:
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case COND:
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		while (!flag)
			CHECK_RC(pthread_cond_wait(&cv, &mu), 0);
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case BARRIER: {
		int r = pthread_barrier_wait(&bar);

		CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
		break;
	}
	}
	add('H');
	return NULL;
}

static void one(int kind)
{
	pthread_t t;

	atomic_store(&ready, 0);
	atomic_store(&len, 0);
	memset(seq, 0, sizeof seq);
	flag = 0;
	if (kind == LOWER || kind == OTHER)
		setme(SCHED_FIFO, 60);
	if (kind == MUTEX)
		CHECK_RC(pthread_mutex_lock(&mu), 0);
	prio_create(&t, 50, high, (void *)(long)kind);
	if (kind <= BARRIER) {
		while (atomic_load(&ready) < 1)
			usleep(1000);
		usleep(50000);	/* lets it block */
	}
	switch (kind) {
	case SEM:
		CHECK_SYS(sem_post(&sem));
		break;
	case MUTEX:
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case COND:
		CHECK_RC(pthread_mutex_lock(&mu), 0);
		flag = 1;
		CHECK_RC(pthread_cond_signal(&cv), 0);
		CHECK_RC(pthread_mutex_unlock(&mu), 0);
		break;
	case BARRIER: {
		int r = pthread_barrier_wait(&bar);

		CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
		break;
	}
	case CREATE:
		break;
	case LOWER:
		setme(SCHED_FIFO, 10);
		break;
	case OTHER:
		setme(SCHED_OTHER, 0);
		break;
	}
	add('M');
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("%s: %s\n", names[kind], seq);
	setme(SCHED_FIFO, 10);
}

int main(void)
{
	int r = prio_setup();

	if (r) {
		printf("main to SCHED_FIFO 99: %s\n", errname(r));
		return 0;
	}
	setme(SCHED_FIFO, 10);
	CHECK_SYS(sem_init(&sem, 0, 0));
	CHECK_RC(pthread_barrier_init(&bar, NULL, 2), 0);
	for (int k = 0; k < NKINDS; k++)
		one(k);
	return 0;
}
