/* cond_broadcast.c: compat test of pthread_cond_broadcast and signal (DESIGN.md §2.2):
 * in each of many rounds all N waiters are parked on one condvar, one broadcast wakes
 * every one of them (exact count per round); then signal wakes waiters one at a time
 * (each signal with a waiter present releases exactly one token).
 */
#include "compat.h"

#define N 24
#define ROUNDS 200

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t main_cv = PTHREAD_COND_INITIALIZER;
static int generation, waiting, woken[N];
static int tokens, taken, stop;

static void *waiter(void *arg)
{
	int id = (int)(long)arg, gen = 0, r;

	pthread_mutex_lock(&mu);
	for (r = 0; r < ROUNDS; r++) {
		waiting++;
		pthread_cond_signal(&main_cv);
		while (generation == gen)
			pthread_cond_wait(&cv, &mu);
		gen = generation;
		woken[id]++;
	}
	/* Signal phase: take one token per wakeup until told to stop. */
	for (;;) {
		while (tokens == 0 && !stop)
			pthread_cond_wait(&cv, &mu);
		if (tokens == 0)
			break;
		tokens--;
		taken++;
		pthread_cond_signal(&main_cv);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	long total = 0;
	int i, r;

	for (i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, waiter, (void *)(long)i), 0);
	pthread_mutex_lock(&mu);
	for (r = 0; r < ROUNDS; r++) {
		while (waiting < N)
			pthread_cond_wait(&main_cv, &mu);
		waiting = 0;
		generation++;
		CHECK_RC(pthread_cond_broadcast(&cv), 0);
	}
	for (i = 0; i < 500; i++) {
		tokens++;
		CHECK_RC(pthread_cond_signal(&cv), 0);
		while (taken < i + 1)
			pthread_cond_wait(&main_cv, &mu);
	}
	stop = 1;
	CHECK_RC(pthread_cond_broadcast(&cv), 0);
	pthread_mutex_unlock(&mu);
	for (i = 0; i < N; i++) {
		CHECK_RC(pthread_join(t[i], NULL), 0);
		CHECK_EQ(woken[i], ROUNDS);
		total += woken[i];
	}
	printf("%d rounds x %d waiters: %ld wakeups, each waiter %d\n", ROUNDS, N, total, woken[0]);
	printf("signal phase: %d tokens taken, %d left\n", taken, tokens);
	CHECK_EQ(taken, 500);
	CHECK_EQ(tokens, 0);
	return 0;
}
