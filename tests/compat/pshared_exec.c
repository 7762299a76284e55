/* pshared_exec.c: compat test of process-shared objects between this process
 * and a child that is not preloaded (DESIGN.md §2.2: "process-shared objects
 * still work across processes"): the child is this program exec'd again
 * without LD_PRELOAD, so it runs glibc's own code on the same memory. Barrier
 * rounds (with a parent thread, 3 parties), a mutex-protected counter, a
 * condition handshake each way, a semaphore ping-pong and a rwlock.
 */
// compat-skip-runner: qemu-aarch64-static: its child is this aarch64 program exec'd again, and qemu-user execs it on the host: execve fails with ENOEXEC (no binfmt_misc here), the native run hangs waiting for the child
#include "compat.h"
#include <semaphore.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ITERS 20000
#define ROUNDS 200
#define PINGS 200

struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_barrier_t bar;
	pthread_rwlock_t rw;
	sem_t ping, pong;
	long counter;
	int child_ready, parent_go, serials;
};

static struct shared *sh;

static void add(void)
{
	for (int i = 0; i < ITERS; i++) {
		CHECK_RC(pthread_mutex_lock(&sh->mu), 0);
		sh->counter++;
		CHECK_RC(pthread_mutex_unlock(&sh->mu), 0);
		if (i % 100 == 0) {
			CHECK_RC(pthread_rwlock_wrlock(&sh->rw), 0);
			CHECK_RC(pthread_rwlock_unlock(&sh->rw), 0);
			CHECK_RC(pthread_rwlock_rdlock(&sh->rw), 0);
			CHECK_RC(pthread_rwlock_unlock(&sh->rw), 0);
		}
	}
}

static void rounds(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		int r = pthread_barrier_wait(&sh->bar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&sh->serials, 1, __ATOMIC_SEQ_CST);
		else
			CHECK_EQ(r, 0);
	}
}

static void *parent_thread(void *arg)
{
	(void)arg;
	rounds();
	add();
	return NULL;
}

static int child(void)
{
	rounds();
	add();
	CHECK_RC(pthread_mutex_lock(&sh->mu), 0);
	sh->child_ready = 1;
	CHECK_RC(pthread_cond_broadcast(&sh->cv), 0);
	while (!sh->parent_go)
		CHECK_RC(pthread_cond_wait(&sh->cv, &sh->mu), 0);
	CHECK_RC(pthread_mutex_unlock(&sh->mu), 0);
	for (int i = 0; i < PINGS; i++) {
		while (sem_wait(&sh->ping) != 0)
			CHECK(errno == EINTR);
		CHECK_SYS(sem_post(&sh->pong));
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_barrierattr_t ba;
	pthread_rwlockattr_t ra;
	pthread_t t;
	int fd, status;
	pid_t pid;
	char fdarg[16];

	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, atoi(argv[2]), 0);
		CHECK(sh != MAP_FAILED);
		return child();
	}
	fd = memfd_create("pshared_exec", 0);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, sizeof(*sh)) == 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(sh != MAP_FAILED);
	CHECK_RC(pthread_mutexattr_init(&ma), 0);
	CHECK_RC(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_mutex_init(&sh->mu, &ma), 0);
	CHECK_RC(pthread_condattr_init(&ca), 0);
	CHECK_RC(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_cond_init(&sh->cv, &ca), 0);
	CHECK_RC(pthread_barrierattr_init(&ba), 0);
	CHECK_RC(pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_barrier_init(&sh->bar, &ba, 3), 0);
	CHECK_RC(pthread_rwlockattr_init(&ra), 0);
	CHECK_RC(pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED), 0);
	CHECK_RC(pthread_rwlock_init(&sh->rw, &ra), 0);
	CHECK_SYS(sem_init(&sh->ping, 1, 0));
	CHECK_SYS(sem_init(&sh->pong, 1, 0));

	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", argv[0], "child", fdarg, (char *)NULL);
		_exit(127);
	}
	CHECK_RC(pthread_create(&t, NULL, parent_thread, NULL), 0);
	rounds();
	CHECK_RC(pthread_join(t, NULL), 0);

	CHECK_RC(pthread_mutex_lock(&sh->mu), 0);
	while (!sh->child_ready)
		CHECK_RC(pthread_cond_wait(&sh->cv, &sh->mu), 0);
	sh->parent_go = 1;
	CHECK_RC(pthread_cond_broadcast(&sh->cv), 0);
	CHECK_RC(pthread_mutex_unlock(&sh->mu), 0);
	for (int i = 0; i < PINGS; i++) {
		CHECK_SYS(sem_post(&sh->ping));
		while (sem_wait(&sh->pong) != 0)
			CHECK(errno == EINTR);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("child exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	printf("barrier: %d rounds, %d serial; counter %ld (2 x %d); %d ping-pongs\n", ROUNDS,
	       sh->serials, sh->counter, ITERS, PINGS);
	CHECK_RC(pthread_barrier_destroy(&sh->bar), 0);
	return 0;
}
