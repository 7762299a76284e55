/* mutex_robust.c: compat test of robust mutexes (DESIGN.md §2.2): a thread that ends
 * holding a robust mutex makes the next locker get EOWNERDEAD (lock and trylock);
 * pthread_mutex_consistent makes it usable again; unlocking without consistent leaves
 * it ENOTRECOVERABLE.
 */
// compat-skip-runner: qemu-aarch64-static: qemu-user answers set_robust_list with ENOSYS (it cannot walk the guest's list at thread exit): an owner's death is never seen, the native run hangs
#include "compat.h"

static pthread_mutex_t m;

static void *die_holding(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_mutex_lock(&m), 0);
	return NULL;
}

static void init(void)
{
	pthread_mutexattr_t a;
	int r;

	CHECK_RC(pthread_mutexattr_init(&a), 0);
	CHECK_RC(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
	CHECK_RC(pthread_mutexattr_getrobust(&a, &r), 0);
	CHECK_EQ(r, PTHREAD_MUTEX_ROBUST);
	CHECK_RC(pthread_mutex_init(&m, &a), 0);
	CHECK_RC(pthread_mutexattr_destroy(&a), 0);
}

static void orphan(void)
{
	pthread_t t;

	CHECK_RC(pthread_create(&t, NULL, die_holding, NULL), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
}

int main(void)
{
	init();
	orphan();
	printf("lock after owner died: %s\n", errname(pthread_mutex_lock(&m)));
	CHECK_RC(pthread_mutex_consistent(&m), 0);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	CHECK_RC(pthread_mutex_lock(&m), 0);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	printf("after consistent: usable\n");

	orphan();
	printf("trylock after owner died: %s\n", errname(pthread_mutex_trylock(&m)));
	CHECK_RC(pthread_mutex_unlock(&m), 0); /* without consistent */
	printf("lock after unlock without consistent: %s\n", errname(pthread_mutex_lock(&m)));
	CHECK_RC(pthread_mutex_trylock(&m), ENOTRECOVERABLE);
	return 0;
}
