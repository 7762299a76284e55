/* sched/tls.c: thread identity of green threads (errno, __thread variables,
 * dynamic TLS of dlopen'ed libraries).
 *
 * Design (gs.h has the why): a started G is pinned to its M, and the M's own
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
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include "gs.h"

#define MAXSEG 32
struct seg {
	size_t off;		/* distance below the thread pointer */
	size_t len;
	size_t save;		/* offset in g->tls */
};
static struct seg segs[MAXSEG];
static int nseg;
size_t gs_tls_size;
static unsigned char *init_image;	/* a new G's TLS bytes */
static size_t static_size;		/* whole static TLS block, for "is static" */

typedef union {
	size_t counter;
	struct { void *val; void *to_free; } pointer;
} dtv_t;			/* glibc's dtv_t (x86_64, aarch64) */
#define DTV_UNALLOCATED ((void *)-1l)
#define TCB_DTV(tp) (((void **)(tp))[1])	/* tcbhead_t.dtv */

struct pending { size_t off, len; const void *img; size_t filesz; };
static struct pending found[MAXSEG];
static int nfound;
static void *self_base;

static int add_found(size_t off, size_t len, const void *img, size_t filesz)
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
		size_t off = (size_t)((char *)tp - (char *)info->dlpi_tls_data);
		if (off > static_size)
			continue;	/* not in the static block */
		add_found(off, ph->p_memsz, (void *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz);
	}
	return 0;
}

static int cmp_off(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	return x->off < y->off ? 1 : x->off > y->off ? -1 : 0;	/* lowest address first */
}

void gs_tls_init(void)
{
	char *tp = gs_arch_tp();
	void (*info)(size_t *, size_t *) = dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	size_t align;
	static_size = 4096;
	if (info)
		info(&static_size, &align);
	Dl_info di;
	if (dladdr((void *)gs_tls_init, &di))
		self_base = di.dli_fbase;
	dl_iterate_phdr(scan, tp);
	add_found((size_t)(tp - (char *)__errno_location()), sizeof(int), NULL, 0);
	add_found((size_t)(tp - (char *)__h_errno_location()), sizeof(int), NULL, 0);
	qsort(found, (size_t)nfound, sizeof found[0], cmp_off);

	/* Merge into segments by address (start = -off relative to the thread
	 * pointer); build the initial image alongside. */
	size_t total = 0;
	for (int i = 0; i < nfound; i++)
		total += found[i].len;
	init_image = calloc(1, total ? total : 1);
	if (!init_image)
		gs_throw("out of memory at start-up");
	for (int i = 0; i < nfound; i++) {
		struct pending *f = &found[i];
		ptrdiff_t fstart = -(ptrdiff_t)f->off, fend = fstart + (ptrdiff_t)f->len;
		struct seg *last = nseg ? &segs[nseg - 1] : NULL;
		ptrdiff_t lstart = last ? -(ptrdiff_t)last->off : 0;
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
}

void gs_tls_init_g(struct g *g)
{
	memcpy(g->tls, init_image, gs_tls_size);
	g->dtv = NULL;
}

static bool is_static(struct m *m, void *p)
{
	char *tp = m->tp;
	return (char *)p < tp && (char *)p >= tp - static_size;
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
	if (from) {
		for (int i = 0; i < nseg; i++)
			memcpy(from->tls + segs[i].save, tp - segs[i].off, segs[i].len);
		if (from->dtv)
			from->dtv = TCB_DTV(tp);
		else
			dtv_unshare(m, from);
	}
	for (int i = 0; i < nseg; i++)
		memcpy(tp - segs[i].off, to->tls + segs[i].save, segs[i].len);
	if (!to->dtv && unlikely(!m->dtv_share))
		to->dtv = dtv_clone(m);
	TCB_DTV(tp) = to->dtv ? to->dtv : m->own_dtv;
	m->tls_owner = to;
}

/* g has exited on m: forget its identity and free its dynamic TLS. */
void gs_tls_release(struct m *m, struct g *g)
{
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
