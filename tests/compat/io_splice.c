/* io_splice.c: calls that move data inside the kernel or read and write inside libc,
 * each waiting while a started ticker thread keeps counting: splice from an empty pipe
 * and from an empty socket (data comes 50 ms later from another thread), splice from a
 * file into a full pipe (another thread drains it 50 ms later), tee from an empty
 * pipe, vmsplice into a full pipe, sendfile64 into a full pipe, eventfd_read of an
 * eventfd another thread writes with eventfd_write, eventfd_write to a full eventfd.
 * Also EAGAIN with SPLICE_F_NONBLOCK and on an O_NONBLOCK eventfd, and EINTR from a
 * handler without SA_RESTART. */
#include "compat.h"
#include "ticker.h"
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct later { int fd; size_t drain; };	/* write one byte, or read back what fill() put in */

static void *act_later(void *arg)
{
	struct later *l = arg;
	usleep(50000);
	if (l->drain) {
		/* Exactly what fill() wrote: reading until EAGAIN would race with the
		 * waiting writer and could take its bytes too. */
		char buf[65536];
		size_t left = l->drain;
		while (left > 0) {
			ssize_t n = read(l->fd, buf, left < sizeof buf ? left : sizeof buf);
			CHECK(n > 0);
			left -= (size_t)n;
		}
	} else {
		CHECK_EQ(write(l->fd, "d", 1), 1);
	}
	return NULL;
}

static pthread_t later(int fd, size_t drain)
{
	static struct later ls[16];
	static int n;
	struct later *l = &ls[n++ % 16];
	l->fd = fd;
	l->drain = drain;
	pthread_t t;
	CHECK_RC(pthread_create(&t, NULL, act_later, l), 0);
	return t;
}

/* Empty a pipe (nobody else touches it now), then fill it to the brim; how many bytes
 * that took, which is all the pipe holds. */
static size_t fill(int rfd, int fd)
{
	size_t n = 0;
	ssize_t w;
	char junk[65536];
	int rfl = fcntl(rfd, F_GETFL);
	fcntl(rfd, F_SETFL, rfl | O_NONBLOCK);
	while (read(rfd, junk, sizeof junk) > 0)
		;
	fcntl(rfd, F_SETFL, rfl);
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	char buf[4096] = { 0 };
	while ((w = write(fd, buf, sizeof buf)) > 0)
		n += (size_t)w;
	while ((w = write(fd, buf, 1)) > 0)
		n += (size_t)w;
	fcntl(fd, F_SETFL, fl);
	return n;
}

static int efd;
static void *ev_writer(void *arg)
{
	(void)arg;
	usleep(50000);
	CHECK_SYS(eventfd_write(efd, 3));
	return NULL;
}

static void *ev_reader(void *arg)
{
	(void)arg;
	usleep(50000);
	eventfd_t v;
	CHECK_SYS(eventfd_read(efd, &v));
	return NULL;
}

static void on_sig(int s)
{
	(void)s;
}

int main(void)
{
	ticker_start();
	int a[2], b[2], sv[2];
	CHECK_SYS(pipe(a));
	CHECK_SYS(pipe(b));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	unsigned long m;
	pthread_t t;

	t = later(a[1], 0);
	m = ticker_mark();
	CHECK_EQ(splice(a[0], NULL, b[1], NULL, 100, 0), 1);
	ticker_report("splice from an empty pipe", m);
	pthread_join(t, NULL);
	char c;
	CHECK_EQ(read(b[0], &c, 1), 1);

	t = later(sv[1], 0);
	m = ticker_mark();
	CHECK_EQ(splice(sv[0], NULL, b[1], NULL, 100, 0), 1);
	ticker_report("splice from an empty socket", m);
	pthread_join(t, NULL);
	CHECK_EQ(read(b[0], &c, 1), 1);

	char path[] = "/tmp/goshim-splice-XXXXXX";
	int f = mkstemp(path);
	CHECK(f >= 0);
	unlink(path);
	CHECK_EQ(write(f, "0123456789", 10), 10);
	t = later(b[0], fill(b[0], b[1]));
	loff_t off = 0;
	m = ticker_mark();
	CHECK_EQ(splice(f, &off, b[1], NULL, 10, 0), 10);
	ticker_report("splice from a file into a full pipe", m);
	pthread_join(t, NULL);
	CHECK_EQ(read(b[0], &c, 1), 1);
	printf("spliced from the file: %c\n", c);

	t = later(a[1], 0);
	m = ticker_mark();
	CHECK_EQ(tee(a[0], b[1], 100, 0), 1);
	ticker_report("tee from an empty pipe", m);
	pthread_join(t, NULL);
	CHECK_EQ(read(a[0], &c, 1), 1);
	CHECK_EQ(read(b[0], &c, 1), 1);

	t = later(b[0], fill(b[0], b[1]));
	struct iovec v = { "vm", 2 };
	m = ticker_mark();
	CHECK_EQ(vmsplice(b[1], &v, 1, 0), 2);
	ticker_report("vmsplice into a full pipe", m);
	pthread_join(t, NULL);
	CHECK_EQ(read(b[0], &c, 1), 1);
	printf("vmspliced: %c\n", c);

	t = later(b[0], fill(b[0], b[1]));
	off_t o64 = 0;
	m = ticker_mark();
	CHECK(sendfile64(b[1], f, &o64, 10) > 0);
	ticker_report("sendfile64 into a full pipe", m);
	pthread_join(t, NULL);
	t = later(b[0], fill(b[0], b[1]));	/* then empty it */
	pthread_join(t, NULL);

	int e = eventfd(0, 0);
	CHECK(e >= 0);
	efd = e;
	CHECK_RC(pthread_create(&t, NULL, ev_writer, NULL), 0);
	eventfd_t val = 0;
	m = ticker_mark();
	CHECK_SYS(eventfd_read(e, &val));
	ticker_report("eventfd_read of an empty eventfd", m);
	pthread_join(t, NULL);
	printf("eventfd_read: %llu\n", (unsigned long long)val);
	CHECK_SYS(eventfd_write(e, 0xfffffffffffffffeULL));	/* full */
	CHECK_RC(pthread_create(&t, NULL, ev_reader, NULL), 0);
	m = ticker_mark();
	CHECK_SYS(eventfd_write(e, 5));
	ticker_report("eventfd_write to a full eventfd", m);
	pthread_join(t, NULL);
	CHECK_SYS(eventfd_read(e, &val));
	printf("eventfd after the drain: %llu\n", (unsigned long long)val);
	int en = eventfd(0, EFD_NONBLOCK);
	CHECK_ERRNO(eventfd_read(en, &val), EAGAIN);
	CHECK_ERRNO(eventfd_read(-1, &val), EBADF);

	CHECK_ERRNO(splice(a[0], NULL, b[1], NULL, 100, SPLICE_F_NONBLOCK), EAGAIN);
	struct sigaction sa = { .sa_handler = on_sig };
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	struct kicker k;
	kicker_start(&k, SIGUSR1);
	CHECK_ERRNO(splice(a[0], NULL, b[1], NULL, 100, 0), EINTR);
	kicker_stop(&k);
	printf("EAGAIN, EBADF, EINTR as natively\n");
	ticker_end();
	return 0;
}
