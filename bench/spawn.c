/*
 * bench/spawn.c: the cost of creating and joining threads.
 *
 * spawn_join_ns:  pthread_create + pthread_join of a thread that returns at
 *                 once, one after the other; ns per create+join.
 * spawn_batch_ns: create BATCH threads (default attributes), then join them
 *                 all; ns per thread. With default attributes this also pays
 *                 for BATCH stacks existing at once.
 *
 * Usage: spawn [sequential count] [batch size]   (defaults 5000, 10000)
 * Prints both figures, each the median of 5 repetitions.
 */
#include "bench.h"

#include <pthread.h>

static void *nothing(void *arg)
{
	return arg;
}

static void spawn(pthread_t *t)
{
	int err = pthread_create(t, NULL, nothing, NULL);

	if (err) {
		fprintf(stderr, "spawn: pthread_create: %s\n", strerror(err));
		exit(1);
	}
}

static double seq_once(long n)
{
	uint64_t t0 = bench_now_ns();
	pthread_t t;
	long i;

	for (i = 0; i < n; i++) {
		spawn(&t);
		pthread_join(t, NULL);
	}
	return (double)(bench_now_ns() - t0) / (double)n;
}

static double batch_once(pthread_t *ts, long n)
{
	uint64_t t0 = bench_now_ns();
	long i;

	for (i = 0; i < n; i++)
		spawn(&ts[i]);
	for (i = 0; i < n; i++)
		pthread_join(ts[i], NULL);
	return (double)(bench_now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long nseq = bench_arg(argc, argv, 1, 5000);
	long nbatch = bench_arg(argc, argv, 2, 10000);
	pthread_t *ts = calloc(nbatch, sizeof(*ts));
	double seq[BENCH_REPS], batch[BENCH_REPS];
	int r;

	if (ts == NULL) {
		fprintf(stderr, "spawn: out of memory\n");
		return 1;
	}
	seq_once(100); /* warm-up: glibc's stack cache, lazy binding */
	for (r = 0; r < BENCH_REPS; r++) {
		seq[r] = seq_once(nseq);
		batch[r] = batch_once(ts, nbatch);
		fprintf(stderr, "spawn: repetition %d: %.1f ns per create+join, "
			"%.1f ns per thread in a batch of %ld\n",
			r, seq[r], batch[r], nbatch);
	}
	printf("spawn_join_ns %.1f\n", bench_median(seq, BENCH_REPS));
	printf("spawn_batch_ns %.1f\n", bench_median(batch, BENCH_REPS));
	free(ts);
	return 0;
}
