/* io_strace.c: the program half of io_strace.sh: a server thread that waits in
 * accept, recv and read on TCP sockets for about a second in all.
 *
 * The server thread accepts one connection (the client connects after ~300 ms),
 * recv()s "hello" (sent after ~500 ms more), answers "HELLO", read()s "bye" (after
 * ~300 ms more) and closes. The client is the main thread; while it waits it reads
 * one byte from /dev/zero every 25 ms, so that natively strace has another thread's
 * syscalls to print while the server's call is blocked (that is what makes strace
 * mark the blocked call "<unfinished ...>"). The shell watches the kernel state of
 * every thread meanwhile. Results are printed by the main thread after the join. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_strace: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)

static int listener;
static int zero_fd;

/* Waits about ms milliseconds, reading /dev/zero every 25 ms. */
static void busy_wait(int ms)
{
	struct timespec ts = { 0, 25 * 1000000L };
	char c;
	for (int i = 0; i < ms / 25; i++) {
		CHECK(read(zero_fd, &c, 1) == 1);
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		ts.tv_nsec = 25 * 1000000L;
	}
}

struct server {
	int accepted;
	ssize_t got_recv, got_read, got_eof;
	char hello[16], bye[16];
	pthread_t t;
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	int a = accept(listener, NULL, NULL);
	s->accepted = a >= 0;
	if (a < 0)
		return NULL;
	s->got_recv = recv(a, s->hello, sizeof s->hello, 0);
	if (s->got_recv == 5 && memcmp(s->hello, "hello", 5) == 0)
		(void)!send(a, "HELLO", 5, 0);
	s->got_read = read(a, s->bye, sizeof s->bye);
	s->got_eof = read(a, s->bye + 8, 8);
	close(a);
	return NULL;
}

int main(void)
{
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof la;
	struct server s;
	char reply[16];

	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&s, 0, sizeof s);
	zero_fd = open("/dev/zero", O_RDONLY);
	CHECK(zero_fd >= 0);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(listener >= 0);
	CHECK(bind(listener, (struct sockaddr *)&la, sizeof la) == 0 && listen(listener, 4) == 0);
	CHECK(getsockname(listener, (struct sockaddr *)&la, &len) == 0);
	CHECK(pthread_create(&s.t, NULL, server_main, &s) == 0);

	busy_wait(300);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&la, sizeof la) == 0);
	busy_wait(500);
	CHECK(send(c, "hello", 5, 0) == 5);
	ssize_t n = recv(c, reply, sizeof reply, 0);
	CHECK(n == 5 && memcmp(reply, "HELLO", 5) == 0);
	busy_wait(300);
	CHECK(send(c, "bye", 3, 0) == 3);
	CHECK(shutdown(c, SHUT_WR) == 0);
	ssize_t eof = recv(c, reply, sizeof reply, 0);
	CHECK(pthread_join(s.t, NULL) == 0);
	CHECK(s.accepted && s.got_recv == 5 && s.got_read == 3 && memcmp(s.bye, "bye", 3) == 0 &&
	      s.got_eof == 0 && eof == 0);
	printf("server: accepted, recv %zd \"hello\", read %zd \"bye\", then read %zd (EOF)\n",
	       s.got_recv, s.got_read, s.got_eof);
	printf("client: reply %zd \"HELLO\", then EOF\n", n);
	CHECK(close(c) == 0 && close(listener) == 0 && close(zero_fd) == 0);
	return 0;
}
