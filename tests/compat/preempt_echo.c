/* preempt_echo.c: compat test of asynchronous preemption under I/O: a thread-per-
 * connection echo server (blocking accept, read and write on 127.0.0.1, an ephemeral
 * port) serves a client thread while four threads spin in a loop that never calls libc.
 *
 * Once the four spinners run (each counts itself in `started`; the client polls it
 * with usleep), the client opens 8 connections and does 50 rounds on them: a fixed
 * 64-byte message, different for every connection and round, written on each, then
 * the 8 echoes read back whole and compared. Then it closes them and stops the
 * spinners. Under goshim the accept, connection and client threads get an OS thread
 * back from a spinner only by preemption (always with GOSHIM_PROCS=1, and with 4
 * spinners on GOSHIM_PROCS <= 4); without it the program hangs and the runner's
 * timeout fails it.
 *
 * Prints the server's and the client's totals and "spinners: 4 ran" (each spinner
 * counted). No time is asserted. */
#include "compat.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#define SPINNERS 4
#define CONNS 8
/* Each round trip waits for spinners to be preempted (10 ms) on the OS threads of the
 * Gs it involves: with GOSHIM_PROCS=4 on 2 cores, 200 rounds took 7.7 s. */
#define ROUNDS 50
#define MSG 64

static atomic_int stop;
static atomic_int started;

/* One spinner's counter, on its own cache line. */
static struct {
	volatile unsigned long count;
	char pad[64 - sizeof(unsigned long)];
} slot[SPINNERS] __attribute__((aligned(64)));

static void *spinner(void *arg)
{
	volatile unsigned long *count = &slot[(long)arg].count;

	atomic_fetch_add(&started, 1);
	/* No call in this loop: only preemption can take the OS thread from it. */
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		(*count)++;
	return NULL;
}

static int lfd;			/* the listening socket */
static struct sockaddr_in addr;	/* its address */

/* One connection of the server: echo what arrives until EOF; returns the bytes
 * echoed, or -1 after an error (printed). */
static void *conn_main(void *arg)
{
	int fd = (int)(long)arg;
	char buf[4096];
	long total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf), off = 0;

		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "server: read: %s\n", errname(errno));
			total = -1;
			break;
		}
		while (off < n) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w <= 0) {
				fprintf(stderr, "server: write: %s\n", errname(errno));
				close(fd);
				return (void *)-1L;
			}
			off += w;
		}
		total += n;
	}
	close(fd);
	return (void *)total;
}

static pthread_t conn_thread[CONNS];

/* The server's acceptor: a thread per accepted connection, CONNS of them. */
static void *acceptor(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < CONNS; i++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			FAIL("accept of connection %d: %s", i, errname(errno));
		CHECK_RC(pthread_create(&conn_thread[i], NULL, conn_main, (void *)(long)fd), 0);
	}
	CHECK_SYS(close(lfd));
	return NULL;
}

/* Message of round r on connection c: its own bytes for every (c, r). */
static void fill(char *m, int c, int r)
{
	int i, k = snprintf(m, MSG, "connection %d round %03d ", c, r);

	for (i = k; i < MSG; i++)
		m[i] = (char)('a' + (c * 7 + r * 13 + i) % 26);
}

static void *client(void *arg)
{
	int fd[CONNS], c, r;
	long ok = 0;
	char want[MSG], got[MSG];

	(void)arg;
	while (atomic_load(&started) < SPINNERS)
		usleep(1000);
	for (c = 0; c < CONNS; c++) {
		fd[c] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(fd[c] >= 0);
		CHECK_SYS(connect(fd[c], (struct sockaddr *)&addr, sizeof addr));
	}
	for (r = 0; r < ROUNDS; r++) {
		for (c = 0; c < CONNS; c++) {
			fill(want, c, r);
			if (write(fd[c], want, MSG) != MSG)
				FAIL("client: write on connection %d round %d: %s", c, r,
				     errname(errno));
		}
		for (c = 0; c < CONNS; c++) {
			int n = 0;

			while (n < MSG) {
				ssize_t k = read(fd[c], got + n, MSG - n);

				if (k <= 0)
					FAIL("client: read on connection %d round %d: %zd (%s) after %d bytes",
					     c, r, k, k < 0 ? errname(errno) : "EOF", n);
				n += (int)k;
			}
			fill(want, c, r);
			if (memcmp(got, want, MSG) != 0)
				FAIL("client: connection %d round %d echoed \"%.*s\"", c, r, MSG, got);
			ok++;
		}
	}
	for (c = 0; c < CONNS; c++)
		CHECK_SYS(close(fd[c]));
	atomic_store(&stop, 1);
	return (void *)ok;
}

int main(void)
{
	pthread_t spin[SPINNERS], acc, cli;
	socklen_t len = sizeof addr;
	long total = 0, bad = 0;
	void *ok, *ret;
	int i, ran = 0;

	/* Bounds a run by hand; the runner's timeout (60 s by default) comes first. */
	alarm(120);
	signal(SIGPIPE, SIG_IGN);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	CHECK_SYS(bind(lfd, (struct sockaddr *)&addr, sizeof addr));
	CHECK_SYS(listen(lfd, 64));
	CHECK_SYS(getsockname(lfd, (struct sockaddr *)&addr, &len));

	for (i = 0; i < SPINNERS; i++)
		CHECK_RC(pthread_create(&spin[i], NULL, spinner, (void *)(long)i), 0);
	CHECK_RC(pthread_create(&acc, NULL, acceptor, NULL), 0);
	CHECK_RC(pthread_create(&cli, NULL, client, NULL), 0);

	CHECK_RC(pthread_join(cli, &ok), 0);
	CHECK_RC(pthread_join(acc, NULL), 0);
	for (i = 0; i < CONNS; i++) {
		CHECK_RC(pthread_join(conn_thread[i], &ret), 0);
		if ((long)ret < 0)
			bad++;
		else
			total += (long)ret;
	}
	for (i = 0; i < SPINNERS; i++)
		CHECK_RC(pthread_join(spin[i], NULL), 0);
	for (i = 0; i < SPINNERS; i++)
		ran += slot[i].count > 0;

	printf("server: %d connections, %ld bytes echoed, %ld errors\n", CONNS, total, bad);
	printf("rounds: %ld ok\n", (long)ok);
	printf("spinners: %d ran\n", ran);
	CHECK_EQ(bad, 0);
	CHECK_EQ(total, (long)CONNS * ROUNDS * MSG);
	CHECK_EQ((long)ok, CONNS * ROUNDS);
	CHECK_EQ(ran, SPINNERS);
	return 0;
}
