/* sched/real.h: the libc call table (real.c): calling the real libc
 * functions behind the library's interposed symbols, from the runtime (which
 * must not go through its own hooks) and from the shim. REAL(fn) resolves fn
 * with dlsym(RTLD_NEXT) once per call site. */
#ifndef GS_REAL_H
#define GS_REAL_H

#include "gs.h"

GS_HIDDEN void *gs_real_sym(const char *name);

#define REAL(fn) ({							\
	static __typeof__(&fn) real_p_;					\
	if (unlikely(!real_p_))						\
		real_p_ = (__typeof__(&fn))gs_real_sym(#fn);		\
	real_p_; })

#endif
