/* tls_moves_lib.c: helper of tls_moves.c, built -O2 -fPIC as a shared library
 * (linked by the test as libtls_moves_lib.so, and again dlopen'ed as
 * libtls_moves_dyn.so with -DDYN: its TLS is then dynamic). round() keeps the
 * addresses of errno and of its __thread variable across a yield, as gcc does
 * within a function, and checks both after it. */
#include <errno.h>
#include <sched.h>

#ifdef DYN
#define ROUND dyn_round
#define VAR dyn_var
#else
#define ROUND lib_round
#define VAR lib_var
#endif

__thread long VAR = 7;

/* 0 if errno and VAR kept their values across the yield, else 1; *idp gets
 * nothing: the caller counts moves. */
int ROUND(long v)
{
	int *e = __errno_location();
	long *p = &VAR;
	*e = (int)v;
	*p = v;
	sched_yield();
	return !(*e == (int)v && errno == (int)v && *p == v && VAR == v);
}
