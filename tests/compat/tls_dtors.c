/* tls_dtors.c: C++ thread_local destructors, registered as libstdc++ does with
 * __cxa_thread_atexit_impl: each thread's run once at its exit, newest first, on
 * its own value, before its pthread key destructors; one registered by a
 * destructor runs too; exit() runs the calling thread's before the atexit
 * handlers. */
#include "compat.h"
#include <unistd.h>

#define N 8

int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);
extern void *__dso_handle;

static __thread int v;
static char log_[N + 1][128];
static pthread_key_t key;

static void note(const char *what)
{
	size_t n = strlen(log_[v]);
	snprintf(log_[v] + n, sizeof log_[v] - n, "%s%s(v=%d)", n ? " " : "", what, v);
}

static void late(void *obj)
{
	(void)obj;
	note("late");
}

static void first(void *obj)
{
	CHECK(obj == &v);
	note("first");
}

static void second(void *obj)
{
	CHECK(obj == &v);
	note("second");
	__cxa_thread_atexit_impl(late, &v, &__dso_handle);
}

static void key_dtor(void *p)
{
	(void)p;
	note("key");
}

static void *thread(void *arg)
{
	v = (int)(long)arg;
	CHECK_RC(__cxa_thread_atexit_impl(first, &v, &__dso_handle), 0);
	usleep(1000);	/* park: other threads run on this OS thread meanwhile */
	CHECK_RC(__cxa_thread_atexit_impl(second, &v, &__dso_handle), 0);
	CHECK_RC(pthread_setspecific(key, &v), 0);
	usleep(1000);
	return NULL;
}

static void at_exit(void)
{
	printf("atexit handler; main's log so far: %s\n", log_[0][0] ? log_[0] : "(empty)");
}

int main(void)
{
	pthread_t t[N];
	CHECK_RC(pthread_key_create(&key, key_dtor), 0);
	for (long i = 1; i <= N - 1; i++)
		CHECK_RC(pthread_create(&t[i], NULL, thread, (void *)i), 0);
	for (int i = 1; i <= N - 1; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	for (int i = 1; i <= N - 1; i++)
		printf("thread %d: %s\n", i, log_[i]);
	v = 0;
	CHECK_RC(__cxa_thread_atexit_impl(first, &v, &__dso_handle), 0);
	atexit(at_exit);
	exit(0);
}
