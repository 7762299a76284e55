/* sig_rtmax_wait.c: compat test of a program that takes SIGRTMAX (goshim's preemption
 * signal) with sigwait (issue 17): every thread blocks it with its default action;
 * a thread sends it to the process with kill() and with sigqueue(), and to main with
 * pthread_kill(); main takes each with sigwait / sigwaitinfo (the queued value
 * included), and while it is pending sigpending shows it. Natively the default action
 * (terminate) never happens: the signal stays pending until taken. */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_t main_t;

static void *sender(void *arg)
{
	int how = (int)(long)arg;
	union sigval v = { .sival_int = 42 };

	if (how == 0)
		CHECK_SYS(kill(getpid(), SIGRTMAX));
	else if (how == 1)
		CHECK_SYS(sigqueue(getpid(), SIGRTMAX, v));
	else
		CHECK_RC(pthread_kill(main_t, SIGRTMAX), 0);
	return NULL;
}

int main(void)
{
	sigset_t set, p;
	siginfo_t si;
	pthread_t t;
	int sig;

	main_t = pthread_self();
	sigemptyset(&set);
	sigaddset(&set, SIGRTMAX);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	for (int how = 0; how < 3; how++) {
		CHECK_RC(pthread_create(&t, NULL, sender, (void *)(long)how), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
		CHECK_SYS(sigpending(&p));
		printf("pending after send %d: %d\n", how, sigismember(&p, SIGRTMAX));
		if (how == 1) {
			CHECK_EQ(sigwaitinfo(&set, &si), SIGRTMAX);
			printf("sigwaitinfo: SIGRTMAX, value %d, code %s\n", si.si_value.sival_int,
			       si.si_code == SI_QUEUE ? "SI_QUEUE" : "other");
		} else {
			CHECK_RC(sigwait(&set, &sig), 0);
			printf("sigwait: %s\n", sig == SIGRTMAX ? "SIGRTMAX" : "other");
		}
		CHECK_SYS(sigpending(&p));
		printf("pending after the wait: %d\n", sigismember(&p, SIGRTMAX));
	}
	return 0;
}
