/* tests/unit/test_stack.c: the stack allocator of sched/stack.c.
 *
 * Layout, guard and pooling of stacks are checked against the kernel's own
 * view: /proc/self/maps for protections and the VMA count, mincore() for
 * residency, and a forked child for the fault a guard must raise. Check runs
 * each test in its own forked process, so the pools start empty in each. */
/* Under qemu-user (make check-aarch64): qemu accepts madvise(MADV_GUARD_INSTALL)
 * and does nothing, and ignores RLIMIT_AS (it would bound qemu itself):
// unit-skip-runner: qemu-aarch64-static: stack:stack_layout: qemu-user's madvise ignores MADV_GUARD_INSTALL (returns 0, no guard)
// unit-skip-runner: qemu-aarch64-static: stack:stack_pool_reuse: qemu-user's madvise ignores MADV_GUARD_INSTALL (returns 0, no guard)
// unit-skip-runner: qemu-aarch64-static: stack:stack_guard_faults: qemu-user's madvise ignores MADV_GUARD_INSTALL (returns 0, no guard)
// unit-skip-runner: qemu-aarch64-static: stack:stack_fits_rlimit_as: qemu-user ignores setrlimit(RLIMIT_AS)
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "gs.h"

#define PAGE 4096UL

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) & ~(PAGE - 1);
}

static void setup(void)
{
	gs_cfg.stack = 0;
	gs_cfg.noguardmarkers = 0;
	gs_stack_init();
}

/* As on a kernel without MADV_GUARD_INSTALL (GOSHIM_DEBUG=guardmarkers=0):
 * PROT_NONE guard pages while under the VMA budget, packed stacks past it. */
static void setup_nomarkers(void)
{
	gs_cfg.stack = 0;
	gs_cfg.noguardmarkers = 1;
	gs_stack_init();
	ck_assert(!gs_stack_markers());
}

static struct g *new_g(void)
{
	struct g *g = calloc(1, sizeof(struct g) + 64);
	ck_assert_ptr_nonnull(g);
	return g;
}

/* The mapping of /proc/self/maps that contains addr: its bounds and perms. */
static bool find_map(const void *addr, uintptr_t *lo, uintptr_t *hi, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "re");
	ck_assert_ptr_nonnull(f);
	char line[512];
	bool found = false;
	while (fgets(line, sizeof line, f)) {
		unsigned long a, b;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &a, &b, p) != 3)
			continue;
		if ((uintptr_t)addr >= a && (uintptr_t)addr < b) {
			*lo = a;
			*hi = b;
			memcpy(perms, p, 5);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	ck_assert_ptr_nonnull(f);
	char buf[65536];
	size_t n;
	long lines = 0;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	fclose(f);
	return lines;
}

static long max_map_count(void)
{
	long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

/* [a, b) lies in mappings with perms p (possibly several merged by the kernel
 * differently: walk them). */
static void assert_perms(uintptr_t a, uintptr_t b, const char *p)
{
	while (a < b) {
		uintptr_t lo, hi;
		char perms[5];
		if (!find_map((void *)a, &lo, &hi, perms))
			ck_abort_msg("%#lx: not mapped", (unsigned long)a);
		if (strncmp(perms, p, 3) != 0)
			ck_abort_msg("%#lx: perms %s, expected %s", (unsigned long)a, perms, p);
		a = hi;
	}
}

static int in_child(void (*fn)(void *), void *arg);
static void touch_at(void *arg);

/* The guard [map, stack_lo) faults wherever it is touched: its lowest byte,
 * its highest, and (marked stacks) a byte a large frame would reach. */
static void check_guard_faults(struct g *g)
{
	char *at[] = { g->map, g->stack_lo - 1, g->stack_lo - g->guard / 2 };
	for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
		int st = in_child(touch_at, at[i]);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
			      "guard byte stack_lo - %zu did not fault (status %#x)",
			      (size_t)(g->stack_lo - at[i]), st);
	}
}

/* Checks the layout of g's fresh guarded stack for a request of size, guard. */
static void check_layout(struct g *g, size_t size, size_t guard)
{
	size_t usable = (size_t)(g->stack_hi - g->stack_lo);
	ck_assert_int_eq(g->stack_kind, STACK_GUARDED);
	ck_assert_uint_eq((uintptr_t)g->stack_lo % PAGE, 0);
	ck_assert_uint_eq((uintptr_t)g->stack_hi % PAGE, 0);
	ck_assert_uint_ge(usable, size);
	if (size >= 16384)	/* no more than the request rounded up */
		ck_assert_uint_eq(usable, round_page(size));
	/* pthread_getattr_np reports the guard asked for; the stack has
	 * GS_STACK_MARK_GAP more below it (markers: not shown in the maps). */
	ck_assert_uint_eq(gs_stack_guardsize(g), round_page(guard));
	ck_assert_uint_eq(g->guard, round_page(guard) + GS_STACK_MARK_GAP);
	ck_assert_ptr_eq(g->map, g->stack_lo - g->guard);
	ck_assert_uint_eq(g->maplen, usable + g->guard);
	check_guard_faults(g);
	if (!gs_stack_markers())	/* markers do not show in the maps */
		assert_perms((uintptr_t)g->map, (uintptr_t)g->stack_lo, "---");
	assert_perms((uintptr_t)g->stack_lo, (uintptr_t)g->stack_hi, "rw-");
}

/* Runs fn(arg) in a child; returns its wait status. */
static int in_child(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };
		setrlimit(RLIMIT_CORE, &nocore);
		signal(SIGSEGV, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void touch_below(void *arg)
{
	*(volatile char *)((char *)arg - 1) = 1;
}

static void touch_at(void *arg)
{
	*(volatile char *)arg = 1;
}

static size_t glibc_default(void)
{
	pthread_attr_t a;
	size_t size = 0;
	ck_assert_int_eq(pthread_getattr_default_np(&a), 0);
	ck_assert_int_eq(pthread_attr_getstacksize(&a, &size), 0);
	pthread_attr_destroy(&a);
	return size;
}

/* 256 KiB unless GOSHIM_STACK says otherwise; glibc's default follows. */
START_TEST(stack_default_size)
{
	ck_assert_uint_eq(gs_stack_default(), 256 * 1024);
	ck_assert_uint_eq(glibc_default(), 256 * 1024);
	gs_cfg.stack = 200000;	/* above PTHREAD_STACK_MIN (128 KiB on aarch64) */
	gs_stack_init();
	ck_assert_uint_eq(gs_stack_default(), round_page(200000));
	ck_assert_uint_eq(glibc_default(), round_page(200000));
	gs_stack_set_default(1 << 20);
	ck_assert_uint_eq(gs_stack_default(), 1 << 20);
	gs_cfg.stack = 0;
	gs_stack_init();
	ck_assert_uint_eq(gs_stack_default(), 256 * 1024);
}
END_TEST

START_TEST(stack_layout)
{
	static const size_t sizes[] = { 1, 16384, 16385, 100000, 1 << 20, (8 << 20) + 1 };
	static const size_t guards[] = { 1, 4096, 5000, 65536 };
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (unsigned j = 0; j < sizeof guards / sizeof guards[0]; j++) {
			struct g *g = new_g();
			ck_assert_int_eq(gs_stack_alloc(g, sizes[i], guards[j]), 0);
			check_layout(g, sizes[i], guards[j]);
			/* The whole usable range is writable and keeps what it holds. */
			size_t usable = (size_t)(g->stack_hi - g->stack_lo);
			memset(g->stack_lo, 0xA5, usable);
			for (size_t k = 0; k < usable; k += 997)
				ck_assert_int_eq((unsigned char)g->stack_lo[k], 0xA5);
			ck_assert_int_eq((unsigned char)g->stack_hi[-1], 0xA5);
			gs_stack_free(g);
			free(g);
		}
}
END_TEST

START_TEST(stack_guard_faults)
{
	struct g *g = new_g();
	ck_assert_int_eq(gs_stack_alloc(g, 65536, 4096), 0);
	int st = in_child(touch_below, g->stack_lo);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "touching stack_lo - 1 did not fault (status %#x)", st);
	/* The control: the lowest and highest usable bytes do not fault. */
	st = in_child(touch_at, g->stack_lo);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stack_lo faulted (status %#x)", st);
	st = in_child(touch_at, g->stack_hi - 1);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stack_hi - 1 faulted (status %#x)", st);
	/* The guard of the lowest guard page too, and after pool reuse. */
	void *map = g->map;
	gs_stack_free(g);
	memset(g, 0, sizeof *g);
	ck_assert_int_eq(gs_stack_alloc(g, 65536, 4096), 0);
	ck_assert_ptr_eq(g->map, map);
	check_layout(g, 65536, 4096);
	st = in_child(touch_below, g->stack_lo);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "touching stack_lo - 1 of a pooled stack did not fault (status %#x)", st);
	gs_stack_free(g);
	free(g);
}
END_TEST

START_TEST(stack_pool_reuse)
{
	struct g *a = new_g(), *b = new_g(), *c = new_g(), *d = new_g();
	ck_assert_int_eq(gs_stack_alloc(a, 100000, 4096), 0);
	void *amap = a->map;
	char *alo = a->stack_lo, *ahi = a->stack_hi;
	gs_stack_free(a);

	/* Same size and guard: the same mapping, laid out the same way. */
	ck_assert_int_eq(gs_stack_alloc(b, 100000, 4096), 0);
	ck_assert_ptr_eq(b->map, amap);
	ck_assert_ptr_eq(b->stack_lo, alo);
	ck_assert_ptr_eq(b->stack_hi, ahi);
	check_layout(b, 100000, 4096);
	memset(b->stack_lo, 1, (size_t)(b->stack_hi - b->stack_lo));

	/* The pool is empty again: a new mapping. */
	ck_assert_int_eq(gs_stack_alloc(c, 100000, 4096), 0);
	ck_assert_ptr_ne(c->map, amap);
	ck_assert((char *)c->map + c->maplen <= (char *)b->map ||
		  (char *)b->map + b->maplen <= (char *)c->map);
	void *cmap = c->map;
	gs_stack_free(b);
	gs_stack_free(c);
	ck_assert_ptr_null(b->map);	/* free forgets the mapping */
	ck_assert_ptr_null(c->map);

	/* A different guard does not take either pooled stack. */
	ck_assert_int_eq(gs_stack_alloc(d, 100000, 8192), 0);
	ck_assert_ptr_ne(d->map, amap);
	ck_assert_ptr_ne(d->map, cmap);
	check_layout(d, 100000, 8192);
	gs_stack_free(d);

	/* Nor does a different size. */
	memset(d, 0, sizeof *d);
	ck_assert_int_eq(gs_stack_alloc(d, 200000, 4096), 0);
	ck_assert_ptr_ne(d->map, amap);
	ck_assert_ptr_ne(d->map, cmap);
	check_layout(d, 200000, 4096);
	gs_stack_free(d);

	/* Requests that round to the same pages and guard share the pool. */
	memset(a, 0, sizeof *a);
	ck_assert_int_eq(gs_stack_alloc(a, 100000 - 1, 4000), 0);
	ck_assert(a->map == amap || a->map == cmap);
	check_layout(a, 100000 - 1, 4000);
	gs_stack_free(a);
	free(a);
	free(b);
	free(c);
	free(d);
}
END_TEST

/* Residency of the pages [lo, hi), one bit per page. */
static size_t resident_pages(char *lo, char *hi)
{
	size_t pages = (size_t)(hi - lo) / PAGE, n = 0;
	unsigned char *vec = malloc(pages);
	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore(lo, pages * PAGE, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

START_TEST(stack_free_releases_pages)
{
	/* 2 MiB: more pages than gs_stack_committed's mincore batch of 256. */
	static const size_t sizes[] = { 20480, 258048, 2 << 20 };
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct g *g = new_g();
		ck_assert_int_eq(gs_stack_alloc(g, sizes[i], 4096), 0);
		size_t usable = (size_t)(g->stack_hi - g->stack_lo);
		ck_assert_uint_eq(gs_stack_committed(g), 0);	/* fresh: nothing touched */
		/* Touch every third page: exactly those count. */
		size_t touched = 0;
		for (size_t off = 0; off < usable; off += 3 * PAGE, touched++)
			g->stack_lo[off] = 1;
		ck_assert_uint_eq(gs_stack_committed(g), touched * PAGE);
		ck_assert_uint_eq(resident_pages(g->stack_lo, g->stack_hi), touched);
		memset(g->stack_lo, 2, usable);
		ck_assert_uint_eq(gs_stack_committed(g), usable);

		char *lo = g->stack_lo, *hi = g->stack_hi;
		gs_stack_free(g);
		/* Pooled dirty: nothing given back until the pools are trimmed. */
		ck_assert_uint_eq(resident_pages(lo, hi), usable / PAGE);
		gs_stack_trim_pools(0);
		/* Every page went back to the kernel, the top one too (a clean
		 * stack is an entry in its pool's array, not a node in its page). */
		ck_assert_uint_eq(resident_pages(lo, hi), 0);
		ck_assert_uint_eq(gs_stack_committed(g), 0);

		/* Reused: the released pages read as zero again. */
		memset(g, 0, sizeof *g);
		ck_assert_int_eq(gs_stack_alloc(g, sizes[i], 4096), 0);
		ck_assert_ptr_eq(g->stack_lo, lo);
		ck_assert_uint_eq(gs_stack_committed(g), 0);
		for (size_t off = 0; off < usable; off += PAGE)
			ck_assert_int_eq(g->stack_lo[off], 0);
		gs_stack_free(g);
		free(g);
	}
}
END_TEST

/* A freed stack is taken again dirty, pages and all; trimming keeps the first
 * keep dirty stacks of a pool and gives back the pages of the others. */
START_TEST(stack_dirty_reuse)
{
	enum { N = 5, SIZE = 65536 };
	struct g *g[N];
	for (int i = 0; i < N; i++) {
		g[i] = new_g();
		ck_assert_int_eq(gs_stack_alloc(g[i], SIZE, 4096), 0);
		memset(g[i]->stack_lo, 0x5a, SIZE);
	}
	char *lo0 = g[0]->stack_lo;
	gs_stack_free(g[0]);
	memset(g[0], 0, sizeof *g[0]);
	ck_assert_int_eq(gs_stack_alloc(g[0], SIZE, 4096), 0);
	ck_assert_ptr_eq(g[0]->stack_lo, lo0);	/* the same stack, */
	ck_assert_uint_eq(gs_stack_committed(g[0]), SIZE);	/* its pages still there */
	ck_assert_int_eq((unsigned char)g[0]->stack_lo[0], 0x5a);
	char *lo[N];
	for (int i = 0; i < N; i++) {
		lo[i] = g[i]->stack_lo;
		gs_stack_free(g[i]);
	}
	gs_stack_trim_pools(2);	/* the last two freed keep their pages */
	size_t kept = 0, trimmed = 0;
	for (int i = 0; i < N; i++) {
		size_t r = resident_pages(lo[i], lo[i] + SIZE);
		kept += r == SIZE / PAGE;
		trimmed += r == 0;
	}
	ck_assert_uint_eq(kept, 2);
	ck_assert_uint_eq(trimmed, N - 2);
	gs_stack_trim_pools(0);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(resident_pages(lo[i], lo[i] + SIZE), 0);
	for (int i = 0; i < N; i++)
		free(g[i]);
}
END_TEST

START_TEST(stack_no_guard)
{
	struct g *g = new_g();
	ck_assert_int_eq(gs_stack_alloc(g, 65536, 0), 0);
	ck_assert(g->stack_kind == STACK_GUARDED || g->stack_kind == STACK_PACKED);
	ck_assert_uint_ge((size_t)(g->stack_hi - g->stack_lo), 65536);
	ck_assert_uint_eq((uintptr_t)g->stack_lo % PAGE, 0);
	ck_assert_uint_eq((uintptr_t)g->stack_hi % PAGE, 0);
	ck_assert((char *)g->map <= g->stack_lo);
	ck_assert(g->stack_hi <= (char *)g->map + g->maplen);
	memset(g->stack_lo, 3, (size_t)(g->stack_hi - g->stack_lo));
	gs_stack_free(g);
	free(g);
}
END_TEST

/* Stacks the allocator does not own are left alone. */
/* VmSize of this process, in bytes. */
static size_t vmsize(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	ck_assert_ptr_nonnull(f);
	char line[256];
	size_t kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
			break;
	fclose(f);
	ck_assert_uint_gt(kb, 0);
	return kb * 1024;
}

/* Under RLIMIT_AS, stack chunks fit the room left: capped at a sixteenth of
 * the limit, and a chunk the kernel refuses is asked again at half the
 * slots, down to one, before -EAGAIN. With 1 GiB more than this process uses
 * as the limit (a chunk of at most 64 MiB: 7 stacks of 8 MiB) and 160 MiB of
 * it left free, 8 MiB stacks keep coming until the room is used up: two full
 * chunks, then smaller ones, about 18 in all. Before, one 8 MiB stack asked
 * for a chunk of 256 (2 GiB): not a single one. */
START_TEST(stack_fits_rlimit_as)
{
	size_t limit = vmsize() + (1UL << 30);
	struct rlimit rl = { limit, limit };
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
	void *hog = mmap(NULL, (1UL << 30) - (160UL << 20), PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(hog, MAP_FAILED);
	enum { MAXN = 64 };
	struct g *g[MAXN];
	int n = 0, r = 0;
	while (n < MAXN) {
		g[n] = new_g();
		if ((r = gs_stack_alloc(g[n], 8UL << 20, 4096)) != 0) {
			free(g[n]);
			break;
		}
		memset(g[n]->stack_hi - PAGE, 1, PAGE);	/* usable */
		n++;
	}
	ck_assert_int_eq(r, -EAGAIN);
	/* 160 MiB / (8 MiB + 68 KiB of guard) = 19; malloc and the chunks'
	 * rounding take a little. */
	ck_assert_int_ge(n, 15);
	ck_assert_int_le(n, 20);
	for (int i = 0; i < n; i++) {
		gs_stack_free(g[i]);
		free(g[i]);
	}
	/* Pooled: they come back without asking the kernel for more. */
	for (int i = 0; i < n; i++) {
		g[i] = new_g();
		ck_assert_int_eq(gs_stack_alloc(g[i], 8UL << 20, 4096), 0);
	}
}
END_TEST

START_TEST(stack_free_foreign)
{
	static char buf[8 * PAGE] __attribute__((aligned(4096)));
	static const int kinds[] = { STACK_USER, STACK_MAIN };
	for (int i = 0; i < 2; i++) {
		struct g *g = new_g();
		memset(buf, 7, sizeof buf);
		g->stack_kind = kinds[i];
		g->map = buf;
		g->maplen = sizeof buf;
		g->stack_lo = buf;
		g->stack_hi = buf + sizeof buf;
		gs_stack_free(g);
		ck_assert_ptr_eq(g->map, buf);
		for (size_t k = 0; k < sizeof buf; k++)
			ck_assert_int_eq(buf[k], 7);
		free(g);
	}
}
END_TEST

#define MANY 30000
#define MANY_SIZE (16 * 1024)
#define MANY_GUARD 4096

static int by_map(const void *a, const void *b)
{
	const struct g *x = *(struct g *const *)a, *y = *(struct g *const *)b;
	return (uintptr_t)x->map < (uintptr_t)y->map ? -1 : (uintptr_t)x->map > (uintptr_t)y->map;
}

/* Allocates MANY stacks into gs, checks them; returns how many are guarded. */
static long alloc_many(struct g **gs, long maxmap)
{
	long guarded = 0;
	for (long i = 0; i < MANY; i++) {
		memset(gs[i], 0, sizeof *gs[i]);
		int r = gs_stack_alloc(gs[i], MANY_SIZE, MANY_GUARD);
		if (r != 0)
			ck_abort_msg("stack %ld: gs_stack_alloc = %d (maps %ld of %ld)", i, r, count_maps(),
				     maxmap);
		struct g *g = gs[i];
		ck_assert_uint_ge((size_t)(g->stack_hi - g->stack_lo), MANY_SIZE);
		ck_assert((char *)g->map <= g->stack_lo);
		ck_assert(g->stack_hi <= (char *)g->map + g->maplen);
		if (g->stack_kind == STACK_GUARDED) {
			guarded++;
			ck_assert_ptr_eq(g->map, g->stack_lo - g->guard);
		} else {
			ck_assert_int_eq(g->stack_kind, STACK_PACKED);
		}
		g->stack_lo[0] = 1;		/* writable at both ends */
		g->stack_hi[-1] = 1;
		if (i % 5000 == 4999) {
			long n = count_maps();
			if (n >= maxmap)
				ck_abort_msg("after %ld stacks: %ld maps, limit %ld", i + 1, n, maxmap);
		}
	}
	return guarded;
}

START_TEST(stack_many)
{
	long maxmap = max_map_count();
	struct g **gs = calloc(MANY, sizeof *gs);
	void **maps1 = calloc(MANY, sizeof *maps1);
	ck_assert_ptr_nonnull(gs);
	ck_assert_ptr_nonnull(maps1);
	for (long i = 0; i < MANY; i++)
		gs[i] = new_g();

	long maps0 = count_maps();
	long guarded = alloc_many(gs, maxmap);
	long n = count_maps();
	if (n >= maxmap)
		ck_abort_msg("%d stacks: %ld maps, limit %ld", MANY, n, maxmap);
	if (gs_stack_markers()) {
		/* Guard markers cost no VMA: all are guarded, in few mappings. */
		ck_assert_int_eq(guarded, MANY);
		ck_assert_int_lt(n - maps0, MANY / 100);
	} else {
		/* Guarded stacks (two VMAs each) stop at a third of the limit. */
		ck_assert_int_gt(guarded, 0);
		ck_assert_int_le(guarded, maxmap / 3);
		if (MANY > maxmap / 3)
			ck_assert_int_lt(guarded, MANY);
	}

	/* Disjoint: sorted by address, each whole mapping ends before the next. */
	qsort(gs, MANY, sizeof *gs, by_map);
	for (long i = 0; i + 1 < MANY; i++)
		if ((char *)gs[i]->map + gs[i]->maplen > (char *)gs[i + 1]->map)
			ck_abort_msg("stacks overlap: [%p, +%zu) and [%p, +%zu)", gs[i]->map, gs[i]->maplen,
				     gs[i + 1]->map, gs[i + 1]->maplen);
	for (long i = 0; i < MANY; i++) {
		maps1[i] = gs[i]->map;
		gs_stack_free(gs[i]);
	}

	/* A second round comes entirely from the pools: the same stacks. */
	long guarded2 = alloc_many(gs, maxmap);
	ck_assert_int_eq(guarded2, guarded);
	qsort(gs, MANY, sizeof *gs, by_map);
	for (long i = 0; i < MANY; i++)
		if (gs[i]->map != maps1[i])
			ck_abort_msg("second round: stack %ld at %p, first round %p", i, gs[i]->map, maps1[i]);
	ck_assert_int_le(count_maps(), n);
	for (long i = 0; i < MANY; i++) {
		gs_stack_free(gs[i]);
		free(gs[i]);
	}
	free(gs);
	free(maps1);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("stack");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stack_default_size);
	tcase_add_test(tc, stack_layout);
	tcase_add_test(tc, stack_guard_faults);
	tcase_add_test(tc, stack_pool_reuse);
	tcase_add_test(tc, stack_free_releases_pages);
	tcase_add_test(tc, stack_dirty_reuse);
	tcase_add_test(tc, stack_no_guard);
	tcase_add_test(tc, stack_free_foreign);
	tcase_add_test(tc, stack_fits_rlimit_as);
	suite_add_tcase(s, tc);

	tc = tcase_create("many");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, stack_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("nomarkers");
	tcase_add_checked_fixture(tc, setup_nomarkers, NULL);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, stack_layout);
	tcase_add_test(tc, stack_guard_faults);
	tcase_add_test(tc, stack_pool_reuse);
	tcase_add_test(tc, stack_free_releases_pages);
	tcase_add_test(tc, stack_no_guard);
	tcase_add_test(tc, stack_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stack_suite());
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, normal by default */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
