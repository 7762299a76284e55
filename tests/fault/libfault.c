/* tests/fault/libfault.c: fault injection for the runtime's tests.
 *
 *   LD_PRELOAD="build/libgoshim.so build/fault/libfault.so" GOSHIM_FAULT=SPEC prog
 *
 * makes chosen calls that libgoshim.so makes into libc fail, the way the kernel
 * fails them under a limit, so that each error path of the runtime runs for
 * real: the libc entry point the runtime calls returns -1 (MAP_FAILED, an
 * error number) with the errno the kernel gives in that case. Nothing of this
 * is in libgoshim.so itself.
 *
 * Why a second preload and not a setting inside the runtime: the runtime has
 * no test code and no extra branch on its paths, and the failure arrives from
 * where a real one does. A later preload sees every call the runtime makes to
 * these functions, because libgoshim.so defines none of them: its direct calls
 * (mmap, epoll_create1, epoll_ctl, eventfd) go through its PLT, bound in the
 * global scope where this library comes before libc; its REAL() calls
 * (pthread_create, which starts each OS thread: M, monitor, offload helper)
 * use dlsym(RTLD_NEXT) from libgoshim.so, whose next object is this one. What
 * a preload cannot see is libc calling itself (glibc's pthread_create mapping
 * a stack): so only calls whose return address lies in libgoshim.so count,
 * unless a rule says @any (then the program's own calls count too, e.g. its
 * timerfd_create, which the runtime never makes).
 *
 * SPEC: comma-separated rules CALL[@any]:N[+] -- the N-th such call fails
 * (N+: the N-th and every later one). CALL is one of mmap (ENOMEM),
 * mprotect (ENOMEM: a guard page past vm.max_map_count), epoll_create1 (EMFILE), epoll_ctl (ENOSPC: fs.epoll.max_user_watches),
 * eventfd (EMFILE), pthread_create (EAGAIN: RLIMIT_NPROC) or timerfd_create
 * (EMFILE). A program may also call fault_arm(SPEC) (found with dlsym, so that
 * it runs natively without this library too): counts start again from zero,
 * "" disarms. Each injected failure prints "fault: CALL #K fails (ERRNO)" on
 * stderr. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { F_MMAP, F_MPROTECT, F_EPOLL_CREATE1, F_EPOLL_CTL, F_EVENTFD, F_PTHREAD_CREATE, F_TIMERFD, NF };
static const char *const names[NF] = { "mmap", "mprotect", "epoll_create1", "epoll_ctl", "eventfd",
				       "pthread_create", "timerfd_create" };
static const int errs[NF] = { ENOMEM, ENOMEM, EMFILE, ENOSPC, EMFILE, EAGAIN, EMFILE };

struct rule {
	_Atomic long n;		/* the call that fails first; 0: none */
	_Atomic bool from;	/* and every later one */
	_Atomic bool any;	/* count every caller, not only libgoshim.so */
	_Atomic long count;	/* calls counted since armed */
};
static struct rule rules[NF];
static _Atomic int env_read;
static uintptr_t rt_lo, rt_hi;	/* libgoshim.so's mapped range */
static _Atomic int rt_found;

static int find_runtime(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libgoshim"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (!rt_lo || lo < rt_lo)
			rt_lo = lo;
		if (hi > rt_hi)
			rt_hi = hi;
	}
	return 1;
}

static bool from_runtime(void *ra)
{
	if (!atomic_load(&rt_found)) {
		dl_iterate_phdr(find_runtime, NULL);
		atomic_store(&rt_found, 1);
	}
	return (uintptr_t)ra >= rt_lo && (uintptr_t)ra < rt_hi;
}

static void say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

EXPORT void fault_arm(const char *spec)
{
	for (int f = 0; f < NF; f++) {
		atomic_store(&rules[f].n, 0);
		atomic_store(&rules[f].count, 0);
	}
	char buf[512];
	snprintf(buf, sizeof buf, "%s", spec ? spec : "");
	for (char *save, *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(r, ':'), *end;
		bool any = false;
		if (!colon)
			goto bad;
		*colon = 0;
		char *at = strchr(r, '@');
		if (at) {
			if (strcmp(at, "@any"))
				goto bad;
			*at = 0;
			any = true;
		}
		long n = strtol(colon + 1, &end, 10);
		bool from = *end == '+';
		if (n < 1 || (*end && strcmp(end, "+")))
			goto bad;
		int f = 0;
		while (f < NF && strcmp(names[f], r))
			f++;
		if (f == NF)
			goto bad;
		atomic_store(&rules[f].any, any);
		atomic_store(&rules[f].from, from);
		atomic_store(&rules[f].n, n);
		continue;
bad:
		say("fault: GOSHIM_FAULT: expected CALL[@any]:N[+],... with CALL one of mmap, mprotect, "
		    "epoll_create1, epoll_ctl, eventfd, pthread_create, timerfd_create\n");
		_exit(2);
	}
}

/* Whether this call (its return address ra) is to fail; sets errno if so. */
static bool hit(int f, void *ra)
{
	if (!atomic_exchange(&env_read, 1)) {
		const char *e = getenv("GOSHIM_FAULT");
		if (e)
			fault_arm(e);
	}
	struct rule *r = &rules[f];
	long n = atomic_load(&r->n);
	if (!n || (!atomic_load(&r->any) && !from_runtime(ra)))
		return false;
	long k = atomic_fetch_add(&r->count, 1) + 1;
	if (k != n && !(atomic_load(&r->from) && k > n))
		return false;
	char line[128];
	snprintf(line, sizeof line, "fault: %s #%ld fails (%s)\n", names[f], k, strerrorname_np(errs[f]));
	say(line);
	errno = errs[f];
	return true;
}

#define NEXT(fn) ({								\
	static __typeof__(&fn) next_;						\
	if (!next_)								\
		next_ = (__typeof__(&fn))dlsym(RTLD_NEXT, #fn);			\
	next_; })

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (hit(F_MMAP, __builtin_return_address(0)))
		return MAP_FAILED;
	return NEXT(mmap)(addr, len, prot, flags, fd, off);
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
	if (hit(F_MPROTECT, __builtin_return_address(0)))
		return -1;
	return NEXT(mprotect)(addr, len, prot);
}

EXPORT int epoll_create1(int flags)
{
	if (hit(F_EPOLL_CREATE1, __builtin_return_address(0)))
		return -1;
	return NEXT(epoll_create1)(flags);
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (hit(F_EPOLL_CTL, __builtin_return_address(0)))
		return -1;
	return NEXT(epoll_ctl)(epfd, op, fd, ev);
}

EXPORT int eventfd(unsigned int initval, int flags)
{
	if (hit(F_EVENTFD, __builtin_return_address(0)))
		return -1;
	return NEXT(eventfd)(initval, flags);
}

EXPORT int timerfd_create(int clockid, int flags)
{
	if (hit(F_TIMERFD, __builtin_return_address(0)))
		return -1;
	return NEXT(timerfd_create)(clockid, flags);
}

/* pthread_create reports its error as its value, errno untouched. */
EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	int saved = errno;
	if (hit(F_PTHREAD_CREATE, __builtin_return_address(0))) {
		errno = saved;
		return EAGAIN;
	}
	return NEXT(pthread_create)(t, a, fn, arg);
}
