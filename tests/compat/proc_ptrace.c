/* proc_ptrace.c: waiting for traced children. A traced child's stops are reported
 * to its tracer's wait4/waitpid for that pid without WUNTRACED, which a wait on the
 * child's exit alone (a pidfd) never sees. In order, on a started thread:
 *   1. a child that makes its parent its tracer (PTRACE_TRACEME) 50 ms after the
 *      parent began waitpid(pid, &st, 0), then stops itself: the wait returns the
 *      stop; PTRACE_CONT, then its exit;
 *   2. PTRACE_PEEKDATA through the hook returns the child's word, ESRCH for a
 *      process not traced;
 *   3. PTRACE_ATTACH to a child in pause(): the wait returns the attach stop;
 *      detach, kill, the wait returns the kill;
 *   4. strace (Debian's, preloaded too when this run is) tracing /bin/echo: its
 *      output and exit status. */
#include "compat.h"
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static long word = 0x5eed;

static void show(const char *what, int st)
{
	if (WIFSTOPPED(st))
		printf("%s: stopped by %s\n", what, sigabbrev_np(WSTOPSIG(st)));
	else if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
	else
		printf("%s: status %#x\n", what, st);
}

static void traceme(void)
{
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		usleep(50000);	/* the parent is (most likely) waiting by now */
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
			_exit(90);
		raise(SIGSTOP);
		_exit(7);
	}
	int st;
	CHECK_EQ(waitpid(p, &st, 0), p);
	show("traceme", st);
	errno = 0;
	long v = ptrace(PTRACE_PEEKDATA, p, &word, NULL);
	printf("peekdata: %#lx errno %s\n", v, errname(errno));
	CHECK_EQ(ptrace(PTRACE_CONT, p, NULL, NULL), 0);
	CHECK_EQ(waitpid(p, &st, 0), p);
	show("traceme after cont", st);
	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, p, &word, NULL);
	printf("peekdata of a reaped child: %ld errno %s\n", v, errname(errno));
}

static void attach(void)
{
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		for (;;)
			pause();
	}
	int st;
	CHECK_EQ(ptrace(PTRACE_ATTACH, p, NULL, NULL), 0);
	CHECK_EQ(waitpid(p, &st, 0), p);
	show("attach", st);
	CHECK_EQ(ptrace(PTRACE_DETACH, p, NULL, NULL), 0);
	CHECK_EQ(kill(p, SIGKILL), 0);
	CHECK_EQ(waitpid(p, &st, 0), p);
	show("attach after kill", st);
}

static void run_strace(void)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t p = fork();
	CHECK(p >= 0);
	if (p == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("strace", "strace", "-f", "-qq", "-o", "/dev/null", "/bin/echo", "traced", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[64] = "";
	ssize_t n, got = 0;
	while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += n;
	close(fds[0]);
	int st;
	CHECK_EQ(waitpid(p, &st, 0), p);
	printf("strace output: %s", buf);
	show("strace", st);
}

static void *body(void *arg)
{
	(void)arg;
	traceme();
	attach();
	run_strace();
	return NULL;
}

int main(void)
{
	pthread_t t;
	CHECK_RC(pthread_create(&t, NULL, body, NULL), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	return 0;
}
