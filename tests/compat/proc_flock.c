/* proc_flock.c: file locks that wait: flock, lockf(F_LOCK), fcntl F_SETLKW and
 * F_OFD_SETLKW, each while the lock is held by another process (a child that lets it
 * go 80 ms later) and, for flock and OFD locks, by another thread of this process on
 * another open file (it lets it go 50 ms later: with one OS thread that thread must
 * get to run). A started ticker thread keeps counting during every wait. Errors as
 * natively: LOCK_NB and F_SETLK/F_TLOCK on a held lock, EBADF, EINVAL. */
#include "compat.h"
#include "ticker.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[] = "/tmp/goshim-flock-XXXXXX";

/* A child takes the lock with how (0 flock, 1 fcntl, 2 lockf), says so, holds it until
 * main has made its non-blocking attempt (release()), then 80 ms more while main waits
 * for it. (Holding it a fixed 80 ms from the start let a slow main make its
 * non-blocking attempt after the release, on a loaded machine.) */
static int go[2];

static pid_t holder(int how)
{
	int p[2];
	CHECK_SYS(pipe(p));
	CHECK_SYS(pipe(go));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char g;
		int fd = open(path, O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int r = how == 0 ? flock(fd, LOCK_EX) : how == 1 ? fcntl(fd, F_SETLK, &fl) : lockf(fd, F_TLOCK, 0);
		if (r != 0)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		close(go[1]);
		if (read(go[0], &g, 1) != 1)
			_exit(4);
		usleep(80000);
		_exit(0);
	}
	close(p[1]);
	close(go[0]);
	char c;
	CHECK_EQ(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/* Main has tried without waiting: the holder lets go 80 ms from now. */
static void release(void)
{
	CHECK_EQ(write(go[1], "g", 1), 1);
	close(go[1]);
}

static void reap(pid_t pid)
{
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK_EQ(st, 0);
}

static int tfd;
static volatile int tholds;
static void *thread_holder(void *arg)
{
	int ofd = (int)(long)arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	CHECK_SYS(ofd ? fcntl(tfd, F_OFD_SETLK, &fl) : flock(tfd, LOCK_EX | LOCK_NB));
	tholds = 1;
	usleep(50000);
	fl.l_type = F_UNLCK;
	CHECK_SYS(ofd ? fcntl(tfd, F_OFD_SETLK, &fl) : flock(tfd, LOCK_UN));
	return NULL;
}

int main(void)
{
	ticker_start();
	int fd0 = mkstemp(path);
	CHECK(fd0 >= 0);
	CHECK_EQ(write(fd0, "0123456789", 10), 10);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	unsigned long m;

	pid_t pid = holder(0);
	CHECK_ERRNO(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	release();
	m = ticker_mark();
	CHECK_SYS(flock(fd, LOCK_EX));
	ticker_report("flock held by another process", m);
	CHECK_SYS(flock(fd, LOCK_UN));
	reap(pid);

	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	pid = holder(1);
	errno = 0;
	int r = fcntl(fd, F_SETLK, &fl);
	printf("F_SETLK on a held lock: %d %s\n", r, errname(errno));
	release();
	m = ticker_mark();
	CHECK_SYS(fcntl(fd, F_SETLKW, &fl));
	ticker_report("fcntl F_SETLKW held by another process", m);
	fl.l_type = F_UNLCK;
	CHECK_SYS(fcntl(fd, F_SETLK, &fl));
	reap(pid);

	pid = holder(2);
	errno = 0;
	r = lockf(fd, F_TLOCK, 0);
	printf("F_TLOCK on a held lock: %d %s\n", r, errname(errno));
	release();
	m = ticker_mark();
	CHECK_SYS(lockf(fd, F_LOCK, 0));
	ticker_report("lockf F_LOCK held by another process", m);
	CHECK_SYS(lockf(fd, F_ULOCK, 0));
	reap(pid);

	/* Held by a thread of ours on another open file. */
	pthread_t t;
	for (int ofd = 0; ofd <= 1; ofd++) {
		tfd = open(path, O_RDWR);
		tholds = 0;
		CHECK_RC(pthread_create(&t, NULL, thread_holder, (void *)(long)ofd), 0);
		while (!tholds)
			usleep(1000);
		m = ticker_mark();
		struct flock o = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		CHECK_SYS(ofd ? fcntl(fd, F_OFD_SETLKW, &o) : flock(fd, LOCK_EX));
		ticker_report(ofd ? "F_OFD_SETLKW held by a thread" : "flock held by a thread", m);
		o.l_type = F_UNLCK;
		CHECK_SYS(ofd ? fcntl(fd, F_OFD_SETLK, &o) : flock(fd, LOCK_UN));
		CHECK_RC(pthread_join(t, NULL), 0);
		close(tfd);
	}

	CHECK_ERRNO(flock(-1, LOCK_EX), EBADF);
	CHECK_ERRNO(flock(fd, 0), EINVAL);
	fl.l_type = F_WRLCK;
	CHECK_ERRNO(fcntl(-1, F_SETLKW, &fl), EBADF);
	fl.l_whence = 99;
	CHECK_ERRNO(fcntl(fd, F_SETLKW, &fl), EINVAL);
	CHECK_ERRNO(lockf(-1, F_LOCK, 0), EBADF);
	printf("errors as natively\n");
	unlink(path);
	ticker_end();
	return 0;
}
