/* stack_trim.c: freed stacks give their pages back. 2,000 threads with default
 * attributes each write 128 KiB of their stack, wait on a barrier so that all are
 * alive at once, and are joined once main has read the peak (natively an exiting thread
 * gives its stack pages back at once). Pooled stacks keep their pages until sysmon trims
 * the pools (sched/stack.c): this waits, at most 20 s, until the process's VmRSS is
 * back within 16 MiB of what it was before the threads (natively glibc's stack cache
 * and madvise at exit do the same), and prints whether it came back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define THREADS 2000
#define TOUCH (128 * 1024)

static pthread_barrier_t bar, sampled;

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static __attribute__((noinline)) void touch(void)
{
	volatile char buf[TOUCH];
	for (size_t i = 0; i < sizeof buf; i += 512)
		buf[i] = 1;
}

static void *worker(void *arg)
{
	touch();
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&sampled);	/* alive until main has read the peak */
	return NULL;
}

int main(void)
{
	static pthread_t t[THREADS];
	long before = rss_kb();
	pthread_barrier_init(&bar, NULL, THREADS + 1);
	pthread_barrier_init(&sampled, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL))
			return 2;
	pthread_barrier_wait(&bar);
	long peak = rss_kb();
	pthread_barrier_wait(&sampled);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	long after = rss_kb();
	for (int i = 0; i < 200 && after > before + 16 * 1024; i++) {
		usleep(100000);
		after = rss_kb();
	}
	printf("peak above %d MiB: %s; back within 16 MiB: %s\n", THREADS * TOUCH / 2 / (1 << 20),
	       peak - before > THREADS * (TOUCH / 2 / 1024) ? "yes" : "no",
	       after <= before + 16 * 1024 ? "yes" : "no");
	return 0;
}
