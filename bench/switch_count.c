/*
 * bench/switch_count.c: bench/switch.c's mutex + condvar hand-off between two
 * threads, with an int3 at hand-off START and at START + COUNT (the same
 * instruction), for bench/icount.c to count the instructions in between.
 * Run alone it would die of SIGTRAP: run it under icount only (x86-64: int3,
 * and icount reads rip).
 *
 * Usage: icount switch_count [START [COUNT]]   (defaults 1000 and 200)
 * Prints: flips N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int turn, done;	/* guarded by lock */
static long flips, start = 1000, count = 200;

static void *play(void *arg)
{
	int me = (int)(long)arg;

	pthread_mutex_lock(&lock);
	for (;;) {
		while (turn != me && !done)
			pthread_cond_wait(&cond, &lock);
		if (done)
			break;
		if (flips == start || flips == start + count)
			__asm__ volatile("int3");
		if (flips == start + count + 10) {
			done = 1;
			pthread_cond_signal(&cond);
			break;
		}
		turn = !me;
		flips++;
		pthread_cond_signal(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];

	if (argc > 1)
		start = atol(argv[1]);
	if (argc > 2)
		count = atol(argv[2]);
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, play, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("flips %ld\n", flips);
	return 0;
}
