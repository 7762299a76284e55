/* tls_in_stack.c: a thread's thread control block and static TLS lie in its own
 * stack, as glibc puts them. THREADS threads with default attributes, in two
 * rounds (the second reuses the first round's freed stacks), each checks that
 * its thread pointer (%fs:0, the TCB's pointer to itself) and &errno lie within
 * the stack pthread_getattr_np reports, and that errno and a __thread variable
 * start as a new thread's. Under goshim's tp mode each green thread's block is
 * at the top of its stack (sched/tls.c, block_in_stack), not in the malloc heap. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define THREADS 500

static __thread int tvar = 7;
static pthread_barrier_t bar;

static void *run(void *arg)
{
	int *ok = arg;
	char *tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	pthread_attr_t a;
	void *addr;
	size_t size;
	*ok = 0;
	if (errno != 0 || tvar != 7)
		return NULL;
	tvar = 8;
	errno = 9;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return NULL;
	pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	char *lo = addr, *hi = lo + size, *e = (char *)&errno;
	pthread_barrier_wait(&bar);	/* all alive at once: distinct blocks */
	*ok = tp >= lo && tp < hi && e >= lo && e < hi && tvar == 8;
	return NULL;
}

int main(void)
{
	static pthread_t t[THREADS];
	static int ok[THREADS];
	for (int round = 0; round < 2; round++) {
		pthread_barrier_init(&bar, NULL, THREADS);
		for (int i = 0; i < THREADS; i++)
			if (pthread_create(&t[i], NULL, run, &ok[i]) != 0)
				return 1;
		int n = 0;
		for (int i = 0; i < THREADS; i++) {
			pthread_join(t[i], NULL);
			n += ok[i];
		}
		pthread_barrier_destroy(&bar);
		printf("round %d: %d of %d threads have their TLS in their stack\n", round, n, THREADS);
	}
	return 0;
}
