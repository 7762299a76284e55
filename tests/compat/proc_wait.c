/* proc_wait.c: waiting for children (waitpid, wait, wait3, wait4, waitid), system and
 * pclose. For each, a started ticker thread keeps counting while the call waits for a
 * child that exits 50 ms later. Status, rusage (the child's CPU time is counted only
 * by a reaping call), WNOHANG (0 while the child runs), ECHILD (no child, or a pid
 * that is not a child), EINVAL (bad options), waits by process group and for any
 * child, stops and continues (WUNTRACED, WCONTINUED),
 * EINTR from a handler without SA_RESTART and a wait that goes on through a SA_RESTART
 * handler; two threads waiting for their own children at once; a child the program
 * did not wait for is left for it (still a zombie after another child was reaped by
 * pid). */
#include "compat.h"
#include "ticker.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child(int ms, int code)
{
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		usleep(ms * 1000);
		_exit(code);
	}
	return p;
}

static pid_t spinner(int ms)	/* uses ms of CPU time, for rusage */
{
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		volatile unsigned long x = 0;
		while (now_ns(CLOCK_PROCESS_CPUTIME_ID) < ms * 1000000LL)
			x++;
		_exit(3);
	}
	return p;
}

static int handled;
static void on_sig(int s)
{
	(void)s;
	handled++;
}

struct kick { pthread_t t; int sig; };
static void *kick(void *arg)
{
	struct kick *k = arg;
	usleep(50000);
	pthread_kill(k->t, k->sig);
	return NULL;
}

static void *close_later(void *arg)	/* ends a child waiting for EOF */
{
	usleep(100000);
	close((int)(long)arg);
	return NULL;
}

static void *kick_many(void *arg)
{
	struct kick *k = arg;
	for (int i = 0; i < 10; i++) {
		usleep(10000);
		pthread_kill(k->t, k->sig);
	}
	return NULL;
}

static int os_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	int n = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static void *own_child(void *arg)
{
	int code = (int)(long)arg;
	pid_t p = child(50, code);
	int st;
	CHECK_EQ(waitpid(p, &st, 0), p);
	return (void *)(long)WEXITSTATUS(st);
}

int main(void)
{
	ticker_start();
	int st;
	unsigned long m;

	pid_t p = child(50, 7);
	CHECK_EQ(waitpid(p, &st, WNOHANG), 0);
	m = ticker_mark();
	CHECK_EQ(waitpid(p, &st, 0), p);
	ticker_report("waitpid(pid)", m);
	printf("status exited %d code %d\n", WIFEXITED(st), WEXITSTATUS(st));

	p = child(50, 8);
	m = ticker_mark();
	CHECK_EQ(wait(&st), p);
	ticker_report("wait", m);
	printf("wait code %d\n", WEXITSTATUS(st));

	p = spinner(50);
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	m = ticker_mark();
	CHECK_EQ(wait4(p, &st, 0, &ru), p);
	ticker_report("wait4", m);
	printf("wait4 code %d, child CPU counted: %d\n", WEXITSTATUS(st),
	       ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000 +
	       ru.ru_stime.tv_usec >= 40000);

	p = child(50, 9);
	m = ticker_mark();
	CHECK_EQ(wait3(&st, 0, &ru), p);
	ticker_report("wait3", m);

	p = child(50, 10);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK_SYS(waitid(P_PID, (id_t)p, &si, WEXITED | WNOHANG));
	printf("waitid WNOHANG: si_pid %d\n", si.si_pid);
	m = ticker_mark();
	CHECK_SYS(waitid(P_ALL, 0, &si, WEXITED));
	ticker_report("waitid(P_ALL)", m);
	printf("waitid: pid matches %d, code %d, si_code CLD_EXITED %d\n", si.si_pid == p,
	       si.si_status, si.si_code == CLD_EXITED);

	/* By process group: the child makes its own group. */
	p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		setpgid(0, 0);
		usleep(80000);
		_exit(11);
	}
	setpgid(p, p);
	m = ticker_mark();
	CHECK_EQ(waitpid(-p, &st, 0), p);
	ticker_report("waitpid(-pgid)", m);
	p = child(50, 12);
	m = ticker_mark();
	CHECK_EQ(waitpid(0, &st, 0), p);
	ticker_report("waitpid(0)", m);
	printf("code %d\n", WEXITSTATUS(st));

	/* Errors. */
	CHECK_ERRNO(waitpid(-1, &st, 0), ECHILD);
	CHECK_ERRNO(waitpid(1, &st, 0), ECHILD);
	CHECK_ERRNO(waitpid(-1, &st, 0x40000000 >> 8), EINVAL);
	CHECK_ERRNO(waitid(P_ALL, 0, &si, 0), EINVAL);
	CHECK_ERRNO(waitid(P_ALL, 0, &si, WEXITED), ECHILD);
	printf("ECHILD, EINVAL as natively\n");

	/* Stops and continues. */
	p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		raise(SIGSTOP);
		usleep(100000);	/* the continue is reported before the exit */
		_exit(13);
	}
	m = ticker_mark();
	CHECK_EQ(waitpid(p, &st, WUNTRACED), p);
	printf("stopped %d by %d\n", WIFSTOPPED(st), WSTOPSIG(st));
	kill(p, SIGCONT);
	CHECK_EQ(waitpid(p, &st, WCONTINUED), p);
	printf("continued %d\n", WIFCONTINUED(st));
	pid_t r = waitpid(p, &st, 0);
	if (r != p)
		FAIL("waitpid after the continue: %d %s", r, errname(errno));
	printf("then exited %d\n", WEXITSTATUS(st));

	/* Signals. */
	struct sigaction sa = { .sa_handler = on_sig };
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	sa.sa_flags = SA_RESTART;
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	/* The child ends when told (its stdin closes): no race with the signals. */
	struct kicker kk;
	for (int any = 0; any <= 1; any++) {
		int cp[2];
		CHECK_SYS(pipe(cp));
		p = fork();
		CHECK(p >= 0);
		if (p == 0) {
			char c;
			close(cp[1]);
			_exit(read(cp[0], &c, 1) == 0 ? 14 + any : 1);
		}
		close(cp[0]);
		kicker_start(&kk, SIGUSR1);
		CHECK_ERRNO(waitpid(any ? -1 : p, &st, 0), EINTR);
		kicker_stop(&kk);
		kicker_start(&kk, SIGUSR2);	/* SA_RESTART: the wait goes on */
		pthread_t cl;
		CHECK_RC(pthread_create(&cl, NULL, close_later, (void *)(long)cp[1]), 0);
		CHECK_EQ(waitpid(any ? -1 : p, &st, 0), p);
		kicker_stop(&kk);
		CHECK_RC(pthread_join(cl, NULL), 0);
	}
	printf("signals: handled %d, last code %d\n", handled >= 4, WEXITSTATUS(st));
	struct kick k = { pthread_self(), SIGUSR1 };
	pthread_t t;

	/* Interrupted again and again: the waits that gave up leave no pile of
	 * helper threads behind (preloaded: one per selection). */
	p = child(300, 18);
	k.sig = SIGUSR1;
	CHECK_RC(pthread_create(&t, NULL, kick_many, &k), 0);
	int eintr = 0, most = 0;
	for (;;) {
		r = waitpid(-1, &st, 0);
		if (r == p)
			break;
		CHECK(r == -1 && errno == EINTR);
		eintr++;
		int n = os_threads();
		most = n > most ? n : most;
	}
	CHECK_RC(pthread_join(t, NULL), 0);
	if (getenv("GOSHIM_TEST_PRELOADED") && atoi(getenv("GOSHIM_TEST_PRELOADED")) && most > 9)
		FAIL("%d OS threads after %d interrupted waits", most, eintr);
	printf("interrupted waits: some %d, then code %d\n", eintr > 0, WEXITSTATUS(st));

	/* Two threads, each waiting for its own child. */
	pthread_t a, b;
	void *ra, *rb;
	CHECK_RC(pthread_create(&a, NULL, own_child, (void *)21L), 0);
	CHECK_RC(pthread_create(&b, NULL, own_child, (void *)22L), 0);
	CHECK_RC(pthread_join(a, &ra), 0);
	CHECK_RC(pthread_join(b, &rb), 0);
	printf("own children: %ld %ld\n", (long)ra, (long)rb);

	/* A child nobody waited for stays a zombie for the program. */
	pid_t z = child(0, 16);
	usleep(50000);
	p = child(50, 17);
	CHECK_EQ(waitpid(p, &st, 0), p);
	CHECK_EQ(waitpid(z, &st, WNOHANG), z);
	printf("the other child was left: code %d\n", WEXITSTATUS(st));

	/* system and pclose. */
	m = ticker_mark();
	r = system("sleep 0.05; exit 5");
	ticker_report("system", m);
	printf("system: exited %d code %d\n", WIFEXITED(r), WEXITSTATUS(r));
	FILE *f = popen("sleep 0.05; echo hi; exit 6", "r");
	CHECK(f != NULL);
	char line[16];
	CHECK(fgets(line, sizeof line, f) != NULL);
	m = ticker_mark();
	r = pclose(f);
	printf("popen read %s", line);
	printf("pclose: code %d\n", WEXITSTATUS(r));
	f = popen("sleep 0.05; exit 4", "w");
	m = ticker_mark();
	r = pclose(f);
	ticker_report("pclose", m);
	printf("pclose: code %d\n", WEXITSTATUS(r));
	ticker_end();
	return 0;
}
