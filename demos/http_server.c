/*
 * http_server.c: a thread-per-connection HTTP/1.1 file server, written the
 * way legacy servers are and knowing nothing of goshim.
 *
 * usage: http_server PORT DIR
 *
 * Listens on 127.0.0.1:PORT (backlog 4096), prints "ready" once listening,
 * and gives every accepted connection its own detached thread with default
 * attributes. The thread reads requests into a buffer on its stack with
 * blocking read(), and answers GET and HEAD of regular files under DIR
 * ("/" and ".../" mean index.html) with Content-Length, keeping the
 * connection alive as HTTP/1.1 says (pipelined requests included) unless the
 * client asks to close or speaks HTTP/1.0 without keep-alive. Anything else
 * gets 400, 403, 404, 405, 413 or 501. No path may climb out of DIR: targets
 * holding a ".." segment are refused and files are opened relative to DIR.
 */
#define _GNU_SOURCE	/* strcasestr, memmem */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 4096
#define REQSZ 8192	/* the request line and headers must fit here */
#define BODYSZ 8192	/* file bytes go out through this */

static int rootfd;	/* DIR, opened once; files are opened relative to it */

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("http_server: setrlimit");
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

static const char *content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".htm", "text/html; charset=utf-8" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".css", "text/css" },
		{ ".js", "text/javascript" },
		{ ".json", "application/json" },
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".svg", "image/svg+xml" },
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	if (dot != NULL)
		for (i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/* Sends a short error page. Returns 0 or -1. */
static int send_error(int fd, int code, const char *reason, int keep)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof hdr,
		     "HTTP/1.1 %d %s\r\nServer: demo-http\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: %s\r\n\r\n%d %s\n",
		     code, reason, strlen(reason) + 5, keep ? "keep-alive" : "close",
		     code, reason);
	return write_all(fd, hdr, (size_t)n);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Turns the request target into a path relative to DIR, in place: drops the
 * query, decodes %XX, refuses NUL, "..", and anything not starting with '/'.
 * Returns the relative path or NULL.
 */
static char *target_path(char *t)
{
	char *r, *w, *seg;

	if (t[0] != '/')
		return NULL;
	t[strcspn(t, "?#")] = '\0';
	for (r = w = t; *r; r++, w++) {
		if (*r == '%') {
			int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			*w = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w = *r;
		}
	}
	*w = '\0';
	for (seg = t; seg != NULL; seg = strchr(seg + 1, '/'))
		if (strncmp(seg, "/..", 3) == 0 && (seg[3] == '/' || seg[3] == '\0'))
			return NULL;
	while (*t == '/')
		t++;
	return t;
}

/*
 * Answers one GET or HEAD of path. Returns 0 to keep serving the connection,
 * -1 to close it.
 */
static int serve_file(int fd, char *rel, int head, int keep)
{
	char body[BODYSZ], hdr[512], path[1024];
	struct stat st;
	int ffd, n;
	off_t left;

	n = snprintf(path, sizeof path, "%s%s", *rel ? rel : "index.html",
		     (*rel && rel[strlen(rel) - 1] == '/') ? "index.html" : "");
	if (n >= (int)sizeof path)
		return send_error(fd, 404, "Not Found", keep) == 0 && keep ? 0 : -1;
	ffd = openat(rootfd, path, O_RDONLY | O_CLOEXEC);
	if (ffd < 0 || fstat(ffd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int code = ffd < 0 && errno == EACCES ? 403 : 404;

		if (ffd >= 0)
			close(ffd);
		return send_error(fd, code, code == 403 ? "Forbidden" : "Not Found",
				  keep) == 0 && keep ? 0 : -1;
	}
	n = snprintf(hdr, sizeof hdr,
		     "HTTP/1.1 200 OK\r\nServer: demo-http\r\nContent-Type: %s\r\n"
		     "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
		     content_type(path), (long long)st.st_size,
		     keep ? "keep-alive" : "close");
	if (write_all(fd, hdr, (size_t)n) != 0)
		goto fail;
	for (left = head ? 0 : st.st_size; left > 0; ) {
		ssize_t r = read(ffd, body, sizeof body);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;	/* the file shrank: the length is now a lie */
		if (r > left)
			r = (ssize_t)left;
		if (write_all(fd, body, (size_t)r) != 0)
			goto fail;
		left -= r;
	}
	close(ffd);
	return keep ? 0 : -1;
fail:
	close(ffd);
	return -1;
}

/* Finds header name (with its colon) in the header block; returns its value. */
static const char *header(const char *hdrs, const char *name, char *val, size_t vsz)
{
	size_t nl = strlen(name);
	const char *p;

	for (p = hdrs; p != NULL && *p; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL) {
		if (strncasecmp(p, name, nl) == 0) {
			size_t k = 0;

			p += nl;
			while (*p == ' ' || *p == '\t')
				p++;
			while (*p && *p != '\r' && k + 1 < vsz)
				val[k++] = *p++;
			while (k > 0 && (val[k - 1] == ' ' || val[k - 1] == '\t'))
				k--;
			val[k] = '\0';
			return val;
		}
	}
	return NULL;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[REQSZ + 1];
	size_t have = 0;

	for (;;) {
		char *end, *sp1, *sp2, *hdrs, val[64];
		char method[16], version[16];
		long long clen = 0;
		size_t used;
		int keep, head;

		/* Read until the blank line that ends the headers. */
		while ((end = memmem(req, have, "\r\n\r\n", 4)) == NULL) {
			ssize_t n;

			if (have == REQSZ) {
				send_error(fd, 413, "Request Header Fields Too Large", 0);
				goto out;
			}
			n = read(fd, req + have, REQSZ - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			have += (size_t)n;
		}
		*end = '\0';
		used = (size_t)(end - req) + 4;
		hdrs = strstr(req, "\r\n");
		hdrs = hdrs ? hdrs + 2 : end;
		if (hdrs != end)
			hdrs[-2] = '\0';

		/* The request line: METHOD SP TARGET SP VERSION. */
		sp1 = strchr(req, ' ');
		sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (sp1 == NULL || sp2 == NULL || sp1 - req >= (long)sizeof method ||
		    strlen(sp2 + 1) >= sizeof version || strncmp(sp2 + 1, "HTTP/1.", 7)) {
			send_error(fd, 400, "Bad Request", 0);
			goto out;
		}
		memcpy(method, req, (size_t)(sp1 - req));
		method[sp1 - req] = '\0';
		*sp2 = '\0';
		strcpy(version, sp2 + 1);

		keep = strcmp(version, "HTTP/1.0") != 0;
		if (header(hdrs, "Connection:", val, sizeof val) != NULL) {
			if (strcasestr(val, "close"))
				keep = 0;
			else if (strcasestr(val, "keep-alive"))
				keep = 1;
		}
		if (header(hdrs, "Transfer-Encoding:", val, sizeof val) != NULL) {
			send_error(fd, 501, "Not Implemented", 0);
			goto out;
		}
		if (header(hdrs, "Content-Length:", val, sizeof val) != NULL) {
			char *e;

			clen = strtoll(val, &e, 10);
			if (*e || clen < 0) {
				send_error(fd, 400, "Bad Request", 0);
				goto out;
			}
		}

		head = strcmp(method, "HEAD") == 0;
		if (!head && strcmp(method, "GET") != 0) {
			send_error(fd, 405, "Method Not Allowed", 0);
			goto out;
		} else {
			char *rel = target_path(sp1 + 1);

			if (rel == NULL) {
				send_error(fd, 400, "Bad Request", 0);
				goto out;
			}
			if (serve_file(fd, rel, head, keep) != 0)
				goto out;
		}

		/* Drop this request and any body it carried; keep what follows. */
		while (clen > 0) {
			size_t take = have - used < (size_t)clen ? have - used : (size_t)clen;
			ssize_t n;

			used += take;
			clen -= (long long)take;
			if (clen == 0)
				break;
			have = used = 0;
			n = read(fd, req, REQSZ);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			have = (size_t)n;
		}
		memmove(req, req + used, have - used);
		have -= used;
	}
out:
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int lfd, port, one = 1;

	if (argc != 3 || (port = atoi(argv[1])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s PORT DIR\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	rootfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		perror(argv[2]);
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0) {
		perror("http_server: socket");
		return 1;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(lfd, BACKLOG) != 0) {
		perror("http_server: bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		pthread_t t;
		int fd, err;

		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("http_server: accept");
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				struct timespec ts = { 0, 100 * 1000 * 1000 };

				nanosleep(&ts, NULL);
				continue;
			}
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		err = pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
		if (err != 0) {
			fprintf(stderr, "http_server: pthread_create: %s\n", strerror(err));
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
