/* proc_fork_dlopen_lib.c: the module proc_fork_dlopen loads (compat-dlopen helper). */
// compat-helper
int fork_dlopen_twice(int x);
int fork_dlopen_twice(int x)
{
	return 2 * x;
}
