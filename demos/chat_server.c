/*
 * chat_server.c: a thread-per-connection chat server, written the way legacy
 * servers are and knowing nothing of goshim.
 *
 * usage: chat_server PORT
 *
 * Listens on 127.0.0.1:PORT (backlog 4096) and prints "ready" once
 * listening. Every connection gets two detached threads with default
 * attributes:
 *
 *   reader  reads lines from the client with blocking read() into a buffer
 *           on its stack and appends each to the shared message log as
 *           "<id>: <line>\n", then broadcasts the log's condition variable;
 *   writer  waits on that condition variable, copies out the messages it
 *           has not sent yet (skipping its own client's), and writes them
 *           to its client with blocking write(), outside the lock.
 *
 * The log is a ring of LOG_SLOTS messages under one mutex; a writer that
 * falls a whole ring behind (a client that does not read) is told how many
 * messages it missed. The first of the pair to finish shuts the socket down
 * and wakes the other; the last one closes it and frees the client.
 * On connect a client is greeted with "welcome <id>\n".
 */
#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#define BACKLOG 4096
#define LOG_SLOTS 1024	/* messages kept for slow writers */
#define LINE_MAX_ 1024	/* longer lines are cut into pieces of this size */
#define OUTSZ 4096	/* a writer sends at most this much per write */

/* One message in the log. */
struct msg {
	unsigned long from;	/* id of the client that sent it */
	size_t len;		/* bytes at text */
	char *text;		/* "<id>: <line>\n", malloc'd, owned by the log */
};

/* One connected client, shared by its reader and writer threads. */
struct client {
	int fd;			/* the socket; closed by the last thread out */
	unsigned long id;	/* number shown to other clients */
	int done;		/* set when either thread finishes; under log_lock */
	int refs;		/* threads still using this struct; under log_lock */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static struct msg log_ring[LOG_SLOTS];	/* message seq is at seq % LOG_SLOTS; under log_lock */
static uint64_t log_next;		/* seq of the next message; under log_lock */
static unsigned long next_id;		/* under log_lock */

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("chat_server: setrlimit");
	}
}

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

/* Appends one line to the log and wakes every writer. */
static void log_append(struct client *c, const char *line, size_t len)
{
	char *text = malloc(len + 32);
	struct msg *m;

	if (text == NULL)
		return;
	pthread_mutex_lock(&log_lock);
	m = &log_ring[log_next % LOG_SLOTS];
	free(m->text);
	m->from = c->id;
	m->len = (size_t)sprintf(text, "%lu: ", c->id);
	memcpy(text + m->len, line, len);
	m->len += len;
	text[m->len++] = '\n';
	m->text = text;
	log_next++;
	pthread_cond_broadcast(&log_cond);
	pthread_mutex_unlock(&log_lock);
}

/* Marks c finished, wakes its partner, and frees c if this was the last user. */
static void client_release(struct client *c)
{
	int last;

	pthread_mutex_lock(&log_lock);
	if (!c->done) {
		c->done = 1;
		/* Wakes the partner out of read() or write() ... */
		shutdown(c->fd, SHUT_RDWR);
		/* ... or out of the condition wait. */
		pthread_cond_broadcast(&log_cond);
	}
	last = --c->refs == 0;
	pthread_mutex_unlock(&log_lock);
	if (last) {
		close(c->fd);
		free(c);
	}
}

static void *reader_main(void *arg)
{
	struct client *c = arg;
	char buf[4096], line[LINE_MAX_];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof buf), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || have == sizeof line) {
				if (have > 0 && line[have - 1] == '\r')
					have--;
				log_append(c, line, have);
				have = 0;
				if (buf[i] == '\n')
					continue;
			}
			line[have++] = buf[i];
		}
	}
	client_release(c);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct client *c = arg;
	char out[OUTSZ];
	uint64_t next;
	int n;

	/* A new client sees what comes after it connected, the messages added
	 * while its greeting is being written included. */
	pthread_mutex_lock(&log_lock);
	next = log_next;
	pthread_mutex_unlock(&log_lock);
	n = snprintf(out, sizeof out, "welcome %lu\n", c->id);
	if (write_all(c->fd, out, (size_t)n) != 0)
		goto out;
	pthread_mutex_lock(&log_lock);
	for (;;) {
		size_t len = 0;

		while (next == log_next && !c->done)
			pthread_cond_wait(&log_cond, &log_lock);
		if (c->done)
			break;
		if (log_next - next > LOG_SLOTS) {
			len = (size_t)snprintf(out, sizeof out, "*** missed %llu messages\n",
					       (unsigned long long)(log_next - next - LOG_SLOTS));
			next = log_next - LOG_SLOTS;
		}
		for (; next < log_next; next++) {
			struct msg *m = &log_ring[next % LOG_SLOTS];

			if (m->from == c->id)
				continue;
			if (len + m->len > sizeof out)
				break;
			memcpy(out + len, m->text, m->len);
			len += m->len;
		}
		pthread_mutex_unlock(&log_lock);
		if (len > 0 && write_all(c->fd, out, len) != 0)
			goto out;
		pthread_mutex_lock(&log_lock);
	}
	pthread_mutex_unlock(&log_lock);
out:
	client_release(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int lfd, port, one = 1;

	if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) {
		perror("chat_server: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(lfd, BACKLOG) != 0) {
		perror("chat_server: bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct client *c;
		pthread_t t;
		int fd, err;

		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("chat_server: accept");
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				struct timespec ts = { 0, 100 * 1000 * 1000 };

				nanosleep(&ts, NULL);
				continue;
			}
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = calloc(1, sizeof *c);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->refs = 2;
		pthread_mutex_lock(&log_lock);
		c->id = ++next_id;
		pthread_mutex_unlock(&log_lock);
		err = pthread_create(&t, NULL, writer_main, c);
		if (err != 0) {
			fprintf(stderr, "chat_server: pthread_create: %s\n", strerror(err));
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
		err = pthread_create(&t, NULL, reader_main, c);
		if (err != 0) {
			fprintf(stderr, "chat_server: pthread_create: %s\n", strerror(err));
			client_release(c);	/* the writer holds the other reference */
			continue;
		}
		pthread_detach(t);
	}
}
