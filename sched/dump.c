/* sched/dump.c: a dump of every green thread, on a signal the user names
 * (GOSHIM_DUMP_SIGNAL) and on a fatal runtime error: id, state, what it waits
 * on, its OS thread, committed stack, and a symbolised backtrace (libunwind).
 * A parked G's backtrace starts from its saved registers (arch.h says where
 * the resume address is: at the saved stack pointer on x86-64, lr on aarch64). For a G running on
 * another OS thread: if that thread is in a system call (its
 * /proc/self/task/TID/syscall), the call's number; otherwise the preemption
 * signal, with a cookie of its own, interrupts it, and its handler
 * (gs_dump_hold) publishes the interrupted registers and holds the thread
 * until the backtrace has been read from its still stack, here.
 *
 * One formatter, two forms and two outputs: text (as below) or JSON (the
 * schema is in man/goshim.1), written with gs_write_all (libc's write, never our hook)
 * from a fixed buffer (it may run in a signal handler, with the all-G lock
 * held) or gathered in memory for the dump socket
 * (dumpsock.c, on a G of its own). */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include "gs.h"
#include "real.h"

int gs_dump_sig;

struct out {
	int fd;			/* -1: into mem */
	bool json;
	char *mem;		/* malloc'ed, mlen bytes used of mcap */
	size_t mlen, mcap;
	bool lost;		/* mem could not grow */
	int nframes;		/* of the G being written */
	long syscall;		/* its system call when it is in one, else -1 */
	const char *note;	/* why it has no backtrace, or NULL */
	size_t n;
	char buf[4096];
};

static void flush(struct out *o)
{
	if (o->fd < 0) {
		if (o->mlen + o->n > o->mcap) {
			size_t cap = o->mcap ? o->mcap * 2 : 65536;
			while (cap < o->mlen + o->n)
				cap *= 2;
			char *m = realloc(o->mem, cap);
			if (!m) {
				o->lost = true;
				o->n = 0;
				return;
			}
			o->mem = m;
			o->mcap = cap;
		}
		memcpy(o->mem + o->mlen, o->buf, o->n);
		o->mlen += o->n;
		o->n = 0;
		return;
	}
	gs_write_all(o->fd, o->buf, o->n);	/* libc's write, not our hook */
	o->n = 0;
}

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->n > sizeof o->buf - 512)
		flush(o);
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k < sizeof o->buf - o->n ? (size_t)k : sizeof o->buf - o->n - 1;
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void put_str(struct out *o, const char *s)
{
	char e[256];
	size_t k = 0;
	for (; *s && k < sizeof e - 8; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			e[k++] = '\\', e[k++] = (char)c;
		else if (c < 0x20)
			k += (size_t)snprintf(e + k, sizeof e - k, "\\u%04x", c);
		else
			e[k++] = (char)c;
	}
	e[k] = 0;
	put(o, "\"%s\"", e);
}

static const char *state(int s)
{
	static const char *names[] = { "new", "runnable", "running", "waiting", "dead" };
	return s >= 0 && s <= G_DEAD ? names[s] : "?";
}

/* Names of the addresses seen, because libunwind's unw_get_proc_name reads
 * /proc/self/maps and the ELF file again for every call: 10,000 Gs parked in
 * the same few places took 11 minutes without it. Used under gs_allg_lock. */
#define NAMES 1024
static struct name {
	unw_word_t ip, off;
	int ok;
	char name[104];
} names[NAMES];

static const struct name *proc_name(unw_cursor_t *c, unw_word_t ip)
{
	unsigned h = (unsigned)((ip >> 2) * 2654435761u) % NAMES;
	for (unsigned i = 0; i < 8; i++) {
		struct name *e = &names[(h + i) % NAMES];
		if (e->ip == ip)
			return e;
		if (!e->ip) {
			e->ok = unw_get_proc_name(c, e->name, sizeof e->name, &e->off) == 0;
			e->ip = ip;
			return e;
		}
	}
	static struct name tmp;	/* the probe run is full: no caching */
	tmp.ok = unw_get_proc_name(c, tmp.name, sizeof tmp.name, &tmp.off) == 0;
	return &tmp;
}

static void frames(struct out *o, unw_cursor_t *c)
{
	for (int depth = 0; depth < 32; depth++) {
		unw_word_t ip = 0;
		unw_get_reg(c, UNW_REG_IP, &ip);
		if (!ip)
			break;
		const struct name *n = proc_name(c, ip);
		if (o->json) {
			put(o, "%s\n    {\"pc\": \"%#lx\", \"function\": ", o->nframes ? "," : "",
			    (unsigned long)ip);
			if (n->ok) {
				put_str(o, n->name);
				put(o, ", \"offset\": %lu}", (unsigned long)n->off);
			} else {
				put(o, "null, \"offset\": null}");
			}
		} else if (n->ok) {
			put(o, "    %#lx %s+%#lx\n", (unsigned long)ip, n->name, (unsigned long)n->off);
		} else {
			put(o, "    %#lx ?\n", (unsigned long)ip);
		}
		o->nframes++;
		if (unw_step(c) <= 0)
			break;
	}
}

/* libunwind initialises itself at its first unw_init_local in the process:
 * it opens a pipe (to validate addresses), through the library's pipe2 hook,
 * whose fd bookkeeping takes that fd's lock, and takes a lock of its own
 * through the pthread_mutex_lock hook. Done under the all-G lock that was a
 * nesting of the fd lock inside it, against the rank order (make lockrank
 * aborted in io_dump_full_stderr; no path holds an fd lock while it takes
 * the all-G lock, so it could not deadlock, but a dump must not depend on
 * that). So every unwinding caller initialises it first, outside any runtime
 * lock. Once done it stays done (a flag, read relaxed). */
static _Atomic bool unw_ready;

void gs_unwind_init(void)
{
	if (atomic_load_explicit(&unw_ready, memory_order_acquire))
		return;
	unw_context_t uc;
	unw_cursor_t c;
	unw_getcontext(&uc);
	(void)unw_init_local(&c, &uc);
	atomic_store_explicit(&unw_ready, true, memory_order_release);
}

bool gs_unwind_ready(void)
{
	return atomic_load_explicit(&unw_ready, memory_order_acquire);
}

/* Backtrace of a G that is not running: from its saved registers. */
static void parked_frames(struct out *o, struct g *g)
{
	unw_context_t uc;
	memset(&uc, 0, sizeof uc);
	if (!GS_ARCH_CTX_SP(&g->ctx))
		return;
	GS_ARCH_UNW_FROM_CTX(&uc, &g->ctx);	/* arch.h */
	unw_cursor_t c;
	if (unw_init_local(&c, &uc) == 0)
		frames(o, &c);
}

enum { BT_IDLE, BT_ASKED, BT_HELD, BT_READ };
#define BT_ASK_NS 500000000ull		/* how long a dump waits for the thread */
#define BT_HOLD_NS 2000000000ull	/* how long the thread waits for the dump */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}


/* In the preemption signal's handler on m, for a dump on another thread. */
void gs_dump_hold(struct m *m, void *uc)
{
	if (atomic_load(&m->bt_state) != BT_ASKED)
		return;		/* the dump gave up */
	GS_ARCH_BT_SAVE(m->bt_regs, uc);	/* arch.h */
	m->bt_g = m->in_sched ? NULL : m->curg;
	int asked = BT_ASKED;
	if (!atomic_compare_exchange_strong(&m->bt_state, &asked, BT_HELD))
		return;
	uint64_t until = now_ns() + BT_HOLD_NS;
	while (atomic_load(&m->bt_state) == BT_HELD && now_ns() < until)
		gs_syscall(SYS_sched_yield);
	atomic_store(&m->bt_state, BT_IDLE);
}

/* Backtrace of g, running on another OS thread. */
static void running_frames(struct out *o, struct g *g)
{
	struct m *m = g->m;
	long nr = -1;
	int run = gs_thread_running(m->tid, &nr);
	if (run == 0) {
		o->syscall = nr;
		return;
	}
	if (!gs_preempt_sig) {
		o->note = "no backtrace: asyncpreemptoff=1";
		return;
	}
	int idle = BT_IDLE;
	if (!atomic_compare_exchange_strong(&m->bt_state, &idle, BT_ASKED)) {
		o->note = "no backtrace: another dump is reading it";
		return;
	}
	gs_preempt_backtrace(m);
	uint64_t until = now_ns() + BT_ASK_NS;
	while (atomic_load(&m->bt_state) == BT_ASKED && now_ns() < until) {
		struct timespec nap = { 0, 100000 };
		gs_syscall(SYS_nanosleep, &nap, NULL);
	}
	int asked = BT_ASKED;
	if (atomic_compare_exchange_strong(&m->bt_state, &asked, BT_IDLE)) {
		o->note = "no backtrace: its OS thread did not answer";
		return;
	}
	if (m->bt_g != g) {
		o->note = "no backtrace: it stopped running meanwhile";
	} else {
		unw_context_t uc;
		unw_cursor_t c;
		memset(&uc, 0, sizeof uc);
		GS_ARCH_BT_LOAD(&uc, m->bt_regs);
		if (unw_init_local2(&c, &uc, UNW_INIT_SIGNAL_FRAME) == 0)
			frames(o, &c);
	}
	atomic_store(&m->bt_state, BT_READ);	/* lets the thread go */
}

/* One G's line (text) or object up to its frames (JSON). */
static void g_head(struct out *o, struct g *g, int st, uint64_t now)
{
	/* Written by the G as it parks (gs.h): one snapshot of each. */
	const char *why = st == G_WAITING ? __atomic_load_n(&g->waitreason, __ATOMIC_RELAXED) : NULL;
	void *addr = __atomic_load_n(&g->waitaddr, __ATOMIC_RELAXED);
	uint64_t since = __atomic_load_n(&g->waitsince, __ATOMIC_RELAXED);
	int fd = why && (!strncmp(why, "fd ", 3) || !strcmp(why, "poll")) ? (int)(intptr_t)addr : -1;
	long long ms = why && since && now >= since ? (long long)((now - since) / 1000000) : -1;
	bool stack = g->stack_kind == STACK_GUARDED || g->stack_kind == STACK_PACKED;
	if (o->json) {
		put(o, "{\"id\": %d, \"state\": \"%s\", \"main\": %s, \"wait\": ", g->id, state(st),
		    g == gs_maing ? "true" : "false");
		if (why) {
			put(o, "{\"reason\": ");
			put_str(o, !strncmp(why, "fd ", 3) ? "fd" : why);
			if (!strncmp(why, "fd ", 3)) {
				put(o, ", \"direction\": ");
				put_str(o, why + 3);
			}
			if (fd >= 0)
				put(o, ", \"fd\": %d", fd);
			else if (addr)
				put(o, ", \"address\": \"%p\"", addr);
			if (ms >= 0)
				put(o, ", \"ms\": %lld", ms);
			put(o, "}");
		} else {
			put(o, "null");
		}
		if (g->m)
			put(o, ", \"m\": %d", g->m->id);
		else
			put(o, ", \"m\": null");
		if (stack)
			put(o, ", \"stack_committed\": %zu, \"stack_size\": %zu", gs_stack_committed(g),
			    (size_t)(g->stack_hi - g->stack_lo));
		else
			put(o, ", \"stack_committed\": null, \"stack_size\": null");
		put(o, ", \"frames\": [");
		return;
	}
	put(o, "G%d %s", g->id, state(st));
	if (why) {
		if (!strncmp(why, "fd ", 3))
			put(o, " on fd %d (%s)", fd, why + 3);
		else if (!strcmp(why, "poll"))
			put(o, " in poll, first fd %d", fd);
		else if (addr)
			put(o, " in %s %p", why, addr);
		else
			put(o, " in %s", why);
		if (ms >= 0)
			put(o, " for %lld ms", ms);
	}
	if (g->m)
		put(o, ", M%d", g->m->id);
	if (stack)
		put(o, ", stack %zu KiB of %zu KiB committed", gs_stack_committed(g) / 1024,
		    (size_t)(g->stack_hi - g->stack_lo) / 1024);
	put(o, "%s\n", g == gs_maing ? " (main)" : "");
}

/* The end of a G: what stood for its backtrace, if anything. */
static void g_tail(struct out *o)
{
	if (o->json) {
		put(o, "%s]", o->nframes ? "\n   " : "");
		put(o, ", \"syscall\": ");
		put(o, o->syscall >= 0 ? "%ld" : "null", o->syscall);
		put(o, ", \"note\": ");
		if (o->note)
			put_str(o, o->note);
		else
			put(o, "null");
		put(o, "}");
	} else if (o->syscall >= 0) {
		put(o, "    (in system call %ld)\n", o->syscall);
	} else if (o->note) {
		put(o, "    (%s)\n", o->note);
	}
}

/* In a handler the list's lock may be held by the code it interrupted: try,
 * and say so in o after a while. */
static bool lock_allg(struct out *o)
{
	int tries = 0;
	while (!gs_trylock(&gs_allg_lock)) {
		if (++tries > 1000000) {
			put(o, o->json ? "{\"error\": \"the thread list is busy\"}\n" :
			    "goshim: dump: the thread list is busy\n");
			return false;
		}
	}
	return true;
}

/* Every G but skip (the one serving a dump request), into o. */
static void dump_all(struct out *o, struct g *skip)
{
	struct m *self = gs_curm;
	struct g *me = self ? self->curg : NULL;
	gs_unwind_init();	/* before the all-G lock */
	if (!lock_allg(o))
		return;
	int n = 0;
	for (struct g *g = gs_allg; g; g = g->allnext)
		n += g != skip;
	if (o->json)
		put(o, "{\"pid\": %d, \"green_threads_count\": %d, \"os_threads\": %d, \"procs\": %d, "
		    "\"green_threads\": [", (int)getpid(), n, atomic_load(&gs_stats.threads), gs_cfg.procs);
	else
		put(o, "goshim: %d green threads on %d OS threads (GOSHIM_PROCS=%d)\n", n,
		    atomic_load(&gs_stats.threads), gs_cfg.procs);
	uint64_t now = gs_nanotime();	/* waits were stamped with gs_coarse_ns */
	int k = 0;
	for (struct g *g = gs_allg; g; g = g->allnext) {
		if (g == skip)
			continue;
		int st = atomic_load(&g->status);
		if (o->json)
			put(o, "%s\n  ", k ? "," : "");
		k++;
		o->nframes = 0;
		o->syscall = -1;
		o->note = NULL;
		g_head(o, g, st, now);
		if (g == me) {
			unw_context_t uc;
			unw_cursor_t c;
			unw_getcontext(&uc);
			if (unw_init_local(&c, &uc) == 0)
				frames(o, &c);
		} else if (st == G_WAITING || st == G_RUNNABLE) {
			parked_frames(o, g);
		} else if (st == G_RUNNING && g->m && g->m != self) {
			running_frames(o, g);
		}
		g_tail(o);
	}
	gs_unlock(&gs_allg_lock);
	if (o->json)
		put(o, "\n]}\n");
}

void gs_dump(int fd)
{
	struct out o = { .fd = fd };
	dump_all(&o, NULL);
	flush(&o);
}

/* The schedtrace figures, then the Gs (but skip) by state and wait reason
 * and their stacks: `goshim stat`. */
static void stat_all(struct out *o, struct g *skip, uint64_t uptime_ns)
{
	struct gs_sched_stat st;
	char rq[320];
	gs_sched_stat(&st, rq, sizeof rq, o->json ? ", " : " ");
	enum { NWHY = 32 };
	const char *why[NWHY];
	int nwhy[NWHY], nw = 0, nstate[G_DEAD + 1] = { 0 }, n = 0;
	size_t committed = 0, reserved = 0;
	enum { NBYM = 64 };	/* Gs by the M they last ran on: the load per M, one pass */
	int bym[NBYM + 1] = { 0 };
	if (!lock_allg(o))
		return;
	for (struct g *g = gs_allg; g; g = g->allnext) {
		if (g == skip)
			continue;
		n++;
		struct m *gm = __atomic_load_n(&g->m, __ATOMIC_RELAXED);
		if (gm)
			bym[gm->id < NBYM ? gm->id : NBYM]++;
		int s = atomic_load(&g->status);
		if (s >= 0 && s <= G_DEAD)
			nstate[s]++;
		const char *w = s == G_WAITING ? __atomic_load_n(&g->waitreason, __ATOMIC_RELAXED) : NULL;
		if (w) {
			int i = 0;
			while (i < nw && strcmp(why[i], w))
				i++;
			if (i == nw && nw < NWHY) {
				why[nw] = w;
				nwhy[nw++] = 0;
			}
			if (i < nw)
				nwhy[i]++;
		}
		if (g->stack_kind == STACK_GUARDED || g->stack_kind == STACK_PACKED) {
			committed += gs_stack_committed(g);
			reserved += (size_t)(g->stack_hi - g->stack_lo);
		}
	}
	gs_unlock(&gs_allg_lock);
	if (o->json) {
		put(o, "{\"pid\": %d, \"uptime_ms\": %llu, \"procs\": %d, \"threads\": %d, "
		    "\"idle_procs\": %d, \"global_runqueue\": %d, \"local_runqueues\": [%s], "
		    "\"green_threads\": %d, \"preempts\": %llu, \"handoffs\": %llu, \"states\": {",
		    (int)getpid(), (unsigned long long)(uptime_ns / 1000000), st.procs, st.threads,
		    st.idleprocs, st.runqueue, rq, n, st.preempts, st.handoffs);
		for (int s = 0; s < G_DEAD; s++)
			put(o, "%s\"%s\": %d", s ? ", " : "", state(s), nstate[s]);
		put(o, "}, \"waiting\": {");
		for (int i = 0; i < nw; i++) {
			put(o, "%s", i ? ", " : "");
			put_str(o, why[i]);
			put(o, ": %d", nwhy[i]);
		}
		put(o, "}, \"by_os_thread\": {");
		for (int i = 0, k = 0; i < NBYM; i++)
			if (bym[i])
				put(o, "%s\"M%d\": %d", k++ ? ", " : "", i, bym[i]);
		if (bym[NBYM])
			put(o, "%s\"other\": %d", n > bym[NBYM] ? ", " : "", bym[NBYM]);
		put(o, "}, \"stack_committed\": %zu, \"stack_reserved\": %zu}\n", committed, reserved);
		return;
	}
	put(o, "goshim: SCHED %llums: procs=%d threads=%d idleprocs=%d runqueue=%d gs=%d preempts=%llu "
	    "handoffs=%llu [%s]\n", (unsigned long long)(uptime_ns / 1000000), st.procs, st.threads,
	    st.idleprocs, st.runqueue, n, st.preempts, st.handoffs, rq);
	put(o, "goshim: green threads:");
	for (int s = 0; s < G_DEAD; s++)
		put(o, " %s=%d", state(s), nstate[s]);
	put(o, "; waiting in:");
	for (int i = 0; i < nw; i++)
		put(o, " %s=%d", why[i], nwhy[i]);
	put(o, "%s; stacks: %zu KiB committed of %zu KiB reserved\n", nw ? "" : " nothing",
	    committed / 1024, reserved / 1024);
	put(o, "goshim: by the OS thread they last ran on:");
	for (int i = 0; i < NBYM; i++)
		if (bym[i])
			put(o, " M%d:%d", i, bym[i]);
	if (bym[NBYM])
		put(o, " other:%d", bym[NBYM]);
	put(o, "\n");
}

static char *to_mem(struct out *o, size_t *len)
{
	flush(o);
	char *mem = o->mem;
	*len = o->mlen;
	if (o->lost) {
		free(mem);
		mem = NULL;
	}
	free(o);
	return mem;
}

static struct out *mem_out(bool json)
{
	struct out *o = calloc(1, sizeof *o);	/* its buffer is large for a G's stack */
	if (o) {
		o->fd = -1;
		o->json = json;
	}
	return o;
}

char *gs_dump_mem(bool json, struct g *skip, size_t *len)
{
	struct out *o = mem_out(json);
	if (!o)
		return NULL;
	dump_all(o, skip);
	return to_mem(o, len);
}

char *gs_stat_mem(bool json, struct g *skip, uint64_t uptime_ns, size_t *len)
{
	struct out *o = mem_out(json);
	if (!o)
		return NULL;
	stat_all(o, skip, uptime_ns);
	return to_mem(o, len);
}

/* In the handler the hooks the dump reaches (pthread_sigmask in libunwind,
 * ...) must act as for an outside caller: a preemption point there would
 * yield the interrupted G with the all-G lock held (a dump that sysmon found
 * running 10 ms under strace deadlocked so). */
static void on_dump_signal(int sig)
{
	int saved = errno;
	struct m *m = gs_curm;
	if (m)
		m->in_sched++;
	gs_dump(2);
	if (m)
		m->in_sched--;
	errno = saved;
}

/* GOSHIM_DUMP_SIGNAL: a signal number or name (QUIT, SIGUSR2, ...). */
void gs_dump_init(void)
{
	const char *s = getenv("GOSHIM_DUMP_SIGNAL");
	if (!s || !*s)
		return;
	int sig = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (!*end && v > 0 && v < NSIG)
		sig = (int)v;
	for (int i = 1; !sig && i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);
		const char *name = !strncmp(s, "SIG", 3) ? s + 3 : s;
		if (abbrev && !strcmp(abbrev, name))
			sig = i;
	}
	if (!sig || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV) {
		gs_printf("GOSHIM_DUMP_SIGNAL=%s: expected a signal name or number (e.g. QUIT, USR2, 3)", s);
		_exit(2);
	}
	struct sigaction sa = { .sa_handler = on_dump_signal, .sa_flags = SA_RESTART | SA_ONSTACK };
	sigemptyset(&sa.sa_mask);
	REAL(sigaction)(sig, &sa, NULL);
	gs_dump_sig = sig;
}
