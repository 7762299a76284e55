/* py_asyncio_select.c: the child process of py_asyncio_select.sh (never run alone as a
 * test: the runner runs the .sh, which starts Debian's python3 with this binary as
 * the program asyncio.create_subprocess_exec runs). It waits 200 ms, so that the
 * parent's event loop is waiting in select when it exits, prints a line, and exits
 * with status 3; the parent's only wake-up is then SIGCHLD (or a pidfd). */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts = { 0, 200000000L };
	nanosleep(&ts, NULL);
	printf("child done\n");
	return 3;
}
