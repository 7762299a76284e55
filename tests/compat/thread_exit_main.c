/* thread_exit_main.c: compat test of pthread_exit() from main while other threads run
 * (DESIGN.md §2.1): the process lives on until the last thread ends, the last thread's
 * end exits the process with status 0 through exit() (atexit handlers run, stdio is
 * flushed), and the threads still see main's data.
 */
#include "compat.h"
#include <stdint.h>
#include <unistd.h>

#define N 4

static pthread_t t[N];
static int results[N];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int main_gone;

static void at_exit(void)
{
	int i, sum = 0;

	for (i = 0; i < N; i++)
		sum += results[i];
	printf("atexit: main gone %d, sum of results %d\n", main_gone, sum);
}

/* Thread i waits for thread i-1 (a chain), so the last to end is thread N-1. */
static void *worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	pthread_mutex_lock(&mu);
	while (!main_gone)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	usleep(50000); /* main is most likely gone by now; either way is correct */
	if (i > 0)
		CHECK_RC(pthread_join(t[i - 1], NULL), 0);
	results[i] = (int)i * 10 + 1;
	printf("worker %d done\n", (int)i);
	if (i == N - 1)
		printf("last worker returning\n");
	return NULL;
}

int main(void)
{
	uintptr_t i;

	CHECK_SYS(atexit(at_exit));
	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	printf("main calling pthread_exit\n");
	pthread_mutex_lock(&mu);
	main_gone = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_exit(NULL);
}
