/* mutex_types.c: compat test of mutex types (DESIGN.md §2.2): normal, recursive,
 * errorcheck and adaptive mutexes; trylock EBUSY while another thread holds them;
 * errorcheck relock EDEADLK, unlock of another's or of an unlocked one EPERM; recursive
 * lock counts (another thread gets it only after the last unlock), EPERM for unlock by
 * a non-owner; destroy of a locked mutex EBUSY; a priority-inheritance mutex.
 */
#include "compat.h"
#include <semaphore.h>

static pthread_mutex_t m;
static sem_t to_helper, to_main;
static int (*helper_op)(pthread_mutex_t *);
static int helper_rc;

static void wait_sem(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK(errno == EINTR);
}

/* A second thread that runs helper_op on m when told and reports its result. */
static void *helper(void *arg)
{
	(void)arg;
	for (;;) {
		wait_sem(&to_helper);
		if (!helper_op)
			return NULL;
		helper_rc = helper_op(&m);
		CHECK_SYS(sem_post(&to_main));
	}
}

static int in_helper(int (*op)(pthread_mutex_t *))
{
	helper_op = op;
	CHECK_SYS(sem_post(&to_helper));
	wait_sem(&to_main);
	return helper_rc;
}

static void init(int type, int protocol)
{
	pthread_mutexattr_t a;
	int got;

	CHECK_RC(pthread_mutexattr_init(&a), 0);
	CHECK_RC(pthread_mutexattr_settype(&a, type), 0);
	CHECK_RC(pthread_mutexattr_gettype(&a, &got), 0);
	CHECK_EQ(got, type);
	CHECK_RC(pthread_mutexattr_setprotocol(&a, protocol), 0);
	CHECK_RC(pthread_mutex_init(&m, &a), 0);
	CHECK_RC(pthread_mutexattr_destroy(&a), 0);
}

static void test_type(const char *name, int type, int protocol)
{
	init(type, protocol);

	CHECK_RC(pthread_mutex_lock(&m), 0);
	CHECK_RC(in_helper(pthread_mutex_trylock), EBUSY);
	if (type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE ||
	    protocol == PTHREAD_PRIO_INHERIT)
		CHECK_RC(in_helper(pthread_mutex_unlock), EPERM);
	if (type == PTHREAD_MUTEX_ERRORCHECK) {
		CHECK_RC(pthread_mutex_lock(&m), EDEADLK);
		/* glibc: the owner's trylock is EBUSY, but EDEADLK with priority inheritance */
		CHECK_RC(pthread_mutex_trylock(&m), protocol == PTHREAD_PRIO_INHERIT ? EDEADLK : EBUSY);
	}
	if (type == PTHREAD_MUTEX_NORMAL || type == PTHREAD_MUTEX_ADAPTIVE_NP)
		CHECK_RC(pthread_mutex_trylock(&m), EBUSY);
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		CHECK_RC(pthread_mutex_lock(&m), 0);
		CHECK_RC(pthread_mutex_trylock(&m), 0);
		CHECK_RC(pthread_mutex_unlock(&m), 0);
		CHECK_RC(pthread_mutex_unlock(&m), 0);
		CHECK_RC(in_helper(pthread_mutex_trylock), EBUSY); /* still held once */
	}
	CHECK_RC(pthread_mutex_destroy(&m), EBUSY);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	if (type == PTHREAD_MUTEX_ERRORCHECK || type == PTHREAD_MUTEX_RECURSIVE ||
	    protocol == PTHREAD_PRIO_INHERIT)
		CHECK_RC(pthread_mutex_unlock(&m), EPERM);

	/* Now the helper can take it, and main cannot. */
	CHECK_RC(in_helper(pthread_mutex_trylock), 0);
	CHECK_RC(pthread_mutex_trylock(&m), EBUSY);
	CHECK_RC(in_helper(pthread_mutex_unlock), 0);
	CHECK_RC(in_helper(pthread_mutex_lock), 0);
	CHECK_RC(in_helper(pthread_mutex_unlock), 0);
	CHECK_RC(pthread_mutex_destroy(&m), 0);
	printf("%s: ok\n", name);
}

int main(void)
{
	pthread_t t;
	pthread_mutexattr_t a;
	int type;

	CHECK_SYS(sem_init(&to_helper, 0, 0));
	CHECK_SYS(sem_init(&to_main, 0, 0));
	CHECK_RC(pthread_create(&t, NULL, helper, NULL), 0);

	CHECK_RC(pthread_mutexattr_init(&a), 0);
	CHECK_RC(pthread_mutexattr_gettype(&a, &type), 0);
	CHECK_EQ(type, PTHREAD_MUTEX_DEFAULT);
	CHECK_RC(pthread_mutexattr_settype(&a, 99), EINVAL);
	CHECK_RC(pthread_mutexattr_destroy(&a), 0);

	test_type("normal", PTHREAD_MUTEX_NORMAL, PTHREAD_PRIO_NONE);
	test_type("recursive", PTHREAD_MUTEX_RECURSIVE, PTHREAD_PRIO_NONE);
	test_type("errorcheck", PTHREAD_MUTEX_ERRORCHECK, PTHREAD_PRIO_NONE);
	test_type("adaptive", PTHREAD_MUTEX_ADAPTIVE_NP, PTHREAD_PRIO_NONE);
	test_type("normal+prio-inherit", PTHREAD_MUTEX_NORMAL, PTHREAD_PRIO_INHERIT);
	test_type("recursive+prio-inherit", PTHREAD_MUTEX_RECURSIVE, PTHREAD_PRIO_INHERIT);
	test_type("errorcheck+prio-inherit", PTHREAD_MUTEX_ERRORCHECK, PTHREAD_PRIO_INHERIT);

	helper_op = NULL;
	CHECK_SYS(sem_post(&to_helper));
	CHECK_RC(pthread_join(t, NULL), 0);
	return 0;
}
