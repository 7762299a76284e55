/* sched/offload.c: calls that block inside libc where the netpoller cannot
 * reach (the resolver: getaddrinfo, getnameinfo) run on helper OS threads
 * while the calling G parks, so its M runs its other Gs meanwhile. Without
 * this, a G pinned to its M (the thread-identity design) would stop every
 * other G of that M for as long as a DNS reply takes; sysmon's hand-off only
 * lets new Gs run elsewhere.
 *
 * Helpers are plain OS threads, not Ms: they run no G, so the hooks the call
 * reaches inside libc (an NSS module's fopen, say) go native. They block every
 * signal (process-directed ones go to the Ms), are started on demand up to
 * OFFLOAD_MAX, and one idle for OFFLOAD_IDLE_S seconds exits. A job lives on
 * the caller's stack; the helper runs it with the caller's errno, stores errno
 * with the result and wakes the G through the green futex, the word being the
 * job's done flag. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include "gs.h"
#include "real.h"

#define OFFLOAD_MAX 16
#define OFFLOAD_IDLE_S 10
#define OFFLOAD_STACK (1024 * 1024)	/* the resolver uses alloca generously */

static gs_lock_t olock = GS_LOCK_INIT(OFFLOAD);		/* guards the queue and the counts */
static struct gs_offload *qhead, **qtail = &qhead;
static int nhelpers, nidle;
static int nlong;		/* helpers in a job that may wait without bound */
static _Atomic uint32_t qword;	/* helpers sleep on it; bumped per job */

static void *helper(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	REAL(pthread_sigmask)(SIG_SETMASK, &all, NULL);
	REAL(pthread_setname_np)(REAL(pthread_self)(), "goshim offload");
	for (;;) {
		gs_lock(&olock);
		while (!qhead) {
			uint32_t w = atomic_load(&qword);
			nidle++;
			gs_unlock(&olock);
			struct timespec idle = { OFFLOAD_IDLE_S, 0 };
			int r = gs_sys_futex(&qword, FUTEX_WAIT_PRIVATE, w, &idle);
			gs_lock(&olock);
			nidle--;
			if (r == -ETIMEDOUT && !qhead) {
				nhelpers--;
				gs_unlock(&olock);
				return NULL;
			}
		}
		struct gs_offload *job = qhead;
		qhead = job->next;
		if (!qhead)
			qtail = &qhead;
		bool unbounded = job->unbounded;
		nlong += unbounded;
		gs_unlock(&olock);
		errno = job->err;	/* the caller's, so that one fn leaves alone stays */
		job->fn(job);
		job->err = errno;
		void (*release)(struct gs_offload *) = job->release;
		/* The G may return as soon as it sees done: job is not touched
		 * after this store (the wake uses only the word's address),
		 * unless it has a release, which then owns it. */
		atomic_store(&job->done, 1);
		gs_futex_wake(&job->done, 1);
		if (release)
			release(job);
		if (unbounded) {
			gs_lock(&olock);
			nlong--;
			gs_unlock(&olock);
		}
	}
}

void gs_offload(struct gs_offload *job, const char *why)
{
	gs_offload_submit(job, why);
	while (!atomic_load(&job->done))
		gs_futex_wait(&job->done, 0, 0, 0, why);
	errno = job->err;
}

/* A helper in a job that may wait without bound (a child, a file lock) does
 * not count against OFFLOAD_MAX: such jobs would otherwise queue the resolver
 * behind them, or each other (a wait whose child exits only after a later
 * wait's lock is taken). Each costs an OS thread while it waits, as the same
 * call costs natively. */
void gs_offload_submit(struct gs_offload *job, const char *why)
{
	atomic_store(&job->done, 0);
	job->next = NULL;
	job->err = errno;
	gs_lock(&olock);
	*qtail = job;
	qtail = &job->next;
	bool start = nidle == 0 && (job->unbounded || nhelpers - nlong < OFFLOAD_MAX);
	nhelpers += start;
	atomic_fetch_add(&qword, 1);
	gs_unlock(&olock);
	if (start) {
		int r = gs_start_thread(helper, NULL, OFFLOAD_STACK);
		if (r != 0) {
			/* No helper and none to be had (RLIMIT_NPROC, memory): the
			 * call runs here, blocking this M as it would natively,
			 * unless a helper has taken it meanwhile. */
			gs_lock(&olock);
			nhelpers--;
			bool mine = false;
			if (nhelpers == 0) {
				struct gs_offload **pp = &qhead;
				while (*pp && *pp != job)
					pp = &(*pp)->next;
				if ((mine = *pp == job)) {
					*pp = job->next;
					if (!*pp)
						qtail = pp;
				}
			}
			gs_unlock(&olock);
			if (mine) {
				errno = job->err;
				job->fn(job);
				job->err = errno;
				void (*release)(struct gs_offload *) = job->release;
				atomic_store(&job->done, 1);	/* the caller waits for it */
				if (release)
					release(job);
				return;
			}
		}
	} else {
		gs_sys_futex(&qword, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

/* In a forked child only the forking thread exists. */
void gs_offload_fork_child(void)
{
	gs_lock_reset(&olock);
	qhead = NULL;
	qtail = &qhead;
	nhelpers = nidle = nlong = 0;
}
