/* stdio_pipe.c: compat test of stdio reads from a pipe (fgets, getline, getdelim,
 * fread, fgetc, getc, getchar), which goshim makes wait in the netpoller when the
 * FILE's buffer is empty. A writer thread (started first, so with GOSHIM_PROCS=1 it
 * shares the reader's OS thread) writes each piece only after the reader has gone to
 * wait for it: the reader's call must let it run. Also: data already buffered, EOF
 * (sticky), a read-only FILE on a regular file, fgets on a write-only stream (an
 * error at once), and EINTR: a signal whose handler has no SA_RESTART ends a
 * waiting fgets with the error indicator set and errno EINTR. */
#include "compat.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static int fds[2];
static atomic_int step;	/* reader: waiting for piece k; writer: wrote piece k */

static void put(const char *s)
{
	CHECK_EQ(write(fds[1], s, strlen(s)), (ssize_t)strlen(s));
}

static void *writer(void *arg)
{
	static const char *pieces[] = { "line one\n", "line two\n", "a,b;", "12345678", "xy",
					"tail\n", "last\n" };
	for (int k = 0; k < 7; k++) {
		while (atomic_load(&step) != k + 1)
			usleep(1000);	/* until the reader waits for piece k */
		usleep(20000);		/* it is inside its call by now */
		put(pieces[k]);
	}
	return NULL;
}

static void ask(int k)
{
	atomic_store(&step, k);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void *kicker(void *arg)
{
	usleep(100000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

int main(void)
{
	CHECK_SYS(pipe(fds));
	pthread_t w;
	CHECK_RC(pthread_create(&w, NULL, writer, NULL), 0);
	FILE *in = fdopen(fds[0], "r");
	CHECK(in != NULL);
	char buf[64], *line = NULL;
	size_t cap = 0;

	ask(1);
	printf("fgets: %s", fgets(buf, sizeof buf, in));
	ask(2);
	ssize_t n = getline(&line, &cap, in);
	printf("getline: %zd %s", n, line);
	ask(3);
	n = getdelim(&line, &cap, ';', in);
	printf("getdelim: %zd %s\n", n, line);
	ask(4);
	size_t got = fread(buf, 1, 8, in);
	printf("fread: %zu %.8s\n", got, buf);
	ask(5);
	int c1 = fgetc(in), c2 = getc(in);
	printf("fgetc, getc: %c %c\n", c1, c2);
	ask(6);
	printf("fgets again: %s", fgets(buf, sizeof buf, in));
	ask(7);
	printf("buffered, then more: %s", fgets(buf, sizeof buf, in));
	CHECK_RC(pthread_join(w, NULL), 0);
	close(fds[1]);
	char *r = fgets(buf, sizeof buf, in);
	printf("at EOF: %s, feof %d\n", r ? "data" : "NULL", feof(in) != 0);
	r = fgets(buf, sizeof buf, in);
	printf("EOF is sticky: %s\n", r ? "data" : "NULL");
	fclose(in);

	/* A regular file and a write-only stream. */
	FILE *tmp = tmpfile();
	CHECK(tmp != NULL);
	fputs("from a file\n", tmp);
	rewind(tmp);
	printf("regular file: %s", fgets(buf, sizeof buf, tmp));
	fclose(tmp);
	int wfd[2];
	CHECK_SYS(pipe(wfd));
	FILE *out = fdopen(wfd[1], "w");
	errno = 0;
	r = fgets(buf, sizeof buf, out);
	printf("fgets on a write-only stream: %s, ferror %d, errno %s\n", r ? "data" : "NULL",
	       ferror(out) != 0, strerror(errno));
	fclose(out);

	/* EINTR: the handler has no SA_RESTART. */
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	close(wfd[0]);
	int ifd[2];
	CHECK_SYS(pipe(ifd));	/* its write end stays open: the read waits */
	FILE *idle = fdopen(ifd[0], "r");
	pthread_t self = pthread_self(), k;
	CHECK_RC(pthread_create(&k, NULL, kicker, &self), 0);
	errno = 0;
	r = fgets(buf, sizeof buf, idle);
	printf("fgets interrupted: %s, ferror %d, errno %s\n", r ? "data" : "NULL", ferror(idle) != 0,
	       strerror(errno));
	CHECK_RC(pthread_join(k, NULL), 0);
	CHECK(!r && ferror(idle) && errno == EINTR);
	fclose(idle);
	close(ifd[1]);
	free(line);
	return 0;
}
