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
#include "real.h"
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

/* An asynchronous cancellation (sched/: a futex wait it ended, or a safe PC
 * the preemption signal found). */
static void async_cancel(struct g *g)
{
	unwind(g, PTHREAD_CANCELED);
}

GS_HIDDEN void gs_testcancel(struct g *g)
{
	if (unlikely(atomic_load_explicit(&g->cancel_pending, memory_order_relaxed)) &&
	    !g->cancel_disabled && !g->cancelling)
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
	atomic_store(&g->cancel_pending, 1);
	if (g->cancel_disabled)
		return 0;
	if (g->cancel_async)
		gs_cancel_async_wake(g);
	else
		gs_interrupt(g);
	return 0;
}

/* ---- lifecycle ---- */

GS_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	ensure_init();
	size_t stacksize = 0, guard = 4096;
	void *ustack = NULL;
	int detach = 0;
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
	int r = gs_spawn((struct g **)t, fn, arg, stacksize, guard, ustack, detach);
	return r ? -r : 0;
}

GS_EXPORT _Noreturn void pthread_exit(void *ret)
{
	struct g *g = gs_self();
	if (!g)
		REAL(pthread_exit)(ret);
	unwind(g, ret);
}

/* glibc 2.36's __pthread_clockjoin_ex, in its order: a reaped thread is
 * ESRCH, a detached one EINVAL, joining oneself (or the thread that is
 * joining us) EDEADLK, a second joiner EINVAL; g->joiner is glibc's joinid,
 * the one word that join and detach race on. tryjoin is EBUSY while the
 * thread runs, detached or not. A join that times out or is cancelled lets
 * another one try, as glibc's cleanup does. */
static int join(pthread_t t, void **ret, struct gs_when w, bool try)
{
	struct g *g = as_g(t);
	struct g *self = gs_self();
	if (try && atomic_load(&g->joinstate) != J_EXITED)
		return EBUSY;
	struct g *j = atomic_load(&g->joiner);
	if (j == g)
		return EINVAL;
	if (g == self || (self && atomic_load(&self->joiner) == g))
		return EDEADLK;
	struct g *none = NULL;
	if (!atomic_compare_exchange_strong(&g->joiner, &none, self ? self : GS_JOINER_OUTSIDE))
		return EINVAL;
	uint64_t deadline = 0;
	bool have_deadline = false;
	while (atomic_load(&g->joinstate) != J_EXITED) {
		int r = 0;
		if (try)
			r = EBUSY;
		else if (!have_deadline) {
			r = gs_when_deadline(w, &deadline);
			have_deadline = true;
			if (r == ETIMEDOUT || (w.abs && !deadline && !r))
				r = ETIMEDOUT;
		}
		if (!r && self && atomic_load(&self->cancel_pending) && !self->cancel_disabled &&
		    !self->cancelling) {
			atomic_store(&g->joiner, NULL);
			gs_testcancel(self);
		}
		if (!r && gs_futex_wait((_Atomic uint32_t *)&g->joinstate, J_JOINABLE, deadline,
					GS_INTR_CANCEL, "join") == -ETIMEDOUT)
			r = ETIMEDOUT;
		if (r) {
			atomic_store(&g->joiner, NULL);
			return r;
		}
	}
	if (ret)
		*ret = g->ret;
	gs_free_g(g);
	return 0;
}

GS_EXPORT int pthread_join(pthread_t t, void **ret)
{
	if (!as_g(t))
		return reaped(t) ? ESRCH : REAL(pthread_join)(t, ret);
	return join(t, ret, GS_FOREVER, false);
}

GS_EXPORT int pthread_tryjoin_np(pthread_t t, void **ret)
{
	if (!as_g(t))
		return reaped(t) ? EBUSY : REAL(pthread_tryjoin_np)(t, ret);
	return join(t, ret, GS_FOREVER, true);
}

GS_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *abs)
{
	if (!as_g(t))
		return reaped(t) ? ESRCH : REAL(pthread_timedjoin_np)(t, ret, abs);
	return join(t, ret, (struct gs_when){ abs, CLOCK_REALTIME }, false);
}

GS_EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clock, const struct timespec *abs)
{
	if (!as_g(t))
		return reaped(t) ? ESRCH : REAL(pthread_clockjoin_np)(t, ret, clock, abs);
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return join(t, ret, (struct gs_when){ abs, clock }, false);
}

/* As glibc's: ESRCH once reaped, EINVAL if already detached, and 0 with no
 * effect while another thread joins it (the join goes on). */
GS_EXPORT int pthread_detach(pthread_t t)
{
	struct g *g = as_g(t);
	if (!g)
		return reaped(t) ? ESRCH : REAL(pthread_detach)(t);
	struct g *none = NULL;
	if (!atomic_compare_exchange_strong(&g->joiner, &none, g))
		return none == g ? EINVAL : 0;
	int js = J_JOINABLE;
	if (!atomic_compare_exchange_strong(&g->joinstate, &js, J_DETACHED)) {
		gs_assert(js == J_EXITED);
		gs_free_g(g);
	}
	return 0;
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
