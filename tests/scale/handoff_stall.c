/* handoff_stall.c: the sysmon hand-off (README, Limits; issue 6). Main blocks its OS
 * thread in a call the shim cannot see; a thread created right before the stall (NEW,
 * not yet started) must run meanwhile, and it is NEW that ends the stall. A thread that
 * had already started (OLD) stays pinned to main's OS thread, so with GOSHIM_PROCS=1 it
 * must not count during the stall. If no other OS thread takes NEW, the program hangs
 * (the script's timeout fails it); nothing here measures wall-clock time.
 *
 * Usage: handoff_stall KIND [CTLPORT]
 *   fgets        fgets() on a pipe opened with fdopen (stdio's internal read)
 *   syscall      a raw read (the syscall instruction, raw_syscall.h) on a pipe
 *   getaddrinfo  getaddrinfo() of a name without dots; handoff_dns (tests/scale/
 *                handoff_dns.c) holds the queries until NEW sends "go" to 127.0.0.1:CTLPORT
 *   repeat       the syscall stall 10 times, a fresh NEW each round, the OS-thread count
 *                checked after every round (surplus OS threads must retire)
 *
 * Prints one line:
 *   kind=K new_during=yes|no old_during=N threads_ok=yes|no result=R
 * new_during: NEW counted K_NEW times before the stall ended (in every round);
 * old_during: OLD's counts during the stall(s), summed; threads_ok: when GOSHIM_PROCS is
 * set, Threads: in /proc/self/status <= GOSHIM_PROCS + 3 once the extra threads are joined
 * (allowed up to 5 s to settle, as idle surplus OS threads retire on their own); natively
 * (GOSHIM_PROCS unset) it is "yes". R: the line fgets read, the byte count read returned
 * (repeat: "N/10", rounds whose read returned 1), or getaddrinfo's EAI_ name.
 * Diagnostics go to stderr. Exit 0 when the line was printed, 1 on a setup error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <unistd.h>

#define K_NEW 5			/* NEW's counts before it ends the stall */
#define ROUNDS 10		/* stalls of kind repeat */
#define DNS_NAME "goshim-handoff-test"	/* no dots: no search list when none is set */

enum kind { K_FGETS, K_SYSCALL, K_GAI, K_REPEAT };

struct counter {
	atomic_int n, stop;
	void (*release)(void);	/* NEW only: ends the stall after K_NEW counts */
};

static enum kind kind;
static int pipefd[2];
static int ctl_port;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* The line or byte main's stalled call waits for. */
static void release_pipe(void)
{
	const char *msg = kind == K_FGETS ? "go\n" : "g";

	if (write(pipefd[1], msg, strlen(msg)) != (ssize_t)strlen(msg))
		die("handoff_stall: write to the pipe");
}

/* "go" to handoff_dns's control port: it answers the held queries. */
static void release_dns(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ctl_port) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		die("handoff_stall: socket");
	if (sendto(s, "go", 2, 0, (struct sockaddr *)&a, sizeof(a)) != 2)
		die("handoff_stall: sendto the control port");
	close(s);
}

static void *counting(void *arg)
{
	struct counter *c = arg;

	while (!atomic_load(&c->stop)) {
		if (atomic_fetch_add(&c->n, 1) + 1 == K_NEW && c->release)
			c->release();
		usleep(2000);
	}
	return NULL;
}

/* The Threads: line of /proc/self/status, or -1. */
static long kernel_threads(void)
{
	char line[256];
	long t = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &t) == 1)
			break;
	fclose(f);
	return t;
}

/* 1 when Threads: <= GOSHIM_PROCS + 3 (within 5 s), or GOSHIM_PROCS is unset. */
static int threads_ok(const char *when)
{
	const char *p = getenv("GOSHIM_PROCS");
	long procs = p ? atol(p) : 0, kt = kernel_threads();
	int waited = 0;

	if (!p) {
		fprintf(stderr, "handoff_stall: %s: %ld OS threads (native)\n", when, kt);
		return 1;
	}
	while ((kt < 0 || kt > procs + 3) && waited < 500) {
		usleep(10000);
		waited++;
		kt = kernel_threads();
	}
	fprintf(stderr, "handoff_stall: %s: %ld OS threads with GOSHIM_PROCS=%ld "
		"(after %d ms of waiting)\n", when, kt, procs, waited * 10);
	return procs > 0 && kt >= 0 && kt <= procs + 3;
}

static const char *eai_name(int rc)
{
	switch (rc) {
	case 0: return "0";
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_NODATA: return "EAI_NODATA";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_MEMORY: return "EAI_MEMORY";
	default: return "EAI_other";
	}
}

int main(int argc, char **argv)
{
	static struct counter old, new;
	static struct counter fresh[ROUNDS];
	pthread_t to, tn;
	char result[128] = "";
	int old_during = 0, new_during = 1, tok = 1;
	FILE *in = NULL;

	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "fgets"))
		kind = K_FGETS;
	else if (!strcmp(argv[1], "syscall"))
		kind = K_SYSCALL;
	else if (!strcmp(argv[1], "getaddrinfo"))
		kind = K_GAI;
	else if (!strcmp(argv[1], "repeat"))
		kind = K_REPEAT;
	else
		goto usage;
	if (kind == K_GAI) {
		if (argc < 3 || (ctl_port = atoi(argv[2])) <= 0 || ctl_port > 65535)
			goto usage;
	} else if (pipe(pipefd)) {
		die("handoff_stall: pipe");
	}
	if (kind == K_FGETS && !(in = fdopen(pipefd[0], "r")))
		die("handoff_stall: fdopen");

	/* OLD: started, and has counted, before any stall. */
	if (pthread_create(&to, NULL, counting, &old))
		die("handoff_stall: pthread_create OLD");
	while (atomic_load(&old.n) < 1)
		usleep(1000);

	if (kind == K_REPEAT) {
		int reads_ok = 0;

		for (int r = 0; r < ROUNDS; r++) {
			struct counter *c = &fresh[r];
			char ch, when[32];
			long got;
			int before;

			c->release = release_pipe;
			if (pthread_create(&tn, NULL, counting, c))
				die("handoff_stall: pthread_create NEW");
			/* No blocking call between the create and the stall. */
			before = atomic_load(&old.n);
			got = raw_syscall3(SYS_read, pipefd[0], (long)&ch, 1);
			old_during += atomic_load(&old.n) - before;
			if (atomic_load(&c->n) < K_NEW)
				new_during = 0;
			reads_ok += got == 1;
			atomic_store(&c->stop, 1);
			pthread_join(tn, NULL);
			snprintf(when, sizeof(when), "round %d", r + 1);
			if (!threads_ok(when))
				tok = 0;
		}
		snprintf(result, sizeof(result), "%d/%d", reads_ok, ROUNDS);
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		char line[64];
		long got = 0;
		int before, gai = 0;
		char *s = NULL;

		new.release = kind == K_GAI ? release_dns : release_pipe;
		if (pthread_create(&tn, NULL, counting, &new))
			die("handoff_stall: pthread_create NEW");
		/* No blocking call between the create and the stall. */
		before = atomic_load(&old.n);
		if (kind == K_FGETS) {
			s = fgets(line, sizeof(line), in);
		} else if (kind == K_SYSCALL) {
			got = raw_syscall3(SYS_read, pipefd[0], (long)line, 1);
		} else {
			gai = getaddrinfo(DNS_NAME, NULL, &hints, &res);
		}
		old_during = atomic_load(&old.n) - before;
		new_during = atomic_load(&new.n) >= K_NEW;

		if (kind == K_FGETS) {
			if (s) {
				line[strcspn(line, "\n")] = 0;
				snprintf(result, sizeof(result), "%s", line);
			} else {
				snprintf(result, sizeof(result), "NULL");
			}
		} else if (kind == K_SYSCALL) {
			snprintf(result, sizeof(result), "%ld", got);
		} else {
			snprintf(result, sizeof(result), "%s", eai_name(gai));
			if (res)
				freeaddrinfo(res);
		}
		atomic_store(&new.stop, 1);
		pthread_join(tn, NULL);
	}
	atomic_store(&old.stop, 1);
	pthread_join(to, NULL);
	if (kind != K_REPEAT && !threads_ok("after the joins"))
		tok = 0;
	printf("kind=%s new_during=%s old_during=%d threads_ok=%s result=%s\n", argv[1],
	       new_during ? "yes" : "no", old_during, tok ? "yes" : "no", result);
	return 0;

usage:
	fprintf(stderr, "usage: handoff_stall fgets|syscall|repeat\n"
		"       handoff_stall getaddrinfo CTLPORT\n");
	return 2;
}
