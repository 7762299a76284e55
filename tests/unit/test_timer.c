/* tests/unit/test_timer.c: the timer heap and the clocks of sched/timer.c.
 *
 * The heap is checked against a plain array of the pending deadlines with a
 * fixed-seed generator, so a failure repeats. Clock tests assert orderings
 * that hold whatever the machine's load, never durations. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "gs.h"

#define NS 1000000000ull

/* A small fixed-seed generator (xorshift64*), the same on every libc. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

/* Fake Gs: timer entries carry a G pointer that the heap must not touch. */
static struct g fake[8];

static void timers_free(struct gs_timers *t)
{
	free(t->v);
	memset(t, 0, sizeof *t);
}

START_TEST(timer_empty)
{
	struct gs_timers t = { 0 };
	struct gs_timer out;
	ck_assert_uint_eq(gs_timer_next(&t), UINT64_MAX);
	ck_assert(!gs_timer_pop_due(&t, 0, &out));
	ck_assert(!gs_timer_pop_due(&t, UINT64_MAX, &out));
	ck_assert_int_eq(gs_timer_add(&t, 42, &fake[1], 7), 0);
	ck_assert_uint_eq(gs_timer_next(&t), 42);
	ck_assert(!gs_timer_pop_due(&t, 41, &out));
	ck_assert(gs_timer_pop_due(&t, 42, &out));
	ck_assert_uint_eq(out.when, 42);
	ck_assert_ptr_eq(out.g, &fake[1]);
	ck_assert_uint_eq(out.seq, 7);
	ck_assert(!gs_timer_pop_due(&t, UINT64_MAX, &out));
	ck_assert_uint_eq(gs_timer_next(&t), UINT64_MAX);
	timers_free(&t);
}
END_TEST

#define NRAND 20000

/* Random deadlines, popped as a clock advances in random steps: pops come out
 * in non-decreasing order, only those due, each once, all in the end. */
START_TEST(timer_random)
{
	struct gs_timers t = { 0 };
	static uint64_t when[NRAND];
	static int popped[NRAND];
	uint64_t min = UINT64_MAX;
	for (int i = 0; i < NRAND; i++) {
		when[i] = 1 + rnd() % 1000000;
		min = when[i] < min ? when[i] : min;
		ck_assert_int_eq(gs_timer_add(&t, when[i], &fake[i % 8], (uint64_t)i), 0);
		ck_assert_uint_eq(gs_timer_next(&t), min);
	}
	ck_assert_uint_eq(t.n, NRAND);
	uint64_t now = 0, prev = 0;
	int n = 0;
	while (n < NRAND) {
		struct gs_timer out;
		while (gs_timer_pop_due(&t, now, &out)) {
			ck_assert_uint_le(out.when, now);
			ck_assert_uint_ge(out.when, prev);
			ck_assert_uint_lt(out.seq, NRAND);
			ck_assert_uint_eq(out.when, when[out.seq]);
			ck_assert_ptr_eq(out.g, &fake[out.seq % 8]);
			ck_assert_int_eq(popped[out.seq]++, 0);
			prev = out.when;
			n++;
		}
		/* Nothing due is left behind. */
		ck_assert_uint_gt(gs_timer_next(&t), now);
		now += rnd() % 200;
	}
	for (int i = 0; i < NRAND; i++)
		ck_assert_int_eq(popped[i], 1);
	ck_assert_uint_eq(gs_timer_next(&t), UINT64_MAX);
	timers_free(&t);
}
END_TEST

/* Adds and pops interleaved, against a reference array of pending entries. */
START_TEST(timer_interleaved)
{
	struct gs_timers t = { 0 };
	enum { OPS = 50000, MAXP = 4096 };
	static uint64_t pend[MAXP];	/* reference: pending deadlines, unordered */
	int np = 0;
	uint64_t now = 0, seq = 0;
	for (int op = 0; op < OPS; op++) {
		if (np < MAXP && (np == 0 || rnd() % 3 != 0)) {
			uint64_t w = now + rnd() % 5000;
			ck_assert_int_eq(gs_timer_add(&t, w, &fake[0], seq++), 0);
			pend[np++] = w;
		} else {
			now += rnd() % 300;
			struct gs_timer out;
			while (gs_timer_pop_due(&t, now, &out)) {
				int k = -1;
				for (int i = 0; i < np; i++)	/* out must be a minimum */
					if (k < 0 || pend[i] < pend[k])
						k = i;
				ck_assert_int_ge(k, 0);
				ck_assert_uint_eq(out.when, pend[k]);
				ck_assert_uint_le(out.when, now);
				pend[k] = pend[--np];
			}
		}
		uint64_t min = UINT64_MAX;
		for (int i = 0; i < np; i++)
			min = pend[i] < min ? pend[i] : min;
		ck_assert_uint_eq(gs_timer_next(&t), min);
		ck_assert_uint_eq(t.n, np);
	}
	timers_free(&t);
}
END_TEST

START_TEST(timer_equal_deadlines)
{
	struct gs_timers t = { 0 };
	enum { N = 300 };
	static int popped[N];
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(gs_timer_add(&t, 5, &fake[2], (uint64_t)i), 0);
	ck_assert_int_eq(gs_timer_add(&t, 6, &fake[3], N), 0);
	ck_assert_uint_eq(gs_timer_next(&t), 5);
	struct gs_timer out;
	ck_assert(!gs_timer_pop_due(&t, 4, &out));
	int n = 0;
	while (gs_timer_pop_due(&t, 5, &out)) {
		ck_assert_uint_eq(out.when, 5);
		ck_assert_ptr_eq(out.g, &fake[2]);
		ck_assert_uint_lt(out.seq, N);
		ck_assert_int_eq(popped[out.seq]++, 0);
		n++;
	}
	ck_assert_int_eq(n, N);
	ck_assert_uint_eq(gs_timer_next(&t), 6);
	ck_assert(gs_timer_pop_due(&t, 6, &out));
	ck_assert_uint_eq(out.seq, N);
	ck_assert_uint_eq(gs_timer_next(&t), UINT64_MAX);
	timers_free(&t);
}
END_TEST

/* The heap starts at 64 entries and doubles; entries survive each growth. */
START_TEST(timer_growth)
{
	struct gs_timers t = { 0 };
	enum { N = 1000 };
	for (int i = 0; i < N; i++) {
		/* Descending: every add sifts to the root across the growths. */
		ck_assert_int_eq(gs_timer_add(&t, (uint64_t)(N - i), &fake[0], (uint64_t)i), 0);
		ck_assert_uint_eq(t.n, i + 1);
		ck_assert_uint_ge(t.cap, t.n);
		ck_assert_uint_eq(gs_timer_next(&t), N - i);
		if (i == 63)
			ck_assert_uint_eq(t.cap, 64);
		if (i == 64)
			ck_assert_uint_gt(t.cap, 64);
	}
	struct gs_timer out;
	for (int i = 1; i <= N; i++) {
		ck_assert(gs_timer_pop_due(&t, UINT64_MAX, &out));
		ck_assert_uint_eq(out.when, i);
		ck_assert_uint_eq(out.seq, N - i);
	}
	ck_assert(!gs_timer_pop_due(&t, UINT64_MAX, &out));
	/* Reused after draining. */
	ck_assert_int_eq(gs_timer_add(&t, 9, &fake[0], 1), 0);
	ck_assert_uint_eq(gs_timer_next(&t), 9);
	timers_free(&t);
}
END_TEST

/* Waits that end early take their entry out (gs_timer_del): random adds (one
 * entry per G, as in the runtime), deletes and pops against a reference of who
 * is pending; the heap holds exactly the pending Gs, and each G's index is
 * right after every operation. */
START_TEST(timer_del_early)
{
	enum { NG = 512, OPS = 60000 };
	static struct g gs[NG];
	static uint64_t when[NG];	/* 0: not pending */
	struct gs_timers t = { 0 };
	uint64_t now = 0;
	int np = 0;
	for (int op = 0; op < OPS; op++) {
		int k = (int)(rnd() % NG);
		unsigned what = (unsigned)(rnd() % 4);
		if (!when[k] && what < 2) {
			when[k] = now + 1 + rnd() % 1000;
			ck_assert_int_eq(gs_timer_add(&t, when[k], &gs[k], (uint64_t)op), 0);
			np++;
		} else if (what == 2) {
			gs_timer_del(&t, &gs[k]);	/* also when not pending: no-op */
			if (when[k])
				np--;
			when[k] = 0;
			ck_assert_uint_eq(gs[k].timer_i, 0);
		} else {
			now += rnd() % 50;
			struct gs_timer out;
			while (gs_timer_pop_due(&t, now, &out)) {
				int j = (int)(out.g - gs);
				ck_assert_int_ge(j, 0);
				ck_assert_uint_eq(out.when, when[j]);
				ck_assert_uint_le(out.when, now);
				ck_assert_uint_eq(out.g->timer_i, 0);
				when[j] = 0;
				np--;
			}
		}
		ck_assert_uint_eq(t.n, np);
		uint64_t min = UINT64_MAX;
		for (int j = 0; j < NG; j++)
			if (when[j] && when[j] < min)
				min = when[j];
		ck_assert_uint_eq(gs_timer_next(&t), min);
		if (op % 97 == 0)
			for (size_t i = 0; i < t.n; i++)
				ck_assert_uint_eq(t.v[i].g->timer_i, i + 1);
	}
	timers_free(&t);
}
END_TEST

/* ---- clocks ---- */

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NS), .tv_nsec = (long)(ns % NS) };
}

static uint64_t ns_of(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * NS + (uint64_t)ts->tv_nsec;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ns_of(&ts);
}

START_TEST(nanotime_monotonic)
{
	uint64_t a = clock_ns(CLOCK_MONOTONIC);
	uint64_t b = gs_nanotime();
	uint64_t c = gs_nanotime();
	uint64_t d = clock_ns(CLOCK_MONOTONIC);
	ck_assert_uint_le(a, b);
	ck_assert_uint_le(b, c);
	ck_assert_uint_le(c, d);
}
END_TEST

/* A deadline already past means now: between two readings of the clock, and
 * never 0 (0 means "no deadline" to gs_futex_wait). */
static void check_past(clockid_t clock, struct timespec abs)
{
	uint64_t before = gs_nanotime();
	uint64_t r = gs_deadline(clock, &abs);
	uint64_t after = gs_nanotime();
	ck_assert_uint_ne(r, 0);
	ck_assert_uint_ge(r, before);
	ck_assert_uint_le(r, after);
}

START_TEST(deadline_past)
{
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC };
	for (int i = 0; i < 2; i++) {
		clockid_t c = clocks[i];
		uint64_t now = clock_ns(c);
		check_past(c, ts_of(now - 1));			/* just past */
		check_past(c, ts_of(now - 3 * NS - 1));		/* seconds ago, nsec borrow */
		check_past(c, ts_of(now - now % NS - 1));	/* tv_nsec 999999999 */
		check_past(c, (struct timespec){ 0, 0 });	/* the epoch */
		check_past(c, (struct timespec){ 0, 999999999 });
		check_past(c, ts_of(now - (now > 1000 * NS ? 1000 * NS : now)));
	}
}
END_TEST

/* CLOCK_MONOTONIC is the clock of the result: the conversion is exact up to
 * the time the call itself takes. */
START_TEST(deadline_future_monotonic)
{
	static const uint64_t ahead[] = { 1, 999, NS - 1, NS, 5 * NS + 999999999, 3600 * NS };
	for (unsigned i = 0; i < sizeof ahead / sizeof ahead[0]; i++) {
		uint64_t t0 = gs_nanotime();
		struct timespec abs = ts_of(t0 + ahead[i]);
		uint64_t r = gs_deadline(CLOCK_MONOTONIC, &abs);
		uint64_t after = gs_nanotime();
		ck_assert_uint_ge(r, t0 + ahead[i]);
		ck_assert_uint_le(r, after + ahead[i]);
	}
}
END_TEST

/* CLOCK_REALTIME may be stepped, so only the ordering and a generous bound. */
START_TEST(deadline_future_realtime)
{
	static const uint64_t ahead[] = { 50 * 1000000ull, NS + 1, 5 * NS, 3600 * NS };
	for (unsigned i = 0; i < sizeof ahead / sizeof ahead[0]; i++) {
		uint64_t before = gs_nanotime();
		struct timespec abs = ts_of(clock_ns(CLOCK_REALTIME) + ahead[i]);
		uint64_t r = gs_deadline(CLOCK_REALTIME, &abs);
		uint64_t after = gs_nanotime();
		ck_assert_uint_ge(r, before);
		ck_assert_uint_le(r, after + ahead[i] + 60 * NS);
	}
}
END_TEST

/* A deadline centuries away (some programs pass a huge tv_sec to mean
 * "forever") must stay in the future, not overflow into the past. */
START_TEST(deadline_far_future)
{
	static const time_t secs[] = { (time_t)1 << 40, INT64_MAX / 2, INT64_MAX };
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC };
	for (int c = 0; c < 2; c++)
		for (int i = 0; i < 3; i++) {
			struct timespec abs = { .tv_sec = secs[i], .tv_nsec = 0 };
			uint64_t r = gs_deadline(clocks[c], &abs);
			uint64_t after = gs_nanotime();
			if (r <= after + 3600 * NS)
				ck_abort_msg("gs_deadline(%s, {%lld, 0}) = %llu, now %llu: not in the future",
					     c ? "CLOCK_MONOTONIC" : "CLOCK_REALTIME", (long long)secs[i],
					     (unsigned long long)r, (unsigned long long)after);
		}
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("heap");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, timer_empty);
	tcase_add_test(tc, timer_random);
	tcase_add_test(tc, timer_interleaved);
	tcase_add_test(tc, timer_equal_deadlines);
	tcase_add_test(tc, timer_growth);
	tcase_add_test(tc, timer_del_early);
	suite_add_tcase(s, tc);

	tc = tcase_create("clock");
	tcase_add_test(tc, nanotime_monotonic);
	tcase_add_test(tc, deadline_past);
	tcase_add_test(tc, deadline_future_monotonic);
	tcase_add_test(tc, deadline_future_realtime);
	tcase_add_test(tc, deadline_far_future);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timer_suite());
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, normal by default */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
