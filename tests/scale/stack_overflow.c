/* stack_overflow.c: a thread with default attributes overflows its stack.
 *
 * usage: stack_overflow deep|frame
 *   deep   recursion, a 1 KiB frame at a time, until the stack ends
 *   frame  recursion to 8 KiB above the bottom of the stack (pthread_getattr_np),
 *          then one call with a 40 KiB buffer of which only the top and the lowest
 *          bytes are written: that jumps the one guard page the default attributes
 *          ask for
 * A thread created just before it (its stack the one below in the allocator) waits
 * for it; neither mode can finish: the process must die by SIGSEGV. stdout says
 * where it got to; nothing is printed after the overflow. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *lo;
static int frame_mode;
static pthread_barrier_t bar;

static __attribute__((noinline)) void big_frame(void)
{
	volatile char buf[40 * 1024];
	buf[sizeof buf - 1] = 1;	/* above the bottom of the stack */
	buf[0] = 1;	/* 24 KiB and more below it: past the guard page */
	printf("big frame written: the overflow went unseen\n");
}

static __attribute__((noinline)) int recurse(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	pad[sizeof pad - 1] = (char)n;
	if (frame_mode && (char *)pad - lo < 8 * 1024) {
		big_frame();
		return pad[0];
	}
	return recurse(n + 1) + pad[0];
}

static void *waiter(void *arg)
{
	pthread_barrier_wait(&bar);
	return NULL;
}

static void *overflow(void *arg)
{
	pthread_attr_t a;
	size_t size;
	void *addr;
	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	lo = addr;
	printf("stack %zu KiB, recursing\n", size / 1024);
	fflush(stdout);
	recurse(0);
	printf("recursion returned\n");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "deep") && strcmp(argv[1], "frame"))) {
		fprintf(stderr, "usage: %s deep|frame\n", argv[0]);
		return 2;
	}
	frame_mode = !strcmp(argv[1], "frame");
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t w, t;
	pthread_create(&w, NULL, waiter, NULL);
	pthread_create(&t, NULL, overflow, NULL);
	pthread_join(t, NULL);
	pthread_barrier_wait(&bar);
	pthread_join(w, NULL);
	printf("finished\n");
	return 0;
}
