/* idle_pages.c: THREADS threads each wait in read() on its own socket with a
 * 4 KiB buffer on its stack, as a thread-per-connection server's idle
 * connection does (demos/echo_server.c). Prints "ready" once all of them
 * wait (a byte each has come and gone, so each has been through a read that
 * returned data and one that waits), then on a line on stdin ends them (EOF)
 * and prints "done". idle_pages.sh counts each one's committed stack pages. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define THREADS 200

static int sv[THREADS][2];
static atomic_int echoed;

static void *conn(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (write(fd, buf, (size_t)n) != n)
			break;
		atomic_fetch_add(&echoed, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) != 0) {
			perror("socketpair");
			return 1;
		}
		if (pthread_create(&t[i], NULL, conn, &sv[i][1]) != 0)
			return 1;
	}
	for (int i = 0; i < THREADS; i++) {
		char c = 'x';
		if (write(sv[i][0], &c, 1) != 1 || read(sv[i][0], &c, 1) != 1)
			return 1;
	}
	while (atomic_load(&echoed) < THREADS)
		usleep(1000);
	usleep(100000);	/* each is back in read() */
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	for (int i = 0; i < THREADS; i++)
		close(sv[i][0]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("done\n");
	return 0;
}
