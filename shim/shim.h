/* shim/shim.h: what every file of the shim includes. The shim is the
 * library's libc-facing layer: each interposed symbol translates its call
 * into the runtime's (sched/) and the result back; the real libc functions
 * are reached through the runtime's call table (sched/real.h). */
#ifndef GS_SHIM_H
#define GS_SHIM_H

#include "gs.h"
#include "real.h"

/* Interposed symbols are the library's only exports. */
#define GS_EXPORT __attribute__((visibility("default")))

#endif
