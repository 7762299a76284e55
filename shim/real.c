/* shim/real.c: the table of real functions: dlsym(RTLD_NEXT) behind REAL(). */
#include <dlfcn.h>
#include "real.h"

void *gs_real_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		gs_throw("cannot find the real %s: %s", name, dlerror());
	return p;
}
