/* proc_fork_dlopen.c: compat test of fork() while other threads create threads
 * (issue 17): four threads loop on pthread_create+join (and the threads they create
 * call malloc and printf into a buffer), while main forks 100 times; each child
 * creates a thread that dlopens a small library and calls into it, does the same
 * itself, and exits with a status that says it all worked. A child that inherits a
 * loader, libc or runtime lock held by a thread that does not exist in it hangs (the
 * runner's timeout). Prints the number of children that exited well. Threads of the
 * parent do not dlopen while main forks: glibc 2.36 itself does not make that safe
 * (natively a child then fails an ld.so assertion or hangs, 1 run in 3 here). */
// compat-skip-runner: qemu-aarch64-static: fork() while other threads run: qemu-user 7.2's child waits forever on a futex in qemu's own memory (a lock of the emulator that another thread held at the fork; seen in /proc/PID/task/*/syscall and maps), the native run hangs
// compat-dlopen: proc_fork_dlopen_lib.c
// compat-ldlibs: -ldl
#include "compat.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 100

static atomic_int stop;
static char libpath[PATH_MAX];

static void *nothing(void *arg)
{
	char buf[64];
	char *p = malloc(100);

	snprintf(buf, sizeof buf, "%p", (void *)p);
	free(p);
	return arg;
}

static void *creator(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_t t;

		CHECK_RC(pthread_create(&t, NULL, nothing, NULL), 0);
		CHECK_RC(pthread_join(t, NULL), 0);
	}
	return NULL;
}

static int load_and_call(void)
{
	void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
	int (*f)(int);
	int r;

	if (!h)
		return -1;
	f = (int (*)(int))dlsym(h, "fork_dlopen_twice");
	r = f ? f(21) : -1;
	dlclose(h);
	return r;
}

static void *in_child(void *arg)
{
	(void)arg;
	return (void *)(long)load_and_call();
}

int main(void)
{
	pthread_t t[4];
	int good = 0;
	/* The runner builds the library next to the binary as libNAME.so. */
	ssize_t n = readlink("/proc/self/exe", libpath, sizeof libpath - 64);
	CHECK(n > 0);
	libpath[n] = 0;
	strcpy(strrchr(libpath, '/') + 1, "libproc_fork_dlopen_lib.so");
	CHECK_EQ(load_and_call(), 42);
	for (int i = 0; i < 4; i++)
		CHECK_RC(pthread_create(&t[i], NULL, creator, NULL), 0);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		int st;

		CHECK(pid >= 0);
		if (pid == 0) {
			pthread_t c;
			void *r;

			if (pthread_create(&c, NULL, in_child, NULL) != 0)
				_exit(2);
			if (pthread_join(c, &r) != 0 || (long)r != 42)
				_exit(3);
			_exit(load_and_call() == 42 ? 0 : 4);
		}
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
		else
			fprintf(stderr, "child %d: status %#x\n", i, st);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("%d of %d children created a thread and loaded the module\n", good, FORKS);
	return 0;
}
