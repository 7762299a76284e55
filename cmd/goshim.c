/* cmd/goshim.c: the goshim command (man/goshim.1).
 *   goshim [-p PROCS] [-s STACK] [--] program [args...]
 *   goshim dump PID [--json]
 *   goshim stat PID [--json] [--watch SECONDS]
 *   goshim --help | --version
 * Running a program is LD_PRELOAD=<the library> GOSHIM_PROCS=PROCS
 * GOSHIM_STACK=STACK program args: the settings are checked by the library when
 * the program starts (one line and exit 2 if malformed). The library is found
 * relative to this executable (LIB_FROM_BIN, set by the Makefile: "." in the
 * build tree, "../lib/goshim" when installed), so an unpacked package works
 * wherever it is unpacked. A dump or stat asks the process on its socket
 * @goshim-PID (sched/dumpsock.c).
 * Exit statuses: the program's; 1 a dump or stat that failed or a missing library;
 * 2 a usage error; 126 a program that cannot be executed, 127 one not found. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef GOSHIM_VERSION
#error "GOSHIM_VERSION is set by the Makefile (from the file VERSION)"
#endif
#ifndef LIB_FROM_BIN
#define LIB_FROM_BIN "."
#endif
#define ANSWER_MS 10000		/* how long a dump waits for the answer to begin */

static const char usage_text[] =
	"usage: goshim [-p PROCS] [-s STACK] [--] program [args...]\n"
	"       goshim dump PID [--json]\n"
	"       goshim stat PID [--json] [--watch SECONDS]\n"
	"       goshim --help | --version\n";

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void help(void)
{
	printf("%s\n"
	       "Run program with every thread a green thread (the goshim library preloaded),\n"
	       "or show what every green thread of a running process is doing.\n\n"
	       "  -p PROCS      OS threads that run green threads (GOSHIM_PROCS, 1..1024)\n"
	       "  -s STACK      default thread stack, bytes or with K/M suffix (GOSHIM_STACK)\n"
	       "  dump PID      every green thread of process PID: state, wait, OS thread,\n"
	       "                stack, backtrace; --json as one JSON document\n"
	       "  stat PID      the scheduler's figures, green threads by wait reason,\n"
	       "                stacks; --json as JSON, --watch S every S seconds\n"
	       "  -h, --help    this text\n"
	       "  -V, --version the version\n\n"
	       "Other settings (GOSHIM_DEBUG, GOSHIM_MAXTHREADS, ...) are taken from the\n"
	       "environment; see goshim(1).\n", usage_text);
	exit(0);
}

/* The library beside this executable: DIR/LIB_FROM_BIN/libgoshim.so. */
static void find_lib(char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (k <= 0) {
		fprintf(stderr, "goshim: cannot find my own executable: %s\n", strerror(errno));
		exit(1);
	}
	exe[k] = 0;
	*strrchr(exe, '/') = 0;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s/libgoshim.so", exe, LIB_FROM_BIN);
	if (!realpath(path, out) || strlen(out) >= n || access(out, R_OK) != 0) {
		fprintf(stderr, "goshim: the library %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int run(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+p:s:hV", longs, NULL)) != -1) {
		switch (o) {
		case 'p':
			setenv("GOSHIM_PROCS", optarg, 1);
			break;
		case 's':
			setenv("GOSHIM_STACK", optarg, 1);
			break;
		case 'h':
			help();
			break;
		case 'V':
			printf("goshim %s\n", GOSHIM_VERSION);
			return 0;
		default:
			if (optopt && strchr("ps", optopt))
				fprintf(stderr, "goshim: option -%c needs a value\n", optopt);
			else if (optopt)
				fprintf(stderr, "goshim: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "goshim: unknown option %s\n", argv[optind - 1]);
			usage();
		}
	}
	if (optind >= argc)
		usage();
	char lib[PATH_MAX];
	find_lib(lib, sizeof lib);
	const char *old = getenv("LD_PRELOAD");
	char *pre = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
	if (!pre)
		return 1;
	sprintf(pre, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
	setenv("LD_PRELOAD", pre, 1);
	execvp(argv[optind], argv + optind);
	int e = errno;
	fprintf(stderr, "goshim: %s: %s\n", argv[optind], strerror(e));
	return e == ENOENT ? 127 : 126;
}

/* Sends req to process p's dump socket and copies the answer to stdout. */
static int ask(const char *cmd, long p, const char *req)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "goshim-%ld", p);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, len) != 0) {
		char proc[64];
		struct stat st;
		snprintf(proc, sizeof proc, "/proc/%ld", p);
		if (stat(proc, &st) != 0)
			fprintf(stderr, "goshim: %s: no process %ld\n", cmd, p);
		else
			fprintf(stderr, "goshim: %s: process %ld does not run the goshim library "
				"(no socket @goshim-%ld: %s)\n", cmd, p, p, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	int rc = 1;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "goshim: %s: process %ld: %s\n", cmd, p, strerror(errno));
		goto out;
	}
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	if (poll(&pf, 1, ANSWER_MS) == 0) {
		fprintf(stderr, "goshim: %s: process %ld did not answer within %d s (it answers "
			"when one of its OS threads polls for I/O)\n", cmd, p, ANSWER_MS / 1000);
		goto out;
	}
	/* "OK\n" then the answer, or "ERR reason\n". */
	char buf[65536];
	size_t have = 0;
	int head = 1;
	for (;;) {
		ssize_t k = read(fd, buf + have, sizeof buf - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
		if (head) {
			char *nl = memchr(buf, '\n', have);
			if (!nl && have < sizeof buf)
				continue;
			if (!nl || strncmp(buf, "OK\n", 3)) {
				int l = nl ? (int)(nl - buf) : (int)have;
				fprintf(stderr, "goshim: %s: process %ld: %.*s\n", cmd, p, l > 4 ? l - 4 : l,
					l > 4 && !strncmp(buf, "ERR ", 4) ? buf + 4 : buf);
				goto out;
			}
			head = 0;
			memmove(buf, buf + 3, have - 3);
			have -= 3;
		}
		if (fwrite(buf, 1, have, stdout) != have)
			goto out;
		have = 0;
	}
	if (head)
		fprintf(stderr, "goshim: %s: process %ld closed the connection without an answer\n", cmd, p);
	else
		rc = fflush(stdout) == 0 ? 0 : 1;
out:
	close(fd);
	return rc;
}

/* goshim dump PID [--json], goshim stat PID [--json] [--watch SECONDS] */
static int query(int argc, char **argv)
{
	const char *cmd = argv[1], *pid = NULL;
	int json = 0, stat = !strcmp(cmd, "stat");
	double watch = 0;
	for (int i = 2; i < argc; i++) {
		char *e;
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help();
		} else if (stat && !strcmp(argv[i], "--watch") && i + 1 < argc) {
			watch = strtod(argv[++i], &e);
			if (*e || !(watch > 0) || watch > 86400) {
				fprintf(stderr, "goshim: stat: --watch expects seconds, got %s\n", argv[i]);
				usage();
			}
		} else if (!pid && argv[i][0] != '-') {
			pid = argv[i];
		} else {
			fprintf(stderr, "goshim: %s: unexpected argument %s\n", cmd, argv[i]);
			usage();
		}
	}
	char *end;
	long p = pid ? strtol(pid, &end, 10) : 0;
	if (!pid || *end || p <= 0 || p > INT_MAX) {
		fprintf(stderr, "goshim: %s: expected a process id, got %s\n", cmd, pid ? pid : "nothing");
		usage();
	}
	const char *req = stat ? (json ? "stat json\n" : "stat\n") : json ? "json\n" : "text\n";
	int rc = ask(cmd, p, req);
	while (watch > 0 && rc == 0) {
		struct timespec ts = { (time_t)watch, (long)((watch - (time_t)watch) * 1e9) };
		nanosleep(&ts, NULL);
		rc = ask(cmd, p, req);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "dump") || !strcmp(argv[1], "stat")))
		return query(argc, argv);
	return run(argc, argv);
}
