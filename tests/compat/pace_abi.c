/* pace_abi.c: compat test of the names a packaged (Debian-built) program calls
 * libc by: the fortified forms (__read_chk, __recv_chk, __recvfrom_chk,
 * __poll_chk, __ppoll_chk, __fgets_chk, __fgets_unlocked_chk, __fread_chk,
 * __fread_unlocked_chk, __gets_chk), __getdelim, __uflow, __underflow, the
 * unlocked stdio reads, and the opens of a FIFO under every name (open64,
 * openat64, __open_2, __open64_2, __openat_2, __openat64_2, creat, fopen,
 * fopen64, freopen, freopen64). Each is called by that exact name, as compiled
 * code calls it.
 *
 * Each case: a counting thread, started first (so with GOSHIM_PROCS=1 it
 * shares the waiter's OS thread), ticks every millisecond; main arms it and
 * makes the call; 20 ticks later the counter provides what the call waits
 * for (data, or the FIFO's other end). So the call returns only if the
 * counter kept running while main waited in it: a call that blocks the OS
 * thread hangs the test. Also: the length checks abort the program as
 * natively (in a child), a missing mode for __open_2(O_CREAT) aborts, a FIFO
 * open ends with EINTR on a handler without SA_RESTART and goes on with one.
 *
 * Usage: pace_abi [CASE...] (all cases without arguments). */
#include "compat.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The fortified entry points, as glibc exports them. */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      struct sockaddr *from, socklen_t *fromlen);
extern int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
extern int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		       const sigset_t *mask, size_t fdslen);
extern char *__fgets_chk(char *s, size_t size, int n, FILE *f);
extern char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *f);
extern size_t __fread_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f);
extern size_t __fread_unlocked_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f);
extern char *__gets_chk(char *s, size_t size);
extern int __underflow(FILE *f);
extern int _IO_getc(FILE *f);
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dir, const char *path, int flags);
extern int __openat64_2(int dir, const char *path, int flags);
#undef fread_unlocked
#include <stdarg.h>
#include <wchar.h>

/* The scanf family by each exported name (the headers rename fscanf to
 * __isoc99_fscanf; the plain names are reached by assembler name). */
extern int __isoc99_fscanf(FILE *f, const char *fmt, ...);
extern int __isoc99_scanf(const char *fmt, ...);
extern int __isoc99_vfscanf(FILE *f, const char *fmt, va_list ap);
extern int __isoc99_vscanf(const char *fmt, va_list ap);
extern int __vfscanf(FILE *f, const char *fmt, va_list ap);
extern int plain_fscanf(FILE *f, const char *fmt, ...) __asm__("fscanf");
extern int plain_scanf(const char *fmt, ...) __asm__("scanf");
extern int plain_vfscanf(FILE *f, const char *fmt, va_list ap) __asm__("vfscanf");
extern int plain_vscanf(const char *fmt, va_list ap) __asm__("vscanf");
extern int __isoc99_fwscanf(FILE *f, const wchar_t *fmt, ...);
extern int __isoc99_wscanf(const wchar_t *fmt, ...);
extern int __isoc99_vfwscanf(FILE *f, const wchar_t *fmt, va_list ap);
extern int __isoc99_vwscanf(const wchar_t *fmt, va_list ap);
extern int plain_fwscanf(FILE *f, const wchar_t *fmt, ...) __asm__("fwscanf");
extern int plain_wscanf(const wchar_t *fmt, ...) __asm__("wscanf");
extern int plain_vfwscanf(FILE *f, const wchar_t *fmt, va_list ap) __asm__("vfwscanf");
extern int plain_vwscanf(const wchar_t *fmt, va_list ap) __asm__("vwscanf");
extern wint_t __wuflow(FILE *f);
extern wint_t __wunderflow(FILE *f);
extern wchar_t *__fgetws_chk(wchar_t *s, size_t size, int n, FILE *f);
extern wchar_t *__fgetws_unlocked_chk(wchar_t *s, size_t size, int n, FILE *f);

#define LEAD 20			/* ticks between arming and providing */

static atomic_long ticks;
static atomic_long armed_at = -1;	/* the tick the current case was armed at */
static void (*provide)(void);
static atomic_int stop;

static int sv[2];		/* a socket pair: main reads sv[0] */
static int pp[2];		/* a pipe: main reads pp[0] */
static int wp[2];		/* a pipe for a wide-oriented FILE */
static char fifo[64];		/* a FIFO in a directory of its own */
static atomic_int peer = -1;	/* the counter's end of the FIFO */

static void *counter(void *arg)
{
	while (!atomic_load(&stop)) {
		usleep(1000);
		long t = atomic_fetch_add(&ticks, 1) + 1;
		long a = atomic_load(&armed_at);
		if (a >= 0 && t >= a + LEAD) {
			atomic_store(&armed_at, -1);
			provide();
		}
	}
	return NULL;
}

/* Arms the counter to call fn LEAD ticks from now; returns the tick count. */
static long arm(void (*fn)(void))
{
	provide = fn;
	long t = atomic_load(&ticks);
	atomic_store(&armed_at, t);
	return t;
}

/* After the call: the counter kept its pace while main waited. */
static void report(const char *name, long t0, const char *got)
{
	long d = atomic_load(&ticks) - t0;
	CHECK(atomic_load(&armed_at) == -1);
	fprintf(stderr, "ticks %s %ld\n", name, d);	/* the figure; stderr is not compared */
	printf("%s: %s, counter ran during the wait: %s\n", name, got, d >= LEAD ? "yes" : "no");
}

static void sock_data(void) { CHECK_EQ(write(sv[1], "sock", 4), 4); }
static void pipe_data(void) { CHECK_EQ(write(pp[1], "pipe line\nmore\n", 15), 15); }
static void wide_data(void) { CHECK_EQ(write(wp[1], "pipe line\nmore\n", 15), 15); }
static void fifo_writer(void)
{
	peer = open(fifo, O_WRONLY | O_NONBLOCK);	/* main waits as the reader */
	CHECK(peer >= 0);
	CHECK_EQ(write(peer, "fifo\n", 5), 5);
}
static void fifo_reader(void)
{
	peer = open(fifo, O_RDONLY | O_NONBLOCK);	/* main waits as the writer */
	CHECK(peer >= 0);
}

/* ---- fd reads ---- */

static void t_read_chk(void)
{
	char buf[16] = "";
	volatile size_t n = sizeof buf;
	long t = arm(sock_data);
	ssize_t r = __read_chk(sv[0], buf, n, sizeof buf);
	report("__read_chk", t, r == 4 ? buf : "wrong count");
}

static void t_recv_chk(void)
{
	char buf[16] = "";
	long t = arm(sock_data);
	ssize_t r = __recv_chk(sv[0], buf, sizeof buf, sizeof buf, 0);
	report("__recv_chk", t, r == 4 ? buf : "wrong count");
}

static void t_recvfrom_chk(void)
{
	char buf[16] = "";
	long t = arm(sock_data);
	ssize_t r = __recvfrom_chk(sv[0], buf, sizeof buf, sizeof buf, 0, NULL, NULL);
	report("__recvfrom_chk", t, r == 4 ? buf : "wrong count");
}

static void t_poll_chk(void)
{
	struct pollfd p[2] = { { sv[0], POLLIN, 0 }, { -1, 0, 0 } };
	char buf[16] = "";
	long t = arm(sock_data);
	int r = __poll_chk(p, 2, -1, sizeof p);
	report("__poll_chk", t, r == 1 && (p[0].revents & POLLIN) ? "readable" : "wrong");
	CHECK_EQ(read(sv[0], buf, sizeof buf), 4);
}

static void t_ppoll_chk(void)
{
	struct pollfd p[1] = { { sv[0], POLLIN, 0 } };
	char buf[16] = "";
	long t = arm(sock_data);
	int r = __ppoll_chk(p, 1, NULL, NULL, sizeof p);
	report("__ppoll_chk", t, r == 1 && (p[0].revents & POLLIN) ? "readable" : "wrong");
	CHECK_EQ(read(sv[0], buf, sizeof buf), 4);
}

/* ---- stdio reads: a FILE on an empty pipe ---- */

static FILE *in;

static void drain(void)	/* what a case left in the FILE and the pipe */
{
	char buf[64];
	CHECK_EQ(fread(buf, 1, 5, in), 5);	/* "more\n" */
}

static void t_fgets_chk(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	char *r = __fgets_chk(buf, sizeof buf, sizeof buf, in);
	buf[strcspn(buf, "\n")] = 0;
	report("__fgets_chk", t, r ? buf : "NULL");
	drain();
}

static void t_fgets_unlocked_chk(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	char *r = __fgets_unlocked_chk(buf, sizeof buf, sizeof buf, in);
	buf[strcspn(buf, "\n")] = 0;
	report("__fgets_unlocked_chk", t, r ? buf : "NULL");
	drain();
}

static void t_fread_chk(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	size_t r = __fread_chk(buf, sizeof buf, 1, 10, in);
	buf[9] = 0;
	report("__fread_chk", t, r == 10 ? buf : "short");
	drain();
}

static void t_fread_unlocked_chk(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	size_t r = __fread_unlocked_chk(buf, sizeof buf, 1, 10, in);
	buf[9] = 0;
	report("__fread_unlocked_chk", t, r == 10 ? buf : "short");
	drain();
}

static void t_getdelim(void)
{
	char *line = NULL;
	size_t cap = 0;
	long t = arm(pipe_data);
	ssize_t r = __getdelim(&line, &cap, '\n', in);
	if (r > 0)
		line[r - 1] = 0;
	report("__getdelim", t, r == 10 ? line : "wrong");
	free(line);
	drain();
}

/* One character by a name that takes one; the rest of the line by fgets. */
static void one_char(const char *name, int (*fn)(FILE *))
{
	char buf[32] = "";
	long t = arm(pipe_data);
	int c = fn(in);
	CHECK(fgets(buf + 1, sizeof buf - 1, in) != NULL);
	buf[0] = (char)c;
	buf[strcspn(buf, "\n")] = 0;
	report(name, t, c == 'p' ? buf : "wrong");
	drain();
}

static int by_getc_unlocked(FILE *f) { return getc_unlocked(f); }
static int by_fgetc_unlocked(FILE *f) { return fgetc_unlocked(f); }
static int by_underflow(FILE *f) { int c = __underflow(f); if (c != EOF) (void)fgetc(f); return c; }

static void t_uflow(void) { one_char("__uflow", __uflow); }
static void t_underflow(void) { one_char("__underflow", by_underflow); }
static void t_io_getc(void) { one_char("_IO_getc", _IO_getc); }
static void t_getc_unlocked(void) { one_char("getc_unlocked", by_getc_unlocked); }
static void t_fgetc_unlocked(void) { one_char("fgetc_unlocked", by_fgetc_unlocked); }

static void t_fgets_unlocked(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	char *r = fgets_unlocked(buf, sizeof buf, in);
	buf[strcspn(buf, "\n")] = 0;
	report("fgets_unlocked", t, r ? buf : "NULL");
	drain();
}

static void t_fread_unlocked(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	size_t r = fread_unlocked(buf, 1, 10, in);
	buf[9] = 0;
	report("fread_unlocked", t, r == 10 ? buf : "short");
	drain();
}

static void t_getw(void)
{
	long t = arm(pipe_data);
	int w = getw(in);
	char buf[32] = "";
	CHECK(fgets(buf + 4, sizeof buf - 4, in) != NULL);
	memcpy(buf, &w, 4);
	buf[strcspn(buf, "\n")] = 0;
	report("getw", t, buf);
	drain();
}

/* stdin is the pipe for these. */
static void t_gets_chk(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	char *r = __gets_chk(buf, sizeof buf);
	report("__gets_chk", t, r ? buf : "NULL");
	CHECK_EQ(fread(buf, 1, 5, stdin), 5);
}

static void t_getchar_unlocked(void)
{
	char buf[32] = "";
	long t = arm(pipe_data);
	int c = getchar_unlocked();
	CHECK(fgets(buf + 1, sizeof buf - 1, stdin) != NULL);
	buf[0] = (char)c;
	buf[strcspn(buf, "\n")] = 0;
	report("getchar_unlocked", t, buf);
	CHECK_EQ(fread(buf, 1, 5, stdin), 5);
}

/* ---- the scanf family: "%9s" takes "pipe", fgets the rest of the line ---- */

static void scanned(const char *name, long t, int r, const char *word, FILE *f)
{
	char rest[32] = "";
	CHECK(fgets(rest, sizeof rest, f) != NULL);
	rest[strcspn(rest, "\n")] = 0;
	char got[64];
	snprintf(got, sizeof got, "%d %s|%s", r, word, rest);
	report(name, t, got);
	CHECK_EQ(fread(rest, 1, 5, f), 5);	/* "more\n" */
}

static int via_vfscanf(int (*v)(FILE *, const char *, va_list), FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = v(f, fmt, ap);
	va_end(ap);
	return r;
}

static int via_vscanf(int (*v)(const char *, va_list), const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = v(fmt, ap);
	va_end(ap);
	return r;
}


#define SCAN_CASE(id, label, f, call)						\
	static void t_##id(void)						\
	{									\
		char w[16] = "";						\
		long t = arm(pipe_data);					\
		int r = call;							\
		scanned(label, t, r, w, f);					\
	}
SCAN_CASE(fscanf, "fscanf", in, plain_fscanf(in, "%9s", w))
SCAN_CASE(isoc99_fscanf, "__isoc99_fscanf", in, __isoc99_fscanf(in, "%9s", w))
SCAN_CASE(vfscanf, "vfscanf", in, via_vfscanf(plain_vfscanf, in, "%9s", w))
SCAN_CASE(isoc99_vfscanf, "__isoc99_vfscanf", in, via_vfscanf(__isoc99_vfscanf, in, "%9s", w))
SCAN_CASE(__vfscanf, "__vfscanf", in, via_vfscanf(__vfscanf, in, "%9s", w))
SCAN_CASE(scanf, "scanf", stdin, plain_scanf("%9s", w))
SCAN_CASE(isoc99_scanf, "__isoc99_scanf", stdin, __isoc99_scanf("%9s", w))
SCAN_CASE(vscanf, "vscanf", stdin, via_vscanf(plain_vscanf, "%9s", w))
SCAN_CASE(isoc99_vscanf, "__isoc99_vscanf", stdin, via_vscanf(__isoc99_vscanf, "%9s", w))

/* ---- wide-character reads: a wide-oriented FILE on its own pipe ---- */

static FILE *win;

static void wide_got(const char *name, long t, const wchar_t *first, FILE *f)
{
	wchar_t rest[32] = L"";
	CHECK(fgetws(rest, 32, f) != NULL);
	char got[256];
	snprintf(got, sizeof got, "%ls%ls", first, rest);
	got[strcspn(got, "\n")] = 0;
	report(name, t, got);
	CHECK(fgetws(rest, 32, f) != NULL);	/* "more\n" */
}

#define WCHAR_CASE(id, label, f, call)						\
	static void t_##id(void)						\
	{									\
		long t = arm(f == win ? wide_data : pipe_data);		\
		wint_t c = call;						\
		wchar_t first[2] = { (wchar_t)c, 0 };				\
		wide_got(label, t, first, f);					\
	}
static wint_t by_wunderflow(FILE *f) { wint_t c = __wunderflow(f); if (c != WEOF) (void)fgetwc(f); return c; }
WCHAR_CASE(fgetwc, "fgetwc", win, fgetwc(win))
WCHAR_CASE(getwc, "getwc", win, getwc(win))
WCHAR_CASE(fgetwc_unlocked, "fgetwc_unlocked", win, fgetwc_unlocked(win))
WCHAR_CASE(getwc_unlocked, "getwc_unlocked", win, getwc_unlocked(win))
WCHAR_CASE(wuflow, "__wuflow", win, __wuflow(win))
WCHAR_CASE(wunderflow, "__wunderflow", win, by_wunderflow(win))
WCHAR_CASE(getwchar, "getwchar", stdin, getwchar())
WCHAR_CASE(getwchar_unlocked, "getwchar_unlocked", stdin, getwchar_unlocked())

#define WLINE_CASE(id, label, call)						\
	static void t_##id(void)						\
	{									\
		wchar_t line[32] = L"";						\
		long t = arm(wide_data);					\
		wchar_t *r = call;						\
		char got[256];							\
		snprintf(got, sizeof got, "%ls", r ? line : L"NULL");		\
		got[strcspn(got, "\n")] = 0;					\
		report(label, t, got);						\
		CHECK(fgetws(line, 32, win) != NULL);				\
	}
WLINE_CASE(fgetws, "fgetws", fgetws(line, 32, win))
WLINE_CASE(fgetws_unlocked, "fgetws_unlocked", fgetws_unlocked(line, 32, win))
WLINE_CASE(fgetws_chk, "__fgetws_chk", __fgetws_chk(line, 32, 32, win))
WLINE_CASE(fgetws_unlocked_chk, "__fgetws_unlocked_chk", __fgetws_unlocked_chk(line, 32, 32, win))

static int via_vfwscanf(int (*v)(FILE *, const wchar_t *, va_list), FILE *f, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = v(f, fmt, ap);
	va_end(ap);
	return r;
}

static int via_vwscanf(int (*v)(const wchar_t *, va_list), const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = v(fmt, ap);
	va_end(ap);
	return r;
}

#define WSCAN_CASE(id, label, f, call)						\
	static void t_##id(void)						\
	{									\
		wchar_t w[16] = L"";						\
		long t = arm(f == win ? wide_data : pipe_data);		\
		int r = call;							\
		char n[8];							\
		snprintf(n, sizeof n, "%d ", r);				\
		wchar_t first[24];						\
		swprintf(first, 24, L"%s%ls", n, w);				\
		wide_got(label, t, first, f);					\
	}
WSCAN_CASE(fwscanf, "fwscanf", win, plain_fwscanf(win, L"%9ls", w))
WSCAN_CASE(isoc99_fwscanf, "__isoc99_fwscanf", win, __isoc99_fwscanf(win, L"%9ls", w))
WSCAN_CASE(vfwscanf, "vfwscanf", win, via_vfwscanf(plain_vfwscanf, win, L"%9ls", w))
WSCAN_CASE(isoc99_vfwscanf, "__isoc99_vfwscanf", win, via_vfwscanf(__isoc99_vfwscanf, win, L"%9ls", w))
WSCAN_CASE(wscanf, "wscanf", stdin, plain_wscanf(L"%9ls", w))
WSCAN_CASE(isoc99_wscanf, "__isoc99_wscanf", stdin, __isoc99_wscanf(L"%9ls", w))
WSCAN_CASE(vwscanf, "vwscanf", stdin, via_vwscanf(plain_vwscanf, L"%9ls", w))
WSCAN_CASE(isoc99_vwscanf, "__isoc99_vwscanf", stdin, via_vwscanf(__isoc99_vwscanf, L"%9ls", w))

/* stdin is byte-oriented in this process (gets, getchar_unlocked, scanf): the
 * wide reads of stdin run in a child, with a counter of its own. */
static void t_wide_stdin(void)
{
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int np[2];
		CHECK_SYS(pipe(np));
		CHECK(dup2(np[0], 0) == 0);
		close(np[0]);
		stdin = fdopen(0, "r");	/* not yet oriented: the old stdin reads bytes */
		CHECK(stdin != NULL);
		pp[1] = np[1];	/* pipe_data writes to the child's stdin */
		atomic_store(&ticks, 0);
		pthread_t c;
		CHECK_RC(pthread_create(&c, NULL, counter, NULL), 0);
		while (atomic_load(&ticks) < 3)
			usleep(1000);
		t_getwchar();
		t_getwchar_unlocked();
		t_wscanf();
		t_isoc99_wscanf();
		t_vwscanf();
		t_isoc99_vwscanf();
		fflush(stdout);
		_exit(0);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- opens of a FIFO: main waits for the counter to open the other end ---- */

static void fifo_got(const char *name, long t, int fd)
{
	CHECK(fd >= 0);
	char buf[16] = "";
	CHECK_EQ(read(fd, buf, sizeof buf), 5);
	buf[4] = 0;
	int fl = fcntl(fd, F_GETFL);
	report(name, t, (fl & O_NONBLOCK) ? "O_NONBLOCK left set" : buf);
	close(fd);
	close(peer);
	peer = -1;
}

#define FIFO_READ_CASE(fn, call)						\
	static void t_##fn(void)						\
	{									\
		long t = arm(fifo_writer);					\
		errno = 0;							\
		int fd = call;							\
		CHECK_EQ(errno, 0);	/* untouched on success */		\
		fifo_got(#fn, t, fd);						\
	}
FIFO_READ_CASE(open, open(fifo, O_RDONLY))
FIFO_READ_CASE(open64, open64(fifo, O_RDONLY))
FIFO_READ_CASE(openat, openat(AT_FDCWD, fifo, O_RDONLY))
FIFO_READ_CASE(openat64, openat64(AT_FDCWD, fifo, O_RDONLY))
FIFO_READ_CASE(__open_2, __open_2(fifo, O_RDONLY))
FIFO_READ_CASE(__open64_2, __open64_2(fifo, O_RDONLY))
FIFO_READ_CASE(__openat_2, __openat_2(AT_FDCWD, fifo, O_RDONLY))
FIFO_READ_CASE(__openat64_2, __openat64_2(AT_FDCWD, fifo, O_RDONLY))

/* The writer's side: main's open waits for the counter to open for reading. */
static void fifo_wrote(const char *name, long t, int fd)
{
	CHECK(fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	CHECK_EQ(write(fd, "wrote\n", 6), 6);
	close(fd);
	/* Main's open returns once the counter's open has; its store to peer
	 * may come a moment later. */
	while (atomic_load(&peer) < 0)
		usleep(100);
	char buf[16] = "";
	CHECK_EQ(read(peer, buf, sizeof buf), 6);
	buf[5] = 0;
	report(name, t, (fl & O_NONBLOCK) ? "O_NONBLOCK left set" : buf);
	close(peer);
	peer = -1;
}

static void t_open_w(void)
{
	long t = arm(fifo_reader);
	errno = 0;
	int fd = open64(fifo, O_WRONLY);
	CHECK_EQ(errno, 0);	/* untouched on success, after ENXIO tries */
	fifo_wrote("open O_WRONLY", t, fd);
}

static void t_creat(void)
{
	long t = arm(fifo_reader);
	fifo_wrote("creat", t, creat(fifo, 0600));
}

static void t_fopen_w(void)
{
	long t = arm(fifo_reader);
	FILE *f = fopen(fifo, "we");
	CHECK(f != NULL);
	int fl = fcntl(fileno(f), F_GETFL);
	CHECK(fcntl(fileno(f), F_GETFD) & FD_CLOEXEC);
	fputs("wrote\n", f);
	fclose(f);
	while (atomic_load(&peer) < 0)	/* as in fifo_wrote */
		usleep(100);
	char buf[16] = "";
	CHECK_EQ(read(peer, buf, sizeof buf), 6);
	buf[5] = 0;
	report("fopen \"we\"", t, (fl & O_NONBLOCK) ? "O_NONBLOCK left set" : buf);
	close(peer);
	peer = -1;
}

static void stream_got(const char *name, long t, FILE *f)
{
	CHECK(f != NULL);
	char buf[16] = "";
	CHECK(fgets(buf, sizeof buf, f) != NULL);
	buf[strcspn(buf, "\n")] = 0;
	report(name, t, buf);
	close(peer);
	peer = -1;
}

static void t_fopen(void)
{
	long t = arm(fifo_writer);
	FILE *f = fopen(fifo, "r");
	stream_got("fopen", t, f);
	fclose(f);
}

static void t_fopen64(void)
{
	long t = arm(fifo_writer);
	FILE *f = fopen64(fifo, "rb");
	stream_got("fopen64", t, f);
	fclose(f);
}

static void reopen_case(const char *name, FILE *(*fn)(const char *, const char *, FILE *))
{
	FILE *f = fopen("/dev/null", "r");
	CHECK(f != NULL);
	int before = fileno(f);
	long t = arm(fifo_writer);
	FILE *g = fn(fifo, "r", f);
	CHECK(g == f);
	CHECK_EQ(fileno(g), before);
	stream_got(name, t, g);
	fclose(g);
}

static void t_freopen(void) { reopen_case("freopen", freopen); }
static void t_freopen64(void) { reopen_case("freopen64", freopen64); }

/* A signal ends a FIFO open that waits: EINTR without SA_RESTART; with it the
 * open goes on until the writer comes. */
static pthread_t main_thread;
static void on_usr1(int sig) { (void)sig; }
static void kick(void) { pthread_kill(main_thread, SIGUSR1); }
static void kick_then_write(void)
{
	pthread_kill(main_thread, SIGUSR1);
	atomic_store(&armed_at, atomic_load(&ticks));	/* and again LEAD ticks later */
	provide = fifo_writer;
}

static void t_open_eintr(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	long t = arm(kick);
	errno = 0;
	int fd = open(fifo, O_RDONLY);
	int e = errno;
	report("open interrupted", t, fd < 0 ? errname(e) : "opened");
	if (fd >= 0)
		close(fd);

	sa.sa_flags = SA_RESTART;
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	t = arm(kick_then_write);
	fifo_got("open restarted (SA_RESTART)", t, open(fifo, O_RDONLY));
	signal(SIGUSR1, SIG_DFL);
}

/* ---- the length checks: glibc's abort, natively and preloaded ---- */

static void in_child(const char *name, void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);	/* glibc's "*** buffer overflow detected ***" */
		fn();
		_exit(0);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	printf("%s: %s\n", name, WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "returned");
}

static volatile size_t big = 64;
static void o_read(void) { char b[8]; __read_chk(sv[0], b, big, sizeof b); }
static void o_recv(void) { char b[8]; __recv_chk(sv[0], b, big, sizeof b, 0); }
static void o_recvfrom(void) { char b[8]; __recvfrom_chk(sv[0], b, big, sizeof b, 0, NULL, NULL); }
static void o_poll(void) { struct pollfd p[1] = { { sv[0], POLLIN, 0 } }; __poll_chk(p, big, 0, sizeof p); }
static void o_ppoll(void) { struct pollfd p[1] = { { sv[0], POLLIN, 0 } }; __ppoll_chk(p, big, NULL, NULL, sizeof p); }
static void o_fread(void) { char b[8]; __fread_chk(b, sizeof b, 1, big, in); }
static void o_fread_unlocked(void) { char b[8]; __fread_unlocked_chk(b, sizeof b, 1, big, in); }
static void o_fgets(void) { char b[8]; write(pp[1], "0123456789abcdef\n", 17); __fgets_chk(b, sizeof b, (int)big, in); }
static void o_open2(void) { __open_2("/nonexistent-goshim", O_CREAT | O_WRONLY); }

static void t_overflow(void)
{
	in_child("__read_chk overflow", o_read);
	in_child("__recv_chk overflow", o_recv);
	in_child("__recvfrom_chk overflow", o_recvfrom);
	in_child("__poll_chk overflow", o_poll);
	in_child("__ppoll_chk overflow", o_ppoll);
	in_child("__fread_chk overflow", o_fread);
	in_child("__fread_unlocked_chk overflow", o_fread_unlocked);
	in_child("__fgets_chk overflow", o_fgets);
	in_child("__open_2 with O_CREAT and no mode", o_open2);
}

static const struct { const char *name; void (*fn)(void); } cases[] = {
	{ "read_chk", t_read_chk }, { "recv_chk", t_recv_chk }, { "recvfrom_chk", t_recvfrom_chk },
	{ "poll_chk", t_poll_chk }, { "ppoll_chk", t_ppoll_chk },
	{ "fgets_chk", t_fgets_chk }, { "fgets_unlocked_chk", t_fgets_unlocked_chk },
	{ "fread_chk", t_fread_chk }, { "fread_unlocked_chk", t_fread_unlocked_chk },
	{ "getdelim", t_getdelim }, { "uflow", t_uflow }, { "underflow", t_underflow },
	{ "io_getc", t_io_getc }, { "getc_unlocked", t_getc_unlocked },
	{ "fgetc_unlocked", t_fgetc_unlocked }, { "fgets_unlocked", t_fgets_unlocked },
	{ "fread_unlocked", t_fread_unlocked }, { "getw", t_getw },
	{ "gets_chk", t_gets_chk }, { "getchar_unlocked", t_getchar_unlocked },
	{ "fscanf", t_fscanf }, { "isoc99_fscanf", t_isoc99_fscanf }, { "vfscanf", t_vfscanf },
	{ "isoc99_vfscanf", t_isoc99_vfscanf }, { "__vfscanf", t___vfscanf },
	{ "scanf", t_scanf }, { "isoc99_scanf", t_isoc99_scanf },
	{ "vscanf", t_vscanf }, { "isoc99_vscanf", t_isoc99_vscanf },
	{ "fgetwc", t_fgetwc }, { "getwc", t_getwc }, { "fgetwc_unlocked", t_fgetwc_unlocked },
	{ "getwc_unlocked", t_getwc_unlocked }, { "wuflow", t_wuflow }, { "wunderflow", t_wunderflow },
	{ "fgetws", t_fgetws }, { "fgetws_unlocked", t_fgetws_unlocked }, { "fgetws_chk", t_fgetws_chk },
	{ "fgetws_unlocked_chk", t_fgetws_unlocked_chk }, { "fwscanf", t_fwscanf },
	{ "isoc99_fwscanf", t_isoc99_fwscanf }, { "vfwscanf", t_vfwscanf },
	{ "isoc99_vfwscanf", t_isoc99_vfwscanf }, { "wide_stdin", t_wide_stdin },
	{ "open", t_open }, { "open64", t_open64 }, { "openat", t_openat }, { "openat64", t_openat64 },
	{ "open_2", t___open_2 }, { "open64_2", t___open64_2 }, { "openat_2", t___openat_2 },
	{ "openat64_2", t___openat64_2 }, { "open_w", t_open_w }, { "creat", t_creat },
	{ "fopen_w", t_fopen_w }, { "fopen", t_fopen }, { "fopen64", t_fopen64 },
	{ "freopen", t_freopen }, { "freopen64", t_freopen64 }, { "open_eintr", t_open_eintr },
	{ "overflow", t_overflow },
};

int main(int argc, char **argv)
{
	main_thread = pthread_self();
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_SYS(pipe(pp));
	CHECK(dup2(pp[0], 0) == 0);	/* stdin is the pipe too */
	in = fdopen(pp[0], "r");
	CHECK(in != NULL);
	CHECK_SYS(pipe(wp));
	win = fdopen(wp[0], "r");
	CHECK(win != NULL && fwide(win, 1) > 0);
	char dir[] = "/tmp/goshim-pace.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	CHECK_SYS(mkfifo(fifo, 0600));

	pthread_t c;
	CHECK_RC(pthread_create(&c, NULL, counter, NULL), 0);
	while (atomic_load(&ticks) < 3)	/* it is an already running thread */
		usleep(1000);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool want = argc < 2;
		for (int a = 1; a < argc; a++)
			want |= strcmp(argv[a], cases[i].name) == 0;
		if (want)
			cases[i].fn();
	}
	atomic_store(&stop, 1);
	CHECK_RC(pthread_join(c, NULL), 0);
	unlink(fifo);
	rmdir(dir);
	return 0;
}
