/* sched/tsd.h: thread-specific data of green threads (tsd.c). */
#ifndef GS_TSD_H
#define GS_TSD_H
#include "gs.h"
GS_HIDDEN void gs_tsd_created(unsigned key, void (*dtor)(void *));
GS_HIDDEN void gs_tsd_deleted(unsigned key);
GS_HIDDEN void *gs_tsd_get(struct g *g, unsigned key);
GS_HIDDEN int gs_tsd_set(struct g *g, unsigned key, const void *val);
#endif
