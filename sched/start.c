/* sched/start.c: start-up (settings from the environment, main's M and G).
 * A forked child's rebuild is fork.c's. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"
#include "netpoll.h"
#include "sync.h"
#include "proc.h"

static int parse_env_int(const char *name, long lo, long hi, long *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		gs_printf("%s=%s: expected an integer from %ld to %ld", name, s, lo, hi);
		_exit(2);
	}
	*out = v;
	return 1;
}

static void parse_env_size(const char *name, size_t *out)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	if (errno || *end || v == 0 || v > (1ull << 40) / mul || v * mul < 16384) {
		gs_printf("%s=%s: expected a stack size of at least 16K, as bytes or with a K or M suffix",
			  name, s);
		_exit(2);
	}
	*out = (size_t)(v * mul);
}

/* GOSHIM_DEBUG=key=value,...: schedtrace=MS, scheddetail=0|1,
 * asyncpreemptoff=0|1, guardmarkers=0|1, pinned=0|1, move=0|1. */
static void parse_debug(void)
{
	const char *s = getenv("GOSHIM_DEBUG");
	if (!s || !*s)
		return;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		char *end = NULL;
		long v = -1;
		if (eq) {
			*eq = 0;
			errno = 0;
			v = strtol(eq + 1, &end, 10);
			if (errno || *end || end == eq + 1)
				v = -1;
		}
		if (!strcmp(kv, "schedtrace") && v >= 0 && v <= 3600000) {
			gs_cfg.schedtrace = (int)v;
		} else if (!strcmp(kv, "scheddetail") && (v == 0 || v == 1)) {
			gs_cfg.scheddetail = (int)v;
		} else if (!strcmp(kv, "asyncpreemptoff") && (v == 0 || v == 1)) {
			gs_cfg.asyncpreemptoff = (int)v;
		} else if (!strcmp(kv, "guardmarkers") && (v == 0 || v == 1)) {
			gs_cfg.noguardmarkers = !v;
		} else if (!strcmp(kv, "pinned") && (v == 0 || v == 1)) {
			gs_cfg.pinned = (int)v;
		} else if (!strcmp(kv, "move") && (v == 0 || v == 1)) {
			gs_cfg.move = (int)v;
		} else {
			gs_printf("GOSHIM_DEBUG=%s: expected schedtrace=MILLISECONDS, scheddetail=0|1, "
				  "asyncpreemptoff=0|1, guardmarkers=0|1, pinned=0|1 or move=0|1, separated by commas", s);
			_exit(2);
		}
	}
}

static void read_comm(char *name)
{
	FILE *f = fopen("/proc/self/comm", "re");
	if (f) {
		if (fgets(name, 16, f))
			name[strcspn(name, "\n")] = 0;
		fclose(f);
	}
}

void gs_init(void)
{
	static _Atomic int once;
	if (atomic_exchange(&once, 1))
		return;
	cpu_set_t set;
	long procs = 1;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		procs = CPU_COUNT(&set);
	parse_env_int("GOSHIM_PROCS", 1, 1024, &procs);
	gs_cfg.procs = (int)procs;
	gs_cfg.move = -1;	/* unset: moving where the thread pointer allows it */
	long maxthreads = 10000;
	if (maxthreads < procs)
		maxthreads = procs;
	parse_env_int("GOSHIM_MAXTHREADS", procs, 1000000, &maxthreads);
	gs_cfg.maxthreads = (int)maxthreads;
	parse_env_size("GOSHIM_STACK", &gs_cfg.stack);
	parse_debug();

	gs_stack_init();
	gs_tls_init();
	/* Started Gs move wherever a G has its own thread pointer, unless
	 * GOSHIM_DEBUG=move=0 keeps them on their first OS thread (tp mode). */
	gs_move = gs_tls_tp && gs_cfg.move != 0;
	gs_dump_init();
	read_comm(gs_main_name);

	/* Slots for every M there may be; untouched ones cost no memory.
	 * Under a tight RLIMIT_AS or strict overcommit, fewer slots rather than
	 * none (the table is about 2.7 KiB a slot). */
	for (;;) {
		gs_allm = mmap(NULL, (size_t)gs_cfg.maxthreads * sizeof *gs_allm, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (gs_allm != MAP_FAILED || gs_cfg.maxthreads <= gs_cfg.procs + 4)
			break;
		gs_cfg.maxthreads = gs_cfg.maxthreads / 2 > gs_cfg.procs + 4 ?
				    gs_cfg.maxthreads / 2 : gs_cfg.procs + 4;
	}
	if (gs_allm == MAP_FAILED) {	/* no memory at all: a small static table */
		static struct m allm_spare[16];
		gs_allm = allm_spare;
		gs_cfg.maxthreads = 16;
		if (gs_cfg.procs > 12)
			gs_cfg.procs = 12;
		gs_printf("out of memory at start-up: at most %d OS threads, GOSHIM_PROCS=%d",
			  gs_cfg.maxthreads, gs_cfg.procs);
	}
	struct m *m0 = gs_m0_init();
	gs_preempt_init();
	/* Out of memory this early, main's scheduler stack is a static one: the
	 * program would have run natively, so it runs here too. */
	static char g0_spare[G0_STACK] __attribute__((aligned(64)));
	void *g0 = mmap(NULL, G0_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (g0 == MAP_FAILED)
		g0 = g0_spare;
	gs_ctx_make(&m0->g0, (char *)g0 + G0_STACK, gs_g0_entry, m0);

	/* main() becomes G 1, on the native main stack. */
	struct g *mg = gs_new_g();
	if (!mg)
		gs_throw("out of memory at start-up");
	pthread_attr_t a;
	void *lo = NULL;
	size_t sz = 0;
	if (REAL(pthread_getattr_np)(REAL(pthread_self)(), &a) == 0) {
		pthread_attr_getstack(&a, &lo, &sz);
		pthread_attr_destroy(&a);
	}
	mg->stack_lo = lo;
	mg->stack_hi = (char *)lo + sz;
	mg->stack_kind = STACK_MAIN;
	mg->m = m0;
	mg->tp = gs_tls_tp ? m0->tp : NULL;	/* the main thread's own block */
	mg->dtv = m0->dtv_share ? NULL : m0->own_dtv;	/* main's own either way */
	memcpy(mg->name, gs_main_name, sizeof mg->name);
	REAL(pthread_sigmask)(SIG_SETMASK, NULL, &mg->sigmask);
	gs_sig_apply(m0, &mg->sigmask);
	struct sched_param sp;
	if (REAL(pthread_getschedparam)(REAL(pthread_self)(), &mg->sched.policy, &sp) == 0)
		mg->sched.prio = sp.sched_priority;
	gs_sched_note(mg->sched.policy);
	atomic_store(&mg->status, G_RUNNING);
	atomic_store(&mg->joinstate, J_JOINABLE);
	__atomic_store_n(&m0->curg, mg, __ATOMIC_RELAXED);
	m0->tls_owner = mg;
	gs_maing = mg;
	gs_sig_g_start(mg);
	gs_allg_add(mg);
	atomic_store(&gs_stats.live_gs, 1);
	atomic_store(&gs_started, 1);
	(void)gs_nanotime();	/* resolves libc's clock_gettime here, not in a handler (timer.c) */
	gs_dumpsock_init();
}
