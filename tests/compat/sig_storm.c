/* sig_storm.c: compat test of a signal storm (issue 17): one thread sends 100,000
 * signals (SIGUSR1 with a handler: every other one to one of three threads that
 * create and join threads and flip SIGUSR1 in their masks all along, the others to
 * the process), while main creates and joins threads too and two more threads do
 * nothing but block and unblock SIGUSR1 (a loop of pthread_sigmask, which starved
 * everything else at GOSHIM_PROCS=1 before the hooks had preemption points). Nothing
 * may hang: the sender stops after its count, the others when it has stopped.
 * Prints only what does not depend on timing. */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define SIGNALS 100000

static atomic_int handled, stop, creators_ready;
static atomic_long created;

static void handler(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&handled, 1, memory_order_relaxed);
}

static void *nothing(void *arg)
{
	return arg;
}

/* Creates and joins threads and flips SIGUSR1 in its mask until the sender stops. */
static void *creator(void *arg)
{
	sigset_t set;
	pthread_t t;
	int i = 0;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	atomic_fetch_add(&creators_ready, 1);
	while (!atomic_load(&stop)) {
		CHECK_RC(pthread_create(&t, NULL, nothing, NULL), 0);
		CHECK_RC(pthread_sigmask((i++ & 1) ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
		atomic_fetch_add(&created, 1);
	}
	CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
	return NULL;
}

static void *masker(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!atomic_load(&stop)) {
		CHECK_RC(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
		CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
	}
	return NULL;
}

static pthread_t creators[3];

static void *sender(void *arg)
{
	(void)arg;
	for (int i = 0; i < SIGNALS; i++) {
		if (i & 1)
			CHECK_RC(pthread_kill(creators[i % 3], SIGUSR1), 0);
		else
			CHECK_SYS(kill(getpid(), SIGUSR1));
	}
	atomic_store(&stop, 1);
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t *c = creators, m[2], s;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	for (int i = 0; i < 3; i++)
		CHECK_RC(pthread_create(&c[i], NULL, creator, NULL), 0);
	while (atomic_load(&creators_ready) < 3)
		usleep(1000);
	for (int i = 0; i < 2; i++)
		CHECK_RC(pthread_create(&m[i], NULL, masker, NULL), 0);
	CHECK_RC(pthread_create(&s, NULL, sender, NULL), 0);
	while (!atomic_load(&stop)) {
		pthread_t t;

		CHECK_RC(pthread_create(&t, NULL, nothing, NULL), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
	}
	CHECK_RC(pthread_join(s, NULL), 0);
	for (int i = 0; i < 2; i++)
		CHECK_RC(pthread_join(m[i], NULL), 0);
	for (int i = 0; i < 3; i++)
		CHECK_RC(pthread_join(c[i], NULL), 0);
	CHECK(atomic_load(&created) > 0);
	CHECK(atomic_load(&handled) > 0);
	printf("sent %d signals; threads were created and joined; handlers ran\n", SIGNALS);
	return 0;
}
