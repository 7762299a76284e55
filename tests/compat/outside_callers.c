/* outside_callers.c: compat test of hooked functions called from threads the shim did not
 * create and from signal handlers (DESIGN.md §2.8). timer_create(SIGEV_THREAD): glibc runs
 * the notify function in a thread of its own making, and there it locks a pthread mutex,
 * signals a condition, waits on a condition that main signals, times out a timed
 * condition wait, posts and waits on semaphores, sleeps, and writes to a pipe that main
 * reads; main waits for each of these. A SIGALRM handler (setitimer, ualarm) calls
 * sem_post and write() to a pipe while main is blocked in read() (the handler must run
 * although main is parked, as it makes the pipe readable) or in sem_wait(); a SIGUSR1
 * handler run in a thread blocked in read() does the same for that thread's pipe. All
 * of it without SA_RESTART (EINTR retried) and with SA_RESTART.
 */
// compat-skip-runner: qemu-aarch64-static: under qemu-user /proc/TID/syscall shows the host's system calls (x86-64 numbers), which wait_blocked reads in the native run to know a thread is blocked
// compat-ldlibs: -lrt
#include "compat.h"
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define FIRES 5

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t fired, answer, hsem;
static int fire_count, go_count, timedout;
static int tpipe[2], hpipe[2], wpipe[2];
static atomic_int notify_not_main;
static pid_t reader_tid;
static pthread_t main_thread;

static void notify(union sigval v)
{
	struct timespec ts = ts_ms(1), dl;
	char c = 'n';
	int n, rc;

	(void)v;
	if (!pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&notify_not_main, 1);

	/* Mutex + condition both ways with main. */
	pthread_mutex_lock(&mu);
	n = ++fire_count;
	pthread_cond_broadcast(&cv);
	while (go_count < n)
		pthread_cond_wait(&cv, &mu);
	/* A timed wait nobody signals: ETIMEDOUT, mutex held again. */
	dl = deadline_ms(CLOCK_REALTIME, 5);
	do
		rc = pthread_cond_timedwait(&cv, &mu, &dl);
	while (rc == 0);
	if (rc == ETIMEDOUT && pthread_mutex_trylock(&mu) == EBUSY)
		timedout++;
	pthread_mutex_unlock(&mu);

	/* Semaphores both ways, a sleep, a pipe write. */
	nanosleep(&ts, NULL);
	usleep(500);
	CHECK_SYS(sem_post(&fired));
	while (sem_wait(&answer) != 0)
		CHECK(errno == EINTR);
	CHECK_EQ(write(tpipe[1], &c, 1), 1);
}

static void timers(void)
{
	struct sigevent sev;
	struct itimerspec its;
	timer_t tid;
	char c;
	int i;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = notify;
	CHECK_SYS(timer_create(CLOCK_MONOTONIC, &sev, &tid));
	for (i = 1; i <= FIRES; i++) {
		/* One shot, rearmed after each notification completes: exact counts. */
		memset(&its, 0, sizeof(its));
		its.it_value = ts_ms(5);
		CHECK_SYS(timer_settime(tid, 0, &its, NULL));

		pthread_mutex_lock(&mu);
		while (fire_count < i)
			pthread_cond_wait(&cv, &mu);
		go_count = i;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);

		while (sem_wait(&fired) != 0)
			CHECK(errno == EINTR);
		CHECK_SYS(sem_post(&answer));
		CHECK_EQ(read(tpipe[0], &c, 1), 1);
		CHECK(c == 'n');
	}
	CHECK_SYS(timer_delete(tid));
	pthread_mutex_lock(&mu);
	printf("SIGEV_THREAD timer: %d notifications, %d outside main, %d timed waits timed out\n",
	       fire_count, atomic_load(&notify_not_main), timedout);
	CHECK_EQ(fire_count, FIRES);
	CHECK_EQ(timedout, FIRES);
	pthread_mutex_unlock(&mu);
	CHECK_EQ(atomic_load(&notify_not_main), FIRES);
}

static atomic_int handler_runs;

static void on_signal(int sig)
{
	int saved = errno;
	char c = sig == SIGALRM ? 'a' : 'u';

	atomic_fetch_add(&handler_runs, 1);
	if (sem_post(&hsem) != 0)
		_exit(20);
	if (write(sig == SIGALRM ? hpipe[1] : wpipe[1], &c, 1) != 1)
		_exit(21);
	errno = saved;
}

/* One byte from fd; an EINTR (possible without SA_RESTART, natively too) is retried. */
static char read_byte(int fd)
{
	char c = 0;
	ssize_t r;

	while ((r = read(fd, &c, 1)) != 1)
		CHECK(r == -1 && errno == EINTR);
	return c;
}

static void sem_wait_intr(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK(errno == EINTR);
}

/* A thread blocked in read() on a pipe that only its own signal handler writes to. */
static void *self_reader(void *arg)
{
	sigset_t s;

	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
	reader_tid = gettid();
	CHECK_SYS(sem_post(&fired));
	return (void *)(long)(read_byte(wpipe[0]) == 'u');
}

static void handlers(int restart)
{
	const char *how = restart ? "SA_RESTART" : "no SA_RESTART";
	struct sigaction sa;
	struct itimerval it;
	sigset_t s;
	pthread_t t;
	void *r;
	int i, v, base = atomic_load(&handler_runs);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));

	/* main in read(): the handler writes the byte it then reads. */
	for (i = 0; i < 3; i++) {
		memset(&it, 0, sizeof(it));
		it.it_value.tv_usec = 10000;
		CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
		CHECK(read_byte(hpipe[0]) == 'a');
		sem_wait_intr(&hsem);
	}
	printf("%s: setitimer SIGALRM handler: main read 3 bytes, handler runs %d\n", how,
	       atomic_load(&handler_runs) - base);
	CHECK_EQ(atomic_load(&handler_runs) - base, 3);

	/* main in sem_wait(): the handler posts it. */
	ualarm(10000, 0);
	sem_wait_intr(&hsem);
	CHECK(read_byte(hpipe[0]) == 'a');
	CHECK_SYS(sem_getvalue(&hsem, &v));
	printf("%s: ualarm SIGALRM handler: sem_wait woken, handler runs %d, sem left %d\n", how,
	       atomic_load(&handler_runs) - base, v);
	CHECK_EQ(atomic_load(&handler_runs) - base, 4);
	CHECK_EQ(v, 0);

	/* A handler in a thread: main blocks SIGUSR1, so the process-directed signal goes
	 * to the reader thread, blocked in read(); its handler writes what it reads. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
	CHECK_RC(pthread_create(&t, NULL, self_reader, NULL), 0);
	sem_wait_intr(&fired);
	wait_blocked(reader_tid, SYS_read, wpipe[0]); /* blocked in read() */
	CHECK_SYS(kill(getpid(), SIGUSR1));
	CHECK_RC(pthread_join(t, &r), 0);
	sem_wait_intr(&hsem);
	CHECK_RC(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
	printf("%s: SIGUSR1 handler in a reader thread: read its own byte %d, handler runs %d\n",
	       how, r == (void *)1, atomic_load(&handler_runs) - base);
	CHECK(r == (void *)1);
	CHECK_EQ(atomic_load(&handler_runs) - base, 5);
}

int main(void)
{
	main_thread = pthread_self();
	CHECK_SYS(sem_init(&fired, 0, 0));
	CHECK_SYS(sem_init(&answer, 0, 0));
	CHECK_SYS(sem_init(&hsem, 0, 0));
	CHECK_SYS(pipe2(tpipe, O_CLOEXEC));
	CHECK_SYS(pipe2(hpipe, O_CLOEXEC));
	CHECK_SYS(pipe2(wpipe, O_CLOEXEC));

	timers();
	handlers(0);
	handlers(1);
	return 0;
}
