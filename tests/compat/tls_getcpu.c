/* tls_getcpu.c: sched_getcpu in threads that park and resume (hooked in tp
 * mode, shim/tp.c: glibc's reads the rseq area through the thread pointer,
 * which a green thread's own block leaves at CPU 0). Every thread and main
 * run on the highest CPU the process may use (the affinity is set before the
 * first thread, which inherits it) and compare sched_getcpu with the
 * kernel's getcpu just before and after it: a sample where those two agree
 * must agree with sched_getcpu. Between samples the threads yield, sleep and
 * wait on a condition variable, so that they resume on other OS threads.
 * Fails against a thread pointer per G whose block says CPU 0 and no hook,
 * unless the only CPU allowed is 0.
 */
#include "compat.h"
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define THREADS 8
#define SAMPLES 200

static atomic_int bad, valid;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ticket;

static void sample(void)
{
	unsigned a, b;

	if (getcpu(&a, NULL) != 0)
		FAIL("getcpu: %s", errname(errno));
	int s = sched_getcpu();
	if (getcpu(&b, NULL) != 0)
		FAIL("getcpu: %s", errname(errno));
	if (a != b)
		return;	/* moved in between: says nothing */
	atomic_fetch_add(&valid, 1);
	if (s != (int)a)
		atomic_fetch_add(&bad, 1);
}

static void *worker(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < SAMPLES; i++) {
		sample();
		switch ((i + id) % 3) {
		case 0:
			sched_yield();
			break;
		case 1:
			usleep(100);
			break;
		default:
			pthread_mutex_lock(&mu);
			ticket++;
			pthread_cond_broadcast(&cv);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&cv, &mu, &ts);
			pthread_mutex_unlock(&mu);
		}
	}
	return NULL;
}

int main(void)
{
	cpu_set_t set;
	int top = -1;

	CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			top = c;
	CHECK(top >= 0);
	CPU_ZERO(&set);
	CPU_SET(top, &set);
	CHECK_EQ(sched_setaffinity(0, sizeof set, &set), 0);
	sample();
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	sample();
	printf("sched_getcpu in %d threads and main: %d wrong, samples valid: %s\n", THREADS,
	       atomic_load(&bad), atomic_load(&valid) > 0 ? "yes" : "no");
	CHECK_EQ(bad, 0);
	CHECK(valid > 0);
	return 0;
}
