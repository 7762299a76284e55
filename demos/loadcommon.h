/*
 * loadcommon.h: what the two epoll load generators, loadgen.c and chatload.c,
 * share (loadcommon.c, compiled with each): setting the process up, opening
 * its N TCP connections to HOST:PORT, and an exact latency histogram.
 *
 * A program calls load_setup() once, allocates its connections and calls
 * load_connect(), which opens them in batches of non-blocking connects (as
 * many at a time as an environment variable it is given says, default 256),
 * retrying a connection that fails with EAGAIN, ECONNREFUSED, ETIMEDOUT,
 * ECONNRESET or EADDRNOTAVAIL (a server still starting, one whose accept
 * queue overflowed, ports running out) or that is stuck for 10 s, with a
 * growing pause, up to 40 rounds per batch. Every socket gets SO_LINGER 0,
 * so closing it sends a reset and leaves no TIME_WAIT entry behind to
 * exhaust the ephemeral ports of the next run, and TCP_NODELAY. Connection
 * i is in the epoll set epfd with i as its data.u32.
 */
#ifndef LOADCOMMON_H
#define LOADCOMMON_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

extern int epfd;			/* the one epoll set, from load_setup() */
extern volatile sig_atomic_t stop;	/* set by SIGTERM and SIGINT */

/* Prints "NAME: WHAT: <strerror(errno)>" on stderr and exits with status 1. */
void die(const char *what);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/*
 * Resolves HOST and PORT (on failure prints "NAME: HOST:PORT: <reason>" and
 * exits with status 2), raises the soft RLIMIT_NOFILE to the hard limit,
 * makes SIGTERM and SIGINT set stop (no SA_RESTART: epoll_wait returns
 * EINTR), ignores SIGPIPE, line-buffers stdout and creates epfd. NAME, the
 * program's name, is the prefix of every message.
 */
void load_setup(const char *name, const char *host, const char *port);

/* epoll_ctl(epfd, op, fd) with events and tag as data.u32; dies on failure. */
void load_watch(int fd, uint32_t tag, int op, unsigned events);

/*
 * Starts one non-blocking connect to HOST:PORT on a new socket with SO_LINGER
 * 0 and TCP_NODELAY. Returns the fd (connecting or connected), or -1 after a
 * failure worth a retry (EAGAIN, ECONNREFUSED, ETIMEDOUT, ECONNRESET,
 * EADDRNOTAVAIL); dies on any other.
 */
int load_dial(void);

/*
 * Opens connections 0..n-1 as the header comment says, batch_var (e.g.
 * "LOADGEN_BATCH") naming the batch size, and watches each established one
 * for up_events (0: for nothing). The fd of connection i goes to the int
 * that is i * stride bytes after fd0 (for an array of structs: &conns[0].fd,
 * sizeof *conns), -1 if it could not be established. Stops early once stop
 * is set (a connection it did not get to keeps the fd it had). Unless all n
 * are then established, prints "NAME: only K of N connections established"
 * and exits with status 1.
 */
void load_connect(int *fd0, size_t stride, int n, const char *batch_var,
		  unsigned up_events);

#define HIST_US (1u << 22)	/* exact latency histogram range: about 4.2 s */

/* Latencies in microseconds, counted exactly below HIST_US. */
struct latency {
	uint32_t *hist;			/* hist[us]: samples of us microseconds */
	unsigned long long n;		/* samples */
	unsigned long long over;	/* samples of HIST_US or more */
	uint64_t max_us;		/* the largest sample */
};

/* Allocates an empty histogram; dies if it cannot. */
void latency_init(struct latency *l);

/* Counts one sample of us microseconds. */
void latency_add(struct latency *l, uint64_t us);

/*
 * The p50, p99 and p99.9 of the samples (0 with none), in microseconds;
 * p99.9 is HIST_US if it is not below HIST_US but some samples were.
 */
void latency_percentiles(const struct latency *l, unsigned *p50, unsigned *p99,
			 unsigned *p999);

#endif
