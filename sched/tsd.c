/* sched/tsd.c: thread-specific data (pthread_key_*) of green threads.
 *
 * Key numbers come from glibc's own pthread_key_create (shim/pthread.c), so a
 * key works in threads the shim did not create exactly as natively; this file
 * keeps the values of Gs. A key's seq changes at create and delete; a value
 * stored under an older seq reads as NULL, as glibc does. Values sit in blocks
 * of 32 allocated on first use, so a G that uses no key pays nothing. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include "gs.h"
#include "tsd.h"

#define BLK 32
#define NBLK ((PTHREAD_KEYS_MAX + BLK - 1) / BLK)

struct tsd_block {
	void *val[BLK];
	uint64_t seq[BLK];
};
struct gs_tsd {
	struct tsd_block *blk[NBLK];
};
static struct {
	_Atomic uint64_t seq;
	void (*_Atomic dtor)(void *);
} keys[PTHREAD_KEYS_MAX];

void gs_tsd_created(unsigned key, void (*dtor)(void *))
{
	atomic_store(&keys[key].dtor, dtor);
	atomic_fetch_add(&keys[key].seq, 1);
}

void gs_tsd_deleted(unsigned key)
{
	atomic_fetch_add(&keys[key].seq, 1);
	atomic_store(&keys[key].dtor, NULL);
}

void *gs_tsd_get(struct g *g, unsigned key)
{
	if (key >= PTHREAD_KEYS_MAX || !g->tsd)
		return NULL;
	struct tsd_block *b = g->tsd->blk[key / BLK];
	if (!b || b->seq[key % BLK] != atomic_load_explicit(&keys[key].seq, memory_order_relaxed))
		return NULL;
	return b->val[key % BLK];
}

int gs_tsd_set(struct g *g, unsigned key, const void *val)
{
	if (key >= PTHREAD_KEYS_MAX)
		return EINVAL;
	uint64_t seq = atomic_load(&keys[key].seq);
	if (!(seq & 1))
		return EINVAL;	/* not created (seq is odd while a key lives) */
	if (!g->tsd && !(g->tsd = calloc(1, sizeof *g->tsd)))
		return ENOMEM;
	struct tsd_block **bp = &g->tsd->blk[key / BLK];
	if (!*bp && !(*bp = calloc(1, sizeof **bp)))
		return ENOMEM;
	(*bp)->val[key % BLK] = (void *)val;
	(*bp)->seq[key % BLK] = seq;
	return 0;
}

struct gs_tls_dtor {
	void (*fn)(void *);
	void *obj;
	struct gs_tls_dtor *next;
};

int gs_tls_dtor_add(struct g *g, void (*fn)(void *), void *obj)
{
	struct gs_tls_dtor *d = malloc(sizeof *d);
	if (!d)
		return -ENOMEM;
	*d = (struct gs_tls_dtor){ fn, obj, g->tls_dtors };
	g->tls_dtors = d;
	return 0;
}

/* As glibc's __call_tls_dtors: a destructor may register more. Runs on g. */
void gs_tls_dtors_run(struct g *g)
{
	struct gs_tls_dtor *d;
	while ((d = g->tls_dtors)) {
		g->tls_dtors = d->next;
		d->fn(d->obj);
		free(d);
	}
}

/* At exit: run destructors for non-NULL values, up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds, then free the storage. Runs on g. */
void gs_tsd_run_destructors(struct g *g)
{
	if (!g->tsd)
		return;
	for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		bool again = false;
		for (unsigned k = 0; k < PTHREAD_KEYS_MAX; k++) {
			struct tsd_block *b = g->tsd->blk[k / BLK];
			if (!b) {
				k += BLK - 1;
				continue;
			}
			void *v = b->val[k % BLK];
			if (!v)
				continue;
			b->val[k % BLK] = NULL;
			void (*d)(void *) = atomic_load(&keys[k].dtor);
			if (d && b->seq[k % BLK] == atomic_load(&keys[k].seq)) {
				d(v);
				again = true;
			}
		}
		if (!again)
			break;
	}
	for (int i = 0; i < NBLK; i++)
		free(g->tsd->blk[i]);
	free(g->tsd);
	g->tsd = NULL;
}
