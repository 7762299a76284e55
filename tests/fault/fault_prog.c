/* tests/fault/fault_prog.c: the programs of the fault-injection matrix
 * (tests/fault/fault.sh); each prints what it saw on stdout.
 *
 *   stack    warm up a default-size thread; arm "mmap:1+" (every mmap of the
 *            runtime fails); create a thread with a new stack size (1 MiB),
 *            then one of the warmed-up size; disarm; the 1 MiB one again.
 *   io       a thread blocks in read on a socket until main writes; a poll
 *            with a 100 ms timeout on an empty pipe; accept of a connection a
 *            thread makes; a read with SO_RCVTIMEO of 50 ms.
 *   threads  four threads play 200 rounds of ping-pong with main through a
 *            mutex and condition variable, one sleeps 20 ms; then a name
 *            lookup (an offload helper under the shim).
 *   timerfd  timerfd_create (the first may fail: @any), then a blocking read
 *            of a 20 ms timer.
 * Faults are set by GOSHIM_FAULT, or armed here with fault_arm() where the
 * scenario needs a point in time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e)
{
	return e ? strerrorname_np(e) : "0";
}

static void arm(const char *spec)
{
	void (*f)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "fault_arm");
	if (f)
		f(spec);
}

static void *nop(void *arg)
{
	return arg;
}

static int make(size_t stack, pthread_t *t)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	if (stack)
		pthread_attr_setstacksize(&a, stack);
	int r = pthread_create(t, &a, nop, NULL);
	pthread_attr_destroy(&a);
	return r;
}

static int stack(void)
{
	pthread_t t;
	int r = make(0, &t);
	printf("default stack: %s, join %s\n", en(r), en(r ? 0 : pthread_join(t, NULL)));
	arm("mmap:1+");
	r = make(1 << 20, &t);
	printf("1 MiB stack while mmap fails: %s%s\n", en(r), r ? "" : (pthread_join(t, NULL), ""));
	r = make(0, &t);
	printf("default stack while mmap fails (a pooled one): %s, join %s\n", en(r),
	       en(r ? 0 : pthread_join(t, NULL)));
	arm("");
	r = make(1 << 20, &t);
	printf("1 MiB stack afterwards: %s, join %s\n", en(r), en(r ? 0 : pthread_join(t, NULL)));
	return 0;
}

static int sv[2];

static void *reader(void *arg)
{
	char buf[16] = { 0 };
	ssize_t n = read(sv[0], buf, sizeof buf - 1);
	printf("read %zd: %s\n", n, n > 0 ? buf : en(errno));
	return arg;
}

static void *dialer(void *arg)
{
	int port = (int)(intptr_t)arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timespec ts = { 0, 20 * 1000000 };
	nanosleep(&ts, NULL);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	if (r == 0 && write(fd, "hello", 5) != 5)
		r = -1;
	close(fd);
	return (void *)(intptr_t)r;
}

static int io(void)
{
	pthread_t t;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pthread_create(&t, NULL, reader, NULL))
		return 1;
	struct timespec ts = { 0, 50 * 1000000 };
	nanosleep(&ts, NULL);
	if (write(sv[1], "ping", 4) != 4)
		return 1;
	pthread_join(t, NULL);

	int p[2];
	if (pipe(p) != 0)
		return 1;
	struct pollfd pf = { p[0], POLLIN, 0 };
	int r = poll(&pf, 1, 100);
	printf("poll of an empty pipe, 100 ms: %d\n", r);

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 8) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len))
		return 1;
	pthread_create(&t, NULL, dialer, (void *)(intptr_t)ntohs(sa.sin_port));
	int c = accept(lfd, NULL, NULL);
	char buf[16] = { 0 };
	ssize_t n = c >= 0 ? read(c, buf, 5) : -1;
	void *dr;
	pthread_join(t, &dr);
	printf("accept: %s, read %zd: %s, dialer %ld\n", c >= 0 ? "ok" : en(errno), n, buf, (long)(intptr_t)dr);

	struct timeval tv = { 0, 50000 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = read(sv[0], buf, sizeof buf);
	printf("read with SO_RCVTIMEO 50 ms: %zd %s\n", n, en(n < 0 ? errno : 0));
	return 0;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, rounds;

static void *player(void *arg)
{
	int me = (int)(intptr_t)arg;
	if (me == 3) {
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 50; i++) {
		while (turn != me + 1)
			pthread_cond_wait(&cv, &mu);
		turn = 0;
		rounds++;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	return arg;
}

static int threads(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, player, (void *)(intptr_t)i))
			return 1;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 200; i++) {
		turn = i % 4 + 1;
		pthread_cond_broadcast(&cv);
		while (turn != 0)
			pthread_cond_wait(&cv, &mu);
	}
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("rounds %d\n", rounds);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	int r = getaddrinfo("localhost", "80", &hints, &ai);
	printf("getaddrinfo(localhost): %s\n", r ? gai_strerror(r) : "ok");
	if (!r)
		freeaddrinfo(ai);
	return 0;
}

static int timerfd(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	printf("timerfd_create: %s\n", fd < 0 ? en(errno) : "ok");
	if (fd < 0)
		fd = timerfd_create(CLOCK_MONOTONIC, 0);
	printf("timerfd_create again: %s\n", fd < 0 ? en(errno) : "ok");
	struct itimerspec its = { .it_value = { 0, 20 * 1000000 } };
	timerfd_settime(fd, 0, &its, NULL);
	uint64_t v = 0;
	ssize_t n = read(fd, &v, sizeof v);
	printf("read: %zd bytes, %llu expiration\n", n, (unsigned long long)v);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "stack"))
		return stack();
	if (argc == 2 && !strcmp(argv[1], "io"))
		return io();
	if (argc == 2 && !strcmp(argv[1], "threads"))
		return threads();
	if (argc == 2 && !strcmp(argv[1], "timerfd"))
		return timerfd();
	fprintf(stderr, "usage: %s stack|io|threads|timerfd\n", argv[0]);
	return 2;
}
