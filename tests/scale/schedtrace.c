/* schedtrace.c: a little scheduler activity for schedtrace.sh: 4 threads each do 10
 * rounds of a 10 ms spin (clock_gettime only) and a 40 ms sleep, about 0.5 s in all;
 * main joins them and prints "done". Nothing goes to stderr: that is the runtime's. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum { THREADS = 4, ROUNDS = 10, SPIN_MS = 10, SLEEP_MS = 40 };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void *worker(void *arg)
{
	volatile unsigned long n = 0;

	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		long long end = now_ms() + SPIN_MS;

		while (now_ms() < end)
			n++;
		usleep(SLEEP_MS * 1000);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	puts("done");
	return 0;
}
