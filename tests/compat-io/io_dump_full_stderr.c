/* io_dump_full_stderr.c: the program half of io_dump_full_stderr.sh: a dump of the
 * green threads (GOSHIM_DUMP_SIGNAL=URG) requested while stderr is a full pipe.
 *
 * The runtime's own output must not go through the library's write hook: there a
 * dump printed from a signal handler, with the list of all green threads locked,
 * would park its green thread on the full pipe, and a thread being created or
 * ending (which takes that lock) would wait for it for good. So: a "churn" thread
 * creates and joins short threads without pause; main fills stderr (O_NONBLOCK
 * for the filling only), prints "stderr full" and raises SIGURG (natively
 * ignored; preloaded the dump, which waits until the shell drains the pipe), then
 * stops the churn, prints "done" and ends stderr with a marker line. Counts are
 * not printed (they vary). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stdout, "io_dump_full_stderr: FAIL at line %d: %s (%s)\n", \
	__LINE__, #c, strerror(errno)); exit(1); } } while (0)

static atomic_int stop;
static atomic_long churned;

static void *nothing(void *arg)
{
	return arg;
}

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_t t;
		CHECK(pthread_create(&t, NULL, nothing, NULL) == 0);
		CHECK(pthread_join(t, NULL) == 0);
		atomic_fetch_add(&churned, 1);
	}
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t c;
	CHECK(pthread_create(&c, NULL, churn, NULL) == 0);
	while (atomic_load(&churned) < 10)
		sched_yield();

	int fl = fcntl(2, F_GETFL);
	CHECK(fl >= 0);
	CHECK(fcntl(2, F_SETFL, fl | O_NONBLOCK) == 0);
	static char junk[4096];
	memset(junk, 'j', sizeof junk);
	for (;;) {
		ssize_t n = write(2, junk, sizeof junk);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
	}
	CHECK(write(2, "j", 1) == -1 && errno == EAGAIN);
	CHECK(fcntl(2, F_SETFL, fl) == 0);
	printf("stderr full\n");
	/* raise: to this OS thread, so the dump runs (to its end) before it returns. */
	CHECK(raise(SIGURG) == 0);
	long before = atomic_load(&churned);
	while (atomic_load(&churned) < before + 10)	/* thread creation still works */
		sched_yield();
	atomic_store(&stop, 1);
	CHECK(pthread_join(c, NULL) == 0);
	printf("done\n");
	fprintf(stderr, "\nEND-OF-STDERR\n");	/* the shell drains up to here */
	return 0;
}
