/* thread_attr_stack.c: compat test of a stack the program supplies itself with
 * pthread_attr_setstack (DESIGN.md §2.1): the thread runs on that memory (its locals
 * lie inside it), pthread_getattr_np reports exactly that region, and the thread can
 * use it to nearly its full depth.
 */
#include "compat.h"
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>

struct region {
	void *addr;
	size_t size;
};

static struct region seen;
static int inside;

static __attribute__((noinline)) int use_stack(size_t depth)
{
	volatile char buf[depth];
	size_t i;

	for (i = depth; i >= 4096; i -= 4096)
		buf[i - 1] = 1;
	buf[0] = 1;
	return buf[0] + buf[depth - 1];
}

static void *body(void *arg)
{
	struct region *r = arg;
	pthread_attr_t a;
	volatile char local;
	uintptr_t p = (uintptr_t)&local;

	CHECK_RC(pthread_getattr_np(pthread_self(), &a), 0);
	CHECK_RC(pthread_attr_getstack(&a, &seen.addr, &seen.size), 0);
	CHECK_RC(pthread_attr_destroy(&a), 0);
	inside = p >= (uintptr_t)r->addr && p < (uintptr_t)r->addr + r->size;
	CHECK_EQ(use_stack(r->size - 24 * 1024), 2);
	return NULL;
}

int main(void)
{
	/* 64 KiB, or the least the architecture allows (128 KiB on aarch64). */
	size_t sizes[] = { 64 * 1024 > PTHREAD_STACK_MIN ? 64 * 1024 : (size_t)PTHREAD_STACK_MIN, 1024 * 1024 };
	pthread_attr_t a;
	struct region r;
	pthread_t t;
	void *ret;
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		r.size = sizes[i];
		r.addr = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(r.addr != MAP_FAILED);
		CHECK_RC(pthread_attr_init(&a), 0);
		CHECK_RC(pthread_attr_setstack(&a, r.addr, r.size), 0);
		CHECK_RC(pthread_create(&t, &a, body, &r), 0);
		CHECK_RC(pthread_join(t, &ret), 0);
		CHECK_RC(pthread_attr_destroy(&a), 0);
		printf("setstack %zu KiB: local inside %d, reported region exact %d\n", r.size / 1024,
		       inside, seen.addr == r.addr && seen.size == r.size);
		CHECK(inside);
		CHECK(seen.addr == r.addr && seen.size == r.size);
		CHECK_SYS(munmap(r.addr, r.size));
	}
	return 0;
}
