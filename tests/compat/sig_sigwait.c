/* sig_sigwait.c: compat test of the "block signals in main, wait for them in a dedicated
 * thread" pattern (DESIGN.md §2.7): main blocks SIGUSR1/SIGUSR2/SIGRTMIN before creating
 * any thread; a thread loops in sigwait(); main and 3 workers send kill(getpid(), SIGUSR1)
 * one at a time, each waiting for the waiter's acknowledgement on a semaphore, so the
 * count is exact; SIGUSR2 ends the loop. Then sigwaitinfo (sigqueue value, si_code,
 * si_pid), sigtimedwait (50 ms timeout with nothing pending: -1 EAGAIN; a pending signal:
 * at once), 5 queued real-time signals received in order, and a signalfd read (and poll)
 * in a thread for a blocked signal.
 */
// compat-skip-runner: qemu-aarch64-static: under qemu-user /proc/TID/syscall shows the host's system calls (x86-64 numbers), which wait_blocked reads in the native run to know a thread is blocked
#include "compat.h"
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAIN_SENDS 20
#define WORKERS 3
#define WORKER_SENDS 10

static sem_t ack, ready;
static pthread_mutex_t send_mu = PTHREAD_MUTEX_INITIALIZER;
static int usr1_count, other_count;

static void *waiter(void *arg)
{
	sigset_t set;
	int sig, rc;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		rc = sigwait(&set, &sig);
		if (rc != 0)
			FAIL("sigwait returned %d", rc);
		if (sig == SIGUSR2)
			break;
		if (sig == SIGUSR1)
			usr1_count++;
		else
			other_count++;
		CHECK_SYS(sem_post(&ack));
	}
	return (void *)(long)usr1_count;
}

static void sem_wait_intr(sem_t *s)
{
	while (sem_wait(s) != 0)
		CHECK(errno == EINTR);
}

/* One SIGUSR1 to the process, acknowledged before the next may be sent. */
static void send_one(void)
{
	pthread_mutex_lock(&send_mu);
	CHECK_SYS(kill(getpid(), SIGUSR1));
	sem_wait_intr(&ack);
	pthread_mutex_unlock(&send_mu);
}

static void *sender(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < WORKER_SENDS; i++)
		send_one();
	return NULL;
}

struct infoarg {
	siginfo_t si;
	int rc;
};

static void *infowaiter(void *arg)
{
	struct infoarg *a = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_SYS(sem_post(&ready));
	do
		a->rc = sigwaitinfo(&set, &a->si);
	while (a->rc < 0 && errno == EINTR);
	return NULL;
}

static void *timedwaiter(void *arg)
{
	sigset_t set;
	siginfo_t si;
	struct timespec to = ts_ms(50);
	long long t0;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	t0 = now_ns(CLOCK_MONOTONIC);
	CHECK_ERRNO(sigtimedwait(&set, &si, &to), EAGAIN);
	CHECK_ELAPSED(CLOCK_MONOTONIC, t0, 50);
	return (void *)1;
}

struct sfdarg {
	int fd;
	pid_t tid;
	struct signalfd_siginfo ssi[2];
	int polled;
};

static void *sfdreader(void *arg)
{
	struct sfdarg *a = arg;
	struct pollfd pfd;
	ssize_t r;

	/* First a plain blocking read, then poll until readable and read again. */
	a->tid = gettid();
	CHECK_SYS(sem_post(&ready));
	r = read(a->fd, &a->ssi[0], sizeof(a->ssi[0]));
	CHECK_EQ(r, sizeof(a->ssi[0]));
	CHECK_SYS(sem_post(&ready));
	pfd.fd = a->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	CHECK_EQ(poll(&pfd, 1, -1), 1);
	a->polled = pfd.revents;
	r = read(a->fd, &a->ssi[1], sizeof(a->ssi[1]));
	CHECK_EQ(r, sizeof(a->ssi[1]));
	return NULL;
}

int main(void)
{
	sigset_t set, pending;
	pthread_t w, s[WORKERS], t;
	struct infoarg ia;
	struct sfdarg sa;
	union sigval v;
	siginfo_t si;
	struct timespec zero = { 0, 0 };
	void *r;
	int i, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN);
	CHECK_RC(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	CHECK_SYS(sem_init(&ack, 0, 0));
	CHECK_SYS(sem_init(&ready, 0, 0));

	/* 1. sigwait loop; exact counts. */
	CHECK_RC(pthread_create(&w, NULL, waiter, NULL), 0);
	for (i = 0; i < MAIN_SENDS; i++)
		send_one();
	for (i = 0; i < WORKERS; i++)
		CHECK_RC(pthread_create(&s[i], NULL, sender, NULL), 0);
	for (i = 0; i < WORKERS; i++)
		CHECK_RC(pthread_join(s[i], NULL), 0);
	CHECK_SYS(kill(getpid(), SIGUSR2));
	CHECK_RC(pthread_join(w, &r), 0);
	printf("sigwait: %ld SIGUSR1 received, %d other, want %d\n", (long)r, other_count,
	       MAIN_SENDS + WORKERS * WORKER_SENDS);
	CHECK_EQ((long)r, MAIN_SENDS + WORKERS * WORKER_SENDS);
	CHECK_EQ(other_count, 0);
	CHECK_SYS(sigpending(&pending));
	CHECK(!sigismember(&pending, SIGUSR1) && !sigismember(&pending, SIGUSR2));

	/* 2. sigwaitinfo in a thread: the value sent with sigqueue. */
	CHECK_RC(pthread_create(&t, NULL, infowaiter, &ia), 0);
	sem_wait_intr(&ready);
	v.sival_int = 42;
	CHECK_SYS(sigqueue(getpid(), SIGUSR1, v));
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("sigwaitinfo: %d signo %d code SI_QUEUE %d value %d pid ours %d\n", ia.rc,
	       ia.si.si_signo, ia.si.si_code == SI_QUEUE, ia.si.si_value.sival_int,
	       ia.si.si_pid == getpid());
	CHECK(ia.rc == SIGUSR1 && ia.si.si_signo == SIGUSR1 && ia.si.si_code == SI_QUEUE);
	CHECK(ia.si.si_value.sival_int == 42 && ia.si.si_pid == getpid());

	/* 3. sigtimedwait: times out with nothing pending (in a thread and in main), returns
	 * at once with a signal pending, and a zero timeout polls. */
	CHECK_RC(pthread_create(&t, NULL, timedwaiter, NULL), 0);
	CHECK_RC(pthread_join(t, &r), 0);
	CHECK(r == (void *)1);
	{
		sigset_t u2;
		struct timespec to = ts_ms(50);
		long long t0 = now_ns(CLOCK_MONOTONIC);

		sigemptyset(&u2);
		sigaddset(&u2, SIGUSR2);
		CHECK_ERRNO(sigtimedwait(&u2, &si, &to), EAGAIN);
		CHECK_ELAPSED(CLOCK_MONOTONIC, t0, 50);
		CHECK_ERRNO(sigtimedwait(&u2, &si, &zero), EAGAIN);
		CHECK_SYS(kill(getpid(), SIGUSR2));
		to = ts_ms(5000);
		sig = sigtimedwait(&u2, &si, &to);
		printf("sigtimedwait: empty -> -1 EAGAIN (thread, main, zero timeout); "
		       "pending -> %d code SI_USER %d\n", sig, si.si_code == SI_USER);
		CHECK(sig == SIGUSR2 && si.si_code == SI_USER);
	}

	/* 4. Real-time signals queue: 5 sent while blocked, received in order. */
	for (i = 0; i < 5; i++) {
		v.sival_int = 100 + i;
		CHECK_SYS(sigqueue(getpid(), SIGRTMIN, v));
	}
	{
		sigset_t rt;

		sigemptyset(&rt);
		sigaddset(&rt, SIGRTMIN);
		printf("SIGRTMIN values:");
		for (i = 0; i < 5; i++) {
			sig = sigtimedwait(&rt, &si, &zero);
			CHECK(sig == SIGRTMIN);
			printf(" %d", si.si_value.sival_int);
			CHECK_EQ(si.si_value.sival_int, 100 + i);
		}
		printf("\n");
		CHECK_ERRNO(sigtimedwait(&rt, &si, &zero), EAGAIN);
	}

	/* 5. signalfd read in a thread for a blocked signal, then poll + read. */
	{
		sigset_t u1;

		sigemptyset(&u1);
		sigaddset(&u1, SIGUSR1);
		sa.fd = signalfd(-1, &u1, SFD_CLOEXEC);
		CHECK(sa.fd >= 0);
	}
	CHECK_RC(pthread_create(&t, NULL, sfdreader, &sa), 0);
	sem_wait_intr(&ready);
	wait_blocked(sa.tid, SYS_read, sa.fd); /* blocked in read() */
	v.sival_int = 7;
	CHECK_SYS(sigqueue(getpid(), SIGUSR1, v));
	sem_wait_intr(&ready);
	wait_blocked(sa.tid, -1, -1); /* blocked in poll() */
	v.sival_int = 8;
	CHECK_SYS(sigqueue(getpid(), SIGUSR1, v));
	CHECK_RC(pthread_join(t, NULL), 0);
	printf("signalfd: signo %u value %d code SI_QUEUE %d; poll POLLIN %d, signo %u value %d\n",
	       sa.ssi[0].ssi_signo, sa.ssi[0].ssi_int, sa.ssi[0].ssi_code == SI_QUEUE,
	       (sa.polled & POLLIN) != 0, sa.ssi[1].ssi_signo, sa.ssi[1].ssi_int);
	CHECK(sa.ssi[0].ssi_signo == SIGUSR1 && sa.ssi[0].ssi_int == 7);
	CHECK(sa.ssi[1].ssi_signo == SIGUSR1 && sa.ssi[1].ssi_int == 8);
	CHECK_SYS(close(sa.fd));
	CHECK_SYS(sigpending(&pending));
	CHECK(!sigismember(&pending, SIGUSR1) && !sigismember(&pending, SIGUSR2));
	printf("nothing left pending\n");
	return 0;
}
