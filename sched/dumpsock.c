/* sched/dumpsock.c: `goshim dump PID` asks a running process for the dump of
 * every green thread (dump.c) on the abstract Unix socket "@goshim-PID".
 *
 * No thread and no wake-up of its own: the listening socket is watched by the
 * netpoller (gs_np_watch), so whichever thread polls (an idle M blocked in
 * epoll_wait, a busy M's periodic poll, sysmon's poll while every M is busy)
 * sees a connection; gs_dumpsock_ready() then starts one green thread that
 * accepts, answers and exits. It waits for the client like any G (in the
 * netpoller), so a slow reader holds no OS thread, and formats the dump in
 * memory (gs_dump_mem) so that no lock is held while it writes.
 *
 * Protocol: the client sends "text\n" or "json\n" (the dump), "stat\n" or
 * "stat json\n" (the schedtrace figures, Gs by wait reason, stacks: `goshim
 * stat`); the answer is "OK\n" and that, or "ERR reason\n"; then the server
 * closes. Only a peer with the
 * process's effective uid, or root, is answered (SO_PEERCRED).
 * A forked child makes its own socket, named after its pid; exec closes it
 * (SOCK_CLOEXEC) and the new image's library makes one again.
 * GOSHIM_DUMP_SOCKET=0 turns it off. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "gs.h"
#include "netpoll.h"
#include "real.h"

#define REQ_NS (2 * 1000000000ull)	/* the client has this long to ask */
#define SEND_NS (60 * 1000000000ull)	/* and this long to read the answer */

static _Atomic int serving;	/* a G is serving the socket */
static bool on;			/* the socket is on (not GOSHIM_DUMP_SOCKET=0) */
static uint64_t t0;		/* when the library started (stat's uptime) */

/* Waits on fd in the netpoller until deadline: 0 to try again, -1 timeout or error. */
static int wait_fd(int fd, int mode, struct gs_np_snap snap, uint64_t deadline)
{
	struct gs_np_item it = { fd, mode, snap, false };	/* ours: nobody closes it */
	int r = gs_np_wait_many(&it, 1, deadline, 0);
	return r == 0 || r == -EPERM ? 0 : -1;
}

static int send_all(int c, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		struct gs_np_snap snap = gs_np_snap(c, NP_WRITE);
		ssize_t k = REAL(send)(c, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else if (k < 0 && errno == EAGAIN) {
			if (wait_fd(c, NP_WRITE, snap, deadline))
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static void answer(int c)
{
	char req[16];
	size_t n = 0;
	uint64_t deadline = gs_nanotime() + REQ_NS;
	while (n < sizeof req - 1 && !memchr(req, '\n', n)) {
		struct gs_np_snap snap = gs_np_snap(c, NP_READ);
		ssize_t k = REAL(recv)(c, req + n, sizeof req - 1 - n, MSG_DONTWAIT);
		if (k > 0)
			n += (size_t)k;
		else if (k < 0 && errno == EINTR)
			continue;
		else if (k < 0 && errno == EAGAIN) {
			if (wait_fd(c, NP_READ, snap, deadline))
				return;
		} else {
			return;
		}
	}
	req[n] = 0;
	bool stat = !strncmp(req, "stat", 4);
	bool json = !strcmp(req, "json\n") || !strcmp(req, "stat json\n");
	char line[128];
	struct ucred cr;
	socklen_t len = sizeof cr;
	uid_t me = geteuid();
	if (REAL(getsockopt)(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		snprintf(line, sizeof line, "ERR cannot tell who asks: %s\n", strerror(errno));
	} else if (cr.uid != 0 && cr.uid != me) {
		snprintf(line, sizeof line, "ERR uid %u may not dump process %d (only uid %u or root)\n",
			 (unsigned)cr.uid, (int)getpid(), (unsigned)me);
	} else if (!json && strcmp(req, "text\n") && strcmp(req, "stat\n")) {
		snprintf(line, sizeof line, "ERR expected text, json, stat or stat json\n");
	} else {
		size_t dlen = 0;
		char *d = stat ? gs_stat_mem(json, gs_self(), gs_nanotime() - t0, &dlen) :
				 gs_dump_mem(json, gs_self(), &dlen);
		deadline = gs_nanotime() + SEND_NS;
		if (!d)
			snprintf(line, sizeof line, "ERR out of memory\n");
		else if (!send_all(c, "OK\n", 3, deadline))
			send_all(c, d, dlen, deadline);
		free(d);
		if (d)
			return;
	}
	send_all(c, line, strlen(line), gs_nanotime() + REQ_NS);
}

static int accept_one(void)
{
	int c;
	do
		c = REAL(accept4)(gs_np_watched_fd(), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	while (c < 0 && (errno == EINTR || errno == ECONNABORTED));
	return c;
}

/* The serving G: answers every pending connection, then exits. */
static void *serve(void *arg)
{
	for (;;) {
		int c = accept_one();
		if (c < 0) {
			/* A connection that came while serving was set fired its
			 * (edge-triggered) event unseen: look once more. */
			atomic_store(&serving, 0);
			if ((c = accept_one()) < 0)
				return NULL;
			if (atomic_exchange(&serving, 1)) {	/* another G took over */
				answer(c);
				gs_np_close(c);
				REAL(close)(c);
				return NULL;
			}
		}
		answer(c);
		gs_np_close(c);
		REAL(close)(c);
	}
}

/* From the netpoller, on whichever thread polls: cheap, never blocks. */
void gs_dumpsock_ready(void)
{
	if (atomic_exchange(&serving, 1))
		return;
	struct g *g;
	if (gs_spawn(&g, serve, NULL, 0, 0, NULL, 1, &(struct gs_sched){ 0 }) != 0)	/* SCHED_OTHER */
		atomic_store(&serving, 0);
}

static void open_socket(void)
{
	/* REAL: the shim must not learn of an fd the program never sees. */
	int fd = REAL(socket)(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "goshim-%d", (int)getpid());
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	/* EADDRINUSE: a process of another pid namespace with this pid in our
	 * network namespace has it; this one goes without. */
	if (bind(fd, (struct sockaddr *)&a, len) != 0 || listen(fd, 16) != 0) {
		REAL(close)(fd);
		return;
	}
	gs_np_watch(fd);	/* closes fd on failure */
}

/* In a forked child (fork.c), once its netpoller is rebuilt. */
void gs_dumpsock_fork_child(void)
{
	if (!on)
		return;
	atomic_store(&serving, 0);	/* a serving G is not in the child */
	open_socket();
}

void gs_dumpsock_init(void)
{
	const char *s = getenv("GOSHIM_DUMP_SOCKET");
	if (s && strcmp(s, "1")) {
		if (strcmp(s, "0")) {
			gs_printf("GOSHIM_DUMP_SOCKET=%s: expected 0 (off) or 1 (on)", s);
			_exit(2);
		}
		return;
	}
	t0 = gs_nanotime();
	on = true;
	open_socket();
}
