/* sig_rtmax.c: a program that uses SIGRTMAX itself, the signal goshim preempts with
 * (README, Limits): its sigaction is kept and reported back, its handler runs for
 * sigqueue (with the queued value), pthread_kill to another thread, and raise; a
 * signal it blocks stays pending until it unblocks it; SIG_IGN ignores it. */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_int got, val;
static _Atomic pthread_t where;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	atomic_store(&val, si->si_value.sival_int);
	atomic_store(&where, pthread_self());
	atomic_fetch_add(&got, 1);
}

static void *waiter(void *arg)
{
	(void)arg;
	while (atomic_load(&got) < 2)
		usleep(1000);
	return NULL;
}

int main(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGRTMAX, NULL, &old));
	printf("initial action: %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
	CHECK_SYS(sigaction(SIGRTMAX, &sa, NULL));
	CHECK_SYS(sigaction(SIGRTMAX, NULL, &old));
	printf("installed: %s, siginfo %d\n", old.sa_sigaction == handler ? "ours" : "other",
	       !!(old.sa_flags & SA_SIGINFO));

	union sigval v = { .sival_int = 42 };
	CHECK_SYS(sigqueue(getpid(), SIGRTMAX, v));
	while (atomic_load(&got) < 1)
		usleep(1000);
	printf("sigqueue: got %d, value %d\n", atomic_load(&got), atomic_load(&val));

	pthread_t t;
	CHECK_RC(pthread_create(&t, NULL, waiter, NULL), 0);
	CHECK_RC(pthread_kill(t, SIGRTMAX), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("pthread_kill: got %d, in the target %d\n", atomic_load(&got),
	       pthread_equal(atomic_load(&where), t));

	CHECK_SYS(raise(SIGRTMAX));
	printf("raise: got %d, in main %d\n", atomic_load(&got),
	       pthread_equal(atomic_load(&where), pthread_self()));

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMAX);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	v.sival_int = 7;
	CHECK_SYS(sigqueue(getpid(), SIGRTMAX, v));
	usleep(20000);
	printf("blocked: got %d\n", atomic_load(&got));
	CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
	printf("unblocked: got %d, value %d\n", atomic_load(&got), atomic_load(&val));

	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	CHECK_SYS(sigaction(SIGRTMAX, &sa, NULL));
	CHECK_SYS(raise(SIGRTMAX));
	CHECK_SYS(sigaction(SIGRTMAX, NULL, &old));
	printf("ignored: got %d, action %s\n", atomic_load(&got),
	       old.sa_handler == SIG_IGN ? "ignore" : "other");
	return 0;
}
