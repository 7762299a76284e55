/* limit_nofile.c: under RLIMIT_NOFILE = 64 a program opens sockets until
 * socket() fails; it must get EMFILE after exactly as many as natively. The
 * runtime's own fds (its epoll instance and eventfd) must not take two of the
 * program's numbers, whether the limit was lowered before the netpoller
 * started or after, and whether the soft limit equals the hard one.
 *
 *   1. soft 64 (hard unchanged), then the netpoller starts (a thread parks in
 *      read on a pipe), then sockets until EMFILE;
 *   2. soft 128: sockets until EMFILE;
 *   3. in a forked child (its own netpoller, started afresh): soft = hard = 64
 *      before anything waits, then the netpoller starts, then sockets. Placing
 *      our fds above a hard limit needs CAP_SYS_RESOURCE; without it they take
 *      the top two numbers (README, Limits), so this case runs only with it.
 *
 * Natively (2026-12-06, fds 0-3 open): 60 and 124 sockets, EMFILE. Before the fds went above
 * the limit, preloaded got 58 and 122. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int pfd[2];

static void *reader(void *arg)
{
	char c;
	return (void *)(long)read(pfd[0], &c, 1);
}

/* A thread waits in read until main writes: under the shim that starts the netpoller. */
static void wait_once(void)
{
	pthread_t t;
	void *r;
	if (pipe(pfd) != 0 || pthread_create(&t, NULL, reader, NULL) != 0) {
		perror("setup");
		_exit(1);
	}
	struct timespec ts = { 0, 50 * 1000000 };
	nanosleep(&ts, NULL);
	if (write(pfd[1], "x", 1) != 1 || pthread_join(t, &r) != 0 || (long)r != 1) {
		fprintf(stderr, "reader failed\n");
		_exit(1);
	}
	close(pfd[0]);
	close(pfd[1]);
}

static void set_nofile(rlim_t soft, rlim_t hard)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = soft;
	if (hard)
		rl.rlim_max = hard;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit");
		_exit(1);
	}
}

static void count_sockets(const char *what)
{
	static int fds[1024];
	int n = 0, e = 0;
	while (n < 1024) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0) {
			e = errno;
			break;
		}
		fds[n++] = s;
	}
	printf("%s: %d sockets, then %s\n", what, n, e ? strerrorname_np(e) : "no error");
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	set_nofile(64, 0);
	wait_once();
	count_sockets("soft 64, set before the first wait");
	set_nofile(128, 0);
	count_sockets("soft 128");
	set_nofile(64, 0);
	wait_once();
	count_sockets("soft 64 again, after waits");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		set_nofile(64, 64);
		struct rlimit up = { 64, 65 };
		if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
			printf("skip-part: soft = hard = 64 in a fresh child (no CAP_SYS_RESOURCE)\n");
			_exit(0);
		}
		set_nofile(64, 64);
		wait_once();
		count_sockets("soft = hard = 64 in a fresh child");
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
