/* proc_fork_loader_lib.c: the module proc_fork_loader loads and unloads (compat-dlopen
 * helper); its dynamic TLS makes each first call per thread go through ld.so's TLS lock. */
// compat-helper
static __thread int calls;
int fork_loader_call(int x);
int fork_loader_call(int x)
{
	return x + (++calls > 0);	/* 42 for 41, whatever the count */
}
