/* mutex_robust_wait.c: compat test of process-private robust mutexes beyond
 * mutex_robust.c (DESIGN.md §2.2): a locker already blocked when the owner
 * dies gets EOWNERDEAD (lock and timedlock); relock by the owner (errorcheck:
 * EDEADLK by lock and trylock, recursive: counted); unlock by another thread:
 * EPERM; pthread_mutex_consistent: EINVAL unless inconsistent; a recursive one
 * unlocked while inconsistent; every blocked locker of a not-recoverable one
 * gets ENOTRECOVERABLE; many threads that die holding one each; a condition
 * wait on a robust mutex.
 */
// compat-skip-runner: qemu-aarch64-static: qemu-user answers set_robust_list with ENOSYS (it cannot walk the guest's list at thread exit): an owner's death is never seen, the native run hangs
#include "compat.h"
#include <unistd.h>

static pthread_mutex_t m, mr, me, many[16];
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void init_robust(pthread_mutex_t *mx, int type)
{
	pthread_mutexattr_t a;

	CHECK_RC(pthread_mutexattr_init(&a), 0);
	CHECK_RC(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST), 0);
	CHECK_RC(pthread_mutexattr_settype(&a, type), 0);
	CHECK_RC(pthread_mutex_init(mx, &a), 0);
	CHECK_RC(pthread_mutexattr_destroy(&a), 0);
}

/* Takes arg, tells main, lingers 50 ms (so that main blocks), then dies. */
static void *hold_then_die(void *arg)
{
	CHECK_RC(pthread_mutex_lock(arg), 0);
	__atomic_store_n(&stage, 1, __ATOMIC_SEQ_CST);
	usleep(50000);
	return NULL;
}

static void *lock_and_die(void *arg)
{
	CHECK_RC(pthread_mutex_lock(arg), 0);
	return NULL;
}

static void run(void *(*fn)(void *), void *arg, pthread_t *t)
{
	__atomic_store_n(&stage, 0, __ATOMIC_SEQ_CST);
	CHECK_RC(pthread_create(t, NULL, fn, arg), 0);
	while (!__atomic_load_n(&stage, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static void *try_unlock(void *arg)
{
	return (void *)(long)pthread_mutex_unlock(arg);
}

static void *blocked_locker(void *arg)
{
	return (void *)(long)pthread_mutex_lock(arg);
}

/* As blocked_locker, but gives the mutex back, inconsistent, after EOWNERDEAD. */
static void *locker_gives_up(void *arg)
{
	int r = pthread_mutex_lock(arg);

	if (r == EOWNERDEAD)
		CHECK_RC(pthread_mutex_unlock(arg), 0);
	return (void *)(long)r;
}

int main(void)
{
	pthread_t t, w[2];
	void *ret;
	int i, n;

	init_robust(&m, PTHREAD_MUTEX_NORMAL);
	run(hold_then_die, &m, &t);
	printf("blocked lock, owner died: %s\n", errname(pthread_mutex_lock(&m)));
	CHECK_RC(pthread_join(t, NULL), 0);
	CHECK_RC(pthread_mutex_consistent(&m), 0);
	printf("consistent again: %s\n", errname(pthread_mutex_consistent(&m)));
	CHECK_RC(pthread_mutex_unlock(&m), 0);

	run(hold_then_die, &m, &t);
	struct timespec dl = deadline_ms(CLOCK_REALTIME, 5000);
	printf("blocked timedlock, owner died: %s\n", errname(pthread_mutex_timedlock(&m, &dl)));
	CHECK_RC(pthread_join(t, NULL), 0);
	CHECK_RC(pthread_mutex_consistent(&m), 0);
	CHECK_RC(pthread_create(&t, NULL, try_unlock, &m), 0);
	CHECK_RC(pthread_join(t, &ret), 0);
	printf("unlock by another thread: %s\n", errname((int)(long)ret));
	CHECK_RC(pthread_create(&t, NULL, blocked_locker, &m), 0);
	usleep(20000);
	CHECK_RC(pthread_mutex_unlock(&m), 0);
	CHECK_RC(pthread_join(t, &ret), 0);
	printf("lock after a clean unlock: %s\n", errname((int)(long)ret));
	/* t ended holding m. */
	printf("trylock after that owner ended: %s\n", errname(pthread_mutex_trylock(&m)));
	CHECK_RC(pthread_mutex_consistent(&m), 0);
	CHECK_RC(pthread_mutex_unlock(&m), 0);

	init_robust(&me, PTHREAD_MUTEX_ERRORCHECK);
	CHECK_RC(pthread_mutex_lock(&me), 0);
	printf("errorcheck relock: %s, trylock: %s\n", errname(pthread_mutex_lock(&me)),
	       errname(pthread_mutex_trylock(&me)));
	CHECK_RC(pthread_mutex_unlock(&me), 0);
	printf("errorcheck unlock unlocked: %s\n", errname(pthread_mutex_unlock(&me)));

	init_robust(&mr, PTHREAD_MUTEX_RECURSIVE);
	CHECK_RC(pthread_create(&t, NULL, lock_and_die, &mr), 0);
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("recursive after owner died: %s\n", errname(pthread_mutex_lock(&mr)));
	CHECK_RC(pthread_mutex_lock(&mr), 0);
	printf("recursive unlock while inconsistent: %s\n", errname(pthread_mutex_unlock(&mr)));
	printf("last unlock: %s\n", errname(pthread_mutex_unlock(&mr)));
	printf("recursive lock now: %s\n", errname(pthread_mutex_lock(&mr)));

	/* Two lockers blocked on m; its owner dies; the first gets EOWNERDEAD
	 * and unlocks without consistent; the other gets ENOTRECOVERABLE. (Not
	 * three: glibc 2.36 then loses the wake-up of the third.) */
	run(hold_then_die, &m, &t);
	for (i = 0; i < 2; i++)
		CHECK_RC(pthread_create(&w[i], NULL, locker_gives_up, &m), 0);
	usleep(10000);
	CHECK_RC(pthread_join(t, NULL), 0);
	int dead = 0, notrec = 0;
	for (i = 0; i < 2; i++) {
		CHECK_RC(pthread_join(w[i], &ret), 0);
		if ((int)(long)ret == EOWNERDEAD)
			dead++;
		else if ((int)(long)ret == ENOTRECOVERABLE)
			notrec++;
	}
	printf("two blocked lockers: %d EOWNERDEAD, %d ENOTRECOVERABLE\n", dead, notrec);
	printf("then lock: %s\n", errname(pthread_mutex_lock(&m)));
	/* (glibc 2.36's trylock of a not-recoverable mutex leaves it locked: not tested.) */

	for (i = 0; i < 16; i++)
		init_robust(&many[i], PTHREAD_MUTEX_NORMAL);
	pthread_t tt[16];
	for (i = 0; i < 16; i++)
		CHECK_RC(pthread_create(&tt[i], NULL, lock_and_die, &many[i]), 0);
	for (i = 0; i < 16; i++)
		CHECK_RC(pthread_join(tt[i], NULL), 0);
	for (n = 0, i = 0; i < 16; i++)
		n += pthread_mutex_lock(&many[i]) == EOWNERDEAD;
	printf("16 threads died holding one each: %d EOWNERDEAD\n", n);
	for (i = 0; i < 16; i++) {
		CHECK_RC(pthread_mutex_consistent(&many[i]), 0);
		CHECK_RC(pthread_mutex_unlock(&many[i]), 0);
		CHECK_RC(pthread_mutex_destroy(&many[i]), 0);
	}

	pthread_mutex_t c;
	init_robust(&c, PTHREAD_MUTEX_NORMAL);
	CHECK_RC(pthread_mutex_lock(&c), 0);
	dl = deadline_ms(CLOCK_REALTIME, 10);
	printf("cond timedwait on a robust mutex: %s\n", errname(pthread_cond_timedwait(&cv, &c, &dl)));
	printf("destroy while held: %s\n", errname(pthread_mutex_destroy(&c)));
	printf("consistent on a normal mutex: %s\n",
	       errname(pthread_mutex_consistent(&(pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER)));
	return 0;
}
