/* sem_named.c: compat test of named POSIX semaphores (DESIGN.md §2.2): sem_open with
 * O_CREAT|O_EXCL and an initial value, EEXIST on a second exclusive create, ENOENT for
 * a missing name without O_CREAT, a second open of the same name is the same semaphore,
 * waits across threads and across a forked child, sem_close, sem_unlink then ENOENT.
 */
#include "compat.h"
#include <fcntl.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <unistd.h>

static sem_t *a;

static void *waiter(void *arg)
{
	sem_t *s = arg;

	while (sem_wait(s) != 0)
		CHECK(errno == EINTR);
	return NULL;
}

int main(void)
{
	char name[64];
	sem_t *b, *c;
	pthread_t t[3];
	int v, i, status;
	pid_t pid;

	snprintf(name, sizeof(name), "/goshim-compat-%d", (int)getpid());
	a = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
	CHECK(a != SEM_FAILED);
	errno = 0;
	CHECK(sem_open(name, O_CREAT | O_EXCL, 0600, 0) == SEM_FAILED && errno == EEXIST);
	b = sem_open(name, 0);
	CHECK(b != SEM_FAILED);
	CHECK_SYS(sem_getvalue(b, &v));
	CHECK_EQ(v, 2);
	errno = 0;
	CHECK(sem_open("/goshim-compat-missing", 0) == SEM_FAILED && errno == ENOENT);
	printf("open excl: ok, again: EEXIST, missing: ENOENT, second open value 2\n");

	/* Three waiters across threads, posted through the other handle. */
	for (i = 0; i < 3; i++)
		CHECK_RC(pthread_create(&t[i], NULL, waiter, i % 2 ? a : b), 0);
	CHECK_SYS(sem_post(b));
	for (i = 0; i < 3; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	CHECK_SYS(sem_getvalue(a, &v));
	CHECK_EQ(v, 0);
	printf("three thread waits satisfied, value 0\n");

	/* A forked child posts twice; the parent waits for both. */
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		c = sem_open(name, 0);
		if (c == SEM_FAILED || sem_post(c) != 0 || sem_post(a) != 0)
			_exit(1);
		_exit(0);
	}
	CHECK_SYS(sem_wait(a));
	CHECK_SYS(sem_wait(b));
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("posts from a forked child: received 2\n");

	CHECK_SYS(sem_close(b));
	CHECK_SYS(sem_unlink(name));
	CHECK_ERRNO(sem_unlink(name), ENOENT);
	errno = 0;
	CHECK(sem_open(name, 0) == SEM_FAILED && errno == ENOENT);
	CHECK_SYS(sem_post(a)); /* still usable after unlink */
	CHECK_SYS(sem_trywait(a));
	CHECK_SYS(sem_close(a));
	printf("close, unlink, unlink again: ENOENT, open after unlink: ENOENT\n");
	return 0;
}
