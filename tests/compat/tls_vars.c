/* tls_vars.c: 1,000 threads keep their own __thread values across parks
 * (DESIGN.md §2.3): the executable's, a -fPIC library's (general dynamic, linked)
 * and a dlopen'ed library's; each value checked after many parks, through the
 * address taken before parking too. Counts how often a thread resumed on another
 * OS thread (gettid): preloaded 0 in tp mode (GOSHIM_DEBUG=move=0) and the pinned
 * mode; where started green threads move (the default with FSGSBASE, compat.h's
 * compat_moving) it must be more than 0 at GOSHIM_PROCS > 1.
 */
// compat-lib: tls_lib.c
// compat-dlopen: tls_dyn.c
// compat-ldlibs: -ldl
#include "compat.h"
#include <stdatomic.h>
#include <dlfcn.h>
#include <limits.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <unistd.h>

#define THREADS 1000
static __thread long exe_var = 3;
long *lib_var_addr(void);
static long *(*dyn_var_addr)(void);
static pthread_barrier_t bar, gate;
static atomic_int bad, moved;

static void *worker(void *arg)
{
	long id = (long)arg;
	pthread_barrier_wait(&gate);	/* until main has dlopen'ed the library */
	long *pe = &exe_var, *pl = lib_var_addr(), *pd = dyn_var_addr();
	if (*pe != 3 || *pl != 7 || *pd != 11)
		atomic_fetch_add(&bad, 1);	/* initial values per thread */
	*pe = id;
	*pl = id * 2;
	*pd = id * 3;
	for (int i = 0; i < 5; i++) {
		pid_t before = raw_gettid();
		pthread_barrier_wait(&bar);	/* parks: every thread runs in between */
		usleep(100);
		if (raw_gettid() != before)
			atomic_fetch_add(&moved, 1);
		if (*pe != id || *pl != id * 2 || *pd != id * 3 || exe_var != id ||
		    *lib_var_addr() != id * 2 || *dyn_var_addr() != id * 3)
			atomic_fetch_add(&bad, 1);
	}
	return NULL;
}

int main(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
	CHECK(n > 0);
	path[n] = 0;
	strcpy(strrchr(path, '/') + 1, "libtls_dyn.so");
	pthread_t t[THREADS];
	CHECK_RC(pthread_barrier_init(&bar, NULL, THREADS), 0);
	CHECK_RC(pthread_barrier_init(&gate, NULL, THREADS + 1), 0);
	/* Create half before the dlopen, half after. */
	void *h = NULL;
	for (long i = 0; i < THREADS; i++) {
		if (i == THREADS / 2) {
			h = dlopen(path, RTLD_NOW);
			CHECK(h != NULL);
			dyn_var_addr = (long *(*)(void))dlsym(h, "dyn_var_addr");
			CHECK(dyn_var_addr != NULL);
		}
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	}
	pthread_barrier_wait(&gate);
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("threads with a wrong __thread value: %d\n", atomic_load(&bad));
	CHECK(atomic_load(&bad) == 0);
	if (getenv("GOSHIM_TEST_PRELOADED") && atoi(getenv("GOSHIM_TEST_PRELOADED")) == 1) {
		const char *procs = getenv("GOSHIM_PROCS");
		int move = compat_moving();
		fprintf(stderr, "resumed on another OS thread: %d\n", atomic_load(&moved));
		if (!move)
			CHECK(atomic_load(&moved) == 0);
		else if (procs && atoi(procs) > 1)
			CHECK(atomic_load(&moved) > 0);
	}
	printf("main's values: exe %ld lib %ld dyn %ld\n", exe_var, *lib_var_addr(), *dyn_var_addr());
	return 0;
}
