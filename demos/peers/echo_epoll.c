/*
 * echo_epoll.c: a single-threaded epoll event-loop echo server, the lower
 * bound against which the thread-per-connection servers are measured.
 *
 * usage: echo_epoll PORT
 *
 * Listens on 127.0.0.1:PORT (backlog 4096), prints "ready" once listening.
 * Every socket is non-blocking and registered level-triggered for EPOLLIN.
 * Data is read into one shared buffer and written straight back; only when
 * the peer does not take it all is the rest kept in a per-connection heap
 * buffer and the socket switched to EPOLLOUT until it drains. An idle
 * connection therefore costs no user memory beyond one small struct.
 */
#define _GNU_SOURCE	/* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#define BACKLOG 4096
#define BUFSZ 4096
#define MAXEV 256

/* One connection. Allocated on accept, freed on close. */
struct conn {
	int fd;            /* the socket */
	char *pend;        /* bytes read but not yet written back, or NULL */
	size_t pendlen;    /* number of bytes at pend */
};

static int epfd;
static int lfd;

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("echo_epoll: setrlimit");
	}
}

static void conn_close(struct conn *c)
{
	close(c->fd);	/* also removes it from the epoll set */
	free(c->pend);
	free(c);
}

static int conn_watch(struct conn *c, int op, unsigned events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = c;
	return epoll_ctl(epfd, op, c->fd, &ev);
}

/* Writes what is pending. Returns 0 when drained or would block, -1 on error. */
static int conn_flush(struct conn *c)
{
	while (c->pendlen > 0) {
		ssize_t n = write(c->fd, c->pend, c->pendlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		memmove(c->pend, c->pend + n, c->pendlen - (size_t)n);
		c->pendlen -= (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	return conn_watch(c, EPOLL_CTL_MOD, EPOLLIN);
}

/* Echoes what can be read without blocking. Returns -1 to close. */
static int conn_readable(struct conn *c)
{
	static char buf[BUFSZ];

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof buf), w;

		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		do
			w = write(c->fd, buf, (size_t)n);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		if (w < n) {
			/* The peer is not reading: keep the rest, stop reading. */
			c->pendlen = (size_t)(n - w);
			c->pend = malloc(c->pendlen);
			if (c->pend == NULL)
				return -1;
			memcpy(c->pend, buf + w, c->pendlen);
			return conn_watch(c, EPOLL_CTL_MOD, EPOLLOUT);
		}
		if (n < (ssize_t)sizeof buf)
			return 0;	/* most likely drained; level-triggered anyway */
	}
}

static void accept_all(void)
{
	for (;;) {
		struct conn *c;
		int fd, one = 1;

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("echo_epoll: accept4");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = calloc(1, sizeof *c);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (conn_watch(c, EPOLL_CTL_ADD, EPOLLIN) != 0) {
			perror("echo_epoll: epoll_ctl");
			conn_close(c);
		}
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[MAXEV], ev;
	struct sockaddr_in sa;
	int port, one = 1;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("echo_epoll: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(lfd, BACKLOG) != 0) {
		perror("echo_epoll: bind/listen");
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		perror("echo_epoll: epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;	/* NULL marks the listener */
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) != 0) {
		perror("echo_epoll: epoll_ctl");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		int i, n = epoll_wait(epfd, evs, MAXEV, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("echo_epoll: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int r;

			if (c == NULL) {
				accept_all();
				continue;
			}
			if (c->pend != NULL)
				r = (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ?
				    conn_flush(c) : 0;
			else
				r = conn_readable(c);
			if (r != 0)
				conn_close(c);
		}
	}
}
