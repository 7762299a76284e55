/* sleep_eintr_thread.c: compat test of a signal interrupting a sleep in a non-main
 * thread (DESIGN.md §2.6, §2.7): pthread_kill of a sleeping thread runs the handler in
 * that thread and its nanosleep returns -1/EINTR; a process-directed kill() that only
 * that thread leaves unblocked (main blocks it) does the same; the other sleeping thread
 * is not disturbed. The signal is repeated every 20 ms until the sleeper reports, so it
 * surely arrives while the sleeper sleeps.
 */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_t target;
static atomic_int in_target, elsewhere, done;

static void on_usr1(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), target))
		atomic_fetch_add(&in_target, 1);
	else
		atomic_fetch_add(&elsewhere, 1);
}

struct result {
	int rc, err;
	long long rem_ns;
};

static void *sleeper(void *arg)
{
	struct result *r = arg;
	struct timespec req = ts_ms(10000), rem = { 0, 0 };
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
	errno = 0;
	r->rc = nanosleep(&req, &rem);
	r->err = errno;
	r->rem_ns = rem.tv_sec * 1000000000LL + rem.tv_nsec;
	atomic_store(&done, 1);
	return NULL;
}

/* A thread with SIGUSR1 blocked that sleeps undisturbed for 300 ms. */
static void *bystander(void *arg)
{
	struct timespec req = ts_ms(300);

	(void)arg;
	*(int *)arg = nanosleep(&req, NULL);
	return NULL;
}

static void run(const char *how, int process_directed)
{
	struct result r;
	int by = -2;
	pthread_t b;

	atomic_store(&done, 0);
	atomic_store(&in_target, 0);
	CHECK_RC(pthread_create(&b, NULL, bystander, &by), 0);
	CHECK_RC(pthread_create(&target, NULL, sleeper, &r), 0);
	while (!atomic_load(&done)) {
		usleep(20000);
		if (atomic_load(&done))
			break;
		if (process_directed)
			CHECK_SYS(kill(getpid(), SIGUSR1));
		else
			CHECK_RC(pthread_kill(target, SIGUSR1), 0);
	}
	CHECK_RC(pthread_join(target, NULL), 0);
	CHECK_RC(pthread_join(b, NULL), 0);
	printf("%s: nanosleep %d %s, remaining in (0, 10s] %d, handler in sleeper %d, "
	       "elsewhere %d, bystander %d\n", how, r.rc, errname(r.err),
	       r.rem_ns > 0 && r.rem_ns <= 10000000000LL, atomic_load(&in_target) > 0,
	       atomic_load(&elsewhere), by);
	CHECK(r.rc == -1 && r.err == EINTR && r.rem_ns > 0);
	CHECK(atomic_load(&in_target) > 0 && atomic_load(&elsewhere) == 0 && by == 0);
}

int main(void)
{
	struct sigaction sa;
	sigset_t s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	/* Blocked in main and so in every thread it creates, unless they unblock it. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);

	run("pthread_kill", 0);
	run("kill", 1);
	return 0;
}
