/* sched/util.c: messages and fatal errors, without stdio (which may be locked
 * by the G that failed) and without malloc.
 *
 * The runtime's own output never goes through the library's hooks: a plain
 * call to write() from inside the library binds to our own exported write
 * (shim/io.c), which may park the calling G on a full stderr pipe, and a dump
 * runs in a signal handler or with the all-G lock held, where parking
 * deadlocks. So output goes to libc's write itself, resolved with
 * dlsym(RTLD_NEXT) once, early (a constructor: dlsym is not async-signal-safe),
 * and blocks the OS thread as any raw write would. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gs.h"

typedef ssize_t write_fn(int, const void *, size_t);
typedef int poll_fn(struct pollfd *, nfds_t, int);
static write_fn *_Atomic real_write;
static poll_fn *_Atomic real_poll;

__attribute__((constructor(101))) static void util_init(void)
{
	if (!atomic_load(&real_write)) {
		atomic_store(&real_poll, (poll_fn *)dlsym(RTLD_NEXT, "poll"));
		atomic_store(&real_write, (write_fn *)dlsym(RTLD_NEXT, "write"));
	}
}

/* Writes all of buf to fd with libc's own write, past partial writes, EINTR
 * and (a non-blocking fd) EAGAIN, which waits in libc's poll for at most a
 * second at a time. Keeps errno. Gives up on any other error or when the fd
 * stays full for a second: losing a message beats hanging the program. */
void gs_write_all(int fd, const void *buf, size_t n)
{
	write_fn *w = atomic_load_explicit(&real_write, memory_order_relaxed);
	if (unlikely(!w)) {	/* before the constructors: not in a signal handler */
		util_init();
		w = atomic_load(&real_write);
		if (!w)
			return;
	}
	int saved = errno;
	const char *p = buf;
	while (n > 0) {
		ssize_t r = w(fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		poll_fn *pl = atomic_load_explicit(&real_poll, memory_order_relaxed);
		struct pollfd pfd = { fd, POLLOUT, 0 };
		if (r < 0 && errno == EAGAIN && pl && pl(&pfd, 1, 1000) > 0)
			continue;
		break;
	}
	errno = saved;
}

static void vsay(const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "goshim: ");
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if (n >= (int)sizeof buf - 1)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	gs_write_all(2, buf, (size_t)n);
}

void gs_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void gs_throw(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	if (gs_allm)	/* the runtime is up: show every G */
		gs_dump(2);
	abort();
}
