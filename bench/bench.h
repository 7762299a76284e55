/*
 * bench/bench.h: helpers shared by the benchmark programs in bench/ (clock,
 * median of repetitions, pinning the whole process to one CPU, output).
 *
 * Every benchmark prints its figures on stdout as `key value` lines, one per
 * figure, so scripts/bench.sh can read them with awk; anything else (each
 * repetition, notes) goes to stderr. Benchmarks report; they never judge.
 */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Repetitions of each measurement; the median is reported. */
#define BENCH_REPS 5

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of n values; sorts v in place. */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Pin every thread of the process to CPU 0. sched_setaffinity(0, ...) would
 * pin only the calling thread; under the preloaded runtime the calling thread
 * is one M among several created before main, so we walk /proc/self/task and
 * pin each of them. Threads created later inherit the mask of their creator.
 * Returns 0, or -errno of the first failure.
 */
static inline int bench_pin_process_cpu0(void)
{
	cpu_set_t set;
	DIR *d;
	struct dirent *e;
	int err = 0;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	d = opendir("/proc/self/task");
	if (d == NULL)
		return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
	while ((e = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0)
			continue;
		/* A thread may exit between readdir and here: ESRCH is fine. */
		if (sched_setaffinity(tid, sizeof(set), &set) && errno != ESRCH && !err)
			err = -errno;
	}
	closedir(d);
	return err;
}

/* Optional positive count from argv[i], else the default. */
static inline long bench_arg(int argc, char **argv, int i, long def)
{
	long v;

	if (argc <= i)
		return def;
	v = strtol(argv[i], NULL, 10);
	if (v <= 0) {
		fprintf(stderr, "%s: bad count '%s'\n", argv[0], argv[i]);
		exit(2);
	}
	return v;
}

#endif /* BENCH_H */
