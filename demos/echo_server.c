/*
 * echo_server.c: a thread-per-connection TCP echo server, written the way
 * legacy servers are and knowing nothing of goshim.
 *
 * usage: echo_server PORT
 *
 * Listens on 127.0.0.1:PORT (backlog 4096), prints "ready" once listening, and
 * gives every accepted connection its own thread, created detached, with the
 * default stack. The thread echoes what it reads through a 4 KiB buffer on its
 * stack with blocking read() and write() until EOF or an error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 4096
#define BUFSZ 4096

/* Raises the soft RLIMIT_NOFILE to the hard limit, as servers do at start. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("echo_server: setrlimit");
	}
}

static int listen_on(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("echo_server: socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("echo_server: bind");
		exit(1);
	}
	if (listen(fd, BACKLOG) != 0) {
		perror("echo_server: listen");
		exit(1);
	}
	return fd;
}

/* Writes all of buf, retrying partial writes. Returns 0 or -1. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[BUFSZ];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (write_all(fd, buf, (size_t)n) != 0)
			break;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_attr_t detached;
	int lfd, port;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	lfd = listen_on(port);
	printf("ready\n");
	fflush(stdout);
	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

	for (;;) {
		pthread_t t;
		int fd, err, one = 1;

		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("echo_server: accept");
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				/* Out of a resource: back off instead of spinning. */
				struct timespec ts = { 0, 100 * 1000 * 1000 };
				nanosleep(&ts, NULL);
				continue;
			}
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* Detached from the start: pthread_detach() after the create
		 * races with the thread's exit in glibc 2.36 (the detacher reads
		 * the descriptor the exiting thread has just freed), which
		 * crashed this server natively after some 100,000 short
		 * connections (scripts/soak.sh). */
		err = pthread_create(&t, &detached, conn_main, (void *)(intptr_t)fd);
		if (err != 0) {
			fprintf(stderr, "echo_server: pthread_create: %s\n", strerror(err));
			close(fd);
			continue;
		}
	}
}
