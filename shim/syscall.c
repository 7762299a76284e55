/* shim/syscall.c: libc's syscall() function, and the thread ids.
 *
 * Programs reach the kernel through syscall() where libc has no wrapper, or
 * where they prefer the raw call: libstdc++'s C++20 waits (atomic wait,
 * counting_semaphore, latch, barrier) are syscall(SYS_futex), CPython's
 * threading.get_native_id is syscall(SYS_gettid). A call whose libc function
 * we hook goes to that hook (same result, -1 and errno as syscall() gives);
 * futex waits park the G (below); anything else is made as it is.
 *
 * Futexes. FUTEX_WAIT and FUTEX_WAIT_BITSET of a G wait in the green futex
 * (sched/futex.c) on the same word; FUTEX_WAKE and FUTEX_WAKE_BITSET, from
 * anyone, wake green waiters first and then make the kernel's wake, with the
 * caller's op, for the rest: so a G's wake reaches a thread the shim did not
 * make that waits in the kernel, and such a thread's wake (made through this
 * hook, as libstdc++'s are) reaches a G. A shared (not FUTEX_PRIVATE) word may
 * be woken from another process, which only the kernel sees: a G waiting on
 * one also looks at the word again after naps of 50 us doubling to 2 ms, and
 * returns (as a wakeup) once it has changed. A private word woken by a raw
 * syscall instruction (not through syscall()) is not seen: README "Limits".
 * Other futex operations (requeue, wake-op, PI locks, waitv) are passed
 * through; a G blocked in one holds its OS thread (sysmon hands its P on). */
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include "real.h"

GS_HIDDEN int gs_waitid_ru(idtype_t idtype, id_t id, siginfo_t *info, int options,
			   struct rusage *ru);	/* wait.c */

/* ---- thread ids ---- */

GS_EXPORT pid_t gettid(void)
{
	struct g *g = gs_self();
	return g ? gs_tid_of(g) : REAL(gettid)();
}

static int tid_kill(pid_t tgid, pid_t tid, int sig)
{
	if (tgid != -1 && tgid != getpid())
		return 1;
	int r = gs_tid_kill(tid, sig);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;	/* 0 done, 1 not a G's */
}

GS_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig)
{
	int r = tgid > 0 && tid > 0 ? tid_kill(tgid, tid, sig) : 1;
	return r != 1 ? r : REAL(tgkill)(tgid, tid, sig);
}

/* ---- futex ---- */

#define NAP_MIN 50000ull
#define NAP_MAX 2000000ull

static long real_futex(uint32_t *uaddr, int op, uint32_t val, const void *ts, uint32_t *uaddr2,
		       uint32_t val3)
{
	return gs_syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static bool ts_ok(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

/* A FUTEX_WAIT(_BITSET) of g. Returns 0 or -1 with errno, as the kernel's. */
static long futex_wait(struct g *g, uint32_t *uaddr, int op, uint32_t val,
		       const struct timespec *ts, uint32_t bits)
{
	int cmd = op & FUTEX_CMD_MASK;
	uint64_t deadline = 0;
	if (ts) {
		if (cmd == FUTEX_WAIT) {	/* relative */
			uint64_t d = (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
			deadline = gs_nanotime() + (d < UINT64_MAX / 4 ? d : UINT64_MAX / 4);
		} else {		/* absolute, on the clock the op names */
			deadline = gs_deadline(op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, ts);
		}
	}
	bool shared = !(op & FUTEX_PRIVATE_FLAG);
	uint64_t nap = 0;
	/* syscall() is no cancellation point: a pending cancellation must not end
	 * the wait (it would end every later one at once, and libstdc++ retries). */
	int cancel_disabled = g->cancel_disabled;
	g->cancel_disabled = 1;
	long ret = 0;
	for (;;) {
		uint64_t until = deadline;
		if (shared) {
			nap = nap ? (nap * 2 < NAP_MAX ? nap * 2 : NAP_MAX) : NAP_MIN;
			uint64_t n = gs_nanotime() + nap;
			if (!until || n < until)
				until = n;
		}
		/* The kernel restarts an untimed wait after a SA_RESTART handler, a timed
		 * one never (-ERESTART_RESTARTBLOCK becomes EINTR when a handler ran). */
		int r = gs_futex_wait_bits((_Atomic uint32_t *)uaddr, val, until,
					   ts ? GS_INTR_ALWAYS : GS_INTR_NORESTART,
					   "futex", bits);
		if (r == -ETIMEDOUT && until != deadline) {
			if (__atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != val)
				break;	/* changed: woken by someone we cannot see */
			continue;
		}
		if (r == -EINTR && g->intr_restart) {	/* a SA_RESTART handler ran */
			g->intr_restart = 0;
			continue;
		}
		if (r != 0) {
			errno = -r;
			ret = -1;
		}
		break;
	}
	g->cancel_disabled = cancel_disabled;
	return ret;
}

static long sys_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts,
		      uint32_t *uaddr2, uint32_t val3)
{
	int cmd = op & FUTEX_CMD_MASK;
	bool aligned = uaddr && !((uintptr_t)uaddr & 3);
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET: {
		struct g *g = gs_self();
		uint32_t bits = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3;
		/* The kernel's own errors (EINVAL, EFAULT, ENOSYS) come from the kernel. */
		if (!g || !aligned || !bits || (ts && !ts_ok(ts)))
			break;
		return futex_wait(g, uaddr, op, val, ts, bits);
	}
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET: {
		uint32_t bits = cmd == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3;
		if (!aligned || !bits || (int)val <= 0)
			break;
		int n = gs_futex_wake_green((_Atomic uint32_t *)uaddr, (int)val, bits);
		if ((uint32_t)n == val)
			return n;
		int saved = errno;
		long k = real_futex(uaddr, op, val - (uint32_t)n, ts, uaddr2, val3);
		if (k < 0 && n == 0)
			return k;
		errno = saved;
		return n + (k > 0 ? k : 0);
	}
	}
	return real_futex(uaddr, op, val, ts, uaddr2, val3);
}

/* ---- syscall() ---- */

#define A(i) ((long)a[i])
#define P(i) ((void *)a[i])
#define I(i) ((int)a[i])
#define SIGSET_OK(i) (a[i] == sizeof(uint64_t))	/* the kernel's sigset size */

/* clock_nanosleep returns its error; syscall() sets errno. */
static long err_to_errno(int r)
{
	if (r == 0)
		return 0;
	errno = r;
	return -1;
}

GS_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	unsigned long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	switch (nr) {
	case SYS_futex:
		return sys_futex(P(0), I(1), (uint32_t)a[2], P(3), P(4), (uint32_t)a[5]);
	case SYS_gettid:
		return gettid();
	case SYS_tgkill:
		return tgkill((pid_t)a[0], (pid_t)a[1], I(2));
	case SYS_tkill: {
		int r = (pid_t)a[0] > 0 ? tid_kill(-1, (pid_t)a[0], I(1)) : 1;
		if (r != 1)
			return r;
		break;
	}
	case SYS_read:
		return read(I(0), P(1), a[2]);
	case SYS_write:
		return write(I(0), P(1), a[2]);
	case SYS_readv:
		return readv(I(0), P(1), I(2));
	case SYS_writev:
		return writev(I(0), P(1), I(2));
	case SYS_recvfrom:
		return recvfrom(I(0), P(1), a[2], I(3), P(4), P(5));
	case SYS_sendto:
		return sendto(I(0), P(1), a[2], I(3), P(4), (socklen_t)a[5]);
	case SYS_recvmsg:
		return recvmsg(I(0), P(1), I(2));
	case SYS_sendmsg:
		return sendmsg(I(0), P(1), I(2));
	case SYS_recvmmsg:
		return recvmmsg(I(0), P(1), (unsigned)a[2], I(3), P(4));
	case SYS_sendmmsg:
		return sendmmsg(I(0), P(1), (unsigned)a[2], I(3));
	case SYS_accept:
		return accept(I(0), P(1), P(2));
	case SYS_accept4:
		return accept4(I(0), P(1), P(2), I(3));
	case SYS_connect:
		return connect(I(0), P(1), (socklen_t)a[2]);
#ifdef SYS_poll	/* not on aarch64: its libc uses the newer call */
	case SYS_poll:
		return poll(P(0), a[1], I(2));
#endif
	case SYS_ppoll:
		if (a[3] && !SIGSET_OK(4))
			break;
		return ppoll(P(0), a[1], P(2), P(3));
#ifdef SYS_select	/* not on aarch64: its libc uses the newer call */
	case SYS_select:
		return select(I(0), P(1), P(2), P(3), P(4));
#endif
	case SYS_pselect6: {
		/* The sixth argument is { const sigset_t *set; size_t size; }. */
		const unsigned long *sm = P(5);
		if (sm && sm[0] && sm[1] != sizeof(uint64_t))
			break;
		return pselect(I(0), P(1), P(2), P(3), P(4), sm ? (const sigset_t *)sm[0] : NULL);
	}
#ifdef SYS_epoll_wait	/* not on aarch64: its libc uses the newer call */
	case SYS_epoll_wait:
		return epoll_wait(I(0), P(1), I(2), I(3));
#endif
	case SYS_epoll_pwait:
		if (a[4] && !SIGSET_OK(5))
			break;
		return epoll_pwait(I(0), P(1), I(2), I(3), P(4));
	case SYS_nanosleep:
		return nanosleep(P(0), P(1));
	case SYS_clock_nanosleep:
		return err_to_errno(clock_nanosleep((clockid_t)a[0], I(1), P(2), P(3)));
#ifdef SYS_pause	/* not on aarch64: its libc uses the newer call */
	case SYS_pause:
		return pause();
#endif
	case SYS_rt_sigsuspend:
		if (!SIGSET_OK(1))
			break;
		return sigsuspend(P(0));
	case SYS_rt_sigtimedwait:
		if (!SIGSET_OK(3))
			break;
		return sigtimedwait(P(0), P(1), P(2));
	case SYS_rt_sigprocmask:
		if (!SIGSET_OK(3))
			break;
		return sigprocmask(I(0), P(1), P(2));
	case SYS_sched_yield:
		return sched_yield();
	case SYS_sendfile:
		return sendfile(I(0), I(1), P(2), a[3]);
	case SYS_splice:
		return splice(I(0), P(1), I(2), P(3), a[4], (unsigned)a[5]);
	case SYS_tee:
		return tee(I(0), I(1), a[2], (unsigned)a[3]);
	case SYS_vmsplice:
		return vmsplice(I(0), P(1), a[2], (unsigned)a[3]);
	case SYS_wait4:
		return wait4((pid_t)a[0], P(1), I(2), P(3));
	case SYS_waitid:
		return gs_waitid_ru((idtype_t)a[0], (id_t)a[1], P(2), I(3), P(4));
	case SYS_flock:
		return flock(I(0), I(1));
	case SYS_fcntl:
		return fcntl(I(0), I(1), a[2]);
	case SYS_close:
		return close(I(0));
#ifdef SYS_open	/* not on aarch64: its libc uses the newer call */
	case SYS_open:
		return open(P(0), I(1), (mode_t)a[2]);
#endif
	case SYS_openat:
		return openat(I(0), P(1), I(2), (mode_t)a[3]);
	case SYS_dup:
		return dup(I(0));
#ifdef SYS_dup2	/* not on aarch64: its libc uses the newer call */
	case SYS_dup2:
		return dup2(I(0), I(1));
#endif
	case SYS_dup3:
		return dup3(I(0), I(1), I(2));
#ifdef SYS_pipe	/* not on aarch64: its libc uses the newer call */
	case SYS_pipe:
		return pipe(P(0));
#endif
	case SYS_pipe2:
		return pipe2(P(0), I(1));
	case SYS_socket:
		return socket(I(0), I(1), I(2));
	case SYS_socketpair:
		return socketpair(I(0), I(1), I(2), P(3));
	case SYS_shutdown:
		return shutdown(I(0), I(1));
	case SYS_setsockopt:
		return setsockopt(I(0), I(1), I(2), P(3), (socklen_t)a[4]);
	case SYS_ioctl:
		return ioctl(I(0), a[1], P(2));
	}
	return gs_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
