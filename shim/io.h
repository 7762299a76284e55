/* shim/io.h: what the fd hooks (io.c, net.c, poll.c, stdio.c, splice.c, ...)
 * share. The way of a blocking fd call is the runtime's (sched/fdwait.h): a
 * hook translates its arguments into a try and its result back. */
#ifndef GS_IO_H
#define GS_IO_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "fdwait.h"
#include "shim.h"

typedef struct _IO_FILE FILE;
GS_HIDDEN int gs_stdio_wait(FILE *f);	/* stdio.c: before a stdio read */
GS_HIDDEN int gs_fd_made(int fd, int kind, int nonblock);	/* net.c: a new fd */
GS_HIDDEN int gs_fcntl_lockw(int fd, int cmd, void *arg);	/* flock.c */

/* Defines an fd hook whose body may try the call several times: a try that
 * failed with EAGAIN before the one that succeeded must not leave errno set
 * (a hook leaves errno alone unless it reports an error). When the body went
 * on with a closed fd's duplicate (gs_fd_block), the G lets go of it here. */
#define IO_HOOK(type, name, params, args)					\
	static type name##_body params;						\
	GS_EXPORT type name params						\
	{									\
		int e0_ = errno;						\
		type r_ = name##_body args;					\
		gs_np_ghost_drop(gs_self());	/* keeps errno */		\
		if (r_ >= 0)							\
			errno = e0_;						\
		return r_;							\
	}									\
	static type name##_body params

#endif
