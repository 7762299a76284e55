/* sig_wait_window.c: a signal sent to a thread inside a blocking call always ends
 * that call with EINTR (its handler has no SA_RESTART), wherever in the call it
 * lands. Under goshim a wait on a process-shared semaphore is a loop of short
 * parks; a signal that came while the thread ran between two of them used to be
 * missed (the call went on waiting), as could one sent just before a park was
 * published. 200 rounds: main waits on a process-shared semaphore nobody posts,
 * a helper sends SIGUSR1 5 ms after main announced the wait; if main is still
 * waiting 200 ms later, the helper posts (the round then counts as a miss). */
#include "compat.h"
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define ROUNDS 200

static sem_t psem, done;
static pthread_t main_thread;
static atomic_int waiting, handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void *killer(void *arg)
{
	(void)arg;
	while (!atomic_load(&waiting))
		usleep(100);
	usleep(5000);
	CHECK_RC(pthread_kill(main_thread, SIGUSR1), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 200 * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	if (sem_timedwait(&done, &dl) != 0)
		CHECK_SYS(sem_post(&psem));	/* a missed signal: let main go on */
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sem_init(&psem, 1, 0));
	CHECK_SYS(sem_init(&done, 0, 0));
	main_thread = pthread_self();
	int eintr = 0, other = 0;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_t t;
		atomic_store(&waiting, 0);
		CHECK_RC(pthread_create(&t, NULL, killer, NULL), 0);
		atomic_store(&waiting, 1);
		errno = 0;
		int r = sem_wait(&psem);
		if (r == -1 && errno == EINTR)
			eintr++;
		else
			other++;
		CHECK_SYS(sem_post(&done));
		CHECK_RC(pthread_join(t, NULL), 0);
		while (sem_trywait(&done) == 0)
			;
	}
	printf("%d rounds: EINTR %d, other %d, handlers %d\n", ROUNDS, eintr, other,
	       atomic_load(&handled));
	return 0;
}
