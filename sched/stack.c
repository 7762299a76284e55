/* sched/stack.c: green thread stacks.
 *
 * A stack is reserved at the size the pthread attribute asks for (glibc's
 * default otherwise) with MAP_NORESERVE; the kernel commits a page when it is
 * first touched, so an idle G costs the pages it has used, not its size.
 *
 * Where the kernel has guard markers (MADV_GUARD_INSTALL, Linux 6.13), guarded
 * stacks are carved from chunks, many to a VMA, and each slot's guard is a
 * marker in the page table: an overflow faults at once, as with a PROT_NONE
 * page, but costs no VMA of its own. The guard of one slot lies just above the top of the slot below, so
 * it shares that stack's page-table page, and small stacks share those pages
 * with each other: with the default 256 KiB, six stacks to a page-table page.
 *
 * Every guard, marker or PROT_NONE, is MARK_GAP bytes more than the program
 * asked for, so that one large frame (a buffer on the stack) that overflows
 * faults there too instead of landing in the stack below; pthread_getattr_np
 * reports the guard that was asked for.
 *
 * Elsewhere, two kinds, because of vm.max_map_count (65530 by default): a
 * stack with a PROT_NONE guard page costs two VMAs, which is why glibc stops
 * near 32,750 threads. While guarded stacks stay under a third of the limit
 * each stack gets a guard (an overflow faults at once). Past that, stacks are
 * carved from packed chunks, many to a VMA, each followed by an untouched gap
 * of PACK_GAP bytes; an overflow there is caught when the G next switches (its
 * stack pointer is checked against its bottom at every switch), and cannot
 * reach the neighbour unless one frame jumps the whole gap (README, Limits).
 *
 * A chunk fits the limits the process runs under: it is at most a sixteenth
 * of RLIMIT_AS (so its unused tail takes little of the address space the
 * program may use), and under strict overcommit (vm.overcommit_memory=2,
 * where MAP_NORESERVE is ignored and every reserved byte is charged) at most
 * STRICT_CHUNK bytes, about one native default stack. A reservation the kernel
 * still refuses is tried again at half the slots, down to one stack, before
 * pthread_create reports EAGAIN: as glibc, which maps one stack at a time.
 *
 * Exited stacks are pooled by (size, kind). A freed stack goes back as it is
 * (dirty): the next G of that size takes it with its pages still there, so a
 * thread that is created and joined again and again costs no madvise and no
 * page faults. sysmon gives back every page of all but
 * POOL_KEEP dirty stacks of each pool every TRIM_NS, and of all of them before
 * it parks (gs_stack_trim_pools; MADV_DONTNEED keeps guard markers), so a
 * pooled stack soon costs no page at all: it is then an entry of its pool's
 * array of clean stacks. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"

/* The page size, asked of the kernel at start (arm64 kernels run with 4, 16
 * or 64 KiB pages); every size below is a multiple of 64 KiB. */
static size_t page_size = 4096;
#define PAGE page_size
#define PACK_GAP (64 * 1024UL)
#define PACK_SLOTS 256
#define MARK_GAP GS_STACK_MARK_GAP
#define DEFAULT_STACK (256 * 1024UL)
#define CHUNK_MIN (64UL << 20)	/* a chunk holds at least 256 slots and 64 MiB */
#define STRICT_CHUNK (8UL << 20)	/* glibc's default stack: what one native thread charges */
#define AS_SHARE 16		/* a chunk takes at most 1/AS_SHARE of RLIMIT_AS */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

struct freestack {			/* in a free dirty stack, where its G's frames began */
	struct freestack *next;
	void *map;
	size_t maplen, guard;
};

struct cleanstack {			/* a free stack without pages: no room for a node in it */
	void *map;
	size_t maplen, guard;
};

struct pool {				/* free stacks of one size and kind */
	size_t size;			/* usable bytes */
	size_t guard;
	int kind;
	struct freestack *dirty;	/* pages kept, the node in one of them */
	int ndirty;
	struct cleanstack *clean;	/* every page given back; an array, malloc'ed */
	size_t nclean, capclean;
	char *chunk;			/* STACK_PACKED: the chunk being carved */
	size_t chunk_left;
	struct pool *next;
};

static gs_lock_t stack_lock = GS_LOCK_INIT(STACK);		/* guards pools, live_guarded */
static struct pool *pools;
static long live_guarded, guard_budget;
static size_t default_size;
static bool markers;			/* the kernel has MADV_GUARD_INSTALL */
static bool strict;			/* vm.overcommit_memory=2: reservations are charged */

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) & ~(PAGE - 1);
}

void gs_stack_init(void)
{
	unsigned long ps = getauxval(AT_PAGESZ);
	if (ps >= 4096 && !(ps & (ps - 1)))
		page_size = ps;
	long maxmap = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	if (f) {
		if (fscanf(f, "%ld", &maxmap) != 1)
			maxmap = 65530;
		fclose(f);
	}
	guard_budget = maxmap / 3;
	f = fopen("/proc/sys/vm/overcommit_memory", "re");
	if (f) {
		int mode = 0;
		strict = fscanf(f, "%d", &mode) == 1 && mode == 2;
		fclose(f);
	}
	markers = false;
	void *probe = gs_cfg.noguardmarkers ? MAP_FAILED :
		      mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (probe != MAP_FAILED) {
		markers = madvise(probe, PAGE, MADV_GUARD_INSTALL) == 0;
		munmap(probe, 2 * PAGE);
	}
	default_size = gs_cfg.stack ? round_page(gs_cfg.stack) : DEFAULT_STACK;
	/* glibc's default follows, so that an attribute without a size and
	 * pthread_getattr_default_np report the size threads get. */
	pthread_attr_t a;
	if (REAL(pthread_getattr_default_np)(&a) == 0) {
		pthread_attr_setstacksize(&a, default_size);
		REAL(pthread_setattr_default_np)(&a);
		pthread_attr_destroy(&a);
	}
}

/* The program changed glibc's default (pthread_setattr_default_np). */
void gs_stack_set_default(size_t size)
{
	default_size = round_page(size);
}

bool gs_stack_markers(void)
{
	return markers;
}

/* The guard size pthread_getattr_np reports: the one that was asked for. */
size_t gs_stack_guardsize(const struct g *g)
{
	if (g->stack_kind != STACK_GUARDED)
		return 0;
	return g->guard - MARK_GAP;
}

size_t gs_stack_default(void)
{
	return default_size;
}

static struct pool *pool_for(size_t size, size_t guard, int kind)	/* stack_lock held */
{
	for (struct pool *p = pools; p; p = p->next)
		if (p->size == size && p->guard == guard && p->kind == kind)
			return p;
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->size = size;
	p->guard = guard;
	p->kind = kind;
	p->next = pools;
	pools = p;
	return p;
}

static void set_stack(struct g *g, void *map, size_t maplen, size_t guard, size_t size, int kind)
{
	g->map = map;
	g->maplen = maplen;
	g->guard = guard;
	g->stack_kind = kind;
	g->stack_lo = (char *)map + guard;
	g->stack_hi = g->stack_lo + size;
}

/* How many slots of slot bytes a new chunk should hold: many, so that stacks
 * share VMAs and page-table pages, but within the limits (see the top). */
static size_t chunk_slots(size_t slot)
{
	size_t n = PACK_SLOTS;
	if (n * slot < CHUNK_MIN)
		n = CHUNK_MIN / slot;
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    n > rl.rlim_cur / AS_SHARE / slot)
		n = rl.rlim_cur / AS_SHARE / slot;
	if (strict && n > STRICT_CHUNK / slot)
		n = STRICT_CHUNK / slot;
	return n ? n : 1;
}

/* Carves a slot of slot bytes from pool p's chunk; NULL (errno set) if the
 * kernel refuses even a chunk of one slot. stack_lock held. */
static void *carve(struct pool *p, size_t slot)
{
	if (p->chunk_left < slot) {
		void *c = MAP_FAILED;
		size_t n = chunk_slots(slot);
		for (;; n /= 2) {
			c = mmap(NULL, n * slot, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
			if (c != MAP_FAILED || n == 1)
				break;
		}
		if (c == MAP_FAILED)
			return NULL;
		p->chunk = c;
		p->chunk_left = n * slot;
	}
	void *map = p->chunk;
	p->chunk += slot;
	p->chunk_left -= slot;
	return map;
}

/* Gives g a stack of at least size bytes with a guard of guard bytes (rounded
 * to pages). Returns 0 or -EAGAIN (as pthread_create reports no memory). */
int gs_stack_alloc(struct g *g, size_t size, size_t guard)
{
	size = round_page(size < 16384 ? 16384 : size);
	guard = round_page(guard);
	gs_lock(&stack_lock);
	int kind = (guard && (markers || live_guarded < guard_budget)) ? STACK_GUARDED : STACK_PACKED;
	struct pool *p = pool_for(size, kind == STACK_GUARDED ? guard : PACK_GAP, kind);
	if (!p) {
		gs_unlock(&stack_lock);
		return -EAGAIN;
	}
	if (p->dirty || p->nclean) {
		struct cleanstack c;
		struct freestack *fs = p->dirty;
		if (fs) {
			p->dirty = fs->next;
			p->ndirty--;
			c = (struct cleanstack){ fs->map, fs->maplen, fs->guard };
		} else {
			c = p->clean[--p->nclean];
		}
		if (kind == STACK_GUARDED)
			live_guarded++;
		gs_unlock(&stack_lock);
		set_stack(g, c.map, c.maplen, c.guard, size, kind);
		g->stack_dirty = fs != NULL;
		return 0;
	}
	if (kind == STACK_GUARDED && markers) {
		/* The slot's guard is a marker; a slot whose marker the kernel
		 * refuses (an mlock'ed chunk) gets a PROT_NONE page instead. */
		size_t mark = MARK_GAP + guard;
		void *map = carve(p, mark + size);
		live_guarded += map != NULL;
		gs_unlock(&stack_lock);
		if (!map)
			return -EAGAIN;
		if (madvise(map, mark, MADV_GUARD_INSTALL) != 0 && mprotect(map, mark, PROT_NONE) != 0) {
			/* Out of VMAs (vm.max_map_count): as glibc when it cannot
			 * protect a guard. The slot goes back to the kernel. */
			munmap(map, mark + size);
			gs_lock(&stack_lock);
			live_guarded--;
			gs_unlock(&stack_lock);
			return -EAGAIN;
		}
		set_stack(g, map, mark + size, mark, size, kind);
		return 0;
	}
	if (kind == STACK_GUARDED) {
		live_guarded++;
		gs_unlock(&stack_lock);
		size_t mark = MARK_GAP + guard, len = mark + size;
		void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (map == MAP_FAILED || mprotect(map, mark, PROT_NONE) != 0) {
			if (map != MAP_FAILED)
				munmap(map, len);
			gs_lock(&stack_lock);
			live_guarded--;
			gs_unlock(&stack_lock);
			return -EAGAIN;
		}
		set_stack(g, map, len, mark, size, kind);
		return 0;
	}
	/* Packed: the gap sits below the stack, inside its slot. */
	size_t slot = size + PACK_GAP;
	void *map = carve(p, slot);
	gs_unlock(&stack_lock);
	if (!map)
		return -EAGAIN;
	set_stack(g, map, slot, PACK_GAP, size, kind);
	return 0;
}

/* Makes room for n more clean entries in p. From sysmon, which has no malloc
 * arena of its own and should not get one (a heap of 64 MiB reserved, two VMAs):
 * the array is mapped. stack_lock held. */
static bool clean_room(struct pool *p, size_t n)
{
	if (p->nclean + n <= p->capclean)
		return true;
	size_t cap = p->capclean ? p->capclean : PAGE / sizeof *p->clean;
	while (cap < p->nclean + n)
		cap *= 2;
	struct cleanstack *v = mmap(NULL, cap * sizeof *v, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return false;
	if (p->clean) {
		memcpy(v, p->clean, p->nclean * sizeof *v);
		munmap(p->clean, p->capclean * sizeof *v);
	}
	p->clean = v;
	p->capclean = cap;
	return true;
}

/* Gives back every page of the dirty stacks of each pool past the first keep,
 * the top one too: a clean stack is an entry of its pool's array, so the free
 * stacks kept for reuse after a burst of threads cost 24 bytes each, not a
 * page, and RSS does not creep up with the highest number of threads seen.
 * From sysmon only (the room it makes at the array's end is its own until it
 * fills it); the stacks are out of the pool meanwhile. With no memory for the
 * array a batch stays dirty. */
void gs_stack_trim_pools(int keep)
{
	for (struct pool *p = NULL;;) {
		gs_lock(&stack_lock);
		p = p ? p->next : pools;	/* pools are never freed */
		while (p && p->ndirty <= keep)
			p = p->next;
		if (!p) {
			gs_unlock(&stack_lock);
			return;
		}
		size_t n = (size_t)(p->ndirty - keep);
		if (!clean_room(p, n)) {
			gs_unlock(&stack_lock);
			continue;
		}
		struct freestack **cut = &p->dirty;
		for (int i = 0; i < keep; i++)
			cut = &(*cut)->next;
		struct freestack *batch = *cut;
		*cut = NULL;
		p->ndirty = keep;
		/* Allocations only take entries from below nclean, and nothing
		 * else adds any: the last n slots of the room stay ours. */
		struct cleanstack *c = p->clean + p->capclean - n;
		size_t size = p->size;
		gs_unlock(&stack_lock);
		size_t k = 0;
		for (struct freestack *fs = batch; fs; fs = fs->next)
			c[k++] = (struct cleanstack){ fs->map, fs->maplen, fs->guard };
		gs_assert(k == n);
		for (size_t i = 0; i < n; i++)	/* the nodes go with the pages */
			madvise((char *)c[i].map + c[i].guard, size, MADV_DONTNEED);
		gs_lock(&stack_lock);
		memmove(p->clean + p->nclean, c, n * sizeof *c);
		p->nclean += n;
		gs_unlock(&stack_lock);
	}
}

/* Returns g's stack to its pool, dirty. The caller is not running on it. If
 * g lives in the stack (gs_g_in_stack), g is gone when this returns. */
void gs_stack_free(struct g *g)
{
	if (g->stack_kind != STACK_GUARDED && g->stack_kind != STACK_PACKED)
		return;
	size_t size = (size_t)(g->stack_hi - g->stack_lo), guard = g->guard;
	int kind = g->stack_kind;
	size_t asked = kind == STACK_GUARDED ? guard - MARK_GAP : guard;	/* the pool's key */
	/* The node goes where g's first frames were (a page every G touches;
	 * in tp mode's spare layout the top page is one no G touches, sched/
	 * tls.c), or in the top page for a g that does not live in the stack. */
	char *top = g->stack_hi - PAGE;
	if (g->in_stack)
		top = (g->ctx_top ? g->ctx_top : (char *)g) - 64;
	struct freestack *fs = (struct freestack *)top;
	fs->map = g->map;
	fs->maplen = g->maplen;
	fs->guard = guard;
	g->map = NULL;	/* the last touch of g */
	gs_lock(&stack_lock);
	struct pool *p = pool_for(size, asked, kind);
	if (kind == STACK_GUARDED)
		live_guarded--;
	if (p) {
		fs->next = p->dirty;
		p->dirty = fs;
		p->ndirty++;
	}
	gs_unlock(&stack_lock);
}

/* Bytes of g's stack that are resident (for the dump). */
size_t gs_stack_committed(struct g *g)
{
	size_t size = (size_t)(g->stack_hi - g->stack_lo), n = 0;
	size_t pages = size / PAGE;
	unsigned char vec[256];
	for (size_t off = 0; off < pages; off += sizeof vec) {
		size_t k = pages - off < sizeof vec ? pages - off : sizeof vec;
		if (mincore(g->stack_lo + off * PAGE, k * PAGE, vec) != 0)
			return 0;
		for (size_t i = 0; i < k; i++)
			n += vec[i] & 1;
	}
	return n * PAGE;
}

/* fork holds the pool across glibc's part of it (loader.c), so that the
 * child, whose first pthread_create takes a stack from it, never finds it
 * half edited by an M that does not exist there. */
void gs_stack_fork_prepare(void)
{
	gs_lock(&stack_lock);
}

void gs_stack_fork_parent(void)
{
	gs_unlock(&stack_lock);
}

/* In a forked child only the forking thread exists: the pool lock is held by
 * the fork (gs_stack_fork_prepare), or by another M if the process forked
 * without the shim's fork (a raw clone). */
void gs_stack_fork_child(void)
{
	gs_lock_reset(&stack_lock);
}
