/* thread_name.c: compat test of pthread_setname_np/pthread_getname_np (DESIGN.md §2.1):
 * a new thread's name is its creator's (the program's comm at first), a thread can name
 * itself and be named by another, names up to 15 characters round-trip, a longer name
 * is ERANGE, a buffer under 16 bytes is ERANGE, and a thread created by a renamed
 * thread inherits the new name, as the kernel does at clone.
 */
#include "compat.h"
#include <semaphore.h>

static char comm[32];
static sem_t go, back;
static char got[4][32];

static void wait_sem(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK(errno == EINTR);
}

/* Step by step with main: report the default name, rename itself, wait to be renamed. */
static void *named(void *arg)
{
	(void)arg;
	CHECK_RC(pthread_getname_np(pthread_self(), got[0], sizeof(got[0])), 0);
	CHECK_RC(pthread_setname_np(pthread_self(), "worker-self"), 0);
	CHECK_RC(pthread_getname_np(pthread_self(), got[1], sizeof(got[1])), 0);
	CHECK_SYS(sem_post(&back));
	wait_sem(&go); /* main renames us now */
	CHECK_RC(pthread_getname_np(pthread_self(), got[2], sizeof(got[2])), 0);
	CHECK_SYS(sem_post(&back));
	wait_sem(&go);
	return NULL;
}

static void *child(void *arg)
{
	CHECK_RC(pthread_getname_np(pthread_self(), arg, 32), 0);
	return NULL;
}

/* Renames itself, then creates a thread that reports its inherited name. */
static void *parent(void *arg)
{
	pthread_t t;

	CHECK_RC(pthread_setname_np(pthread_self(), "parent-name"), 0);
	CHECK_RC(pthread_create(&t, NULL, child, arg), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	return NULL;
}

int main(void)
{
	char buf[32], small[15];
	FILE *f;
	pthread_t t;

	f = fopen("/proc/self/comm", "r");
	CHECK(f != NULL);
	CHECK(fgets(comm, sizeof(comm), f) != NULL);
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	CHECK_SYS(sem_init(&go, 0, 0));
	CHECK_SYS(sem_init(&back, 0, 0));

	/* main's own name */
	CHECK_RC(pthread_getname_np(pthread_self(), buf, sizeof(buf)), 0);
	printf("main name is comm: %d\n", strcmp(buf, comm) == 0);
	CHECK(strcmp(buf, comm) == 0);
	CHECK_RC(pthread_getname_np(pthread_self(), small, sizeof(small)), ERANGE);
	CHECK_RC(pthread_setname_np(pthread_self(), "0123456789abcdef"), ERANGE);
	printf("16-char name: ERANGE, 15-byte buffer: ERANGE\n");

	CHECK_RC(pthread_create(&t, NULL, named, NULL), 0);
	wait_sem(&back);
	CHECK_RC(pthread_getname_np(t, buf, sizeof(buf)), 0);
	printf("new thread's default name is comm: %d\n", strcmp(got[0], comm) == 0);
	CHECK(strcmp(got[0], comm) == 0);
	printf("self-named: %s, seen by main: %s\n", got[1], buf);
	CHECK(strcmp(got[1], "worker-self") == 0 && strcmp(buf, "worker-self") == 0);

	CHECK_RC(pthread_setname_np(t, "by-main-15chars"), 0);
	CHECK_RC(pthread_setname_np(t, "by-main-16chars!"), ERANGE);
	CHECK_RC(pthread_getname_np(t, small, sizeof(small)), ERANGE);
	CHECK_SYS(sem_post(&go));
	wait_sem(&back);
	CHECK_RC(pthread_getname_np(t, buf, sizeof(buf)), 0);
	printf("named by main: %s, seen by itself: %s\n", buf, got[2]);
	CHECK(strcmp(got[2], "by-main-15chars") == 0 && strcmp(buf, "by-main-15chars") == 0);
	CHECK_SYS(sem_post(&go));
	CHECK_RC(pthread_join(t, NULL), 0);

	/* main renames itself; names are per thread. */
	CHECK_RC(pthread_setname_np(pthread_self(), "main-renamed"), 0);
	CHECK_RC(pthread_getname_np(pthread_self(), buf, sizeof(buf)), 0);
	printf("main renamed: %s\n", buf);
	CHECK(strcmp(buf, "main-renamed") == 0);

	/* Inheritance at creation, checked last: the subtlest point. */
	CHECK_RC(pthread_create(&t, NULL, parent, got[3]), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("child of a renamed thread is named: %s\n", got[3]);
	CHECK(strcmp(got[3], "parent-name") == 0);
	return 0;
}
