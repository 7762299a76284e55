/* proc_daemon.c: compat test of daemon() from a thread (DESIGN.md §2.7). glibc's daemon
 * forks with its internal fork, which the fork() hook does not see; preloaded in tp and
 * moving modes its child was lost (no line came back). A thread of main forks a child
 * that calls daemon(1, noclose) for noclose 1 and 0; the daemon (the grandchild) checks
 * that it leads a new session, creates and joins a thread that sleeps a little, checks
 * where its stdin points (the parent's with noclose 1, /dev/null with 0) and writes one
 * line on a pipe, which the thread reads; daemon's own parent exits 0.
 */
#include "compat.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static void *nap(void *arg)
{
	struct timespec ts = ts_ms(5);
	nanosleep(&ts, NULL);
	return arg;
}

static void grandchild(int w, int noclose)
{
	char line[128];
	pthread_t t;
	void *ret = NULL;
	int created = pthread_create(&t, NULL, nap, (void *)7L);
	int joined = created == 0 ? pthread_join(t, &ret) : -1;
	struct stat st;
	int devnull = fstat(0, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
	int n = snprintf(line, sizeof line, "daemon(1, %d): session leader %d, thread %d/%d/%ld, stdin /dev/null %d\n",
			 noclose, getsid(0) == getpid(), created, joined, (long)ret, devnull);
	if (write(w, line, (size_t)n) != n)
		_exit(2);
	_exit(0);
}

static void *forker(void *arg)
{
	int noclose = (int)(long)arg;
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (daemon(1, noclose) != 0)
			_exit(3);
		grandchild(p[1], noclose);
	}
	close(p[1]);
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("daemon's parent: exited %d, status %d\n", WIFEXITED(status), WEXITSTATUS(status));
	char buf[256];
	ssize_t n, got = 0;
	while ((n = read(p[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
		got += n;	/* until the daemon exits: EOF */
	buf[got] = 0;
	printf("%s", got ? buf : "no line from the daemon\n");
	close(p[0]);
	return NULL;
}

int main(void)
{
	/* stdin: a file that is not /dev/null, so that noclose 1 is told from 0. */
	int fd = open("/proc/self/exe", O_RDONLY);
	CHECK(fd >= 0);
	CHECK(dup2(fd, 0) == 0);
	close(fd);
	for (long noclose = 1; noclose >= 0; noclose--) {
		pthread_t t;
		CHECK(pthread_create(&t, NULL, forker, (void *)noclose) == 0);
		CHECK(pthread_join(t, NULL) == 0);
	}
	return 0;
}
