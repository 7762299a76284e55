/* sys_tid.c: thread ids and syscall() forms of hooked calls. gettid() and
 * syscall(SYS_gettid) agree, are distinct for ten live threads and main, and main's
 * is the pid; tgkill(getpid(), tid, sig) and syscall(SYS_tkill, tid, sig) run the
 * handler in the thread with that id; signal 0 checks it exists. A thread that forks
 * has, in the child, the child's pid as its id. syscall(SYS_read) on an empty pipe
 * and syscall(SYS_nanosleep) wait as read and nanosleep do (a started ticker keeps
 * counting meanwhile). */
#include "compat.h"
#include "ticker.h"
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 10

static pthread_barrier_t all;
static pid_t ids[N];
static __thread pid_t my_id;
static volatile pid_t ran_in;
static volatile int release;

static void on_usr1(int s)
{
	(void)s;
	ran_in = my_id;
}

static void *child_thread(void *arg)
{
	int i = (int)(long)arg;
	my_id = gettid();
	CHECK_EQ(syscall(SYS_gettid), my_id);
	ids[i] = my_id;
	pthread_barrier_wait(&all);	/* all ids taken */
	while (!release)		/* main sends signals meanwhile */
		usleep(1000);
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(gettid() == getpid() && syscall(SYS_gettid) == getpid() ? 0 : 1);
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	return (void *)(long)st;
}

static int pfd[2];
static void *late_writer(void *arg)
{
	(void)arg;
	usleep(50000);
	CHECK_EQ(write(pfd[1], "x", 1), 1);
	return NULL;
}

int main(void)
{
	ticker_start();
	my_id = gettid();
	CHECK_EQ(my_id, getpid());
	CHECK_EQ(syscall(SYS_gettid), getpid());
	struct sigaction sa = { .sa_handler = on_usr1 };
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));

	pthread_t t[N];
	pthread_barrier_init(&all, NULL, N + 1);
	for (int i = 0; i < N; i++)
		CHECK_RC(pthread_create(&t[i], NULL, child_thread, (void *)(long)i), 0);
	pthread_barrier_wait(&all);
	int distinct = 1;
	for (int i = 0; i < N; i++) {
		if (ids[i] == my_id)
			distinct = 0;
		for (int j = 0; j < i; j++)
			if (ids[i] == ids[j])
				distinct = 0;
	}
	printf("%d threads and main have distinct ids: %d\n", N, distinct);
	int reached = 0;
	for (int i = 0; i < N; i++) {
		CHECK_SYS(tgkill(getpid(), ids[i], 0));
		ran_in = 0;
		CHECK_SYS(i % 2 ? tgkill(getpid(), ids[i], SIGUSR1) : syscall(SYS_tkill, ids[i], SIGUSR1));
		while (ran_in == 0)
			usleep(1000);
		reached += ran_in == ids[i];
	}
	printf("tgkill/tkill reached the thread with that id: %d of %d\n", reached, N);
	ran_in = 0;
	CHECK_SYS(tgkill(getpid(), getpid(), SIGUSR1));
	printf("tgkill to the pid runs in main: %d\n", ran_in == my_id);
	release = 1;
	for (int i = 0; i < N; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);

	pthread_t f;
	void *st;
	CHECK_RC(pthread_create(&f, NULL, forker, NULL), 0);
	CHECK_RC(pthread_join(f, &st), 0);
	printf("a forking thread's id in the child is the child's pid: %d\n", st == 0);

	CHECK_SYS(pipe(pfd));
	pthread_t w;
	CHECK_RC(pthread_create(&w, NULL, late_writer, NULL), 0);
	char c;
	unsigned long m = ticker_mark();
	CHECK_EQ(syscall(SYS_read, pfd[0], &c, 1), 1);
	ticker_report("syscall(SYS_read) on an empty pipe", m);
	CHECK_RC(pthread_join(w, NULL), 0);
	CHECK_ERRNO(syscall(SYS_read, -1, &c, 1), EBADF);
	struct timespec d = ts_ms(30);
	m = ticker_mark();
	CHECK_SYS(syscall(SYS_nanosleep, &d, NULL));
	ticker_report("syscall(SYS_nanosleep)", m);
	ticker_end();
	return 0;
}
