/* shim/pthread.c: the thread lifecycle hooks (DESIGN.md §2.1) and the thread
 * identity ones (self, names, keys, cancellation, pthread_kill).
 *
 * A pthread_t the shim made is a struct g *, told from glibc's struct pthread
 * by g->magic; a pthread_t of a thread the shim did not create goes to glibc. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "sync.h"
#include "tsd.h"

/* glibc's handle of the main OS thread, which main's G never leaves. */
#define main_real ((pthread_t)gs_allm[0].self_pt)

static struct g *as_g(pthread_t t)
{
	struct g *g = (struct g *)t;
	return (g && g->magic == GS_G_MAGIC) ? g : NULL;
}

/* A G that was joined or reaped (GS_G_REAPED): glibc finds its descriptor
 * in its stack cache and reports ESRCH; so do we. */
static bool reaped(pthread_t t)
{
	struct g *g = (struct g *)t;
	return g && g->magic == GS_G_REAPED;
}

static void ensure_init(void)
{
	if (unlikely(!atomic_load_explicit(&gs_started, memory_order_acquire)))
		gs_init();
}

static void async_cancel(struct g *g);

__attribute__((constructor)) static void shim_pthread_ctor(void)
{
	gs_async_cancel = async_cancel;
	ensure_init();
}

/* ---- cancellation (deferred) ----
 * pthread_cleanup_push in C expands to a __sigsetjmp into the program's
 * __pthread_unwind_buf_t and a call to __pthread_register_cancel; glibc runs
 * the handlers by longjmp'ing into each buffer, innermost first, and the
 * program then calls __pthread_unwind_next. We keep that chain per G (the
 * buffer's first pad word links it) and do the same. */

static _Noreturn void unwind(struct g *g, void *ret)
{
	g->cancelling = 1;
	g->ret = ret;
	__pthread_unwind_buf_t *b = g->cleanup;
	if (!b)
		gs_exit(ret);
	g->cleanup = b->__pad[0];
	/* The buffer is a jmp_buf without its saved mask (never saved here). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
	siglongjmp((struct __jmp_buf_tag *)(void *)b->__cancel_jmp_buf, 1);
#pragma GCC diagnostic pop
}

/* Unwinds g, cancelled: at a cancellation point (gs_testcancel, gs.h), or
 * asynchronously (sched/: a futex wait it ended, or a safe PC the preemption
 * signal found). */
static void async_cancel(struct g *g)
{
	unwind(g, PTHREAD_CANCELED);
}

GS_EXPORT void __pthread_register_cancel(__pthread_unwind_buf_t *buf)
{
	struct g *g = gs_self();
	if (!g) {
		REAL(__pthread_register_cancel)(buf);
		return;
	}
	buf->__pad[0] = g->cleanup;
	g->cleanup = buf;
}

GS_EXPORT void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf)
{
	struct g *g = gs_self();
	if (!g) {
		REAL(__pthread_unregister_cancel)(buf);
		return;
	}
	g->cleanup = buf->__pad[0];
}

GS_EXPORT void __pthread_unwind_next(__pthread_unwind_buf_t *buf)
{
	struct g *g = gs_self();
	if (!g)
		REAL(__pthread_unwind_next)(buf);
	unwind(g, g->ret);
}

GS_EXPORT void pthread_testcancel(void)
{
	struct g *g = gs_self();
	if (!g) {
		REAL(pthread_testcancel)();
		return;
	}
	gs_testcancel(g);
	gs_preempt_point();
}

GS_EXPORT int pthread_setcancelstate(int state, int *old)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(pthread_setcancelstate)(state, old);
	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	if (old)
		*old = g->cancel_disabled ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
	g->cancel_disabled = state == PTHREAD_CANCEL_DISABLE;
	if (gs_async_cancel_due(g))	/* glibc acts on a pending one at once */
		unwind(g, PTHREAD_CANCELED);
	return 0;
}

GS_EXPORT int pthread_setcanceltype(int type, int *old)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(pthread_setcanceltype)(type, old);
	if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	if (old)
		*old = g->cancel_async ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
	g->cancel_async = type == PTHREAD_CANCEL_ASYNCHRONOUS;
	if (gs_async_cancel_due(g))	/* glibc acts on a pending one at once */
		unwind(g, PTHREAD_CANCELED);
	return 0;
}

GS_EXPORT int pthread_cancel(pthread_t t)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? 0 : REAL(pthread_cancel)(t);	/* glibc: 0 */
	gs_cancel(g);
	return 0;
}

/* ---- scheduling parameters ----
 * Kept per G and validated as the kernel's sched_setscheduler validates them
 * for glibc: the policy, the priority range of the policy (EINVAL), and,
 * without CAP_SYS_NICE, RLIMIT_RTPRIO for the real-time policies and leaving
 * SCHED_IDLE (EPERM). */

static bool cap_sys_nice(void)
{
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };	/* _LINUX_CAPABILITY_VERSION_3 */
	struct { uint32_t effective, permitted, inheritable; } data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return data[0].effective & (1u << 23);	/* CAP_SYS_NICE */
}

static int sched_check(const struct gs_sched *cur, int policy, int prio)
{
	if (policy != SCHED_OTHER && policy != SCHED_FIFO && policy != SCHED_RR &&
	    policy != SCHED_BATCH && policy != SCHED_IDLE)
		return EINVAL;
	if (prio < sched_get_priority_min(policy) || prio > sched_get_priority_max(policy))
		return EINVAL;
	if (cap_sys_nice())
		return 0;
	struct rlimit rl;
	if (getrlimit(RLIMIT_RTPRIO, &rl) != 0)
		rl.rlim_cur = 0;
	if (policy == SCHED_FIFO || policy == SCHED_RR) {
		if (policy != cur->policy && rl.rlim_cur == 0)
			return EPERM;
		if (prio > cur->prio && (rlim_t)prio > rl.rlim_cur)
			return EPERM;
	}
	if (cur->policy == SCHED_IDLE && policy != SCHED_IDLE) {
		struct rlimit nl;	/* can_nice(p, 0): 20 - 0 <= RLIMIT_NICE */
		if (getrlimit(RLIMIT_NICE, &nl) != 0 || nl.rlim_cur < 20)
			return EPERM;
	}
	return 0;
}

/* The parameters a thread created by the caller inherits. */
static void sched_inherit(struct gs_sched *out)
{
	struct g *self = gs_self();
	memset(out, 0, sizeof *out);
	if (self) {
		out->policy = self->sched.policy;
		out->prio = self->sched.prio;
		return;
	}
	struct sched_param sp;
	if (REAL(pthread_getschedparam)(REAL(pthread_self)(), &out->policy, &sp) == 0)
		out->prio = sp.sched_priority;
}

GS_EXPORT int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *param)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? ESRCH : REAL(pthread_getschedparam)(t, policy, param);
	if (atomic_load(&g->status) == G_DEAD)
		return ESRCH;
	*policy = g->sched.policy;
	memset(param, 0, sizeof *param);
	param->sched_priority = g->sched.prio;
	return 0;
}

GS_EXPORT int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *param)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? ESRCH : REAL(pthread_setschedparam)(t, policy, param);
	if (atomic_load(&g->status) == G_DEAD)
		return ESRCH;
	int r = sched_check(&g->sched, policy, param->sched_priority);
	if (!r) {
		gs_sched_note(policy);
		g->sched.policy = policy;
		g->sched.prio = param->sched_priority;
		if (g == gs_self())
			gs_prio_changed(g);	/* lowered below a runnable G: it runs */
	}
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_setschedprio(pthread_t t, int prio)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? ESRCH : REAL(pthread_setschedprio)(t, prio);
	if (atomic_load(&g->status) == G_DEAD)
		return ESRCH;
	int r = sched_check(&g->sched, g->sched.policy, prio);
	if (!r) {
		g->sched.prio = prio;
		if (g == gs_self())
			gs_prio_changed(g);
	}
	gs_preempt_point();
	return r;
}

GS_EXPORT int pthread_getcpuclockid(pthread_t t, clockid_t *clock)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? ESRCH : REAL(pthread_getcpuclockid)(t, clock);
	if (atomic_load(&g->status) == G_DEAD)
		return ESRCH;
	*clock = gs_cpuclock_id(g);
	return 0;
}

/* The sched(2) calls on pid 0 (the calling thread, on Linux) act on the
 * calling G; on another pid they are the kernel's. */
static int sched_result(int r)
{
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GS_EXPORT int sched_getscheduler(pid_t pid)
{
	struct g *g = gs_self();
	if (!g || pid != 0)
		return REAL(sched_getscheduler)(pid);
	return g->sched.policy;
}

GS_EXPORT int sched_getparam(pid_t pid, struct sched_param *param)
{
	struct g *g = gs_self();
	if (!g || pid != 0)
		return REAL(sched_getparam)(pid, param);
	if (!param)
		return sched_result(EINVAL);
	memset(param, 0, sizeof *param);
	param->sched_priority = g->sched.prio;
	return 0;
}

GS_EXPORT int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)
{
	struct g *g = gs_self();
	if (!g || pid != 0)
		return REAL(sched_setscheduler)(pid, policy, param);
	if (!param)
		return sched_result(EINVAL);
	int r = pthread_setschedparam((pthread_t)g, policy, param);
	return sched_result(r);
}

GS_EXPORT int sched_setparam(pid_t pid, const struct sched_param *param)
{
	struct g *g = gs_self();
	if (!g || pid != 0)
		return REAL(sched_setparam)(pid, param);
	if (!param)
		return sched_result(EINVAL);
	return sched_result(pthread_setschedparam((pthread_t)g, g->sched.policy, param));
}

GS_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	ensure_init();
	size_t stacksize = 0, guard = (size_t)getpagesize();	/* glibc's default */
	void *ustack = NULL;
	int detach = 0;
	struct gs_sched sched;
	sched_inherit(&sched);
	if (attr) {
		int inherit = PTHREAD_INHERIT_SCHED;
		pthread_attr_getinheritsched(attr, &inherit);
		if (inherit == PTHREAD_EXPLICIT_SCHED) {
			/* glibc applies them to the new thread and fails the
			 * create with the kernel's error. */
			int policy;
			struct sched_param sp;
			pthread_attr_getschedpolicy(attr, &policy);
			pthread_attr_getschedparam(attr, &sp);
			int r = sched_check(&sched, policy, sp.sched_priority);
			if (r)
				return r;
			sched.policy = policy;
			sched.prio = sp.sched_priority;
			sched.explicit_ = 1;
		}
	}
	if (attr) {
		int ds;
		void *addr = NULL;
		size_t ssz = 0;
		pthread_attr_getdetachstate(attr, &ds);
		detach = ds == PTHREAD_CREATE_DETACHED;
		pthread_attr_getguardsize(attr, &guard);
		pthread_attr_getstacksize(attr, &stacksize);
		/* glibc reports stackaddr - stacksize: NULL + 0 or -size when unset. */
		pthread_attr_getstack(attr, &addr, &ssz);
		if ((uintptr_t)addr + ssz != 0) {
			ustack = addr;
			stacksize = ssz;
		}
	}
	gs_sched_note(sched.policy);
	int r = gs_spawn((struct g **)t, fn, arg, stacksize, guard, ustack, detach, &sched);
	if (r)
		return -r;
	gs_preempt_point();	/* a new thread of higher priority runs first */
	return 0;
}

GS_EXPORT _Noreturn void pthread_exit(void *ret)
{
	struct g *g = gs_self();
	if (!g)
		REAL(pthread_exit)(ret);
	unwind(g, ret);
}

GS_EXPORT int pthread_join(pthread_t t, void **ret)
{
	if (!as_g(t))
		return reaped(t) ? ESRCH : REAL(pthread_join)(t, ret);
	return gs_join(as_g(t), ret, NULL, CLOCK_REALTIME, false);
}

GS_EXPORT int pthread_tryjoin_np(pthread_t t, void **ret)
{
	if (!as_g(t))
		return reaped(t) ? EBUSY : REAL(pthread_tryjoin_np)(t, ret);
	return gs_join(as_g(t), ret, NULL, CLOCK_REALTIME, true);
}

GS_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *abs)
{
	if (!as_g(t))
		return reaped(t) ? ESRCH : REAL(pthread_timedjoin_np)(t, ret, abs);
	return gs_join(as_g(t), ret, abs, CLOCK_REALTIME, false);
}

GS_EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clock, const struct timespec *abs)
{
	if (!as_g(t))
		return reaped(t) ? ESRCH : REAL(pthread_clockjoin_np)(t, ret, clock, abs);
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return gs_join(as_g(t), ret, abs, clock, false);
}

/* As glibc's: ESRCH once reaped, EINVAL if already detached, and 0 with no
 * effect while another thread joins it (the join goes on). */
GS_EXPORT int pthread_detach(pthread_t t)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? ESRCH : REAL(pthread_detach)(t);
	return gs_detach(g);
}

GS_EXPORT pthread_t pthread_self(void)
{
	struct g *g = gs_self();
	return g ? (pthread_t)g : REAL(pthread_self)();
}

/* C++ thread_local destructors: libstdc++'s __cxa_thread_atexit registers them
 * here. glibc keeps them per OS thread, which would run them when an M exits
 * (several Gs' for one address); they are kept per G and run when the G exits.
 * exit() runs the exiting G's first, as glibc does; on a return from main
 * (libc calls its exit directly) an atexit handler registered at the first
 * registration runs them: before the static destructors registered until then,
 * after atexit handlers registered later (README, Limits). */
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);

static void tls_dtors_at_exit(void)
{
	struct g *g = gs_self();
	if (g)
		gs_tls_dtors_run(g);
}

GS_EXPORT int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso)
{
	static _Atomic int at_exit;
	struct g *g = gs_self();
	if (!g)
		return REAL(__cxa_thread_atexit_impl)(fn, obj, dso);
	if (!atomic_exchange(&at_exit, 1))
		atexit(tls_dtors_at_exit);
	if (gs_tls_dtor_add(g, fn, obj))
		gs_throw("out of memory registering a thread_local destructor");
	return 0;
}

/* exit() runs the calling thread's thread_local destructors before the atexit
 * handlers, as glibc's does. */
GS_EXPORT _Noreturn void exit(int status)
{
	tls_dtors_at_exit();
	REAL(exit)(status);
	__builtin_unreachable();
}

GS_EXPORT int sched_yield(void)
{
	if (!gs_self())
		return REAL(sched_yield)();
	gs_yield();
	return 0;
}

/* pthread_yield is sched_yield in glibc's headers (an asm alias). */

static void once_cancelled(void *once)
{
	gs_once_end(once, false);
}

/* The init routine runs inside a cleanup frame, as in glibc: if it is
 * cancelled, the control goes back to "not run" and the waiters wake, so the
 * next caller runs the routine. */
GS_EXPORT int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	_Atomic int *o = (_Atomic int *)once;
	if (likely(atomic_load_explicit(o, memory_order_acquire) == 2))
		return 0;
	if (!gs_once_begin(o))
		return 0;
	pthread_cleanup_push(once_cancelled, (void *)o);
	fn();
	pthread_cleanup_pop(0);
	gs_once_end(o, true);
	return 0;
}

/* A program that sets glibc's default stack size gets it for its threads. */
GS_EXPORT int pthread_setattr_default_np(const pthread_attr_t *attr)
{
	ensure_init();
	int r = REAL(pthread_setattr_default_np)(attr);
	pthread_attr_t a;
	size_t size;
	if (r == 0 && REAL(pthread_getattr_default_np)(&a) == 0) {
		if (pthread_attr_getstacksize(&a, &size) == 0)
			gs_stack_set_default(size);
		pthread_attr_destroy(&a);
	}
	return r;
}

GS_EXPORT int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct g *g = as_g(t);
	if (!g)
		return REAL(pthread_getattr_np)(t, attr);
	if (g == gs_maing)
		return REAL(pthread_getattr_np)(main_real, attr);
	int r = pthread_attr_init(attr);
	if (r)
		return r;
	pthread_attr_setstack(attr, g->stack_lo, (size_t)(g->stack_hi - g->stack_lo));
	pthread_attr_setguardsize(attr, gs_stack_guardsize(g));
	pthread_attr_setdetachstate(attr, atomic_load(&g->joinstate) == J_DETACHED ?
				    PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
	struct sched_param sp = { .sched_priority = g->sched.prio };
	pthread_attr_setschedpolicy(attr, g->sched.policy);
	pthread_attr_setschedparam(attr, &sp);
	if (g->sched.explicit_)
		pthread_attr_setinheritsched(attr, PTHREAD_EXPLICIT_SCHED);
	return 0;
}

GS_EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
	struct g *g = as_g(t);
	if (!g)
		return REAL(pthread_setname_np)(t, name);
	size_t n = strlen(name);
	if (n > 15)
		return ERANGE;
	if (g == gs_maing) {	/* main's name is the process's: keep /proc in step */
		int r = REAL(pthread_setname_np)(main_real, name);
		if (r)
			return r;
	}
	memcpy(g->name, name, n + 1);
	return 0;
}

GS_EXPORT int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	struct g *g = as_g(t);
	if (!g)
		return REAL(pthread_getname_np)(t, buf, len);
	size_t n = strlen(g->name);
	if (len < 16)	/* glibc: the buffer must hold any name (TASK_COMM_LEN) */
		return ERANGE;
	memcpy(buf, g->name, n + 1);
	return 0;
}

/* ---- thread-specific data ---- */

GS_EXPORT int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
	int r = REAL(pthread_key_create)(key, dtor);
	if (!r)
		gs_tsd_created(*key, dtor);
	return r;
}

GS_EXPORT int pthread_key_delete(pthread_key_t key)
{
	int r = REAL(pthread_key_delete)(key);
	if (!r)
		gs_tsd_deleted(key);
	return r;
}

GS_EXPORT void *pthread_getspecific(pthread_key_t key)
{
	struct g *g = gs_self();
	return g ? gs_tsd_get(g, key) : REAL(pthread_getspecific)(key);
}

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"	/* glibc's access(none) on val */
GS_EXPORT int pthread_setspecific(pthread_key_t key, const void *val)
{
	struct g *g = gs_self();
	if (g)
		return gs_tsd_set(g, key, val);
	return REAL(pthread_setspecific)(key, val);
}
