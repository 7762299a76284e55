/* tls_moves.c: errno and __thread stay exact while green threads move between
 * OS threads a million times (issue 11). Built -O2 -fPIC. THREADS threads each
 * repeat, until MOVES moves were seen in all: errno and an executable __thread
 * set, sched_yield, both checked through addresses taken before the yield and
 * afresh; then the same inside a linked -fPIC library and inside a dlopen'ed
 * one (tls_moves_lib.c: its own round, its own yield). A move is a yield after
 * which the raw OS thread id (the syscall instruction, not the green thread's
 * gettid) differs. Prints the mismatches and whether at least MOVES moves were
 * seen (the counts on stderr); at most MAXCHECKS checks in all (a bound where nothing moves).
 * usage: tls_moves [MOVES [THREADS]]   (default 1000000 and 2000: with many
 * threads, each time an OS thread gets the CPU back from the kernel most of
 * the threads it runs last ran on the other one) */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../raw_syscall.h"

#define MAXWORKERS 4096
#define MAXCHECKS(moves) (20 * (moves) + 100000)

int lib_round(long v);
static int (*dyn_round)(long v);
static __thread long exe_var = 3;
static long want_moves;
static atomic_long moves, checks, bad;

static bool more(void)
{
	return atomic_load_explicit(&moves, memory_order_relaxed) < want_moves &&
	       atomic_load_explicit(&checks, memory_order_relaxed) < MAXCHECKS(want_moves);
}

static void *worker(void *arg)
{
	long id = (long)arg, local_moves = 0, local_checks = 0, local_bad = 0;
	int *e = __errno_location();	/* kept across every yield below */
	long *pv = &exe_var;
	if (*pv != 3)
		local_bad++;
	for (long i = 0; more(); i++) {
		long v = id * 1000003 + i;
		for (int k = 0; k < 3; k++) {
			pid_t before = raw_gettid();
			if (k == 0) {
				*e = (int)v;
				*pv = v;
				sched_yield();
				local_bad += !(*e == (int)v && errno == (int)v && *pv == v && exe_var == v);
			} else {
				local_bad += (k == 1 ? lib_round : dyn_round)(v + k);
			}
			local_checks++;
			if (raw_gettid() != before)
				local_moves++;
		}
		if ((i & 63) == 63) {
			atomic_fetch_add(&moves, local_moves);
			atomic_fetch_add(&checks, local_checks);
			local_moves = local_checks = 0;
		}
	}
	atomic_fetch_add(&moves, local_moves);
	atomic_fetch_add(&checks, local_checks);
	atomic_fetch_add(&bad, local_bad);
	return NULL;
}

int main(int argc, char **argv)
{
	want_moves = argc > 1 ? atol(argv[1]) : 1000000;
	int workers = argc > 2 ? atoi(argv[2]) : 2000;
	if (workers < 1 || workers > MAXWORKERS)
		return 2;
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
	if (n <= 0)
		return 1;
	path[n] = 0;
	strcpy(strrchr(path, '/') + 1, "libtls_moves_dyn.so");
	void *h = dlopen(path, RTLD_NOW);
	if (!h || !(dyn_round = (int (*)(long))dlsym(h, "dyn_round"))) {
		fprintf(stderr, "tls_moves: dlopen: %s\n", dlerror());
		return 1;
	}
	static pthread_t t[MAXWORKERS];
	for (long i = 0; i < workers; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i))
			return 1;
	for (int i = 0; i < workers; i++)
		pthread_join(t[i], NULL);
	printf("mismatches: %ld\n", atomic_load(&bad));
	printf("moves: %s\n", atomic_load(&moves) >= want_moves ? "enough" : "too few");
	fprintf(stderr, "tls_moves: %ld checks, %ld moves, %ld mismatches\n", atomic_load(&checks),
		atomic_load(&moves), atomic_load(&bad));
	return 0;
}
