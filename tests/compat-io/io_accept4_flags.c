/* io_accept4_flags.c: compat test of accept4 with flags it does not know (split
 * from io_accept_connect, so that the rest of that test runs under qemu-user):
 * -1 EINVAL at once on a blocking listener with nothing pending, from main and
 * from a thread, and on one with a connection pending, which stays pending and a
 * plain accept4 then takes. Results printed by main after the join. */
#define _GNU_SOURCE
// compat-skip-runner: qemu-aarch64-static: qemu-user 7.2 drops accept4's unknown flag bits instead of failing with EINVAL (its -strace shows accept4(3,0,0,1073741824) blocking until killed): the native run hangs
#include "../compat/testenv.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BAD 0x40000000
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "io_accept4_flags: FAIL at line %d: %s (errno %d %s)\n", \
	__LINE__, #c, errno, strerror(errno)); exit(1); } } while (0)

static int listener;
static int t_ret, t_err;

static void *bad_accept(void *arg)
{
	(void)arg;
	errno = 0;
	t_ret = accept4(listener, NULL, NULL, BAD);
	t_err = errno;
	return NULL;
}

int main(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(listener >= 0);
	CHECK(bind(listener, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(listener, 4) == 0);
	CHECK(getsockname(listener, (struct sockaddr *)&a, &len) == 0);

	errno = 0;
	int r = accept4(listener, NULL, NULL, BAD);
	printf("main, nothing pending: %d %s\n", r, r == -1 && errno == EINVAL ? "EINVAL" : strerror(errno));
	pthread_t t;
	CHECK(pthread_create(&t, NULL, bad_accept, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("thread, nothing pending: %d %s\n", t_ret, t_ret == -1 && t_err == EINVAL ? "EINVAL" : strerror(t_err));

	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	errno = 0;
	r = accept4(listener, NULL, NULL, BAD);
	printf("one pending: %d %s\n", r, r == -1 && errno == EINVAL ? "EINVAL" : strerror(errno));
	int s = accept4(listener, NULL, NULL, 0);
	printf("then accept4 with no flags: %s\n", s >= 0 ? "took it" : strerror(errno));
	CHECK(s >= 0 && close(s) == 0 && close(c) == 0 && close(listener) == 0);
	return 0;
}
