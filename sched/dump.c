/* sched/dump.c: a dump of every green thread, on a signal the user names
 * (GOSHIM_DUMP_SIGNAL) and on a fatal runtime error: id, state, what it waits
 * on, its OS thread, committed stack, and a symbolised backtrace (libunwind).
 * A parked G's backtrace starts from its saved registers: the resume address
 * sits at the saved stack pointer (arch/x86_64/switch.S). For a G running on
 * another OS thread: if that thread is in a system call (its
 * /proc/self/task/TID/syscall), the call's number; otherwise the preemption
 * signal, with a cookie of its own, interrupts it, and its handler
 * (gs_dump_hold) publishes the interrupted registers and holds the thread
 * until the backtrace has been read from its still stack, here.
 *
 * Written with write(2) from a fixed buffer: it may run in a signal handler. */
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
	int fd;
	char buf[4096];
	size_t n;
};

static void flush(struct out *o)
{
	size_t off = 0;
	while (off < o->n) {
		ssize_t r = write(o->fd, o->buf + off, o->n - off);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
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
		if (n->ok)
			put(o, "    %#lx %s+%#lx\n", (unsigned long)ip, n->name, (unsigned long)n->off);
		else
			put(o, "    %#lx ?\n", (unsigned long)ip);
		if (unw_step(c) <= 0)
			break;
	}
}

/* Backtrace of a G that is not running: from its saved registers. */
static void parked_frames(struct out *o, struct g *g)
{
	unw_context_t uc;
	memset(&uc, 0, sizeof uc);
	uint64_t *sp = g->ctx.rsp;
	if (!sp)
		return;
	uc.uc_mcontext.gregs[REG_RIP] = (greg_t)sp[0];
	uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(sp + 1);
	uc.uc_mcontext.gregs[REG_RBP] = (greg_t)g->ctx.rbp;
	uc.uc_mcontext.gregs[REG_RBX] = (greg_t)g->ctx.rbx;
	uc.uc_mcontext.gregs[REG_R12] = (greg_t)g->ctx.r12;
	uc.uc_mcontext.gregs[REG_R13] = (greg_t)g->ctx.r13;
	uc.uc_mcontext.gregs[REG_R14] = (greg_t)g->ctx.r14;
	uc.uc_mcontext.gregs[REG_R15] = (greg_t)g->ctx.r15;
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

_Static_assert(sizeof(gregset_t) <= sizeof(((struct m *)0)->bt_regs), "bt_regs holds a gregset_t");

/* In the preemption signal's handler on m, for a dump on another thread. */
void gs_dump_hold(struct m *m, void *uc)
{
	if (atomic_load(&m->bt_state) != BT_ASKED)
		return;		/* the dump gave up */
	memcpy(m->bt_regs, ((ucontext_t *)uc)->uc_mcontext.gregs, sizeof(gregset_t));
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
		put(o, "    (in system call %ld)\n", nr);
		return;
	}
	if (!gs_preempt_sig) {
		put(o, "    (no backtrace: asyncpreemptoff=1)\n");
		return;
	}
	int idle = BT_IDLE;
	if (!atomic_compare_exchange_strong(&m->bt_state, &idle, BT_ASKED)) {
		put(o, "    (no backtrace: another dump is reading it)\n");
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
		put(o, "    (no backtrace: its OS thread did not answer)\n");
		return;
	}
	if (m->bt_g != g) {
		put(o, "    (no backtrace: it stopped running meanwhile)\n");
	} else {
		unw_context_t uc;
		unw_cursor_t c;
		memset(&uc, 0, sizeof uc);
		memcpy(uc.uc_mcontext.gregs, m->bt_regs, sizeof(gregset_t));
		if (unw_init_local2(&c, &uc, UNW_INIT_SIGNAL_FRAME) == 0)
			frames(o, &c);
	}
	atomic_store(&m->bt_state, BT_READ);	/* lets the thread go */
}

void gs_dump(int fd)
{
	struct out o = { .fd = fd };
	struct m *self = gs_curm;
	struct g *me = self ? self->curg : NULL;
	/* In a handler the list's lock may be held by the code it interrupted. */
	int tries = 0;
	uint32_t z = 0;
	while (!atomic_compare_exchange_weak(&gs_allg_lock.v, &z, 1)) {
		z = 0;
		if (++tries > 1000000) {
			put(&o, "goshim: dump: the thread list is busy\n");
			flush(&o);
			return;
		}
	}
	int n = 0;
	for (struct g *g = gs_allg; g; g = g->allnext)
		n++;
	put(&o, "goshim: %d green threads on %d OS threads (GOSHIM_PROCS=%d)\n", n,
	    atomic_load(&gs_stats.threads), gs_cfg.procs);
	uint64_t now = gs_nanotime();	/* waits were stamped with gs_coarse_ns */
	for (struct g *g = gs_allg; g; g = g->allnext) {
		int st = atomic_load(&g->status);
		put(&o, "G%d %s", g->id, state(st));
		if (st == G_WAITING && g->waitreason) {
			const char *why = g->waitreason;
			if (!strncmp(why, "fd ", 3))
				put(&o, " on fd %d (%s)", (int)(intptr_t)g->waitaddr, why + 3);
			else if (!strcmp(why, "poll"))
				put(&o, " in poll, first fd %d", (int)(intptr_t)g->waitaddr);
			else if (g->waitaddr)
				put(&o, " in %s %p", why, g->waitaddr);
			else
				put(&o, " in %s", why);
			if (g->waitsince && now >= g->waitsince)
				put(&o, " for %llu ms", (unsigned long long)((now - g->waitsince) / 1000000));
		}
		if (g->m)
			put(&o, ", M%d", g->m->id);
		if (g->stack_kind == STACK_GUARDED || g->stack_kind == STACK_PACKED)
			put(&o, ", stack %zu KiB of %zu KiB committed", gs_stack_committed(g) / 1024,
			    (size_t)(g->stack_hi - g->stack_lo) / 1024);
		put(&o, "%s\n", g == gs_maing ? " (main)" : "");
		if (g == me) {
			unw_context_t uc;
			unw_cursor_t c;
			unw_getcontext(&uc);
			if (unw_init_local(&c, &uc) == 0)
				frames(&o, &c);
		} else if (st == G_WAITING || st == G_RUNNABLE) {
			parked_frames(&o, g);
		} else if (st == G_RUNNING && g->m && g->m != self) {
			running_frames(&o, g);
		}
	}
	gs_unlock(&gs_allg_lock);
	flush(&o);
}

static void on_dump_signal(int sig)
{
	int saved = errno;
	gs_dump(2);
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
