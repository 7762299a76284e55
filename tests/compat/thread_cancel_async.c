/* thread_cancel_async.c: compat test of asynchronous cancellation (issue 17): a
 * thread with PTHREAD_CANCEL_ASYNCHRONOUS is cancelled while it waits where no
 * cancellation point is (a default mutex it already holds, so it deadlocks on
 * itself; a rwlock write lock held by main) and while it runs a loop that calls
 * nothing; its cleanup handler runs and join returns PTHREAD_CANCELED. A thread that
 * has a cancellation pending while it is disabled is cancelled at once when it
 * enables it with the asynchronous type. */
#include "compat.h"
#include <stdatomic.h>
#include <unistd.h>

static atomic_int cleanups, about;
static pthread_mutex_t self_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static volatile unsigned long spins;

static void cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&cleanups, 1);
}

enum { SELF_DEADLOCK, RWLOCK, LOOP, PENDING, NKINDS };
static const char *const names[NKINDS] = { "deadlocked on its own mutex", "waiting for a rwlock",
					   "in a loop without calls",
					   "pending, then enabled asynchronous" };

static void *victim(void *arg)
{
	int kind = (int)(long)arg;

	pthread_cleanup_push(cleanup, NULL);
	if (kind == PENDING) {
		CHECK_RC(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL), 0);
		atomic_store(&about, 1);
		while (atomic_load(&about) != 2)
			;
		CHECK_RC(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
		CHECK_RC(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL), 0);
		atomic_store(&about, 3); /* not reached */
	} else {
		CHECK_RC(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL), 0);
		if (kind == SELF_DEADLOCK)
			pthread_mutex_lock(&self_mu);
		atomic_store(&about, 1);
		if (kind == SELF_DEADLOCK)
			pthread_mutex_lock(&self_mu); /* never returns */
		else if (kind == RWLOCK)
			pthread_rwlock_wrlock(&rw); /* never returns */
		else
			for (;;)
				spins++;
	}
	pthread_cleanup_pop(0);
	return NULL;
}

int main(void)
{
	pthread_t t;
	void *r;

	for (int k = 0; k < NKINDS; k++) {
		atomic_store(&about, 0);
		if (k == RWLOCK)
			CHECK_RC(pthread_rwlock_wrlock(&rw), 0);
		CHECK_RC(pthread_create(&t, NULL, victim, (void *)(long)k), 0);
		while (atomic_load(&about) != 1)
			usleep(1000);
		usleep(20000); /* lets it reach the wait or the loop; either way it is cancelled */
		CHECK_RC(pthread_cancel(t), 0);
		if (k == PENDING)
			atomic_store(&about, 2);
		CHECK_RC(pthread_join(t, &r), 0);
		if (k == RWLOCK)
			CHECK_RC(pthread_rwlock_unlock(&rw), 0);
		printf("%s: %s, cleanups %d\n", names[k],
		       r == PTHREAD_CANCELED ? "cancelled" : "not cancelled", atomic_load(&cleanups));
	}
	CHECK(atomic_load(&about) != 3);
	return 0;
}
