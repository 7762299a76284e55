/* proc_fork_loader.c: compat test of fork() while other threads are inside the dynamic
 * loader (issue 17 point 7): two threads loop on dlopen + call + dlclose of a module with
 * dynamic TLS, one walks the module list with dl_iterate_phdr (its callback lingers, so
 * that ld.so's dl_load_write_lock is often held), one creates and joins threads, while
 * main forks 100 times. Each child loads the module, walks the list, creates a thread
 * that does both, and exits 0 if all worked; alarm(20) turns a child that inherited a
 * held loader lock into a status the parent reports. Prints how many children were fine.
 *
 * glibc 2.36's fork resets dl_load_lock and dl_load_tls_lock in the child but not
 * dl_load_write_lock, and a thread caught inside dlopen or dlclose leaves the child its
 * link map half edited: natively the program must keep fork and its loader calls apart
 * itself (here a rwlock, as a careful program does). Preloaded it runs without that lock:
 * goshim's fork waits until no thread is inside dlopen, dlclose or dl_iterate_phdr
 * (sched/loader.c), so the output is the same. */
// compat-skip-runner: qemu-aarch64-static: fork() while other threads run: qemu-user 7.2's child waits forever on a futex in qemu's own memory (a lock of the emulator that another thread held at the fork; seen in /proc/PID/task/*/syscall and maps), the native run hangs
// compat-dlopen: proc_fork_loader_lib.c
// compat-ldlibs: -ldl
#include "compat.h"
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 100

static atomic_int stop;
static char libpath[PATH_MAX];
static bool guard;			/* natively: the program keeps fork and dl* apart */
static pthread_rwlock_t lk;	/* writer first: the loaders never leave it free */

static void in_loader(void)
{
	if (guard)
		pthread_rwlock_rdlock(&lk);
}

static void out_loader(void)
{
	if (guard)
		pthread_rwlock_unlock(&lk);
}

static int load_and_call(void)
{
	void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
	int (*f)(int);
	int r;

	if (!h)
		return -1;
	f = (int (*)(int))dlsym(h, "fork_loader_call");
	r = f ? f(41) : -1;
	dlclose(h);
	return r;
}

static int count_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	volatile int spin = 0;

	(void)size;
	if (info->dlpi_name && strstr(info->dlpi_name, "libc.so"))
		++*(int *)arg;
	while (spin < 2000)	/* keep dl_load_write_lock a little */
		spin++;
	return 0;
}

static int walk(void)
{
	int n = 0;

	dl_iterate_phdr(count_module, &n);
	return n;
}

static void *loader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		in_loader();
		int r = load_and_call();
		out_loader();
		CHECK_EQ(r, 42);
	}
	return NULL;
}

static void *walker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		in_loader();
		int n = walk();
		out_loader();
		CHECK_EQ(n, 1);
	}
	return NULL;
}

static void *nothing(void *arg)
{
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

static void *in_child(void *arg)
{
	(void)arg;
	return (void *)(long)(load_and_call() == 42 && walk() == 1);
}

int main(void)
{
	void *(*fns[4])(void *) = { loader, loader, walker, creator };
	pthread_t t[4];
	const char *pre = getenv("LD_PRELOAD");
	int good = 0;
	/* The runner builds the library next to the binary as libNAME.so. */
	ssize_t n = readlink("/proc/self/exe", libpath, sizeof libpath - 64);

	pthread_rwlockattr_t la;

	guard = !pre || !strstr(pre, "goshim");
	pthread_rwlockattr_init(&la);
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	CHECK_RC(pthread_rwlock_init(&lk, &la), 0);
	CHECK(n > 0);
	libpath[n] = 0;
	strcpy(strrchr(libpath, '/') + 1, "libproc_fork_loader_lib.so");
	CHECK_EQ(load_and_call(), 42);
	for (int i = 0; i < 4; i++)
		CHECK_RC(pthread_create(&t[i], NULL, fns[i], NULL), 0);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid;
		int st;

		if (guard)
			pthread_rwlock_wrlock(&lk);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			pthread_t c;
			void *r;

			alarm(20);
			if (pthread_create(&c, NULL, in_child, NULL) != 0)
				_exit(2);
			if (pthread_join(c, &r) != 0 || r != (void *)1L)
				_exit(3);
			_exit(load_and_call() == 42 && walk() == 1 ? 0 : 4);
		}
		if (guard)
			pthread_rwlock_unlock(&lk);
		CHECK_EQ(waitpid(pid, &st, 0), pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
		else
			fprintf(stderr, "child %d: status %#x\n", i, st);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("%d of %d children loaded the module, walked the list and made a thread\n", good,
	       FORKS);
	return 0;
}
