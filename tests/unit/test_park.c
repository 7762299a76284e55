/* tests/unit/test_park.c: green parks and timers of sched/proc.c, with the
 * scheduler running.
 *
 * Each test starts the runtime in its own process (Check forks one per test):
 * gs_init() makes main G 1 on M0, as the library's constructor does, with
 * GOSHIM_PROCS=1 so that a G runs only when main parks or yields, and no dump
 * socket. Gs are started with gs_spawn and park with gs_park_prepare/gs_park
 * themselves. Nothing is asserted about durations: main waits for a state (a G
 * parked, a count reached) by yielding until it holds, within a bound of
 * yields; a time is only ever compared with a deadline it must not precede.
 *
 * Covered: gs_ready wins only against the park it was meant for (an earlier or
 * later seq, or a second ready of the same one, is refused and leaves the G
 * parked); gs_park_cancel before and after a ready; a timer of an earlier wait
 * (gs_g_timer_add with an old seq) never wakes a later park; gs_g_timer_del
 * removes a G's entry; sleeps end at or after their deadlines and in deadline
 * order whatever order they were started in; gs_interrupt ends an
 * interruptible park (-EINTR) and leaves a non-interruptible one parked. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gs.h"

#define MS 1000000ull
#define BOUND 1000000	/* yields before a wait for a state gives up */

static void rt_start(void)
{
	setenv("GOSHIM_PROCS", "1", 1);
	setenv("GOSHIM_DUMP_SOCKET", "0", 1);
	gs_init();
	ck_assert_ptr_nonnull(gs_self());
	ck_assert_ptr_eq(gs_self(), gs_maing);
}

static struct g *spawn(void *(*fn)(void *), void *arg)
{
	struct g *g = NULL;
	ck_assert_int_eq(gs_spawn(&g, fn, arg, 0, 4096, NULL, 1, &gs_self()->sched), 0);
	return g;
}

/* Yields until *flag reaches want (main runs the others meanwhile). */
static void until(_Atomic int *flag, int want)
{
	for (int i = 0; i < BOUND && atomic_load(flag) < want; i++)
		gs_yield();
	ck_assert_int_ge(atomic_load(flag), want);
}

static bool parked(struct g *g, uint64_t seq)
{
	return atomic_load(&g->parkword) == ((seq << 1) | PARK_WAITING) &&
	       atomic_load(&g->status) == G_WAITING;
}

/* A G that parks once (seq published in park_seq), then counts its wake-up. */
static _Atomic int stage;
static _Atomic uint64_t park_seq;

static void *parker(void *arg)
{
	struct g *self = gs_self();
	uint64_t seq = gs_park_prepare(self, "test", NULL);
	atomic_store(&park_seq, seq);
	atomic_store(&stage, 1);
	gs_park(self);
	atomic_store(&stage, 2);
	return arg;
}

START_TEST(park_stale_seq)
{
	rt_start();
	struct g *g = spawn(parker, NULL);
	until(&stage, 1);
	for (int i = 0; i < 100; i++)
		gs_yield();	/* it has parked: nothing wakes it */
	uint64_t seq = atomic_load(&park_seq);
	ck_assert(parked(g, seq));
	ck_assert_int_eq(atomic_load(&stage), 1);
	/* Readies of other parks: refused, the G stays parked. */
	ck_assert(!gs_ready(g, seq - 1));
	ck_assert(!gs_ready(g, seq + 1));
	ck_assert(!gs_ready(g, 0));
	for (int i = 0; i < 100; i++)
		gs_yield();
	ck_assert(parked(g, seq));
	ck_assert_int_eq(atomic_load(&stage), 1);
	/* Its own: accepted once. */
	ck_assert(gs_ready(g, seq));
	ck_assert(!gs_ready(g, seq));
	until(&stage, 2);
}
END_TEST

START_TEST(park_cancel)
{
	rt_start();
	struct g *self = gs_self();
	/* Withdrawn before anyone readies it: a later ready of it is refused. */
	uint64_t s1 = gs_park_prepare(self, "test", NULL);
	ck_assert(gs_park_cancel(self, s1));
	ck_assert(!gs_ready(self, s1));
	ck_assert_uint_eq(atomic_load(&self->parkword) & PARK_WAITING, 0);
	/* Readied before it parked: the cancel fails and the park returns at once
	 * (consuming that wake-up), with the next seq. */
	uint64_t s2 = gs_park_prepare(self, "test", NULL);
	ck_assert_uint_eq(s2, s1 + 1);
	ck_assert(gs_ready(self, s2));
	ck_assert(!gs_park_cancel(self, s2));
	gs_park(self);
	ck_assert_uint_eq(atomic_load(&self->parkword), s2 << 1);
	ck_assert_int_eq(atomic_load(&self->status), G_RUNNING);
}
END_TEST

/* A timer of an earlier wait does not wake a later one. */
static void *two_parks(void *arg)
{
	struct g *self = gs_self();
	uint64_t s1 = gs_park_prepare(self, "first", NULL);
	ck_assert_int_eq(gs_g_timer_add(self, gs_nanotime() + 5 * MS, s1), 0);
	atomic_store(&park_seq, s1);
	atomic_store(&stage, 1);
	gs_park(self);		/* readied by main at once, before its timer */
	/* The entry is left in place (no gs_g_timer_del): the stale timer. */
	uint64_t s2 = gs_park_prepare(self, "second", NULL);
	atomic_store(&park_seq, s2);
	atomic_store(&stage, 2);
	gs_park(self);		/* only main's ready of s2 ends it */
	atomic_store(&stage, 3);
	gs_g_timer_del(self);
	return arg;
}

START_TEST(timer_stale)
{
	rt_start();
	struct g *g = spawn(two_parks, NULL);
	until(&stage, 1);
	uint64_t s1 = atomic_load(&park_seq);
	ck_assert(gs_ready(g, s1));
	until(&stage, 2);
	uint64_t s2 = atomic_load(&park_seq);
	ck_assert_uint_eq(s2, s1 + 1);
	ck_assert_ptr_nonnull(atomic_load(&g->timer_m));	/* the old entry is still there */
	/* Main sleeps past the old timer's deadline: that timer fires (readying
	 * s1) and must not end park s2. */
	uint64_t t = gs_nanotime() + 20 * MS;
	ck_assert_int_eq(gs_sleep_until(t), 0);
	ck_assert_uint_ge(gs_nanotime(), t);
	for (int i = 0; i < 100; i++)
		gs_yield();
	ck_assert(parked(g, s2));
	ck_assert_int_eq(atomic_load(&stage), 2);
	ck_assert_uint_eq(g->timer_i, 0);	/* its entry was popped when it fired */
	ck_assert(gs_ready(g, s2));
	until(&stage, 3);
}
END_TEST

/* gs_g_timer_add/del: a deleted entry never fires; the M's heap empties. */
static void *timer_del_g(void *arg)
{
	struct g *self = gs_self();
	uint64_t s = gs_park_prepare(self, "deleted timer", NULL);
	ck_assert_int_eq(gs_g_timer_add(self, gs_nanotime() + 5 * MS, s), 0);
	ck_assert_ptr_eq(atomic_load(&self->timer_m), self->m);
	ck_assert_uint_ne(self->timer_i, 0);
	gs_g_timer_del(self);
	ck_assert_ptr_null(atomic_load(&self->timer_m));
	ck_assert_uint_eq(self->timer_i, 0);
	atomic_store(&park_seq, s);
	atomic_store(&stage, 1);
	gs_park(self);		/* no timer: main's ready ends it */
	atomic_store(&stage, 2);
	return arg;
}

START_TEST(timer_del)
{
	rt_start();
	struct g *g = spawn(timer_del_g, NULL);
	until(&stage, 1);
	uint64_t t = gs_nanotime() + 20 * MS;
	ck_assert_int_eq(gs_sleep_until(t), 0);	/* past the deleted entry's deadline */
	for (int i = 0; i < 100; i++)
		gs_yield();
	ck_assert(parked(g, atomic_load(&park_seq)));
	ck_assert_uint_eq(gs_maing->m->timers.n, 0);
	ck_assert(gs_ready(g, atomic_load(&park_seq)));
	until(&stage, 2);
}
END_TEST

/* Sleeps started in a scrambled order end in deadline order, none early. */
#define NSLEEP 8
static uint64_t base;
static _Atomic int woke, order[NSLEEP];
static uint64_t woke_at[NSLEEP];
static const int delay_ms[NSLEEP] = { 35, 5, 25, 15, 40, 10, 30, 20 };

static void *sleeper(void *arg)
{
	int i = (int)(intptr_t)arg;
	ck_assert_int_eq(gs_sleep_until(base + (uint64_t)delay_ms[i] * MS), 0);
	woke_at[i] = gs_nanotime();
	atomic_store(&order[atomic_fetch_add(&woke, 1)], i);
	return NULL;
}

START_TEST(timer_order)
{
	rt_start();
	base = gs_nanotime() + 50 * MS;	/* all are asleep long before the first is due */
	for (int i = 0; i < NSLEEP; i++)
		spawn(sleeper, (void *)(intptr_t)i);
	ck_assert_int_eq(gs_sleep_until(base + 100 * MS), 0);
	until(&woke, NSLEEP);
	for (int k = 0; k < NSLEEP; k++) {
		int i = atomic_load(&order[k]);
		ck_assert_uint_ge(woke_at[i], base + (uint64_t)delay_ms[i] * MS);
		if (k > 0)
			ck_assert_int_lt(delay_ms[atomic_load(&order[k - 1])], delay_ms[i]);
	}
}
END_TEST

/* gs_interrupt: ends an interruptible sleep with -EINTR (its timer deleted),
 * not a plain park. */
static _Atomic int sleep_r = 1;

static void *long_sleeper(void *arg)
{
	atomic_store(&stage, 1);
	atomic_store(&sleep_r, gs_sleep_until(gs_nanotime() + 3600 * 1000 * MS));
	ck_assert_ptr_null(atomic_load(&gs_self()->timer_m));
	atomic_store(&stage, 2);
	return arg;
}

START_TEST(interrupt_sleep)
{
	rt_start();
	struct g *g = spawn(long_sleeper, NULL);
	until(&stage, 1);
	for (int i = 0; i < 100; i++)
		gs_yield();
	uint64_t w = atomic_load(&g->parkword);
	ck_assert_uint_eq(w & PARK_WAITING, PARK_WAITING);
	ck_assert_int_eq(g->interruptible, GS_INTR_ALWAYS);
	gs_interrupt(g);
	until(&stage, 2);
	ck_assert_int_eq(atomic_load(&sleep_r), -EINTR);
}
END_TEST

START_TEST(interrupt_plain_park)
{
	rt_start();
	struct g *g = spawn(parker, NULL);
	until(&stage, 1);
	for (int i = 0; i < 100; i++)
		gs_yield();
	uint64_t seq = atomic_load(&park_seq);
	ck_assert(parked(g, seq));
	ck_assert_int_eq(g->interruptible, 0);
	gs_interrupt(g);	/* not interruptible: no effect */
	for (int i = 0; i < 100; i++)
		gs_yield();
	ck_assert(parked(g, seq));
	ck_assert_int_eq(atomic_load(&g->interrupted), 0);
	ck_assert(gs_ready(g, seq));
	until(&stage, 2);
}
END_TEST

static Suite *park_suite(void)
{
	Suite *s = suite_create("park");
	TCase *tc = tcase_create("park");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, park_stale_seq);
	tcase_add_test(tc, park_cancel);
	tcase_add_test(tc, timer_stale);
	tcase_add_test(tc, timer_del);
	tcase_add_test(tc, timer_order);
	tcase_add_test(tc, interrupt_sleep);
	tcase_add_test(tc, interrupt_plain_park);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(park_suite());
	srunner_set_fork_status(sr, CK_FORK);	/* one process per test: gs_init() once each */
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, normal by default */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
