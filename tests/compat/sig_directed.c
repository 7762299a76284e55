/* sig_directed.c: compat test of thread-directed signals and pending sets (issue 17):
 * - a signal main blocks and sends to itself (raise, pthread_kill) is pending in main
 *   (sigpending) and not in a thread main creates afterwards (a new thread's pending
 *   set is empty), and main's sigwait then takes it;
 * - with SIGUSR2 blocked everywhere and its default action, two threads wait in
 *   sigwaitinfo / sigtimedwait; pthread_kill to one of them is taken by that one;
 * - a signal sent to a thread that blocks it, with the default action "ignore"
 *   (SIGURG), stays pending in that thread only until it unblocks it;
 * - pthread_kill of an exited, unjoined thread returns 0 (glibc 2.34 and later). */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_int child_usr1 = -1;

static void *look(void *arg)
{
	sigset_t p;

	(void)arg;
	CHECK_SYS(sigpending(&p));
	atomic_store(&child_usr1, sigismember(&p, SIGUSR1));
	return NULL;
}

static atomic_int ready;

static void *waits(void *arg)
{
	sigset_t set;
	siginfo_t si;
	int timed = (int)(long)arg;
	int s;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	atomic_fetch_add(&ready, 1);
	if (timed) {
		struct timespec ts = { 20, 0 };
		s = sigtimedwait(&set, &si, &ts);
	} else {
		s = sigwaitinfo(&set, &si);
	}
	return (void *)(long)s;
}

static atomic_int urg_stage;

static void *urg_thread(void *arg)
{
	sigset_t set, p;

	(void)arg;
	while (atomic_load(&urg_stage) == 0)
		usleep(1000);
	CHECK_SYS(sigpending(&p));
	printf("SIGURG pending in the target: %d\n", sigismember(&p, SIGURG));
	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
	CHECK_SYS(sigpending(&p));
	printf("SIGURG pending after unblocking: %d\n", sigismember(&p, SIGURG));
	atomic_store(&urg_stage, 2);
	return NULL;
}

int main(void)
{
	sigset_t set, p;
	pthread_t t, a, b;
	void *r;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGURG);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);

	/* Pending in main, not in a new thread. */
	CHECK_SYS(raise(SIGUSR1));
	CHECK_SYS(sigpending(&p));
	printf("SIGUSR1 pending in main after raise: %d\n", sigismember(&p, SIGUSR1));
	CHECK_RC(pthread_create(&t, NULL, look, NULL), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("SIGUSR1 pending in a new thread: %d\n", atomic_load(&child_usr1));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_RC(sigwait(&set, &sig), 0);
	printf("main's sigwait took %s\n", sig == SIGUSR1 ? "SIGUSR1" : "another");
	CHECK_RC(pthread_kill(pthread_self(), SIGUSR1), 0);
	CHECK_SYS(sigpending(&p));
	printf("SIGUSR1 pending in main after pthread_kill: %d\n", sigismember(&p, SIGUSR1));
	CHECK_RC(sigwait(&set, &sig), 0);

	/* Each waiter takes the signal sent to it. */
	CHECK_RC(pthread_create(&a, NULL, waits, (void *)0), 0);
	CHECK_RC(pthread_create(&b, NULL, waits, (void *)1), 0);
	while (atomic_load(&ready) < 2)
		usleep(1000);
	CHECK_RC(pthread_kill(b, SIGUSR2), 0);
	CHECK_RC(pthread_join(b, &r), 0);
	printf("sigtimedwait in the target took %s\n", (long)r == SIGUSR2 ? "SIGUSR2" : "nothing");
	CHECK_RC(pthread_kill(a, SIGUSR2), 0);
	CHECK_RC(pthread_join(a, &r), 0);
	printf("sigwaitinfo in the target took %s\n", (long)r == SIGUSR2 ? "SIGUSR2" : "nothing");

	/* A blocked signal stays with its target thread. */
	CHECK_RC(pthread_create(&t, NULL, urg_thread, NULL), 0);
	CHECK_RC(pthread_kill(t, SIGURG), 0);
	CHECK_SYS(sigpending(&p));
	printf("SIGURG pending in main: %d\n", sigismember(&p, SIGURG));
	atomic_store(&urg_stage, 1);
	CHECK_RC(pthread_join(t, NULL), 0);

	/* An exited thread that is not joined yet. */
	CHECK_RC(pthread_create(&t, NULL, look, NULL), 0);
	usleep(50000);
	printf("pthread_kill of an exited thread: %s\n", errname(pthread_kill(t, 0)));
	CHECK_RC(pthread_join(t, NULL), 0);
	return 0;
}
