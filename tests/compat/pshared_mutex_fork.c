/* pshared_mutex_fork.c: compat test of process-shared synchronisation (DESIGN.md §2.2):
 * a PTHREAD_PROCESS_SHARED mutex, condvar, barrier and unnamed semaphore in MAP_SHARED
 * memory, used by the parent (with a second thread) and a forked child at once: exact
 * counter totals, a condition handshake each way, a semaphore ping-pong.
 */
#include "compat.h"
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ITERS 20000
#define PINGS 200

struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_barrier_t bar;
	sem_t ping, pong;
	long counter;
	int child_ready, parent_go;
};

static struct shared *sh;

static void add(void)
{
	int i;

	for (i = 0; i < ITERS; i++) {
		pthread_mutex_lock(&sh->mu);
		sh->counter++;
		pthread_mutex_unlock(&sh->mu);
	}
}

static void *parent_thread(void *arg)
{
	(void)arg;
	add();
	return NULL;
}

/* The child: add, handshake, answer pings. Exit status 0 on success. */
static int child(void)
{
	int i;

	pthread_barrier_wait(&sh->bar);
	add();
	pthread_mutex_lock(&sh->mu);
	sh->child_ready = 1;
	pthread_cond_broadcast(&sh->cv);
	while (!sh->parent_go)
		pthread_cond_wait(&sh->cv, &sh->mu);
	pthread_mutex_unlock(&sh->mu);
	for (i = 0; i < PINGS; i++) {
		while (sem_wait(&sh->ping) != 0)
			if (errno != EINTR)
				return 2;
		if (sem_post(&sh->pong) != 0)
			return 3;
	}
	return 0;
}

int main(void)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_barrierattr_t ba;
	pthread_t t;
	int i, status, ps;
	pid_t pid;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	CHECK_RC(pthread_mutexattr_init(&ma), 0);
	CHECK_RC(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_mutexattr_getpshared(&ma, &ps), 0);
	CHECK_EQ(ps, PTHREAD_PROCESS_SHARED);
	CHECK_RC(pthread_mutex_init(&sh->mu, &ma), 0);
	CHECK_RC(pthread_condattr_init(&ca), 0);
	CHECK_RC(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_cond_init(&sh->cv, &ca), 0);
	CHECK_RC(pthread_barrierattr_init(&ba), 0);
	CHECK_RC(pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_barrier_init(&sh->bar, &ba, 2), 0);
	CHECK_SYS(sem_init(&sh->ping, 1, 0));
	CHECK_SYS(sem_init(&sh->pong, 1, 0));

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child());

	/* Parent: meet the child, then add from two threads while it adds too. */
	pthread_barrier_wait(&sh->bar);
	CHECK_RC(pthread_create(&t, NULL, parent_thread, NULL), 0);
	add();
	CHECK_RC(pthread_join(t, NULL), 0);

	pthread_mutex_lock(&sh->mu);
	while (!sh->child_ready)
		pthread_cond_wait(&sh->cv, &sh->mu);
	sh->parent_go = 1;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);

	for (i = 0; i < PINGS; i++) {
		CHECK_SYS(sem_post(&sh->ping));
		while (sem_wait(&sh->pong) != 0)
			CHECK(errno == EINTR);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("child exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("shared counter %ld (3 x %d), %d semaphore ping-pongs\n", sh->counter, ITERS, PINGS);
	CHECK_EQ(sh->counter, 3L * ITERS);
	return 0;
}
