/*
 * bench/switch.c: ns per switch between two threads on one core.
 *
 * Two threads take turns through one mutex and one condition variable: a
 * turn variable says whose turn it is; each thread waits for its turn, flips
 * it, signals the other and waits again. One switch is one hand-off, i.e. one
 * flip. The whole process is pinned to CPU 0 by the program itself, so a
 * preloaded run (GOSHIM_PROCS=1) is pinned too and both runs measure a
 * hand-off on one core rather than a wakeup on another core.
 *
 * Usage: switch [switches per repetition]   (default 100000)
 * Prints: switch_ns <median of 5 repetitions>
 */
#include "bench.h"

#include <pthread.h>

/* Untimed hand-offs before the clock starts: both threads are running. */
#define WARMUP 1000

/* One repetition; all fields are guarded by lock. */
struct pingpong {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int turn;	 /* 0 or 1: the thread that may flip next */
	long flips;	 /* hand-offs done so far, warm-up included */
	long total;	 /* WARMUP + timed hand-offs */
	int done;	 /* set by the thread that sees flips == total */
	uint64_t t0, t1; /* clock at flip WARMUP and at flip total */
};

struct player {
	struct pingpong *pp;
	int me;
};

static void *play(void *arg)
{
	struct player *pl = arg;
	struct pingpong *pp = pl->pp;

	pthread_mutex_lock(&pp->lock);
	for (;;) {
		while (pp->turn != pl->me && !pp->done)
			pthread_cond_wait(&pp->cond, &pp->lock);
		if (pp->done)
			break;
		if (pp->flips == WARMUP)
			pp->t0 = bench_now_ns();
		if (pp->flips == pp->total) {
			pp->t1 = bench_now_ns();
			pp->done = 1;
			pthread_cond_signal(&pp->cond);
			break;
		}
		pp->turn = !pl->me;
		pp->flips++;
		pthread_cond_signal(&pp->cond);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* Returns ns per switch over n timed hand-offs, or a negative value on error. */
static double run_once(long n)
{
	struct pingpong pp = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
		.total = WARMUP + n,
	};
	struct player pl[2] = { { &pp, 0 }, { &pp, 1 } };
	pthread_t th[2];
	int i, err;

	for (i = 0; i < 2; i++) {
		err = pthread_create(&th[i], NULL, play, &pl[i]);
		if (err) {
			fprintf(stderr, "switch: pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pp.lock);
	pthread_cond_destroy(&pp.cond);
	return (double)(pp.t1 - pp.t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = bench_arg(argc, argv, 1, 100000);
	double v[BENCH_REPS];
	int r, err;

	err = bench_pin_process_cpu0();
	if (err)
		fprintf(stderr, "switch: pinning to CPU 0 failed: %s (not pinned)\n",
			strerror(-err));
	for (r = 0; r < BENCH_REPS; r++) {
		v[r] = run_once(n);
		fprintf(stderr, "switch: repetition %d: %.1f ns per switch\n", r, v[r]);
	}
	printf("switch_ns %.1f\n", bench_median(v, BENCH_REPS));
	return 0;
}
