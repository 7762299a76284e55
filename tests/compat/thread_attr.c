/* thread_attr.c: compat test of thread attributes and pthread_getattr_np (DESIGN.md §2.1):
 * a stack size attribute gives a stack at least that big which the thread can use to
 * its depth; pthread_getattr_np reports a stack that contains the thread's locals (in
 * main, in a default thread, in a sized thread); the detach state and guard size set
 * are the ones reported (the guard size rounded up to pages, as glibc does); attribute errors are as glibc's.
 */
#include "compat.h"
#include <limits.h>
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

/* 64 KiB, or the least the architecture allows (128 KiB on aarch64). */
#define SMALL (64 * 1024 > PTHREAD_STACK_MIN ? 64 * 1024 : (size_t)PTHREAD_STACK_MIN)

struct seen {
	size_t stacksize;  /* pthread_getattr_np's stack size */
	int inside;        /* a local lies inside the reported stack */
	int detachstate;
	size_t guardsize;
	int deep_ok;       /* the thread used most of its requested stack */
};

static sem_t hold;

/* Fills s from pthread_getattr_np(pthread_self()). */
static void look(struct seen *s)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	volatile char local = 1;
	uintptr_t p = (uintptr_t)&local;

	CHECK_RC(pthread_getattr_np(pthread_self(), &a), 0);
	CHECK_RC(pthread_attr_getstack(&a, &addr, &size), 0);
	CHECK_RC(pthread_attr_getdetachstate(&a, &s->detachstate), 0);
	CHECK_RC(pthread_attr_getguardsize(&a, &s->guardsize), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	s->stacksize = size;
	s->inside = p >= (uintptr_t)addr && p < (uintptr_t)addr + size;
}

/* Touches depth bytes of stack below this frame, a page at a time from the top down. */
static __attribute__((noinline)) int use_stack(size_t depth)
{
	volatile char buf[depth];
	size_t i;

	for (i = depth; i >= 4096; i -= 4096)
		buf[i - 1] = 1;
	buf[0] = 1;
	return buf[0] + buf[depth - 1];
}

static void *sized(void *arg)
{
	struct seen *s = arg;

	look(s);
	/* Leave 32 KiB for the frames above, TLS and the descriptor glibc puts on top. */
	s->deep_ok = s->stacksize > 48 * 1024 && use_stack(s->stacksize - 32 * 1024) == 2;
	return NULL;
}

static void *detached(void *arg)
{
	look(arg);
	CHECK_SYS(sem_post(&hold));
	return NULL;
}

int main(void)
{
	pthread_attr_t a;
	pthread_t t;
	struct seen s;
	size_t size, dflt, sizes[] = { SMALL, 256 * 1024, 1024 * 1024, 3 * 1024 * 1024 + 4096 };
	unsigned i;
	int ds;

	CHECK_SYS(sem_init(&hold, 0, 0));

	/* Default attributes. */
	CHECK_RC(pthread_attr_init(&a), 0);
	CHECK_RC(pthread_attr_getstacksize(&a, &dflt), 0);
	CHECK_RC(pthread_attr_getdetachstate(&a, &ds), 0);
	CHECK_EQ(ds, PTHREAD_CREATE_JOINABLE);
	CHECK_RC(pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN - 1), EINVAL);
	CHECK_RC(pthread_attr_setdetachstate(&a, 7), EINVAL);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	printf("attr errors: stacksize below PTHREAD_STACK_MIN EINVAL, bad detachstate EINVAL\n");

	/* Main's own stack. */
	look(&s);
	printf("main: local inside reported stack %d, joinable %d\n", s.inside,
	       s.detachstate == PTHREAD_CREATE_JOINABLE);
	CHECK(s.inside);

	/* A default thread: at least the default size, locals inside. */
	memset(&s, 0, sizeof(s));
	CHECK_RC(pthread_create(&t, NULL, sized, &s), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("default thread: stack >= default %d, local inside %d, joinable %d, deep use ok %d\n",
	       s.stacksize >= dflt, s.inside, s.detachstate == PTHREAD_CREATE_JOINABLE, s.deep_ok);
	CHECK(s.stacksize >= dflt && s.inside && s.deep_ok);

	/* Sized threads. */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK_RC(pthread_attr_init(&a), 0);
		CHECK_RC(pthread_attr_setstacksize(&a, sizes[i]), 0);
		CHECK_RC(pthread_attr_getstacksize(&a, &size), 0);
		CHECK_EQ(size, sizes[i]);
		memset(&s, 0, sizeof(s));
		CHECK_RC(pthread_create(&t, &a, sized, &s), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
		CHECK_RC(pthread_attr_destroy(&a), 0);
		printf("stacksize %zu: stack >= requested %d, local inside %d, deep use ok %d\n",
		       sizes[i], s.stacksize >= sizes[i], s.inside, s.deep_ok);
		CHECK(s.stacksize >= sizes[i] && s.inside && s.deep_ok);
	}

	/* Guard sizes are reported as set. */
	size_t guards[] = { 0, 4096, 64 * 1024, 1000 };
	for (i = 0; i < sizeof(guards) / sizeof(guards[0]); i++) {
		CHECK_RC(pthread_attr_init(&a), 0);
		CHECK_RC(pthread_attr_setguardsize(&a, guards[i]), 0);
		CHECK_RC(pthread_attr_setstacksize(&a, 256 * 1024), 0);
		memset(&s, 0, sizeof(s));
		CHECK_RC(pthread_create(&t, &a, sized, &s), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
		CHECK_RC(pthread_attr_destroy(&a), 0);
		printf("guardsize %zu: reported %zu, local inside %d\n", guards[i], s.guardsize, s.inside);
		CHECK_EQ(s.guardsize, (guards[i] + 4095) / 4096 * 4096); /* glibc rounds to pages */
		CHECK(s.inside);
	}

	/* Detach state by attribute is reported inside the thread; join is EINVAL. */
	CHECK_RC(pthread_attr_init(&a), 0);
	CHECK_RC(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
	CHECK_RC(pthread_attr_getdetachstate(&a, &ds), 0);
	CHECK_EQ(ds, PTHREAD_CREATE_DETACHED);
	memset(&s, 0, sizeof(s));
	CHECK_RC(pthread_create(&t, &a, detached, &s), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	while (sem_wait(&hold) != 0)
		CHECK(errno == EINTR);
	printf("detached thread: reports detached %d, local inside %d\n",
	       s.detachstate == PTHREAD_CREATE_DETACHED, s.inside);
	CHECK(s.detachstate == PTHREAD_CREATE_DETACHED && s.inside);
	return 0;
}
