/* thread_exit_from_thread.c: compat test of exit() called by a thread while main and
 * others are blocked (DESIGN.md §2.1): the process ends with that status (5), atexit
 * handlers run once, stdio is flushed.
 */
// compat-exit: 5
#include "compat.h"
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *forever(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	usleep(100000);
	printf("thread calling exit(5)\n");
	exit(5);
}

static void at_exit(void)
{
	printf("atexit handler ran\n");
}

int main(void)
{
	pthread_t f, e;

	CHECK_SYS(atexit(at_exit));
	printf("main joining a thread that never ends\n");
	CHECK_RC(pthread_create(&f, NULL, forever, NULL), 0);
	CHECK_RC(pthread_create(&e, NULL, exiter, NULL), 0);
	pthread_join(f, NULL);
	FAIL("join returned");
}
