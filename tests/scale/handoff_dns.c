/* handoff_dns.c: a fake DNS server for handoff_stall's getaddrinfo case. Meant to run in
 * a private network namespace (handoff_stall.sh starts it under `unshare -rmn`): it brings
 * lo up if it is down, binds UDP 127.0.0.1:53 for queries and 127.0.0.1:CTLPORT for
 * control, then creates READYFILE. Queries are held until a datagram "go" arrives on the
 * control port; then every held query, and every later one, gets an NXDOMAIN reply (the
 * query's id and question, flags 0x8183, no records). Each query and reply is logged to
 * stderr. Exits LIFETIME seconds (default 30) after it started, or on SIGTERM.
 *
 * Usage: handoff_dns CTLPORT READYFILE [LIFETIME] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXHELD 64

struct query {
	struct sockaddr_in from;
	unsigned char buf[512];
	int len;
};

static struct query held[MAXHELD];
static int nheld;

static void die(const char *what)
{
	fprintf(stderr, "handoff_dns: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Sets IFF_UP on lo when it is down (a fresh network namespace). */
static void lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0)
		die("socket");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo");
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			die("SIOCSIFFLAGS lo up");
	}
	close(s);
}

static int udp_bind(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		die("socket");
	if (bind(s, (struct sockaddr *)&a, sizeof(a))) {
		char what[64];

		snprintf(what, sizeof(what), "bind 127.0.0.1:%d", port);
		die(what);
	}
	return s;
}

/* Length of header + question of q (one question), or -1 if malformed. Writes the
 * name (dotted) and the type into name/type for the log. */
static int question_end(const unsigned char *q, int len, char *name, size_t nsz, int *type)
{
	int i = 12;
	size_t o = 0;

	if (len < 12 || q[4] != 0 || q[5] != 1)
		return -1;
	name[0] = 0;
	while (i < len && q[i]) {
		int l = q[i];

		if (l & 0xc0 || i + 1 + l >= len)
			return -1;
		if (o + l + 2 < nsz) {
			if (o)
				name[o++] = '.';
			memcpy(name + o, q + i + 1, l);
			o += l;
			name[o] = 0;
		}
		i += 1 + l;
	}
	if (i + 5 > len)
		return -1;
	*type = q[i + 1] << 8 | q[i + 2];
	return i + 5;
}

static void answer(int s, const struct query *q)
{
	unsigned char r[512];
	char name[256];
	int type, end = question_end(q->buf, q->len, name, sizeof(name), &type);

	if (end < 0) {
		fprintf(stderr, "handoff_dns: malformed query of %d bytes dropped\n", q->len);
		return;
	}
	memcpy(r, q->buf, end);
	r[2] = 0x81;		/* QR, opcode 0, RD */
	r[3] = 0x83;		/* RA, rcode 3 NXDOMAIN */
	memset(r + 6, 0, 6);	/* no answer, authority or additional records */
	if (sendto(s, r, end, 0, (const struct sockaddr *)&q->from, sizeof(q->from)) != end)
		fprintf(stderr, "handoff_dns: sendto: %s\n", strerror(errno));
	else
		fprintf(stderr, "handoff_dns: NXDOMAIN id=%u type=%d name=%s to port %u\n",
			q->buf[0] << 8 | q->buf[1], type, name, ntohs(q->from.sin_port));
}

int main(int argc, char **argv)
{
	int ctl_port, lifetime, dns, ctl, released = 0;
	long long deadline;

	if (argc < 3 || (ctl_port = atoi(argv[1])) <= 0 || ctl_port > 65535 || ctl_port == 53) {
		fprintf(stderr, "usage: handoff_dns CTLPORT READYFILE [LIFETIME]\n");
		return 2;
	}
	lifetime = argc > 3 ? atoi(argv[3]) : 30;
	if (lifetime <= 0)
		lifetime = 30;
	deadline = now_ms() + lifetime * 1000LL;
	lo_up();
	dns = udp_bind(53);
	ctl = udp_bind(ctl_port);
	int rf = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rf < 0)
		die(argv[2]);
	close(rf);

	for (;;) {
		struct pollfd pf[2] = { { dns, POLLIN, 0 }, { ctl, POLLIN, 0 } };
		long long left = deadline - now_ms();

		if (left <= 0)
			break;
		if (poll(pf, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pf[1].revents & POLLIN) {
			char b[16];
			ssize_t n = recv(ctl, b, sizeof(b), 0);

			if (n == 2 && !memcmp(b, "go", 2) && !released) {
				released = 1;
				fprintf(stderr, "handoff_dns: go: answering %d held queries\n", nheld);
				for (int i = 0; i < nheld; i++)
					answer(dns, &held[i]);
				nheld = 0;
			}
		}
		if (pf[0].revents & POLLIN) {
			struct query q;
			socklen_t al = sizeof(q.from);
			char name[256];
			int type;

			q.len = recvfrom(dns, q.buf, sizeof(q.buf), 0, (struct sockaddr *)&q.from, &al);
			if (q.len < 0)
				continue;
			if (question_end(q.buf, q.len, name, sizeof(name), &type) < 0) {
				fprintf(stderr, "handoff_dns: malformed query of %d bytes dropped\n", q.len);
				continue;
			}
			fprintf(stderr, "handoff_dns: query id=%u type=%d name=%s from port %u%s\n",
				q.buf[0] << 8 | q.buf[1], type, name, ntohs(q.from.sin_port),
				released ? "" : ": held");
			if (released)
				answer(dns, &q);
			else if (nheld < MAXHELD)
				held[nheld++] = q;
		}
	}
	fprintf(stderr, "handoff_dns: lifetime of %d s over, %d queries still held\n", lifetime, nheld);
	return 0;
}
