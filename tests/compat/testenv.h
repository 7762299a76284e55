/* testenv.h: what a compat test may need to know about how it runs (header only,
 * self-contained: compat.h includes it, and tests that do not use compat.h, as in
 * tests/compat-io/, include "../compat/testenv.h").
 *
 * 1. The preload check. When the runner says the run is preloaded
 *    (GOSHIM_TEST_PRELOADED=1) and LD_PRELOAD names a library, a constructor checks
 *    at start that pthread_create resolves into that library (the same file, by
 *    device and inode). A library the loader could not load is ignored with a
 *    message, and the program would then run natively and pass for the wrong
 *    reason: instead it exits 3 with "compat.h: ... not preloaded" on stderr, which
 *    scripts/run-compat.sh reports as the reason. A path with ld.so's $LIB in it
 *    (one library per architecture, scripts/check-arch.sh) is matched as a pattern.
 *
 * 2. wait_blocked(tid, nr, arg0): returns once the thread whose gettid() is tid is
 *    blocked in a call, so that a test acts on a blocked thread (cancel it, signal
 *    it, close its fd) instead of sleeping a while and passing either way.
 *    Natively: /proc/self/task/TID/stat says it sleeps (S) and
 *    /proc/self/task/TID/syscall that it is inside system call nr (any if nr < 0)
 *    with first argument arg0 (any if arg0 < 0): the kernel's own view.
 *    Preloaded: the thread is a green thread with no task of its own, so the
 *    runtime's view: the process's own dump socket (@goshim-PID, sched/dumpsock.c,
 *    as `goshim dump PID` asks it) lists that G "waiting" for a reason other than
 *    "preempted" or "yield" (and, when arg0 >= 0 and the reason is an fd, on fd
 *    arg0). A G's id in the dump is its gettid() - 2^22 (sched/tid.c); the process's
 *    own G (gettid() == getpid()) is the one marked "(main)".
 *    Polls every 200 us; fails (exit 1, what it last saw on stderr) after 30 s.
 */
#ifndef GOSHIM_TESTENV_H
#define GOSHIM_TESTENV_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static inline int testenv_preloaded(void)
{
	const char *p = getenv("GOSHIM_TEST_PRELOADED");

	return p && !strcmp(p, "1");
}

__attribute__((constructor)) static void testenv_check_preloaded(void)
{
	const char *lp = getenv("LD_PRELOAD");
	char first[4096];
	struct stat want, got;
	Dl_info info;
	void *sym;
	size_t n;

	if (!testenv_preloaded() || !lp || !*lp)
		return;
	n = strcspn(lp, ": ");
	if (n >= sizeof first)
		n = sizeof first - 1;
	memcpy(first, lp, n);
	first[n] = 0;
	sym = dlsym(RTLD_DEFAULT, "pthread_create");
	char *dst = strstr(first, "$LIB/");
	if (dst) {
		/* A path with ld.so's $LIB (lib/ARCH-linux-gnu on Debian: one library per
		 * architecture, scripts/check-arch.sh): pthread_create's file is one that
		 * the pattern names, the prefix before $LIB and the file name after it. */
		size_t pre = (size_t)(dst - first), fl, sl = strlen(dst + 4);
		if (!sym || !dladdr(sym, &info) || !info.dli_fname ||
		    (fl = strlen(info.dli_fname)) < pre + sl ||
		    strncmp(info.dli_fname, first, pre) ||
		    strcmp(info.dli_fname + fl - sl, dst + 4) ||
		    stat(info.dli_fname, &got) != 0) {
			fprintf(stderr, "compat.h: %s not preloaded: pthread_create is %s's\n", first,
				sym && dladdr(sym, &info) && info.dli_fname ? info.dli_fname : "nobody");
			exit(3);
		}
		return;
	}
	if (stat(first, &want) != 0) {
		fprintf(stderr, "compat.h: %s not preloaded: stat: %s\n", first, strerror(errno));
		exit(3);
	}
	if (!sym || !dladdr(sym, &info) || !info.dli_fname || stat(info.dli_fname, &got) != 0 ||
	    got.st_dev != want.st_dev || got.st_ino != want.st_ino) {
		fprintf(stderr, "compat.h: %s not preloaded: pthread_create is %s's\n", first,
			sym && dladdr(sym, &info) && info.dli_fname ? info.dli_fname : "nobody");
		exit(3);
	}
}

static inline void testenv_nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline long long testenv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* /proc/self/task/TID/NAME into buf (NUL-terminated); 0 with the reason in saw
 * if it cannot be read. */
static inline int testenv_read_task(pid_t tid, const char *name, char *buf, size_t len,
				    char *saw, size_t sawlen)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(saw, sawlen, "%s: %s", path, strerror(errno));
		return 0;
	}
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return 1;
}

/* Natively: 1 if task tid sleeps in system call nr (any if < 0) with arg0 (any if < 0). */
static inline int testenv_native_blocked(pid_t tid, long nr, long arg0, char *saw, size_t sawlen)
{
	char buf[512], *p;
	long got_nr = -1;
	unsigned long got_arg0 = 0;
	char state = '?';

	if (!testenv_read_task(tid, "stat", buf, sizeof buf, saw, sawlen))
		return 0;
	p = strrchr(buf, ')');
	if (p && p[1] == ' ')
		state = p[2];
	if (!testenv_read_task(tid, "syscall", buf, sizeof buf, saw, sawlen))
		return 0;
	buf[strcspn(buf, "\n")] = 0;
	snprintf(saw, sawlen, "state %c, syscall \"%.60s\"", state, buf);
	if (state != 'S' || sscanf(buf, "%ld %lx", &got_nr, &got_arg0) != 2 || got_nr < 0)
		return 0;
	return (nr < 0 || got_nr == nr) && (arg0 < 0 || got_arg0 == (unsigned long)arg0);
}

/* Preloaded: the process's own dump (text), NUL-terminated, malloc'ed; NULL on error. */
static inline char *testenv_dump(char *saw, size_t sawlen)
{
	struct sockaddr_un a;
	socklen_t len;
	size_t cap = 65536, used = 0;
	char *buf;
	ssize_t k;
	int s, n;

	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "goshim-%d", (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, len) != 0 || write(s, "text\n", 5) != 5) {
		snprintf(saw, sawlen, "dump socket @goshim-%d: %s", (int)getpid(), strerror(errno));
		if (s >= 0)
			close(s);
		return NULL;
	}
	buf = (char *)malloc(cap);
	while (buf) {
		if (used + 1 == cap) {
			char *nb = (char *)realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(s, buf + used, cap - 1 - used);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		used += (size_t)k;
	}
	close(s);
	if (!buf)
		return NULL;
	buf[used] = 0;
	if (strncmp(buf, "OK\n", 3)) {
		snprintf(saw, sawlen, "dump answered \"%.60s\"", buf);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Preloaded: 1 if the dump lists the G with id tid waiting (see the header comment). */
static inline int testenv_green_blocked(pid_t tid, long arg0, char *saw, size_t sawlen)
{
	char *dump = testenv_dump(saw, sawlen), *line, *end, *why;
	int main_g = tid == getpid(), found = 0, fd;
	char want[32];

	if (!dump)
		return 0;
	snprintf(want, sizeof want, "G%d ", (int)(tid - (1 << 22)));
	snprintf(saw, sawlen, "no G for tid %d in the dump", (int)tid);
	for (line = dump; *line; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (line[0] != 'G' || line[1] < '0' || line[1] > '9')
			continue;
		if (main_g ? !(end - line >= 7 && !strncmp(end - 7, " (main)", 7))
			   : strncmp(line, want, strlen(want)))
			continue;
		snprintf(saw, sawlen, "%.*s", (int)(end - line) < 200 ? (int)(end - line) : 200, line);
		why = strchr(line, ' ');
		if (!why || strncmp(why, " waiting", 8) || !strncmp(why, " waiting in preempted", 21) ||
		    !strncmp(why, " waiting in yield", 17))
			break;
		if (arg0 >= 0 && sscanf(why, " waiting on fd %d", &fd) == 1 && fd != arg0)
			break;
		found = 1;
		break;
	}
	free(dump);
	return found;
}

/* Returns once thread tid is blocked in its call (see the header comment). */
static inline void wait_blocked(pid_t tid, long nr, long arg0)
{
	long long start = testenv_now_ms();
	int green = testenv_preloaded();
	char saw[256] = "";

	for (;;) {
		if (green ? testenv_green_blocked(tid, arg0, saw, sizeof saw)
			  : testenv_native_blocked(tid, nr, arg0, saw, sizeof saw))
			return;
		if (testenv_now_ms() - start > 30000) {
			fprintf(stderr, "wait_blocked: thread %d not blocked in %ld(%ld) after 30 s: %s\n",
				(int)tid, nr, arg0, saw);
			exit(1);
		}
		testenv_nap_us(200);
	}
}

#endif
