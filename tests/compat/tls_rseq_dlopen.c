/* tls_rseq_dlopen.c: tls_rseq_user.c's check (the rseq area's cpu_id is the
 * CPU the thread runs on, or negative, never another CPU) with the reader in
 * a library dlopen'ed while the threads wait: the executable does not import
 * __rseq_offset, so under goshim's tp mode the green threads' blocks get -2
 * there only when that library comes (sched/tls.c, gs_tls_after_dlopen), in
 * the threads that exist then too.
 */
// compat-dlopen: tls_rseq_lib.c
// compat-ldlibs: -ldl
#include "compat.h"
#include <dlfcn.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define THREADS 8
#define SAMPLES 100

static atomic_int bad;
static int (*rseq_cpu_id)(void);
static pthread_barrier_t bar;

static void sample(void)
{
	unsigned a, b;
	if (getcpu(&a, NULL) != 0)
		FAIL("getcpu: %s", errname(errno));
	int c = rseq_cpu_id();
	if (getcpu(&b, NULL) != 0)
		FAIL("getcpu: %s", errname(errno));
	if (c >= 0 && a == b && c != (int)a)
		atomic_fetch_add(&bad, 1);
}

static void *worker(void *arg)
{
	pthread_barrier_wait(&bar);	/* parked while main dlopens */
	for (int i = 0; i < SAMPLES; i++) {
		sample();
		if (i % 2)
			sched_yield();
		else
			usleep(50);
	}
	return NULL;
}

int main(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
	CHECK(n > 0);
	path[n] = 0;
	strcpy(strrchr(path, '/') + 1, "libtls_rseq_lib.so");
	cpu_set_t set;
	int top = -1;
	CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			top = c;
	CPU_ZERO(&set);
	CPU_SET(top, &set);
	CHECK_EQ(sched_setaffinity(0, sizeof set, &set), 0);
	CHECK_RC(pthread_barrier_init(&bar, NULL, THREADS + 1), 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, NULL), 0);
	usleep(20000);
	void *h = dlopen(path, RTLD_NOW);
	if (!h)
		FAIL("dlopen: %s", dlerror());
	rseq_cpu_id = (int (*)(void))dlsym(h, "rseq_cpu_id");
	CHECK(rseq_cpu_id != NULL);
	pthread_barrier_wait(&bar);
	sample();
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("rseq cpu_id read by a dlopen'ed library in %d threads and main: %d wrong\n",
	       THREADS, atomic_load(&bad));
	CHECK_EQ(bad, 0);
	return 0;
}
