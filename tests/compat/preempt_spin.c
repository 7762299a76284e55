/* preempt_spin.c: compat test of asynchronous preemption: four threads spin in a loop
 * that never calls libc (a relaxed atomic load and a volatile increment, nothing the
 * shim can see), while a fifth thread sleeps 20 times 10 ms and then stops them.
 *
 * The spinners are all running before the sleeper starts its 20 sleeps (each counts
 * itself in `started`, which the sleeper polls with usleep). Natively the kernel
 * time-slices them. Under goshim the sleeper's OS thread is busy with a spinner
 * whenever every OS thread runs one (always with GOSHIM_PROCS=1, and with 4 spinners
 * on GOSHIM_PROCS <= 4), so the sleeper, and main waiting in join, run again only if
 * the runtime preempts a G that runs for more than ~10 ms without entering the
 * scheduler. Without preemption the program hangs and the runner's timeout fails it.
 *
 * Prints "sleeper: 20 sleeps" and "spinners: 4 ran", where a spinner "ran" when its
 * count advanced while the sleeper slept (at least 200 ms). No time is asserted. */
#include "compat.h"
#include <stdatomic.h>
#include <unistd.h>

#define SPINNERS 4
#define SLEEPS 20

static atomic_int stop;
static atomic_int started;

/* One spinner's counter, on its own cache line. */
static struct {
	volatile unsigned long count;
	char pad[64 - sizeof(unsigned long)];
} slot[SPINNERS] __attribute__((aligned(64)));

static void *spinner(void *arg)
{
	volatile unsigned long *count = &slot[(long)arg].count;

	atomic_fetch_add(&started, 1);
	/* No call in this loop: only preemption can take the OS thread from it. */
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		(*count)++;
	return NULL;
}

static unsigned long before[SPINNERS], after[SPINNERS];

static void *sleeper(void *arg)
{
	long sleeps = 0;
	int i;

	(void)arg;
	while (atomic_load(&started) < SPINNERS)
		usleep(1000);
	for (i = 0; i < SPINNERS; i++)
		before[i] = slot[i].count;
	for (i = 0; i < SLEEPS; i++) {
		CHECK_SYS(usleep(10000));
		sleeps++;
	}
	for (i = 0; i < SPINNERS; i++)
		after[i] = slot[i].count;
	atomic_store(&stop, 1);
	return (void *)sleeps;
}

int main(void)
{
	pthread_t spin[SPINNERS], sl;
	void *sleeps;
	int i, ran = 0;

	/* Bounds a run by hand; the runner's timeout (60 s by default) comes first. */
	alarm(120);
	for (i = 0; i < SPINNERS; i++)
		CHECK_RC(pthread_create(&spin[i], NULL, spinner, (void *)(long)i), 0);
	CHECK_RC(pthread_create(&sl, NULL, sleeper, NULL), 0);
	CHECK_RC(pthread_join(sl, &sleeps), 0);
	for (i = 0; i < SPINNERS; i++)
		CHECK_RC(pthread_join(spin[i], NULL), 0);
	printf("sleeper: %ld sleeps\n", (long)sleeps);
	for (i = 0; i < SPINNERS; i++) {
		if (after[i] > before[i])
			ran++;
		else
			fprintf(stderr, "spinner %d did not advance while the sleeper slept "
				"(%lu then %lu)\n", i, before[i], after[i]);
	}
	printf("spinners: %d ran\n", ran);
	CHECK_EQ((long)sleeps, SLEEPS);
	CHECK_EQ(ran, SPINNERS);
	return 0;
}
