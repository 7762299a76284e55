/* dump_target: a program for tests/tools/goshim_dump.sh to dump while it runs.
 * Starts 2 threads that wait on a pipe (reader_thread), 1 that waits on a
 * condition variable (cond_thread) and 1 that sleeps (sleeper_thread), prints
 * "ready PID" and then, as asked by its argument:
 *   wait    main waits for a line on stdin, then everything ends;
 *   fork    a forked child does the same as "wait" (printing "ready CHILDPID"),
 *           the parent waits for the child;
 *   exec    it execs itself with "wait" (same pid, a new image).
 * Exits 0 after the line on stdin. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int pfd[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;

static void *reader_thread(void *a)
{
	char c;
	(void)a;
	return (void *)(long)read(pfd[0], &c, 1);
}

static void *cond_thread(void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *sleeper_thread(void *a)
{
	(void)a;
	for (int i = 0; i < 600 && !__atomic_load_n(&done, __ATOMIC_RELAXED); i++)
		usleep(100000);
	return NULL;
}

static int run(void)
{
	pthread_t t[4];
	if (pipe(pfd))
		return 1;
	pthread_create(&t[0], NULL, reader_thread, NULL);
	pthread_create(&t[1], NULL, reader_thread, NULL);
	pthread_create(&t[2], NULL, cond_thread, NULL);
	pthread_create(&t[3], NULL, sleeper_thread, NULL);
	usleep(200000);	/* all four are waiting */
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		line[0] = 0;
	pthread_mutex_lock(&mu);
	__atomic_store_n(&done, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (write(pfd[1], "xx", 2) != 2)
		return 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "wait";
	if (!strcmp(how, "exec")) {
		execl("/proc/self/exe", argv[0], "wait", (char *)NULL);
		return 1;
	}
	if (!strcmp(how, "fork")) {
		pid_t c = fork();
		if (c == 0)
			return run();
		int st;
		waitpid(c, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	return run();
}
