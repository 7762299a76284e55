/*
 * bench/pthread_switch.c: ns per switch between two threads, as a program
 * would measure it: no pinning, default settings, one run.
 *
 * Two threads take turns through one mutex and one condition variable (a
 * turn variable says whose turn it is; each waits for its turn, flips it,
 * signals the other). One switch is one flip. Unlike bench/switch.c the
 * process is not pinned to a CPU and the preloaded run keeps the default
 * GOSHIM_PROCS (the CPUs there are): the two threads may first run on
 * different OS threads, which is what the moving mode's runnext is about
 * (scripts/bench.sh runs it 20 times and reports the median and the worst).
 *
 * Usage: pthread_switch [switches]   (default 200000)
 * Prints: pthread_switch_ns <ns per switch>
 */
#include "bench.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn;
static long flips, total;

static void *play(void *arg)
{
	int me = (int)(long)arg;

	pthread_mutex_lock(&lock);
	while (flips < total) {
		while (turn != me && flips < total)
			pthread_cond_wait(&cond, &lock);
		if (flips >= total)
			break;
		turn = !me;
		flips++;
		pthread_cond_signal(&cond);
	}
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	long n = bench_arg(argc, argv, 1, 200000);

	total = n;
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < 2; i++) {
		int err = pthread_create(&th[i], NULL, play, (void *)i);
		if (err) {
			fprintf(stderr, "pthread_switch: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	uint64_t t1 = bench_now_ns();
	printf("pthread_switch_ns %.1f\n", (double)(t1 - t0) / (double)n);
	return 0;
}
