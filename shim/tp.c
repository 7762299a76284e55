/* shim/tp.c: the calls that must run on the OS thread's own thread pointer
 * when each green thread has its own (tp mode, sched/tls.c), and dlopen,
 * which must initialise a new module's static TLS in every green thread's
 * block. In pinned mode (or outside a G) each is the plain call.
 *
 * fork: sched/fork.c (the loader gate, glibc's fork on the M's real thread
 * pointer, the runtime's fork handlers).
 * set*id and setgroups: glibc signals every other real thread and skips
 * "self", found through the thread pointer; on a G's block it would signal
 * its own OS thread and wait for it. */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

GS_EXPORT pid_t fork(void)
{
	pid_t pid = gs_fork();	/* the one fork strategy: sched/fork.c */
	if (pid < 0) {
		errno = -pid;
		return -1;
	}
	return pid;
}

/* glibc's daemon() forks with its internal __fork, which runs the fork
 * handlers but not this hook: in tp and moving modes the child's thread list
 * would keep the G's block, not the OS thread's, and the child was lost. So
 * daemon is glibc's (misc/daemon.c, 2.36) around the hook's fork. */
GS_EXPORT int daemon(int nochdir, int noclose)
{
	switch (fork()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		return -1;
	if (!nochdir)
		(void)chdir("/");
	if (!noclose) {
		int fd = open("/dev/null", O_RDWR);
		if (fd == -1)
			return -1;
		struct stat st;
		int e = fstat(fd, &st) != 0 ? errno : !S_ISCHR(st.st_mode) ? ENODEV : 0;
		if (e) {
			close(fd);
			errno = e;
			return -1;
		}
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > 2)
			(void)close(fd);
	}
	return 0;
}

#define ON_REAL_TP(ret, name, params, args)			\
	GS_EXPORT ret name params				\
	{							\
		struct gs_realtp rt_;				\
		gs_tls_real_begin(&rt_);			\
		ret v = REAL(name) args;			\
		gs_tls_real_end(&rt_);			\
		return v;					\
	}

ON_REAL_TP(int, setuid, (uid_t u), (u))
ON_REAL_TP(int, setgid, (gid_t g), (g))
ON_REAL_TP(int, seteuid, (uid_t u), (u))
ON_REAL_TP(int, setegid, (gid_t g), (g))
ON_REAL_TP(int, setreuid, (uid_t r, uid_t e), (r, e))
ON_REAL_TP(int, setregid, (gid_t r, gid_t e), (r, e))
ON_REAL_TP(int, setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
ON_REAL_TP(int, setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
ON_REAL_TP(int, setgroups, (size_t n, const gid_t *l), (n, l))

/* dlopen resolves a bare name with the search path of its caller (DT_RPATH,
 * DT_RUNPATH), which through this hook is goshim's: when that fails, the
 * caller's search path (dlinfo RTLD_DI_SERINFO of its object) is tried in
 * order. Only in tp mode. */
static void *open_caller_paths(const char *file, int mode, const void *caller)
{
	Dl_info di;
	struct link_map *lm = NULL;
	if (!dladdr1(caller, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return NULL;
	Dl_serinfo sz;
	if (dlinfo(lm, RTLD_DI_SERINFOSIZE, &sz))
		return NULL;
	Dl_serinfo *si = malloc(sz.dls_size);
	if (!si)
		return NULL;
	si->dls_size = sz.dls_size;
	si->dls_cnt = sz.dls_cnt;
	void *h = NULL;
	if (dlinfo(lm, RTLD_DI_SERINFO, si) == 0) {
		for (unsigned i = 0; i < si->dls_cnt && !h; i++) {
			char path[PATH_MAX];
			if ((size_t)snprintf(path, sizeof path, "%s/%s", si->dls_serpath[i].dls_name,
					     file) < sizeof path)
				h = REAL(dlopen)(path, mode);
		}
	}
	free(si);
	return h;
}

GS_EXPORT void *dlopen(const char *file, int mode)
{
	gs_loader_enter();
	void *h = REAL(dlopen)(file, mode);
	if (!gs_tls_tp) {
		if (h)
			gs_tls_after_dlopen();	/* pinned: a module in static TLS (aarch64) */
		gs_loader_leave();
		return h;
	}
	if (!h && file && !strchr(file, '/') &&
	    (h = open_caller_paths(file, mode, __builtin_return_address(0))) == NULL)
		REAL(dlopen)(file, mode);	/* its error for dlerror */
	if (h)
		gs_tls_after_dlopen();
	gs_loader_leave();
	return h;
}

GS_EXPORT void *dlmopen(Lmid_t ns, const char *file, int mode)
{
	gs_loader_enter();
	void *h = REAL(dlmopen)(ns, file, mode);
	if (h)
		gs_tls_after_dlopen();
	gs_loader_leave();
	return h;
}

/* dlclose edits the link map under ld.so's locks and runs destructors;
 * dl_iterate_phdr holds dl_load_write_lock, which glibc's fork does not reset,
 * across its callbacks: a fork waits for both (sched/loader.c). */
GS_EXPORT int dlclose(void *h)
{
	gs_loader_enter();
	int r = REAL(dlclose)(h);
	gs_loader_leave();
	return r;
}

GS_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
	gs_loader_enter();
	int r = REAL(dl_iterate_phdr)(cb, arg);
	gs_loader_leave();
	return r;
}

/* sched_getcpu: glibc's reads the cpu_id of the rseq area in the struct
 * pthread the thread pointer points at. The kernel updates only the OS
 * thread's own; a G's block leaves that word untouched (zero: CPU 0), so that
 * the block's upper part, which an idle G never writes, stays on a page of
 * its own that is never touched (sched/tls.c). In tp mode this asks the
 * kernel (getcpu, through the vDSO), as glibc does when rseq is not
 * registered: the same answer, as exact as glibc's. */
GS_EXPORT int sched_getcpu(void)
{
	if (!gs_tls_tp)
		return REAL(sched_getcpu)();
	unsigned cpu;
	return getcpu(&cpu, NULL) == 0 ? (int)cpu : -1;
}
