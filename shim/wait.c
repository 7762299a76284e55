/* shim/wait.c: waiting for children (wait, waitpid, wait3, wait4, waitid),
 * and the calls that wait for one inside libc (system, pclose).
 *
 * A G's wait first asks the kernel with WNOHANG added. If no child is ready
 * (and the caller did not pass WNOHANG), the G parks until one may be:
 *   - for one pid, exits only, in a process that never called ptrace: on a
 *     pidfd (pidfd_open) in the netpoller, which becomes readable when the
 *     process exits. A traced child's stops are reported to such a wait too
 *     (without WUNTRACED), and a pidfd does not tell of them: a child that made
 *     its parent its tracer (PTRACE_TRACEME, called in the child) is not seen
 *     here, so the pidfd wait asks the kernel again after 5 ms, then 10, 20, ...
 *     up to 1 s; a process that called ptrace itself (attach, seize, cont, ...)
 *     waits on a helper as below;
 *   - otherwise (-1, 0, a process group, stops and continues): a helper thread
 *     (sched/offload.c) blocks in waitid(WNOWAIT) with the same selection. WNOWAIT
 *     reaps nothing: the G itself reaps with the WNOHANG call it then makes
 *     again, so no child the program did not ask for is ever reaped, and
 *     status, rusage and errno (ECHILD, EINVAL) come from that real call.
 * The wait is interruptible as the kernel's is: a handler without SA_RESTART
 * ends it with EINTR, one with SA_RESTART lets it go on; it is a cancellation
 * point. A helper whose G was interrupted goes on waiting (its job is on the
 * heap) until a matching child changes state: harmless, as it reaps nothing,
 * but it holds an OS thread meanwhile; the next wait with the same selection
 * takes that job over.
 *
 * system() and pclose() wait inside libc (glibc's system also ignores SIGINT
 * and SIGQUIT and blocks SIGCHLD meanwhile): on a G they run whole on a
 * helper thread while the G waits, as natively uninterruptible. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io.h"


#define WAIT_SELECT (WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)

struct wait_job {
	struct gs_offload job;
	idtype_t idtype;
	id_t id;
	int options;
	_Atomic int refs;	/* the G's (or the spare list's) and the helper's */
	struct wait_job *next;	/* on the spare list (slock) */
	pid_t pid;		/* the process whose helper runs it (not a forked child) */
};

/* Jobs whose G gave up (EINTR) while the helper still waits: the next wait
 * with the same selection takes one over instead of starting another helper,
 * so a program whose waitpid a timer signal interrupts again and again holds
 * one helper per selection, not one per interruption. */
static gs_lock_t slock = GS_LOCK_INIT(WAITSPARE);
static struct wait_job *spares;

/* Set once this process has called ptrace with a request other than
 * PTRACE_TRACEME: it may be a tracer, whose waits must see trace stops. */
static _Atomic int tracing;

/* The tid of the OS thread tracing pid (0: none), from /proc. */
static pid_t tracer_of(pid_t pid)
{
	char path[40], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *t = strstr(buf, "\nTracerPid:");
	return t ? (pid_t)atoi(t + 12) : 0;
}

/* A tracer is an OS thread, not a process: ptrace answers ESRCH to every
 * other thread. So a green thread that attaches stays on its OS thread from
 * then on (gs_wire_to), and one whose request gets ESRCH while another OS
 * thread of ours traces pid (a child that called PTRACE_TRACEME after the G
 * forked it there, then moved) goes there to stay, and asks again. */
GS_EXPORT long ptrace(enum __ptrace_request req, ...)
{
	va_list ap;
	va_start(ap, req);	/* glibc's reads the three words whatever the request */
	pid_t pid = va_arg(ap, pid_t);
	void *addr = va_arg(ap, void *);
	void *data = va_arg(ap, void *);
	va_end(ap);
	if (req == PTRACE_TRACEME || !gs_self())
		return REAL(ptrace)(req, pid, addr, data);
	if (!atomic_load_explicit(&tracing, memory_order_relaxed))
		atomic_store_explicit(&tracing, 1, memory_order_relaxed);
	if (req == PTRACE_ATTACH || req == PTRACE_SEIZE)
		gs_wire_to(0);
	long r = REAL(ptrace)(req, pid, addr, data);
	if (r == -1 && errno == ESRCH) {
		pid_t t = tracer_of(pid);
		if (t > 0 && gs_wire_to(t))	/* then on the tracer: ask there */
			r = REAL(ptrace)(req, pid, addr, data);
		else
			errno = ESRCH;
	}
	return r;
}

static void run_wait(struct gs_offload *j)
{
	struct wait_job *w = (struct wait_job *)j;
	siginfo_t si;
	REAL(waitid)(w->idtype, w->id, &si, w->options | WNOWAIT);
}

static void put_wait(struct gs_offload *j)
{
	struct wait_job *w = (struct wait_job *)j;
	if (atomic_fetch_sub(&w->refs, 1) == 1)
		free(w);
}

/* A spare job for this selection still waiting, or NULL; spares whose
 * helper has finished are freed on the way. */
static struct wait_job *take_spare(idtype_t idtype, id_t id, int options)
{
	struct wait_job *found = NULL, *done = NULL;
	pid_t self = getpid();
	gs_lock(&slock);
	for (struct wait_job **pp = &spares; *pp;) {
		struct wait_job *w = *pp;
		if (w->pid != self) {	/* the parent's, copied by fork: no helper here */
			*pp = w->next;
		} else if (atomic_load(&w->job.done)) {
			*pp = w->next;
			w->next = done;
			done = w;
		} else if (!found && w->idtype == idtype && w->id == id && w->options == options) {
			*pp = w->next;
			found = w;
		} else {
			pp = &w->next;
		}
	}
	gs_unlock(&slock);
	while (done) {
		struct wait_job *n = done->next;
		put_wait(&done->job);
		done = n;
	}
	return found;
}

/* Parks g until a child matching (idtype, id, options) may be waited for.
 * options are waitid's (WEXITED, ...). Returns 0 (try again) or -EINTR. */
static int park_helper(idtype_t idtype, id_t id, int options)
{
	options &= WAIT_SELECT;
	struct wait_job *w = take_spare(idtype, id, options);
	if (!w) {
		w = malloc(sizeof *w);
		if (!w)
			return -ENOMEM;
		memset(w, 0, sizeof *w);
		w->job.fn = run_wait;
		w->job.release = put_wait;
		w->job.unbounded = true;
		w->idtype = idtype;
		w->id = id;
		w->options = options;
		w->pid = getpid();
		atomic_store(&w->refs, 2);
		int saved = errno;
		gs_offload_submit(&w->job, "waitpid");
		errno = saved;
	}
	int r = 0;
	while (!atomic_load(&w->job.done)) {
		r = gs_futex_wait(&w->job.done, 0, 0, GS_INTR_NORESTART, "waitpid");
		if (r == -EINTR)
			break;
		r = 0;
	}
	if (r == -EINTR && !atomic_load(&w->job.done)) {
		gs_lock(&slock);
		w->next = spares;
		spares = w;
		gs_unlock(&slock);
		return r;
	}
	put_wait(&w->job);
	return r;
}

/* The same for one pid's exit, on a pidfd, for at most *wait_ns (doubled for
 * the next time, up to 1 s: see the top). 0: ask again. -ENOSYS: not possible
 * here (no pidfd_open, or the pid is gone): use the helper. */
static int park_pidfd(pid_t pid, int fd, uint64_t *wait_ns)
{
	struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
	struct gs_np_item it = { fd, NP_READ, snap, false };	/* ours: nobody closes it */
	uint64_t d = *wait_ns;
	*wait_ns = d < 500000000 ? 2 * d : 1000000000;
	int r = gs_np_wait_many(&it, 1, gs_nanotime() + d, GS_INTR_NORESTART);
	return r == -EINTR ? r : r == 0 || r == -ETIMEDOUT ? 0 : -ENOSYS;
}

static int open_pidfd(pid_t pid)
{
	int saved = errno;
	int fd = (int)gs_syscall(SYS_pidfd_open, pid, 0);
	errno = saved;
	return fd;
}

static void close_pidfd(int fd)
{
	if (fd < 0)
		return;
	int saved = errno;
	gs_np_close(fd);
	REAL(close)(fd);
	errno = saved;
}

/* The way of every wait: try(arg) is the real call with WNOHANG, returning
 * -1 (errno set), 0 (nothing yet) or >0 (done: the value to return, with 0
 * returned as 1 by try for waitid, mapped back by the caller). */
static long wait_loop(struct g *g, idtype_t idtype, id_t id, int wopts,
		      long (*try)(void *), void *arg)
{
	gs_testcancel(g);
	int fd = -1;
	uint64_t wait_ns = 5000000;
	bool pidfd_ok = idtype == P_PID && !(wopts & (WSTOPPED | WCONTINUED));
	for (;;) {
		long r = try(arg);
		if (r != 0) {
			close_pidfd(fd);
			return r;
		}
		/* Opened only now, so that a child already done costs no more than
		 * the one call. A pidfd is ready from the exit on: one of a child
		 * that exited since the try reports so as soon as it is armed. */
		if (pidfd_ok && atomic_load_explicit(&tracing, memory_order_relaxed)) {
			pidfd_ok = false;	/* a tracer: the kernel's selection, on a helper */
			close_pidfd(fd);
			fd = -1;
		}
		if (pidfd_ok && fd < 0)
			fd = open_pidfd((pid_t)id);
		int p = -ENOSYS;
		if (fd >= 0) {
			p = park_pidfd((pid_t)id, fd, &wait_ns);
			if (p == -ENOSYS) {
				close_pidfd(fd);
				fd = -1;
				pidfd_ok = false;
			}
		}
		if (p == -ENOSYS)
			p = park_helper(idtype, id, wopts);
		if (p == -EINTR) {
			gs_testcancel(g);
			if (g->intr_restart) {	/* a SA_RESTART handler ran: go on */
				g->intr_restart = 0;
				continue;
			}
			close_pidfd(fd);
			errno = EINTR;
			return -1;
		}
		if (p == -ENOMEM) {	/* no helper possible: wait as libc does */
			close_pidfd(fd);
			return -2;
		}
	}
}

/* ---- wait4 and its forms ---- */

struct w4 {
	pid_t pid;
	int *status;
	int options;
	struct rusage *ru;
};

static long try_w4(void *arg)
{
	struct w4 *a = arg;
	return REAL(wait4)(a->pid, a->status, a->options | WNOHANG, a->ru);
}

static int w4_opts(int options)	/* wait4's options as waitid's */
{
	return WEXITED | (options & WUNTRACED ? WSTOPPED : 0) |
	       (options & (WCONTINUED | __WNOTHREAD | __WCLONE | __WALL));
}

GS_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	struct g *g = gs_self();
	if (!g || (options & WNOHANG))
		return REAL(wait4)(pid, status, options, ru);
	if (pid == INT_MIN)	/* -INT_MIN does not exist: the kernel's ESRCH */
		return REAL(wait4)(pid, status, options, ru);
	struct w4 a = { pid, status, options, ru };
	idtype_t t = pid > 0 ? P_PID : pid == -1 ? P_ALL : P_PGID;
	id_t id = pid > 0 ? (id_t)pid : pid < -1 ? (id_t)-pid : 0;
	long r = wait_loop(g, t, id, w4_opts(options), try_w4, &a);
	if (r == -2)
		return REAL(wait4)(pid, status, options, ru);
	return (pid_t)r;
}

GS_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	return wait4(pid, status, options, NULL);
}

GS_EXPORT pid_t wait(int *status)
{
	return wait4(-1, status, 0, NULL);
}

/* Old aliases libc still exports (a binary may have been linked to them). */
GS_EXPORT pid_t __waitpid(pid_t pid, int *status, int options)
{
	return wait4(pid, status, options, NULL);
}

GS_EXPORT pid_t __wait(int *status)
{
	return wait4(-1, status, 0, NULL);
}

GS_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

/* ---- waitid ---- */

struct wid {
	idtype_t idtype;
	id_t id;
	siginfo_t *info;
	int options;
	struct rusage *ru;
};

static long real_waitid(idtype_t t, id_t id, siginfo_t *info, int options, struct rusage *ru)
{
	return gs_syscall(SYS_waitid, t, id, info, options, ru);
}

static long try_wid(void *arg)
{
	struct wid *a = arg;
	siginfo_t local;
	siginfo_t *info = a->info ? a->info : &local;
	info->si_pid = 0;
	long r = real_waitid(a->idtype, a->id, info, a->options | WNOHANG, a->ru);
	if (r < 0)
		return -1;
	return info->si_pid ? 1 : 0;	/* the kernel clears si_pid when none is ready */
}

/* The kernel's waitid, with its fifth argument (syscall(SYS_waitid, ...)). */
int gs_waitid_ru(idtype_t idtype, id_t id, siginfo_t *info, int options, struct rusage *ru)
{
	struct g *g = gs_self();
	if (!g || (options & WNOHANG) || !(options & (WEXITED | WSTOPPED | WCONTINUED)))
		return (int)real_waitid(idtype, id, info, options, ru);
	if (idtype != P_PID && idtype != P_PGID && idtype != P_ALL)
		return (int)real_waitid(idtype, id, info, options, ru);	/* P_PIDFD: as it is */
	struct wid a = { idtype, id, info, options, ru };
	long r = wait_loop(g, idtype, id, options, try_wid, &a);
	if (r == -2)
		return (int)real_waitid(idtype, id, info, options, ru);
	return r < 0 ? -1 : 0;
}

GS_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	return gs_waitid_ru(idtype, id, info, options, NULL);
}

/* ---- system, pclose ---- */

struct sys_job {
	struct gs_offload job;
	const char *cmd;
	FILE *f;
	int ret;
};

static void run_system(struct gs_offload *j)
{
	struct sys_job *a = (struct sys_job *)j;
	a->ret = REAL(system)(a->cmd);
}

GS_EXPORT int system(const char *cmd)
{
	struct g *g = gs_self();
	if (!g || !cmd)		/* system(NULL) asks whether a shell exists */
		return REAL(system)(cmd);
	gs_testcancel(g);
	/* glibc's system blocks SIGCHLD in its caller until the child is reaped
	 * (a SIGCHLD handler that reaps would take system's child): the G's
	 * mask does the same here, the helper blocks everything anyway. */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	struct sys_job a = { .job.fn = run_system, .job.unbounded = true, .cmd = cmd };
	gs_offload(&a.job, "system");
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return a.ret;
}

static void run_pclose(struct gs_offload *j)
{
	struct sys_job *a = (struct sys_job *)j;
	a->ret = REAL(pclose)(a->f);
}

/* pclose closes the FILE's fd inside libc: the netpoller forgets the number
 * first (as for close), then libc waits for the child. */
GS_EXPORT int pclose(FILE *f)
{
	if (f && f->_fileno >= 0)
		gs_np_close(f->_fileno);
	struct g *g = gs_self();
	if (!g)
		return REAL(pclose)(f);
	struct sys_job a = { .job.fn = run_pclose, .job.unbounded = true, .f = f };
	gs_offload(&a.job, "pclose");
	return a.ret;
}
