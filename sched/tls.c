/* sched/tls.c: thread identity of green threads (errno, __thread variables,
 * dynamic TLS of dlopen'ed libraries), in one of two modes chosen at start
 * (gs_tls_init): a thread pointer per G (tp mode, below: gs_tls_tp)
 * where the CPU allows it and start-up verification passes, else pinned.
 *
 * Pinned mode (gs.h has the why): a started G is pinned to its M, and the M's own
 * static TLS block holds the identity of the G it runs. A switch swaps out the
 * bytes that are per thread for the program (the TLS blocks of the executable
 * and of every library except libc and goshim, plus libc's errno and h_errno)
 * and swaps in the next G's. A compiled program that kept &errno or the address
 * of a __thread variable in a register across a park still reads its own value:
 * the G resumes on the same M, at the same addresses, with its bytes back.
 *
 * libc's other per-thread state (malloc's thread cache and arena, the resolver
 * state, uselocale) stays per M: it is a cache or rarely per thread, and keeping
 * it per M saves a thread cache per G (README, Limits).
 *
 * Dynamic TLS (modules dlopen'ed later, reached through __tls_get_addr) lives
 * in blocks the DTV points to. While no module with dynamic TLS is loaded, a
 * DTV holds only pointers into the M's static block, the same for every G the
 * M runs, so those Gs use the M's own DTV (g->dtv NULL: about 350 bytes less
 * per G). When a G leaves the M and the DTV it shared has moved to another
 * generation or been regrown (glibc does either before it allocates a block
 * for a module dlopen'ed later), that G takes the DTV's dynamic blocks into a
 * DTV of its own, the M's goes back to static entries only, and from then on
 * every G on that M gets its own DTV: cloned from the M's with the dynamic
 * entries unallocated. The TCB's dtv pointer is switched with the rest. glibc
 * may grow a DTV with realloc, so ours come from malloc.
 *
 * The segments are found once at start-up with dl_iterate_phdr. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"

extern void *__res_state(void);	/* <resolv.h> renames p_type */

#define MAXSEG 32
struct seg {
	ptrdiff_t off;		/* start, from the thread pointer (negative: below it) */
	size_t len;
	size_t save;		/* offset in g->tls */
};
static struct seg segs[MAXSEG];
static _Atomic int nseg;	/* grows after a dlopen (pinned_after_dlopen): read once per switch */
/* Room in every G's saved bytes for modules that a dlopen puts in the static
 * block later (arch.h: glibc on aarch64 gives dlopen'ed modules whose TLS is
 * reached through TLS descriptors a place in its optional static TLS, 512
 * bytes by default); room_used of it taken, from room_at on. */
#define ROOM GS_ARCH_TLS_DLOPEN_ROOM
static size_t room_at, room_used;
size_t gs_tls_size;
static unsigned char *init_image;	/* a new G's TLS bytes */
static bool info_ok;			/* static_size is glibc's */

typedef union {
	size_t counter;
	struct { void *val; void *to_free; } pointer;
} dtv_t;			/* glibc's dtv_t (x86_64, aarch64) */
#define DTV_UNALLOCATED ((void *)-1l)
#define TCB_DTV(tp) GS_ARCH_TCB_DTV(tp)	/* tcbhead_t.dtv (arch.h) */

/* Whether p lies in the static TLS block of the thread whose pointer is tp:
 * below tp in variant II (x86-64), above it in variant I (aarch64; arch.h). */
static size_t static_size;		/* whole static TLS block, for "is static" */
static bool in_static(const char *tp, const void *p)
{
	if (GS_ARCH_TLS_ABOVE)
		return (const char *)p >= tp && (const char *)p < tp + static_size;
	return (const char *)p < tp && (const char *)p >= tp - static_size;
}

/* tp mode (below). */
int gs_tls_tp;
const char *gs_tls_why = "";
static void *(*allocate_tls)(void *);
static void (*deallocate_tls)(void *, bool);
static void (*ctype_init)(void);
static size_t tid_off, rseq_cpu_off, robust_off, robust_prev_off;
static ptrdiff_t curm_off, tcache_off, resp_slot;	/* TLS words, from the thread pointer */
static size_t res_off;			/* struct pthread's res, 0 until probed */
static size_t stackblock_off;		/* and its stackblock, stackblock_size */
static size_t hot_off;			/* struct pthread's words a G writes: below this */
#define TCB_ROOM_LO 0x80		/* tcbhead_t's unused tail (the spare layout, below) */
#define TCB_ROOM_HI 0x2c0
static bool tcb_room;			/* [TCB_ROOM_LO, TCB_ROOM_HI) of a header is free */

struct pending { ptrdiff_t off; size_t len; const void *img; size_t filesz; };
static struct pending found[MAXSEG];
static int nfound;
static void *self_base;
static size_t tcb_size;			/* tp mode: sizeof (struct pthread), 0 unverified */
static size_t static_align = 64;	/* of the thread pointer */
static bool block_in_stack(struct g *g);
static _Atomic unsigned long freed_blocks;	/* since the last malloc_trim */

static int add_found(ptrdiff_t off, size_t len, const void *img, size_t filesz)
{
	if (nfound == MAXSEG)
		return -1;
	found[nfound++] = (struct pending){ off, len, img, filesz };
	return 0;
}

static int scan(struct dl_phdr_info *info, size_t size, void *tp)
{
	if (!info->dlpi_tls_data || (void *)info->dlpi_addr == self_base)
		return 0;
	if (info->dlpi_name && strstr(info->dlpi_name, "/libc.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_TLS || ph->p_memsz == 0)
			continue;
		if (!in_static(tp, info->dlpi_tls_data))
			continue;	/* not in the static block */
		add_found((char *)info->dlpi_tls_data - (char *)tp, ph->p_memsz, (void *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz);
	}
	return 0;
}

typedef struct { unsigned long mod, off; } tls_index;
static void *(*tls_get_addr)(tls_index *);
#define MAXSTATIC 64
static size_t mod_done[MAXSTATIC];	/* TLS modules looked at */
static int nmod_done;

static int note_mod(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (info->dlpi_tls_modid && nmod_done < MAXSTATIC)
		mod_done[nmod_done++] = info->dlpi_tls_modid;
	return 0;
}

static int cmp_off(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off ? 1 : 0;	/* lowest address first */
}

static void pinned_init(void)
{
	char *tp = gs_arch_tp();
	Dl_info di;
	if (dladdr((void *)gs_tls_init, &di))
		self_base = di.dli_fbase;
	REAL(dl_iterate_phdr)(scan, tp);
	add_found((char *)__errno_location() - tp, sizeof(int), NULL, 0);
	add_found((char *)__h_errno_location() - tp, sizeof(int), NULL, 0);
	qsort(found, (size_t)nfound, sizeof found[0], cmp_off);

	/* Merge into segments by address (start = off relative to the thread
	 * pointer); build the initial image alongside. */
	size_t total = 0;
	for (int i = 0; i < nfound; i++)
		total += found[i].len;
	init_image = calloc(1, total + ROOM ? total + ROOM : 1);
	if (!init_image)
		gs_throw("out of memory at start-up");
	for (int i = 0; i < nfound; i++) {
		struct pending *f = &found[i];
		ptrdiff_t fstart = f->off, fend = fstart + (ptrdiff_t)f->len;
		struct seg *last = nseg ? &segs[nseg - 1] : NULL;
		ptrdiff_t lstart = last ? last->off : 0;
		if (last && fstart <= lstart + (ptrdiff_t)last->len) {
			if (fend > lstart + (ptrdiff_t)last->len)
				last->len = (size_t)(fend - lstart);
		} else {
			gs_assert(nseg < MAXSEG);
			segs[nseg++] = (struct seg){ f->off, f->len, gs_tls_size };
			last = &segs[nseg - 1];
			lstart = fstart;
		}
		gs_tls_size = last->save + last->len;
		if (f->img && f->filesz)
			memcpy(init_image + last->save + (size_t)(fstart - lstart), f->img, f->filesz);
	}
	room_at = gs_tls_size;
	gs_tls_size += ROOM;
	if (ROOM) {
		tls_get_addr = dlsym(RTLD_DEFAULT, "__tls_get_addr");
		REAL(dl_iterate_phdr)(note_mod, NULL);
	}
}

static const char *tp_verify(void);

void gs_tls_init(void)
{
	void (*info)(size_t *, size_t *) = dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	info_ok = info != NULL;
	size_t align = 0;
	static_size = 4096;
	if (info)
		info(&static_size, &align);
	if (align > static_align && align <= 4096)
		static_align = align;
	if (gs_cfg.pinned)
		gs_tls_why = "GOSHIM_DEBUG=pinned=1";
	else if ((gs_tls_why = gs_arch_tp_mode_why()))
		;
	else if (!(gs_tls_why = tp_verify()))
		gs_tls_tp = 1;
	if (!gs_tls_tp)
		pinned_init();
}

int gs_tls_init_g(struct g *g)
{
	g->dtv = NULL;
	if (gs_tls_tp && g->in_stack && block_in_stack(g))
		return 0;
	if (gs_tls_tp)
		return (g->tp = gs_tls_block_new()) ? 0 : -EAGAIN;
	memcpy(g->tls, init_image, gs_tls_size);
	return 0;
}

static bool is_static(struct m *m, void *p)
{
	return in_static(m->tp, p);
}

static void *dtv_alloc(size_t n)
{
	dtv_t *a = malloc((n + 2) * sizeof *a);
	if (!a)
		gs_throw("out of memory for a thread's TLS vector");
	a[0].counter = n;
	return a + 1;
}

static void *dtv_clone(struct m *m)
{
	dtv_t *src = m->own_dtv;
	size_t n = src[-1].counter;
	dtv_t *d = dtv_alloc(n);
	d[0].counter = src[0].counter;
	for (size_t i = 1; i <= n; i++) {
		if (src[i].pointer.val != DTV_UNALLOCATED && is_static(m, src[i].pointer.val)) {
			d[i] = src[i];
		} else {
			d[i].pointer.val = DTV_UNALLOCATED;
			d[i].pointer.to_free = NULL;
		}
	}
	return d;
}

/* Whether m's own DTV holds static entries only (and unused slots). */
static bool dtv_static_only(struct m *m)
{
	dtv_t *d = m->own_dtv;
	for (size_t i = 1; i <= d[-1].counter; i++)
		if (d[i].pointer.val && !is_static(m, d[i].pointer.val))
			return false;	/* a dynamic module: allocated or not */
	return true;
}

/* At an M's start, on its own OS thread. */
void gs_tls_init_m(struct m *m)
{
	if (gs_tls_tp) {
		if (*(pid_t *)((char *)m->tp + tid_off) != m->tid)
			gs_throw("thread %d: glibc's tid is not where start-up found it", m->tid);
		return;
	}
	m->own_dtv = TCB_DTV(m->tp);
	m->own_gen = ((dtv_t *)m->own_dtv)[0].counter;
	m->dtv_share = dtv_static_only(m);
}

/* from, which shared m's DTV, is leaving m's TLS. If that DTV has moved on
 * (a dynamic module), from takes it over: a copy with every entry goes to
 * from, and m's keeps only the static ones. No G shares on m from then on. */
static void dtv_unshare(struct m *m, struct g *from)
{
	dtv_t *cur = TCB_DTV(m->tp);
	if (likely(cur == m->own_dtv && cur[0].counter == m->own_gen))
		return;
	size_t n = cur[-1].counter;
	dtv_t *d = dtv_alloc(n);
	memcpy(d - 1, cur - 1, (n + 2) * sizeof *d);
	for (size_t i = 1; i <= n; i++) {
		if (cur[i].pointer.val != DTV_UNALLOCATED && cur[i].pointer.val &&
		    !is_static(m, cur[i].pointer.val)) {
			cur[i].pointer.val = DTV_UNALLOCATED;
			cur[i].pointer.to_free = NULL;
		}
	}
	from->dtv = d;
	m->own_dtv = cur;	/* glibc may have regrown it */
	m->own_gen = cur[0].counter;
	m->dtv_share = false;
}

/* Makes to's identity the one in m's TLS. Runs on m, hot path. */
void gs_tls_switch(struct m *m, struct g *to)
{
	struct g *from = m->tls_owner;
	if (from == to)
		return;
	char *tp = m->tp;
	int n = atomic_load_explicit(&nseg, memory_order_acquire);
	if (from) {
		for (int i = 0; i < n; i++)
			memcpy(from->tls + segs[i].save, tp + segs[i].off, segs[i].len);
		if (from->dtv)
			from->dtv = TCB_DTV(tp);
		else
			dtv_unshare(m, from);
	}
	for (int i = 0; i < n; i++)
		memcpy(tp + segs[i].off, to->tls + segs[i].save, segs[i].len);
	if (!to->dtv && unlikely(!m->dtv_share))
		to->dtv = dtv_clone(m);
	TCB_DTV(tp) = to->dtv ? to->dtv : m->own_dtv;
	m->tls_owner = to;
}

/* g has exited on m: forget its identity and free its dynamic TLS. */
void gs_tls_release(struct m *m, struct g *g)
{
	if (gs_tls_tp) {
		if (g->tp && g->tp_in_stack) {
			deallocate_tls(g->tp, false);	/* its DTV, dynamic blocks */
			atomic_fetch_add_explicit(&freed_blocks, 1, memory_order_relaxed);
		} else if (g->tp && g != gs_maing)
			gs_tls_block_free(g->tp);
		g->tp = NULL;
		return;
	}
	if (m->tls_owner == g) {
		if (g->dtv)
			g->dtv = TCB_DTV(m->tp);
		else
			dtv_unshare(m, g);
		TCB_DTV(m->tp) = m->own_dtv;
		m->tls_owner = NULL;
	}
	dtv_t *d = g->dtv;
	if (!d || d == m->own_dtv || g == gs_maing)
		return;
	for (size_t i = 1; i <= d[-1].counter; i++)
		if (d[i].pointer.val != DTV_UNALLOCATED && !is_static(m, d[i].pointer.val))
			free(d[i].pointer.to_free);
	free(d - 1);
	g->dtv = NULL;
}

/* ---- tp mode: a thread pointer per G ----
 *
 * Where the CPU lets user space set the thread pointer (x86-64 FSGSBASE:
 * AT_HWCAP2 bit 1), each G has its own static TLS block and glibc thread
 * header ("block"), and a switch points %fs at it (wrfsbase). The block lies
 * at the top of the G's stack, as glibc puts a real thread's, and holds the
 * G's struct (block_in_stack, the layouts below); glibc's own _dl_allocate_tls gives it
 * a DTV (malloc'ed: glibc may realloc it; cut to the modules there are,
 * dtv_fit) and its TLS images. A G on a stack
 * the program gave gets a block from _dl_allocate_tls's malloc. Every per-thread byte
 * glibc or the program reaches through the thread pointer is then the G's own,
 * wherever it runs: errno, h_errno, __thread of every module (static and
 * dynamic TLS), stdio lock owners (THREAD_SELF), the locale and ctype tables,
 * the cancellation word. The scheduler context (g0) of an M runs on the M's
 * real thread pointer; main's G keeps the main thread's own block.
 *
 * The header is zero (glibc clears it) but for what glibc reads through it
 * (the note ../shared/notes/per-g-thread-pointer.md has the evidence):
 *   tcb, self         the block itself (THREAD_SELF)
 *   0x18 .. 0x50      of tcbhead_t copied from a live thread: sysinfo,
 *                     stack_guard (the canary), pointer_guard (PTR_MANGLE:
 *                     setjmp, atexit), feature_1; gscope 0; multiple_threads
 *                     1 (else glibc's locks take their single-thread path)
 *   tid               the running M's tid, written at every switch-in
 *   robust_head       an empty list
 *   res               the resolver state __resp points to (libc TLS), as in
 *                     a real thread; its offset is found by a real thread
 *                     made once at the first pthread_create (gs_tls_probe)
 * Left zero: specific[] (pthread_key_* are the shim's, per G in g->tsd; glibc
 * reads specific[] only when a real thread exits) and the rseq area (the
 * kernel updates only the OS thread's own; sched_getcpu is the shim's, which
 * asks getcpu: glibc's would read CPU 0 here; -2 in cpu_id once a program or
 * library that reads the area itself is loaded: rseq_cpu). Both lie in the
 * struct's upper part, which an idle G then never writes (the layouts below).
 * The offsets of tid, robust_head and specific[0] are found at start-up in
 * the live main thread (a unique match each, below its rseq area, whose offset
 * glibc exports as __rseq_offset); if anything fails to verify the runtime
 * stays pinned and schedtrace says why.
 *
 * Two words stay per M, not per G: goshim's own gs_curm, and malloc's
 * per-thread cache pointer (tcache, found at start-up by a free chunk it
 * holds). A switch copies the cache pointer from the block it leaves to the
 * block it enters, so the M's cache follows the M and a G's block never owns
 * one: no 700-byte cache per G, nothing to leak when a G exits (glibc 2.36
 * has no exported routine to release a thread's cache). malloc never parks,
 * so no address of that word is held across a switch. The arena pointer
 * stays per G (a pointer to a shared arena).
 *
 * fork and the set*id family run on the M's real thread pointer (shim): glibc
 * walks its list of real threads there. A module with initial-exec TLS that
 * dlopen puts in the static block is initialised by glibc in real threads
 * only: gs_tls_after_dlopen does it in every G's block. */

#define HDR_LO 0x18
#define HDR_HI 0x50
static unsigned char hdr_tmpl[HDR_HI - HDR_LO];

/* Static TLS ranges (distance below the thread pointer) already initialised in
 * every block: those of the modules loaded at start, then each one
 * gs_tls_after_dlopen has done. */
static size_t static_done[MAXSTATIC];
static int nstatic_done;
static gs_lock_t dlopen_lock = GS_LOCK_INIT(DLOPEN);

struct libc_tls { const char *lo; size_t len; };

static int find_libc_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct libc_tls *lt = arg;
	if (!info->dlpi_tls_data || !info->dlpi_name || !strstr(info->dlpi_name, "/libc.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS) {
			lt->lo = info->dlpi_tls_data;
			lt->len = info->dlpi_phdr[i].p_memsz;
			return 1;
		}
	return 0;
}

static int note_static(struct dl_phdr_info *info, size_t size, void *tp)
{
	if (info->dlpi_tls_modid && nmod_done < MAXSTATIC)
		mod_done[nmod_done++] = info->dlpi_tls_modid;
	if (!info->dlpi_tls_data)
		return 0;
	size_t off = (size_t)((char *)tp - (char *)info->dlpi_tls_data);
	if (off <= static_size && nstatic_done < MAXSTATIC)
		static_done[nstatic_done++] = off;
	return 0;
}

/* rseq's cpu_id in a G's block. The kernel updates only the OS thread's own
 * rseq area, so a G's says nothing; glibc's sched_getcpu, which reads it, is
 * replaced by the shim's. A program or library that reads the area itself
 * (it imports glibc's __rseq_offset: none on a stock Debian 12) must see
 * "registration failed" (-2) there, as it then falls back to sched_getcpu
 * and does no restartable sequence the kernel would not restart: then every
 * block gets -2, which costs a G its stack's top page (the spare layout).
 * Looked for at start-up and after each dlopen. */
static _Atomic bool rseq_cpu;

/* Whether the object has a dynamic symbol __rseq_offset: undefined (it imports
 * it) or defined by a copy relocation (an executable that reads it). */
static bool imports_rseq(const struct dl_phdr_info *info)
{
	const ElfW(Dyn) *dyn = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	if (!dyn)
		return false;
	const ElfW(Sym) *sym = NULL;
	const char *str = NULL;
	const uint32_t *hash = NULL, *gnu = NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		/* ld.so relocates these in place (x86-64); not in a vDSO. */
		uintptr_t v = dyn->d_un.d_ptr;
		if (v < info->dlpi_addr)
			v += info->dlpi_addr;
		if (dyn->d_tag == DT_SYMTAB)
			sym = (const ElfW(Sym) *)v;
		else if (dyn->d_tag == DT_STRTAB)
			str = (const char *)v;
		else if (dyn->d_tag == DT_HASH)
			hash = (const uint32_t *)v;
		else if (dyn->d_tag == DT_GNU_HASH)
			gnu = (const uint32_t *)v;
	}
	if (!sym || !str || (!hash && !gnu))
		return false;
	size_t n = 0;
	if (hash) {
		n = hash[1];	/* nchain: the number of symbols */
	} else {
		/* The highest symbol a bucket starts, then its chain's end. */
		uint32_t nb = gnu[0], off = gnu[1], bloom = gnu[2];
		const uint32_t *bucket = gnu + 4 + bloom * (sizeof(ElfW(Addr)) / 4);
		const uint32_t *chain = bucket + nb;
		uint32_t last = 0;
		for (uint32_t i = 0; i < nb; i++)
			if (bucket[i] > last)
				last = bucket[i];
		if (last >= off)
			while (!(chain[last - off] & 1))
				last++;
		n = last ? last + 1 : off;
	}
	for (size_t i = 1; i < n; i++)
		if (sym[i].st_name && strcmp(str + sym[i].st_name, "__rseq_offset") == 0)
			return true;
	return false;
}

/* arg: the load address of ld.so, which defines __rseq_offset. */
static int find_rseq_user(struct dl_phdr_info *info, size_t size, void *arg)
{
	if ((void *)info->dlpi_addr == arg || (info->dlpi_name && strstr(info->dlpi_name, "linux-vdso")))
		return 0;
	return imports_rseq(info);
}

static bool rseq_user_loaded(void)
{
	Dl_info di;
	if (!dladdr((void *)allocate_tls, &di))	/* in ld.so */
		return true;
	return REAL(dl_iterate_phdr)(find_rseq_user, di.dli_fbase) != 0;
}

/* malloc's per-thread cache pointer in libc's TLS block of the calling thread:
 * the one word there pointing at a structure that lists the chunk just freed,
 * and stops listing it once the chunk is taken again. */
static const char *find_tcache(void)
{
	struct libc_tls lt = { 0 };
	REAL(dl_iterate_phdr)(find_libc_tls, &lt);
	if (!lt.lo)
		return "libc's TLS block not found";
	char *tp = gs_arch_tp();
	void *m = malloc(24);
	volatile uintptr_t pv = (uintptr_t)m;	/* only compared once freed */
	free(m);
	char *p = (char *)pv;
	int found = 0;
	for (const char *w = lt.lo; w + sizeof(void *) <= lt.lo + lt.len; w += sizeof(void *)) {
		char *v = *(char *const *)w;
		if (!v || v > p - 64 || p - v > (64 << 20))
			continue;	/* not a heap pointer below the chunk */
		size_t lim = (size_t)(p - v);
		if (lim > 1024)
			lim = 1024;
		char *volatile *slot = NULL;	/* malloc writes it: no reuse */
		for (size_t o = 64; o + sizeof(void *) <= lim; o += sizeof(void *))
			if (((char **)v)[o / sizeof(void *)] == p)
				slot = &((char *volatile *)v)[o / sizeof(void *)];
		if (!slot)
			continue;
		void *q = malloc(24);
		bool took = (char *)q == p && *slot != p;
		free(q);
		if (took && *slot == p) {
			tcache_off = w - tp;
			found++;
		}
	}
	return found == 1 ? NULL : "malloc's thread cache pointer not found";
}

static const char *tp_verify(void)
{
#ifndef __x86_64__
	(void)note_static, (void)find_tcache;
	return "a thread pointer per G is x86-64 only so far";
#else
	allocate_tls = dlvsym(RTLD_DEFAULT, "_dl_allocate_tls", "GLIBC_PRIVATE");
	deallocate_tls = dlvsym(RTLD_DEFAULT, "_dl_deallocate_tls", "GLIBC_PRIVATE");
	ctype_init = dlvsym(RTLD_DEFAULT, "__ctype_init", "GLIBC_PRIVATE");
	const ptrdiff_t *rseq_off = dlsym(RTLD_DEFAULT, "__rseq_offset");
	tls_get_addr = dlsym(RTLD_DEFAULT, "__tls_get_addr");
	if (!allocate_tls || !deallocate_tls || !ctype_init || !rseq_off || !tls_get_addr)
		return "glibc's _dl_allocate_tls, __ctype_init or __rseq_offset not found";
	char *tp = gs_arch_tp();
	void *fsbase;
	__asm__ volatile("rdfsbase %0" : "=r"(fsbase));
	if (fsbase != tp || ((void **)tp)[2] != tp)
		return "the thread pointer is not glibc's tcb/self";
	/* The rseq area lies in struct pthread, after the fields we look for. */
	if (*rseq_off < 0x100 || *rseq_off > 0x4000)
		return "unexpected __rseq_offset";
	size_t end = (size_t)*rseq_off;
	rseq_cpu_off = end + 4;		/* struct rseq: cpu_id_start, cpu_id */
	pid_t tid = (pid_t)gs_syscall(SYS_gettid);
	int n = 0;
	for (size_t o = HDR_HI; o + 4 <= end; o += 4)
		if (*(pid_t *)(tp + o) == tid)
			tid_off = o, n++;
	if (n != 1)
		return "struct pthread's tid not found";
	/* robust_head.list points at itself (robust_prev at it too);
	 * specific[0] at specific_1stblock, elsewhere in the struct. */
	n = 0;
	for (size_t o = HDR_HI; o + 8 <= end; o += 8)
		if (*(char **)(tp + o) == tp + o)
			robust_off = o, n++;
	int ns = 0;
	size_t spec_val = 0;	/* where specific[0] points */
	for (size_t o = HDR_HI; o + 8 <= end && n == 1; o += 8) {
		char *v = *(char **)(tp + o);
		if (v == tp + robust_off)
			robust_prev_off = o;
		else if (v > tp + HDR_HI && v < tp + end)
			spec_val = (size_t)(v - tp), ns++;
	}
	if (n != 1 || ns != 1)
		return "struct pthread's robust list or specific block not found";
	/* The words a G writes end where the thread-specific blocks begin. */
	hot_off = spec_val;
	if (hot_off < tid_off + 4 || hot_off < robust_off + 24 || hot_off < robust_prev_off + 8 ||
	    hot_off > end || hot_off % 8)
		return "struct pthread's fields are not in the expected order";
	/* The header's unused tail: zero in this live thread, below every
	 * field found above. */
	tcb_room = hot_off >= TCB_ROOM_HI && tid_off >= TCB_ROOM_HI && robust_off >= TCB_ROOM_HI &&
		   (!robust_prev_off || robust_prev_off >= TCB_ROOM_HI);
	for (size_t o = TCB_ROOM_LO; o < TCB_ROOM_HI && tcb_room; o += 8)
		tcb_room = *(uint64_t *)(tp + o) == 0;
	memcpy(hdr_tmpl, tp + HDR_LO, sizeof hdr_tmpl);
	/* __resp (libc TLS): in the main thread it points at the global _res. */
	struct libc_tls lt = { 0 };
	REAL(dl_iterate_phdr)(find_libc_tls, &lt);
	if (!lt.lo)
		return "libc's TLS block not found";
	n = 0;
	for (const char *w = lt.lo; w + 8 <= lt.lo + lt.len; w += 8)
		if (*(void *const *)w == (void *)__res_state())
			resp_slot = w - tp, n++;
	if (n != 1)
		return "the resolver state pointer not found";
	curm_off = (char *)&gs_curm - tp;
	const char *why = find_tcache();
	if (why)
		return why;
	/* A trial block: glibc clears its header and fills its TLS images. */
	char *b = allocate_tls(NULL);
	if (!b)
		return "_dl_allocate_tls failed";
	bool ok = ((void **)b)[1] != NULL && *(struct m **)(b + curm_off) == NULL &&
		  *(void **)(b + tcache_off) == NULL && *(pid_t *)(b + tid_off) == 0 &&
		  *(int *)(b - (tp - (char *)__errno_location())) == 0;
	for (size_t o = 0x18; o < end && ok; o += 8)
		ok = *(uint64_t *)(b + o) == 0;
	/* struct pthread ends with its rseq area (32 bytes, aligned 64). glibc
	 * keeps what it malloc'ed just past the struct; the block starts at its
	 * first static_align boundary and holds static_size bytes in all. Blocks
	 * go in G stacks (block_in_stack) only if both sizes check out. */
	size_t tcb = (end + 32 + 63) & ~(size_t)63;
	uintptr_t raw = *(uintptr_t *)(b + tcb);
	if (info_ok && raw < (uintptr_t)b &&
	    ((raw + static_align - 1) & ~(uintptr_t)(static_align - 1)) + static_size - tcb == (uintptr_t)b)
		tcb_size = tcb;
	deallocate_tls(b, true);
	if (!ok)
		return "a block from _dl_allocate_tls is not as expected";
	REAL(dl_iterate_phdr)(note_static, tp);
	atomic_store(&rseq_cpu, rseq_user_loaded());
	return NULL;
#endif
}

static void init_hdr(char *b);


/* glibc gives a new DTV room for DTV_SURPLUS (14) more modules than there
 * are (16 bytes each: 336 of malloc per G); a G keeps a copy sized to the
 * modules there are, from malloc too (glibc reallocs it when a module with
 * TLS dlopen'ed later needs more, as it does any thread's when the surplus
 * is used up, and frees it). Slots past the last module are empty: nothing
 * reads them (__tls_get_addr and dl_iterate_phdr read a slot without a bound
 * only for a module loaded no later than the DTV's generation: a slot of its
 * own). */
static void dtv_fit(char *tp)
{
	dtv_t *d = TCB_DTV(tp);
	size_t n = d[-1].counter, last = 0;
	for (size_t i = 1; i <= n; i++)
		if (d[i].pointer.val || d[i].pointer.to_free)
			last = i;
	if (last + 4 > n)
		return;
	dtv_t *t = malloc((last + 2) * sizeof *t);
	if (!t)
		return;
	memcpy(t, d - 1, (last + 2) * sizeof *t);
	t[0].counter = last;
	TCB_DTV(tp) = t + 1;
	free(d - 1);
}

/* A G's block: NULL if out of memory. Any thread. */
void *gs_tls_block_new(void)
{
	char *b = allocate_tls(NULL);
	if (!b)
		return NULL;
	dtv_fit(b);
	init_hdr(b);
	return b;
}

static void init_hdr(char *b)
{
	((void **)b)[0] = b;			/* tcb */
	((void **)b)[2] = b;			/* self */
	memcpy(b + HDR_LO, hdr_tmpl, sizeof hdr_tmpl);
	*(int *)(b + 0x18) = 1;			/* multiple_threads: locks on */
	*(int *)(b + 0x1c) = 0;			/* gscope_flag */
	if (atomic_load_explicit(&rseq_cpu, memory_order_relaxed))
		*(int32_t *)(b + rseq_cpu_off) = -2;	/* RSEQ_CPU_ID_REGISTRATION_FAILED */
	*(void **)(b + robust_off) = b + robust_off;
	if (robust_prev_off)
		*(void **)(b + robust_prev_off) = b + robust_off;
}

/* Where a G's block lies in its stack. A block spans, from the thread
 * pointer tp: the static TLS below it (static_size - tcb_size bytes: the TLS
 * of the modules there are, just below tp, then glibc's surplus for modules
 * dlopen'ed later, touched only when such a module comes) and the struct
 * pthread above it (tcb_size). Of the struct, a G writes only the words below
 * hot_off (its header, list, tid, robust list, cleanup, cancellation word and
 * flags); the rest (the thread-specific data blocks, which pthread_key_* in the
 * shim keep elsewhere; the stack bounds, the resolver state, the signal mask,
 * strerror's buffers, dlopen's error catcher, the rseq area, which the shim's
 * sched_getcpu does not read) stays zero until the G uses what it is for.
 *
 * Spare layout, for stacks of SPARE_MIN and more: that cold upper part lies
 * in the stack's top page, which nothing else uses and so is never touched;
 * the hot words end at the next page boundary down (tp is aligned to
 * static_align below that: up to 63 bytes more), and from there go the used
 * TLS, the surplus, then g's frames. The struct g lies in the block's header
 * where glibc has room (tcb_room): x86-64's tcbhead_t ends with 576 bytes
 * glibc no longer uses and keeps only for the struct's size
 * (__glibc_unused2, the former rtld_savespace_sse, and __padding:
 * TCB_ROOM_LO .. TCB_ROOM_HI), verified zero in the live main thread at
 * start-up; a struct g that does not fit goes between the surplus and the
 * frames instead (576 bytes deeper). An idle G then touches the pages its
 * frames touch in pinned mode (where g, 576 bytes, lies above them) once
 * they start 2.1 KB lower (hot words 0x310, static TLS 0x740 with glibc
 * 2.36), the top page aside: `scripts/memconn.sh preload 10000`, whose
 * threads keep a 4 KiB buffer on the stack, measures two pages a thread, as
 * in pinned mode (tests/scale/idle_pages.sh; README).
 * Compact layout, for smaller stacks (whose frames the top page would cost
 * more): g at the top, the block just below it, the frames below the block. */
#define SPARE_MIN (64 * 1024)

static bool spare_layout(char *lo, char *hi)
{
	return (size_t)(hi - lo) >= SPARE_MIN;
}

/* Spare layout: the thread pointer of the block in the stack ending at hi. */
static char *spare_tp(char *hi)
{
	uintptr_t top = ((uintptr_t)hi & ~(uintptr_t)4095) - 4096;
	return (char *)((top - hot_off) & ~(uintptr_t)(static_align - 1));
}

static char *block_lo(char *tp)
{
	return (char *)(((uintptr_t)tp - (static_size - tcb_size)) & ~(uintptr_t)63);
}

/* Where a G of gsize bytes goes at the top of the stack [lo, hi): in its
 * block's header or just below its block in the spare layout, else at the
 * top. */
char *gs_tls_g_spot(char *lo, char *hi, size_t gsize)
{
	if (!gs_tls_tp || !tcb_size || !spare_layout(lo, hi))
		return hi - gsize;
	if (tcb_room && gsize <= TCB_ROOM_HI - TCB_ROOM_LO)
		return spare_tp(hi) + TCB_ROOM_LO;
	return (char *)(((uintptr_t)block_lo(spare_tp(hi)) - gsize) & ~(uintptr_t)63);
}

/* Zeroes the words of [p, p + n) that are not zero, reading the others: a
 * page never written stays untouched (a read maps the shared zero page, no
 * memory), while a pooled stack's old bytes are cleared. */
static void zero_dirty(char *p, size_t n)
{
	for (volatile uint64_t *w = (uint64_t *)p, *e = w + n / 8; w < e; w++)
		if (*w)
			*w = 0;
}

/* g's block in its stack (layouts above). glibc's _dl_allocate_tls given the
 * place only allocates the DTV and copies the TLS images (of modules dlopen'ed
 * into static TLS too); the struct is cleared here, as a pooled stack is
 * dirty. false: the caller mallocs a block. */
static bool block_in_stack(struct g *g)
{
	if (!tcb_size)
		return false;
	char *tp, *lo;
	bool in_hdr = false;
	if (spare_layout(g->stack_lo, g->stack_hi)) {
		tp = spare_tp(g->stack_hi);
		lo = block_lo(tp);
		if ((char *)g == tp + TCB_ROOM_LO)
			in_hdr = true;
		else if ((char *)g + sizeof *g > lo)
			return false;	/* g was not placed for it (gs_tls_g_spot) */
		else
			lo = (char *)g;
	} else {
		tp = (char *)(((uintptr_t)g - tcb_size) & ~(uintptr_t)(static_align - 1));
		lo = block_lo(tp);
	}
	if (lo - g->stack_lo < 8192)
		return false;	/* a small stack: leave it to the frames */
	if (in_hdr) {
		memset(tp, 0, TCB_ROOM_LO);
		memset(tp + TCB_ROOM_HI, 0, hot_off - TCB_ROOM_HI);
	} else {
		memset(tp, 0, hot_off);
	}
	if (g->stack_dirty)
		zero_dirty(tp + hot_off, tcb_size - hot_off);
	if (!allocate_tls(tp))
		return false;
	dtv_fit(tp);
	init_hdr(tp);
	g->tp = tp;
	g->tp_in_stack = 1;
	g->ctx_top = lo;
	return true;
}

void gs_tls_block_free(void *b)
{
	deallocate_tls(b, true);	/* its DTV, dynamic blocks and the block */
	atomic_fetch_add_explicit(&freed_blocks, 1, memory_order_relaxed);
}

/* From sysmon: DTVs (and the blocks of Gs on the program's stacks) come from
 * malloc, which keeps freed memory below the top of its heaps; after many Gs
 * exited (or when all Ms go idle) malloc_trim gives those pages back, as the
 * stack pools do theirs. */
void gs_tls_trim(bool idle)
{
	if (!gs_tls_tp)
		return;
	unsigned long n = atomic_load_explicit(&freed_blocks, memory_order_relaxed);
	if (n >= 256 || (idle && n)) {
		atomic_store_explicit(&freed_blocks, 0, memory_order_relaxed);
		malloc_trim(0);
	}
}

/* The switch of tp mode, on m, to the context whose thread pointer is tp
 * (a G's block, or m->tp for the scheduler). Hot path: four stores and
 * wrfsbase. The words are written before %fs moves, so a signal handler in
 * between sees a consistent block. */
void gs_tls_enter(struct m *m, void *tp, pid_t tid)
{
	char *cur = gs_arch_tp_now(), *to = tp;
	if (cur == to)
		return;
	*(void **)(to + tcache_off) = *(void **)(cur + tcache_off);
	*(struct m **)(to + curm_off) = m;
	*(pid_t *)(to + tid_off) = tid;
	gs_arch_set_tp(to);
}

/* Run by each G first, on its own block: the locale's ctype tables. */
void gs_tls_g_start(struct g *g)
{
	ctype_init();
	char *tp = gs_arch_tp_now();
	if (res_off)
		*(void **)(tp + resp_slot) = tp + res_off;
	/* glibc bounds its alloca use by the smaller of 64 KiB and a quarter of
	 * the stack it reads here, 256 KiB if that is 0 (glibc 2.36
	 * nptl/alloca_cutoff.c): only a stack under 256 KiB needs it (and
	 * then the block's cold part is touched, README). */
	if (stackblock_off && g->stack_lo && (size_t)(g->stack_hi - g->stack_lo) / 4 < 65536) {
		*(void **)(tp + stackblock_off) = g->stack_lo;
		*(size_t *)(tp + stackblock_off + 8) = (size_t)(g->stack_hi - g->stack_lo);
	}
}

/* Where a real thread's resolver state lies in its struct pthread: asked of a
 * short-lived real thread, once, before the first G runs (gs_ensure_ms). */
static void *probe(void *arg)
{
	char *tp = gs_arch_tp_now(), *r = (char *)__res_state();
	if (r > tp + HDR_HI && r < tp + rseq_cpu_off && *(void **)(tp + resp_slot) == r)
		res_off = (size_t)(r - tp);
	/* stackblock and stackblock_size, side by side: glibc reports them
	 * as the stack (above the guard) and the guard size. */
	pthread_attr_t a;
	void *addr;
	size_t size, guard;
	if (REAL(pthread_getattr_np)(REAL(pthread_self)(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0 &&
		    pthread_attr_getguardsize(&a, &guard) == 0) {
			int n = 0;
			size_t at = 0;
			for (size_t o = HDR_HI; o + 16 <= rseq_cpu_off; o += 8)
				if (*(char **)(tp + o) == (char *)addr - guard &&
				    *(size_t *)(tp + o + 8) == size + guard)
					at = o, n++;
			if (n == 1)
				stackblock_off = at;
		}
		pthread_attr_destroy(&a);
	}
	return NULL;
}

void gs_tls_probe(void)
{
	if (!gs_tls_tp || res_off)
		return;
	struct gs_realtp rt;
	gs_tls_real_begin(&rt);
	pthread_t t;
	if (REAL(pthread_create)(&t, NULL, probe, NULL) == 0)
		REAL(pthread_join)(t, NULL);
	gs_tls_real_end(&rt);
}

/* After a dlopen (on a G or not): a module whose TLS glibc placed in the
 * static block was initialised in real threads only; do it in every G's.
 * Where a module's TLS lies is asked of __tls_get_addr on the real thread
 * pointer (dl_iterate_phdr reports no address for a module newer than the
 * thread's DTV); it allocates the block of a dynamic one there, once. */
/* A module with TLS not looked at before: marks it done and returns its
 * PT_TLS header and the address of its block on the real thread pointer
 * (NULL: nothing to do). */
static const ElfW(Phdr) *new_tls_module(struct dl_phdr_info *info, char **addr)
{
	if (!info->dlpi_tls_modid)
		return NULL;
	for (int i = 0; i < nmod_done; i++)
		if (mod_done[i] == info->dlpi_tls_modid)
			return NULL;
	const ElfW(Phdr) *ph = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS)
			ph = &info->dlpi_phdr[i];
	if (!ph || nmod_done == MAXSTATIC)
		return NULL;
	mod_done[nmod_done++] = info->dlpi_tls_modid;
	tls_index ti = { info->dlpi_tls_modid, 0 };
	*addr = tls_get_addr(&ti);
	return ph;
}

static int init_new_static(struct dl_phdr_info *info, size_t size, void *tp)
{
	char *a;
	const ElfW(Phdr) *ph = new_tls_module(info, &a);
	if (!ph)
		return 0;
	size_t off = (size_t)((char *)tp - a);
	if (off > static_size)
		return 0;	/* dynamic: each G's DTV gets its own block */
	for (int i = 0; i < nstatic_done; i++)
		if (static_done[i] == off)
			return 0;	/* loaded at start: in every G's block already */
	const void *img = (const void *)(info->dlpi_addr + ph->p_vaddr);
	gs_lock(&gs_allg_lock);
	for (struct g *g = gs_allg; g; g = g->allnext) {
		if (!g->tp || g == gs_maing)
			continue;	/* main's block is a real thread's */
		char *dst = (char *)g->tp - off;
		memcpy(dst, img, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
	gs_unlock(&gs_allg_lock);
	if (nstatic_done < MAXSTATIC)
		static_done[nstatic_done++] = off;
	return 0;
}

/* Pinned mode, after a dlopen: a module glibc placed in the static block gets
 * a segment of its own in the room every G's saved bytes keep for it, every
 * G's copy its initial image (each real thread's, the Ms', glibc initialised).
 * The segment is published last: a switch on another M uses the old count or
 * the new one for both halves. A module past the room stays per OS thread
 * (README, Limits). */
static int pinned_new_static(struct dl_phdr_info *info, size_t size, void *tp)
{
	char *a;
	const ElfW(Phdr) *ph = new_tls_module(info, &a);
	if (!ph)
		return 0;
	int n = atomic_load_explicit(&nseg, memory_order_relaxed);
	if (!in_static(tp, a) || ph->p_memsz == 0)
		return 0;	/* dynamic: each G's DTV gets its own block */
	if (room_used + ph->p_memsz > ROOM || n == MAXSEG)
		return 0;
	size_t save = room_at + room_used;
	room_used += ph->p_memsz;
	const void *img = (const void *)(info->dlpi_addr + ph->p_vaddr);
	memcpy(init_image + save, img, ph->p_filesz);
	gs_lock(&gs_allg_lock);
	for (struct g *g = gs_allg; g; g = g->allnext) {
		memcpy(g->tls + save, img, ph->p_filesz);
		memset(g->tls + save + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	}
	segs[n] = (struct seg){ a - (char *)tp, ph->p_memsz, save };
	atomic_store_explicit(&nseg, n + 1, memory_order_release);
	gs_unlock(&gs_allg_lock);
	return 0;
}

void gs_tls_after_dlopen(void)
{
	if (!gs_tls_tp) {
		if (ROOM && tls_get_addr) {
			gs_lock(&dlopen_lock);
			REAL(dl_iterate_phdr)(pinned_new_static, gs_arch_tp_now());
			gs_unlock(&dlopen_lock);
		}
		return;
	}
	struct gs_realtp r;
	gs_tls_real_begin(&r);	/* glibc filled the real block's DTV entry */
	gs_lock(&dlopen_lock);
	REAL(dl_iterate_phdr)(init_new_static, gs_arch_tp_now());
	if (!atomic_load(&rseq_cpu) && rseq_user_loaded()) {
		/* A reader of the rseq area came: -2 in every G's block. */
		atomic_store(&rseq_cpu, true);
		gs_lock(&gs_allg_lock);
		for (struct g *g = gs_allg; g; g = g->allnext)
			if (g->tp && g != gs_maing)
				*(int32_t *)((char *)g->tp + rseq_cpu_off) = -2;
		gs_unlock(&gs_allg_lock);
	}
	gs_unlock(&dlopen_lock);
	gs_tls_real_end(&r);
}

/* Runs the code between begin and end on the M's real thread pointer (no-op
 * in pinned mode, off a G, or on g0). The G cannot be preempted meanwhile;
 * errno set there is carried back. Not inline: the caller must not touch TLS
 * between the two, and the compiler must not reuse a TLS address across them. */
__attribute__((noinline)) void gs_tls_real_begin(struct gs_realtp *r)
{
	r->tp = NULL;
	r->m = gs_curm;
	if (!gs_tls_tp || !r->m)
		return;
	void *cur = gs_arch_tp_now();
	if (cur == r->m->tp)
		return;
	r->tp = cur;
	r->in_sched = r->m->in_sched;
	r->m->in_sched = 1;
	int e = errno;
	gs_tls_enter(r->m, r->m->tp, r->m->tid);
	gs_tls_set_errno(e);
}

__attribute__((noinline)) static int get_errno(void)
{
	return errno;
}

__attribute__((noinline)) void gs_tls_set_errno(int e)
{
	errno = e;
}

__attribute__((noinline)) void gs_tls_real_end(struct gs_realtp *r)
{
	if (!r->tp)
		return;
	struct m *m = gs_curm;	/* the same struct in a forked child */
	int e = get_errno();
	struct g *g = m->curg;
	gs_tls_enter(m, r->tp, g && g->tp == r->tp ? gs_g_tid(g) : m->tid);
	gs_tls_set_errno(e);
	m->in_sched = r->in_sched;
}

/* glibc's SIGSETXID handler (setuid & co. from another thread) works on the
 * struct pthread of the thread it interrupts and the caller waits on the real
 * one: in tp mode it runs on the M's real thread pointer. glibc installs
 * it at its first pthread_create; this wraps it once after that. */
#define SIGSETXID_ (__SIGRTMIN + 1)
struct ksigaction { void *handler; unsigned long flags; void *restorer; uint64_t mask; };
static void (*glibc_setxid)(int, siginfo_t *, void *);

static void setxid_wrap(int sig, siginfo_t *si, void *uc)
{
	struct m *m = gs_curm;
	void *cur = gs_arch_tp_now();
	if (m && cur != m->tp) {
		gs_arch_set_tp(m->tp);
		glibc_setxid(sig, si, uc);
		gs_arch_set_tp(cur);
	} else {
		glibc_setxid(sig, si, uc);
	}
}

void gs_tls_wrap_setxid(void)
{
	struct ksigaction k;
	if (!gs_tls_tp || glibc_setxid ||
	    gs_syscall(SYS_rt_sigaction, SIGSETXID_, NULL, &k, sizeof k.mask) != 0 ||
	    (uintptr_t)k.handler < 2 || !(k.flags & SA_SIGINFO))
		return;
	glibc_setxid = (void (*)(int, siginfo_t *, void *))k.handler;
	k.handler = (void *)setxid_wrap;
	gs_syscall(SYS_rt_sigaction, SIGSETXID_, &k, NULL, sizeof k.mask);
}
