/* thread_cpuclock.c: compat test of per-thread CPU-time clocks (issue 17):
 * pthread_getcpuclockid gives a clock that clock_gettime reads; main burns 200 ms of
 * its own CPU time (by its CLOCK_THREAD_CPUTIME_ID); a thread created afterwards
 * starts near zero (its own clock reads less than main's); a thread that burns 50 ms
 * of CPU shows at least that on the clock main reads for it, and a thread asleep
 * gains less than that while it sleeps; the clock of a joined thread fails with
 * EINVAL. Only relations between CPU times are checked, never wall-clock time. */
// compat-skip-runner: qemu-aarch64-static: the native run is unreliable under qemu-user 7.2: the guest's join returns when qemu clears the thread's tid, before the host thread has exited, and the joined thread's CPU clock then still reads (0, not EINVAL) in 1 native run in 4 here
#include "compat.h"
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

static long long cpu_ns(clockid_t c)
{
	struct timespec ts;

	CHECK_SYS(clock_gettime(c, &ts));
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void burn(long long ns)
{
	long long start = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile unsigned long x = 0;

	while (cpu_ns(CLOCK_THREAD_CPUTIME_ID) - start < ns)
		for (int i = 0; i < 10000; i++)
			x++;
}

static long long main_ns;
static sem_t burned, asleep, wake;

static void *newcomer(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) < main_ns);
}

static void *burner(void *arg)
{
	(void)arg;
	burn(50000000);
	CHECK_SYS(sem_post(&burned));
	while (sem_wait(&wake) != 0)
		CHECK(errno == EINTR);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	CHECK_SYS(sem_post(&asleep));
	usleep(100000);
	return NULL;
}

int main(void)
{
	clockid_t c, cb;
	pthread_t t, b;
	void *r;
	struct timespec ts;

	CHECK_SYS(sem_init(&burned, 0, 0));
	CHECK_SYS(sem_init(&asleep, 0, 0));
	CHECK_SYS(sem_init(&wake, 0, 0));
	CHECK_RC(pthread_getcpuclockid(pthread_self(), &c), 0);
	burn(200000000);
	main_ns = cpu_ns(c);
	printf("main's clock through pthread_getcpuclockid: %s\n",
	       main_ns >= 200000000 ? "at least 200 ms" : "less");

	CHECK_RC(pthread_create(&t, NULL, newcomer, NULL), 0);
	CHECK_RC(pthread_join(t, &r), 0);
	printf("a new thread's clock starts below main's: %s\n", r ? "yes" : "no");

	CHECK_RC(pthread_create(&b, NULL, burner, NULL), 0);
	CHECK_RC(pthread_getcpuclockid(b, &cb), 0);
	while (sem_wait(&burned) != 0)
		CHECK(errno == EINTR);
	printf("a burner's clock read by main: %s\n",
	       cpu_ns(cb) >= 50000000 ? "at least 50 ms" : "less");
	CHECK_SYS(sem_post(&wake));
	CHECK_RC(pthread_join(b, NULL), 0);

	CHECK_RC(pthread_create(&t, NULL, sleeper, NULL), 0);
	CHECK_RC(pthread_getcpuclockid(t, &c), 0);
	while (sem_wait(&asleep) != 0)
		CHECK(errno == EINTR);
	long long before = cpu_ns(c);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("a sleeper's clock before its end: %s\n", before < 50000000 ? "below 50 ms" : "more");
	CHECK_ERRNO(clock_gettime(c, &ts), EINVAL);
	printf("the clock of a joined thread: EINVAL\n");
	return 0;
}
