/* sched/timer.c: per-M timer heaps and the clocks.
 *
 * A G's entry goes into the heap of the M it runs on (proc.c: gs_g_timer_add).
 * Where Gs stay on their M (tp and pinned modes) each heap is touched by its
 * M alone and needs no lock; in the moving mode an M that loses its P hands
 * its heap on, and proc.c takes the heap's lock. A G has at most one entry (it
 * parks once at a time) and knows where it is (g->timer_i), so a wait that
 * ends early takes its entry out (gs_timer_del): a heap never holds entries
 * of waits that are over, nor of Gs that are gone. */
#include <errno.h>
#include <stdlib.h>
#include "gs.h"
#include "real.h"

/* libc's clock_gettime, not our hook (shim/time.c): the runtime's clock reads
 * are on the park and timer paths. One call site, resolved at start-up
 * (gs_init reads the clock before any hook can run in a signal handler). */
static int now(clockid_t clock, struct timespec *ts)
{
	return REAL(clock_gettime)(clock, ts);
}

uint64_t gs_nanotime(void)
{
	struct timespec ts;
	now(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t gs_deadline(clockid_t clock, const struct timespec *abs)
{
	struct timespec t;
	now(clock, &t);
	int64_t secs = (int64_t)abs->tv_sec - (int64_t)t.tv_sec;
	uint64_t mono = gs_nanotime();
	if (secs > (INT64_MAX / 1000000000ll) - 2)
		return UINT64_MAX / 2;	/* centuries away: as good as never */
	int64_t d = secs * 1000000000ll + (abs->tv_nsec - t.tv_nsec);
	if (d <= 0)
		return mono ? mono : 1;
	return mono + (uint64_t)d;
}

/* t->n is read without the heap's lock by other Ms (gs_timer_count: is
 * there anything to adopt, is an M empty): written here with relaxed atomic
 * stores, by the owner or under the heap's lock (gs.h). */
static void set_n(struct gs_timers *t, size_t n)
{
	__atomic_store_n(&t->n, n, __ATOMIC_RELAXED);
}

static bool before(const struct gs_timer *a, const struct gs_timer *b)
{
	return a->when < b->when;
}

static void put(struct gs_timers *t, size_t i, struct gs_timer e)
{
	t->v[i] = e;
	e.g->timer_i = i + 1;
}

static void sift_up(struct gs_timers *t, size_t i, struct gs_timer e)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&e, &t->v[p]))
			break;
		put(t, i, t->v[p]);
		i = p;
	}
	put(t, i, e);
}

static void sift_down(struct gs_timers *t, size_t i, struct gs_timer e)
{
	size_t n = t->n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && before(&t->v[c + 1], &t->v[c]))
			c++;
		if (!before(&t->v[c], &e))
			break;
		put(t, i, t->v[c]);
		i = c;
	}
	put(t, i, e);
}

int gs_timer_add(struct gs_timers *t, uint64_t when, struct g *g, uint64_t seq)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct gs_timer *v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	size_t i = t->n;
	set_n(t, i + 1);
	sift_up(t, i, (struct gs_timer){ when, g, seq });
	return 0;
}

void gs_timer_del(struct gs_timers *t, struct g *g)
{
	size_t i = g->timer_i;
	if (!i)
		return;
	g->timer_i = 0;
	if (--i >= t->n || t->v[i].g != g)
		return;
	set_n(t, t->n - 1);
	struct gs_timer last = t->v[t->n];
	if (i == t->n)
		return;
	if (i > 0 && before(&last, &t->v[(i - 1) / 2]))
		sift_up(t, i, last);
	else
		sift_down(t, i, last);
}

uint64_t gs_timer_next(struct gs_timers *t)
{
	return t->n ? t->v[0].when : UINT64_MAX;
}

bool gs_timer_pop_due(struct gs_timers *t, uint64_t now, struct gs_timer *out)
{
	if (!t->n || t->v[0].when > now)
		return false;
	*out = t->v[0];
	out->g->timer_i = 0;
	set_n(t, t->n - 1);
	struct gs_timer last = t->v[t->n];
	if (t->n)
		sift_down(t, 0, last);
	return true;
}
