/* limit_nproc: RLIMIT_NPROC leaves room for one more thread. A forked child
 * becomes user nobody (so the limit applies: root is exempt), sets the limit
 * to its user's tasks plus one, creates one thread that plays 100 rounds of
 * ping-pong with main, joins it, and resolves "localhost" (the resolver runs
 * on an offload helper under the shim). Natively that is one new thread.
 * Preloaded the runtime cannot start all its Ms, its monitor or a helper: it
 * says so on stderr once each and goes on with the OS threads it has (before:
 * "cannot start OS thread" and abort). The green threads themselves are not
 * OS threads, so RLIMIT_NPROC does not count them (README, Limits): only what
 * holds both ways is printed. */
// compat-cflags: -D_GNU_SOURCE
#include "compat.h"
#include <dirent.h>
#include <grp.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds;

static void *pong(void *arg)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 100; i++) {
		while (turn != 1)
			pthread_cond_wait(&cv, &mu);
		turn = 0;
		rounds++;
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
	return arg;
}

/* Tasks (threads) that user uid owns now. */
static long tasks_of(uid_t uid)
{
	long n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], line[256];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		long u = -1, t = 0;
		while (fgets(line, sizeof line, f)) {
			sscanf(line, "Uid:\t%ld", &u);
			sscanf(line, "Threads:\t%ld", &t);
		}
		fclose(f);
		if (u == (long)uid)
			n += t;
	}
	if (d)
		closedir(d);
	return n;
}

static int child(void)
{
	if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
		printf("skip-part: RLIMIT_NPROC as nobody (cannot become nobody)\n");
		return 0;
	}
	long have = tasks_of(NOBODY);
	struct rlimit rl = { (rlim_t)have + 1, (rlim_t)have + 1 };
	if (setrlimit(RLIMIT_NPROC, &rl) != 0)
		FAIL("setrlimit: %s", strerror(errno));
	pthread_t t;
	int r = pthread_create(&t, NULL, pong, (void *)7);
	printf("pthread_create: %s\n", errname(r));
	if (r)
		return 1;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 100; i++) {
		turn = 1;
		pthread_cond_signal(&cv);
		while (turn != 0)
			pthread_cond_wait(&cv, &mu);
	}
	pthread_mutex_unlock(&mu);
	void *ret;
	r = pthread_join(t, &ret);
	printf("join: %s, returned %ld, %d rounds\n", errname(r), (long)ret, rounds);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	r = getaddrinfo("localhost", "80", &hints, &ai);
	printf("getaddrinfo(localhost): %s\n", r ? gai_strerror(r) : "ok");
	if (!r)
		freeaddrinfo(ai);
	return 0;
}

int main(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child());
	int st;
	if (waitpid(pid, &st, 0) != pid)
		FAIL("waitpid: %s", strerror(errno));
	printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}
