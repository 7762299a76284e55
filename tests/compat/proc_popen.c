/* proc_popen.c: compat test of running other programs from a threaded program (DESIGN.md
 * §2.7): popen("r") of a shell pipeline from main and from 4 threads at once, reading its
 * output and pclose's status; popen("w") feeding a shell; system() with an exit status,
 * from main and a thread; posix_spawn of /bin/echo (and posix_spawnp of sh) with stdout
 * on a pipe the parent reads; this program posix_spawned again as a threaded child (4
 * threads passing a token round a ring of pipes). The children inherit LD_PRELOAD (checked),
 * so under the shim the shells, echo and the child run preloaded and must behave as natively.
 */
// compat-skip-runner: qemu-aarch64-static: it posix_spawns this aarch64 program again, and qemu-user execs it on the host: ENOEXEC (no binfmt_misc here), the native run fails
#include "compat.h"
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs cmd with popen("r"): its whole output in out, pclose's status returned. */
static int popen_read(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");
	size_t got = 0, r;

	if (!p)
		FAIL("popen(%s): %s", cmd, errname(errno));
	while ((r = fread(out + got, 1, n - 1 - got, p)) > 0)
		got += r;
	CHECK(!ferror(p));
	out[got] = 0;
	return pclose(p);
}

/* The count wc -l printed (ignoring any padding). */
static int count_of(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return atoi(s);
}

struct job {
	int idx;
	char out[256];
	int status;
	int sys_status;
};

static void *popen_thread(void *arg)
{
	struct job *j = arg;
	char cmd[128];

	if (j->idx < 0) {
		j->status = popen_read("sh -c 'printf \"a\\nb\\nc\\n\" | wc -l'", j->out,
				       sizeof(j->out));
		j->sys_status = system("exit 3");
		return NULL;
	}
	snprintf(cmd, sizeof(cmd), "i=0; while [ $i -lt %d ]; do echo line$i; i=$((i+1)); done | wc -l",
		 10 + j->idx);
	j->status = popen_read(cmd, j->out, sizeof(j->out));
	snprintf(cmd, sizeof(cmd), "exit %d", 3 + j->idx);
	j->sys_status = system(cmd);
	return NULL;
}

/* posix_spawn(p) of argv with stdout on a pipe; returns the output, exit status in *st. */
static void spawn_read(int use_path, char *const argv[], char *out, size_t n, int *st)
{
	posix_spawn_file_actions_t fa;
	int fd[2], rc;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	CHECK_SYS(pipe2(fd, O_CLOEXEC));
	CHECK_RC(posix_spawn_file_actions_init(&fa), 0);
	CHECK_RC(posix_spawn_file_actions_adddup2(&fa, fd[1], 1), 0);
	if (use_path)
		rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	else
		rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	CHECK_RC(rc, 0);
	CHECK_RC(posix_spawn_file_actions_destroy(&fa), 0);
	CHECK_SYS(close(fd[1]));
	while ((r = read(fd[0], out + got, n - 1 - got)) != 0) {
		if (r < 0) {
			CHECK(errno == EINTR);
			continue;
		}
		got += r;
	}
	out[got] = 0;
	CHECK_SYS(close(fd[0]));
	CHECK(waitpid(pid, st, 0) == pid);
}

struct spawn_job {
	char out[256];
	int st;
};

static void *spawn_thread(void *arg)
{
	struct spawn_job *s = arg;
	char *argv[] = { "/bin/echo", "from", "a", "thread", NULL };

	spawn_read(0, argv, s->out, sizeof(s->out), &s->st);
	return NULL;
}

/* The program re-run as a child ("child" argument): threads that pass a token round a
 * ring of pipes, to show a threaded child runs fine (preloaded when its parent is). */
#define RING 4
static int ring[RING][2];

static void *ring_member(void *arg)
{
	long k = (long)arg;
	int v, n;

	for (n = 0; n < 25; n++) {
		CHECK(read(ring[k][0], &v, sizeof(v)) == sizeof(v));
		v++;
		CHECK(write(ring[(k + 1) % RING][1], &v, sizeof(v)) == sizeof(v));
	}
	return NULL;
}

static int child_main(void)
{
	pthread_t t[RING];
	long k;
	int v = 0;

	for (k = 0; k < RING; k++)
		CHECK_SYS(pipe(ring[k]));
	for (k = 1; k < RING; k++)
		CHECK_RC(pthread_create(&t[k], NULL, ring_member, (void *)k), 0);
	for (k = 0; k < 25; k++) {
		CHECK(write(ring[1][1], &v, sizeof(v)) == sizeof(v));
		CHECK(read(ring[0][0], &v, sizeof(v)) == sizeof(v));
		v++;
	}
	for (k = 1; k < RING; k++)
		CHECK_RC(pthread_join(t[k], NULL), 0);
	printf("child ring: %d\n", v);
	return v == 100 ? 6 : 1;
}

int main(int argc, char **argv)
{
	char out[256];
	struct job jobs[4];
	struct spawn_job sj;
	pthread_t t[4];
	FILE *p;
	int st, i;
	const char *pre;

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child_main();

	/* popen("r") from main. */
	st = popen_read("sh -c 'printf \"a\\nb\\nc\\n\" | wc -l'", out, sizeof(out));
	printf("main popen: count %d, pclose exit %d\n", count_of(out), WEXITSTATUS(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && count_of(out) == 3);

	st = popen_read("echo out; exit 5", out, sizeof(out));
	printf("main popen: \"%.*s\", pclose exit %d\n", (int)strcspn(out, "\n"), out,
	       WEXITSTATUS(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5 && strcmp(out, "out\n") == 0);

	/* popen("w"): the shell reads what we write and exits with its line count. */
	p = popen("n=$(wc -l); exit $n", "w");
	CHECK(p != NULL);
	for (i = 0; i < 7; i++)
		fprintf(p, "line %d\n", i);
	st = pclose(p);
	printf("main popen w: pclose exit %d\n", WEXITSTATUS(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* system() from main. */
	st = system("exit 3");
	printf("main system(\"exit 3\"): exit %d\n", WEXITSTATUS(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);

	/* From a single thread: the brief's pipeline. */
	jobs[0].idx = -1;
	CHECK_RC(pthread_create(&t[0], NULL, popen_thread, &jobs[0]), 0);
	CHECK_RC(pthread_join(t[0], NULL), 0);
	printf("thread popen: count %d, pclose exit %d; system exit %d\n", count_of(jobs[0].out),
	       WEXITSTATUS(jobs[0].status), WEXITSTATUS(jobs[0].sys_status));
	CHECK(count_of(jobs[0].out) == 3 && jobs[0].status == 0);
	CHECK(WIFEXITED(jobs[0].sys_status) && WEXITSTATUS(jobs[0].sys_status) == 3);

	/* From 4 threads at once. */
	for (i = 0; i < 4; i++) {
		jobs[i].idx = i;
		CHECK_RC(pthread_create(&t[i], NULL, popen_thread, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	for (i = 0; i < 4; i++) {
		printf("thread %d popen: count %d, pclose exit %d; system exit %d\n", i,
		       count_of(jobs[i].out), WEXITSTATUS(jobs[i].status),
		       WEXITSTATUS(jobs[i].sys_status));
		CHECK(count_of(jobs[i].out) == 10 + i && jobs[i].status == 0);
		CHECK(WIFEXITED(jobs[i].sys_status) && WEXITSTATUS(jobs[i].sys_status) == 3 + i);
	}

	/* posix_spawn of /bin/echo from main and from a thread; posix_spawnp of sh. */
	{
		char *argv[] = { "/bin/echo", "hello", "spawn", NULL };

		spawn_read(0, argv, out, sizeof(out), &st);
		printf("main posix_spawn echo: \"%.*s\", exit %d\n", (int)strcspn(out, "\n"),
		       out, WEXITSTATUS(st));
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(out, "hello spawn\n") == 0);
	}
	CHECK_RC(pthread_create(&t[0], NULL, spawn_thread, &sj), 0);
	CHECK_RC(pthread_join(t[0], NULL), 0);
	printf("thread posix_spawn echo: \"%.*s\", exit %d\n", (int)strcspn(sj.out, "\n"),
	       sj.out, WEXITSTATUS(sj.st));
	CHECK(WIFEXITED(sj.st) && WEXITSTATUS(sj.st) == 0 &&
	      strcmp(sj.out, "from a thread\n") == 0);
	{
		char *argv[] = { "sh", "-c", "echo via sh; exit 4", NULL };

		spawn_read(1, argv, out, sizeof(out), &st);
		printf("main posix_spawnp sh: \"%.*s\", exit %d\n", (int)strcspn(out, "\n"),
		       out, WEXITSTATUS(st));
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4 && strcmp(out, "via sh\n") == 0);
	}

	/* A threaded child: this program again, posix_spawned. */
	{
		char *argv2[] = { "/proc/self/exe", "child", NULL };

		spawn_read(0, argv2, out, sizeof(out), &st);
		printf("threaded child: \"%.*s\", exit %d\n", (int)strcspn(out, "\n"), out,
		       WEXITSTATUS(st));
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6 && strcmp(out, "child ring: 100\n") == 0);
	}

	/* The children saw the same LD_PRELOAD as we have (preloaded or not). */
	st = popen_read("printf %s \"$LD_PRELOAD\"", out, sizeof(out));
	pre = getenv("LD_PRELOAD");
	printf("children inherit LD_PRELOAD: %d\n", strcmp(out, pre ? pre : "") == 0);
	CHECK(st == 0 && strcmp(out, pre ? pre : "") == 0);
	return 0;
}
