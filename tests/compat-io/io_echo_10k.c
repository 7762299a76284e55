/* io_echo_10k.c: the two halves of io_echo_10k.sh: a thread-per-connection blocking
 * echo server and a client that holds 10,000 connections to it open at once.
 *
 *   io_echo_10k server          listens on 127.0.0.1 (ephemeral port), prints "PORT n",
 *                               then accepts CONNS connections, one detached thread with
 *                               default attributes each, which echoes lines until EOF;
 *                               prints a summary once all have ended.
 *   io_echo_10k client PORT     opens CONNS connections, sends a unique line on each,
 *                               checks every echo, prints "READY" and waits for a line
 *                               on stdin (the shell counts the server's threads then),
 *                               closes everything and prints a summary.
 * Both raise the soft RLIMIT_NOFILE to the hard limit. Run by io_echo_10k.sh, never
 * alone. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_echo_10k: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)

enum { CONNS = 10000 };

static void raise_nofile(void)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < CONNS + 100)
		FAIL("RLIMIT_NOFILE hard limit %lu is below %d", (unsigned long)rl.rlim_max, CONNS + 100);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int ended;	/* Connections whose thread is finishing. lock. */
static long lines;	/* Lines echoed. lock. */
static int errors;	/* Failed reads or writes. lock. */

/* One connection: echo every line (as a naive server does, a read at a time) until
 * EOF. */
static void *conn_main(void *arg)
{
	int fd = (int)(long)arg;
	char buf[256];
	int have = 0, nlines = 0, bad = 0;

	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n <= 0) {
			bad = n < 0 || have != 0;
			break;
		}
		have += n;
		char *nl;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			int len = nl - buf + 1;
			if (write(fd, buf, len) != len) {
				bad = 1;
				break;
			}
			nlines++;
			memmove(buf, buf + len, have - len);
			have -= len;
		}
		if (bad || have == (int)sizeof buf) {
			bad = 1;
			break;
		}
	}
	close(fd);
	pthread_mutex_lock(&lock);
	lines += nlines;
	errors += bad;
	if (++ended == CONNS)
		pthread_cond_signal(&all_done);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	pthread_attr_t attr;

	raise_nofile();
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(l, 4096) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	printf("PORT %d\n", ntohs(a.sin_port));
	fflush(stdout);

	CHECK(pthread_attr_init(&attr) == 0);
	CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0);
	for (int i = 0; i < CONNS; i++) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			FAIL("accept of connection %d: %s", i, strerror(errno));
		pthread_t t;
		int rc = pthread_create(&t, &attr, conn_main, (void *)(long)c);
		if (rc != 0)
			FAIL("pthread_create for connection %d: %s", i, strerror(rc));
	}
	CHECK(close(l) == 0);
	pthread_mutex_lock(&lock);
	while (ended < CONNS)
		pthread_cond_wait(&all_done, &lock);
	int errs = errors;
	long nl = lines;
	pthread_mutex_unlock(&lock);
	if (errs || nl != CONNS)
		FAIL("server: %ld lines echoed, %d connections with errors", nl, errs);
	printf("server: %d connections, one thread each, %ld lines echoed, all ended cleanly\n",
	       CONNS, nl);
	return 0;
}

static int client(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	static int fds[CONNS];
	char msg[64], got[64];

	raise_nofile();
	for (int i = 0; i < CONNS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0)
			FAIL("client: connection %d: %s", i, strerror(errno));
	}
	for (int i = 0; i < CONNS; i++) {
		int len = snprintf(msg, sizeof msg, "connection %05d says %08x\n", i,
				   (unsigned)(i * 2654435761u));
		CHECK(write(fds[i], msg, len) == len);
	}
	int correct = 0;
	for (int i = 0; i < CONNS; i++) {
		int len = snprintf(msg, sizeof msg, "connection %05d says %08x\n", i,
				   (unsigned)(i * 2654435761u));
		int n = 0;
		while (n < len) {
			ssize_t r = read(fds[i], got + n, len - n);
			if (r <= 0)
				FAIL("client: connection %d: read %zd (%s) after %d bytes", i, r,
				     r < 0 ? strerror(errno) : "EOF", n);
			n += r;
		}
		if (memcmp(got, msg, len) != 0)
			FAIL("client: connection %d echoed \"%.*s\"", i, len - 1, got);
		correct++;
	}
	printf("READY\n");
	fflush(stdout);
	char go[16];
	if (!fgets(go, sizeof go, stdin))
		FAIL("client: no go-ahead on stdin");
	for (int i = 0; i < CONNS; i++)
		CHECK(close(fds[i]) == 0);
	printf("client: %d connections open at once, %d unique echoes correct\n", CONNS, correct);
	return 0;
}

int main(int argc, char **argv)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "server") == 0)
		return server();
	if (argc == 3 && strcmp(argv[1], "client") == 0)
		return client(atoi(argv[2]));
	fprintf(stderr, "usage: io_echo_10k server | io_echo_10k client PORT "
		"(run through io_echo_10k.sh)\n");
	return 2;
}
