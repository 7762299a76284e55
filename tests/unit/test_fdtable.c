/* tests/unit/test_fdtable.c: the netpoller's per-fd table of sched/netpoll.c:
 * generations, event counts, the cached facts, and waits that end because the
 * number was closed or reused (DESIGN.md §2.5).
 *
 * The first tests need no scheduler: the table is plain data behind gs_np_*.
 * The others start the runtime in their own process (Check forks one per
 * test; gs_init() with GOSHIM_PROCS=1 and no dump socket, main being G 1) and
 * park a G in gs_np_wait on a pipe. Main waits for a state (the G parked, a
 * result stored) by sleeping 1 ms at a time (its M then polls), within a bound;
 * nothing depends on how long anything takes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fdtable.h"
#include "netpoll.h"

#define MS 1000000ull
#define BOUND 20000	/* 1 ms naps before a wait for a state gives up */

static uint64_t key_of(int fd, uint32_t gen)
{
	return (uint64_t)(uint32_t)fd | ((uint64_t)gen << 32);
}

/* ---- without the scheduler ---- */

/* Closing (or reusing) a number bumps its generation and forgets what the
 * shim had learnt of the file there. */
START_TEST(close_bumps_gen)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	int fd = p[0];
	struct gs_np_snap a = gs_np_snap(fd, NP_READ);
	gs_fd_set_nonblock(fd, 1);
	gs_fd_set_kind(fd, GS_FD_FIFO);
	gs_fd_set_timeo(fd, NP_READ, 5 * MS);
	gs_fd_set_timeo(fd, NP_WRITE, 7 * MS);
	ck_assert_int_eq(gs_fd_cached_nonblock(fd), 1);
	ck_assert_int_eq(gs_fd_cached_kind(fd), GS_FD_FIFO);
	ck_assert_int_eq(gs_fd_cached_timeo(fd, NP_READ), 5 * MS);
	ck_assert_int_eq(gs_fd_cached_timeo(fd, NP_WRITE), 7 * MS);
	ck_assert_uint_eq(gs_np_snap(fd, NP_READ).gen, a.gen);
	gs_np_close(fd);
	struct gs_np_snap b = gs_np_snap(fd, NP_READ);
	ck_assert_uint_eq(b.gen, a.gen + 1);
	ck_assert_int_eq(gs_fd_cached_nonblock(fd), -1);
	ck_assert_int_eq(gs_fd_cached_kind(fd), GS_FD_UNKNOWN);
	ck_assert_int_eq(gs_fd_cached_timeo(fd, NP_READ), -1);
	ck_assert_int_eq(gs_fd_cached_timeo(fd, NP_WRITE), -1);
	/* Another number is untouched. */
	gs_fd_set_nonblock(p[1], 0);
	struct gs_np_snap w = gs_np_snap(p[1], NP_WRITE);
	gs_np_close(fd);
	ck_assert_uint_eq(gs_np_snap(fd, NP_READ).gen, a.gen + 2);
	ck_assert_uint_eq(gs_np_snap(p[1], NP_WRITE).gen, w.gen);
	ck_assert_int_eq(gs_fd_cached_nonblock(p[1]), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* An event counts only for the generation it was armed with, and only in its
 * direction. */
START_TEST(event_needs_gen)
{
	int fd = 40;	/* a number: the table does not look at the file */
	struct gs_np_snap r0 = gs_np_snap(fd, NP_READ), w0 = gs_np_snap(fd, NP_WRITE);
	gs_np_ready(key_of(fd, r0.gen), NP_READ);
	struct gs_np_snap r1 = gs_np_snap(fd, NP_READ), w1 = gs_np_snap(fd, NP_WRITE);
	ck_assert_uint_eq(r1.count, r0.count + 1);
	ck_assert_uint_eq(w1.count, w0.count);
	ck_assert_uint_eq(r1.gen, r0.gen);
	gs_np_close(fd);	/* reused: events of the old file must not count */
	struct gs_np_snap r2 = gs_np_snap(fd, NP_READ);
	ck_assert_uint_eq(r2.gen, r0.gen + 1);
	gs_np_ready(key_of(fd, r0.gen), NP_READ | NP_WRITE);
	ck_assert_uint_eq(gs_np_snap(fd, NP_READ).count, r2.count);
	ck_assert_uint_eq(gs_np_snap(fd, NP_WRITE).count, w1.count);
	gs_np_ready(key_of(fd, r2.gen), NP_WRITE);
	ck_assert_uint_eq(gs_np_snap(fd, NP_READ).count, r2.count);
	ck_assert_uint_eq(gs_np_snap(fd, NP_WRITE).count, w1.count + 1);
	/* gs_np_kick counts in both directions, for the current file. */
	gs_np_kick(fd);
	ck_assert_uint_eq(gs_np_snap(fd, NP_READ).count, r2.count + 1);
	ck_assert_uint_eq(gs_np_snap(fd, NP_WRITE).count, w1.count + 2);
	/* Out of range: no descriptor, a zero snapshot, no crash. */
	ck_assert_uint_eq(gs_np_snap(-1, NP_READ).gen, 0);
	ck_assert_int_eq(gs_fd_cached_nonblock(-1), -1);
	gs_np_close(-1);
}
END_TEST

/* gs_np_invalidate_all (after a fork or exec-like change) drops the cached
 * flags and timeouts of every number, but not the generations. */
START_TEST(invalidate_all)
{
	gs_fd_set_nonblock(41, 1);
	gs_fd_set_timeo(41, NP_READ, 3 * MS);
	uint32_t gen = gs_np_snap(41, NP_READ).gen;
	gs_fd_invalidate_all();
	ck_assert_int_eq(gs_fd_cached_nonblock(41), -1);
	ck_assert_int_eq(gs_fd_cached_timeo(41, NP_READ), -1);
	ck_assert_uint_eq(gs_np_snap(41, NP_READ).gen, gen);
	gs_fd_set_nonblock(41, 0);
	ck_assert_int_eq(gs_fd_cached_nonblock(41), 0);
}
END_TEST

/* ---- with the scheduler ---- */

static void rt_start(void)
{
	setenv("GOSHIM_PROCS", "1", 1);
	setenv("GOSHIM_DUMP_SOCKET", "0", 1);
	gs_init();
	ck_assert_ptr_eq(gs_self(), gs_maing);
}

/* Main naps 1 ms at a time until *v != unset. */
static void until_set(_Atomic int *v, int unset)
{
	for (int i = 0; i < BOUND && atomic_load(v) == unset; i++)
		gs_sleep_until(gs_nanotime() + MS);
	ck_assert_int_ne(atomic_load(v), unset);
}

static bool waiting_on(struct g *g, int fd)
{
	return atomic_load(&g->status) == G_WAITING && g->waitreason &&
	       !strncmp(g->waitreason, "fd ", 3) && (int)(intptr_t)g->waitaddr == fd;
}

/* Main naps until g is parked on fd. */
static void until_waiting(struct g *g, int fd)
{
	for (int i = 0; i < BOUND && !waiting_on(g, fd); i++)
		gs_sleep_until(gs_nanotime() + MS);
	ck_assert(waiting_on(g, fd));
}

static int pfd[2];
static _Atomic int wait_r = 1, wait_fd = -1;
static struct gs_np_snap early;	/* a snapshot taken before main's close */
static _Atomic int use_early;

static _Atomic int go, done;
static char got;

static void *reader(void *arg)
{
	int fd = pfd[0];
	struct gs_np_snap s = atomic_load(&use_early) ? early : gs_np_snap(fd, NP_READ);
	int r = gs_np_wait(&fd, NP_READ, s, 0, 0);
	atomic_store(&wait_fd, fd);
	atomic_store(&wait_r, r);
	if (arg) {	/* the ghost test: read on, then let go of the ghost */
		for (int i = 0; i < BOUND && !atomic_load(&go); i++)
			gs_sleep_until(gs_nanotime() + MS);
		ck_assert_int_eq(read(fd, &got, 1), 1);
		gs_np_ghost_drop(gs_self());
		atomic_store(&done, 1);
		for (int i = 0; i < BOUND && atomic_load(&go) != 2; i++)
			gs_sleep_until(gs_nanotime() + MS);	/* main checks the ghost meanwhile */
	}
	return NULL;
}

static struct g *spawn_reader(void *arg)
{
	struct g *g = NULL;
	ck_assert_int_eq(pipe2(pfd, O_NONBLOCK), 0);
	ck_assert_int_eq(gs_spawn(&g, reader, arg, 0, 4096, NULL, 1, &gs_self()->sched), 0);
	return g;
}

/* Data on the pipe wakes the parked reader: 0, its own fd. */
START_TEST(wait_woken_by_data)
{
	rt_start();
	struct g *g = spawn_reader(NULL);
	until_waiting(g, pfd[0]);
	for (int i = 0; i < 20; i++)
		gs_sleep_until(gs_nanotime() + MS);	/* no event: still parked */
	ck_assert(waiting_on(g, pfd[0]));
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	until_set(&wait_r, 1);
	ck_assert_int_eq(atomic_load(&wait_r), 0);
	ck_assert_int_eq(atomic_load(&wait_fd), pfd[0]);
}
END_TEST

/* The number is reused behind the waiter (gs_np_close): -EBADF, and an event
 * keyed with the old generation before that wakes nobody. */
START_TEST(wait_number_reused)
{
	rt_start();
	struct g *g = spawn_reader(NULL);
	until_waiting(g, pfd[0]);
	uint32_t gen = gs_np_snap(pfd[0], NP_READ).gen;
	gs_np_ready(key_of(pfd[0], gen - 1), NP_READ);	/* an older file's event */
	for (int i = 0; i < 20; i++)
		gs_sleep_until(gs_nanotime() + MS);
	ck_assert(waiting_on(g, pfd[0]));
	ck_assert_int_eq(atomic_load(&wait_r), 1);
	gs_np_close(pfd[0]);
	until_set(&wait_r, 1);
	ck_assert_int_eq(atomic_load(&wait_r), -EBADF);
}
END_TEST

/* A snapshot taken before the number was reused: the wait does not park. */
START_TEST(wait_stale_snapshot)
{
	rt_start();
	ck_assert_int_eq(pipe2(pfd, O_NONBLOCK), 0);
	early = gs_np_snap(pfd[0], NP_READ);
	gs_np_close(pfd[0]);
	atomic_store(&use_early, 1);
	struct g *g = NULL;
	ck_assert_int_eq(gs_spawn(&g, reader, NULL, 0, 4096, NULL, 1, &gs_self()->sched), 0);
	until_set(&wait_r, 1);
	ck_assert_int_eq(atomic_load(&wait_r), -EBADF);
}
END_TEST

/* The program closes the number the G waits on (gs_np_close_waited, then the
 * real close): the G goes on with the open file through a ghost, a number of
 * the runtime's that the program does not see, and data written to the pipe
 * afterwards is its to read, as natively. */
START_TEST(wait_close_ghost)
{
	rt_start();
	struct g *g = spawn_reader((void *)1);
	int fd = pfd[0];
	until_waiting(g, fd);
	gs_np_close_waited(fd);
	ck_assert_int_eq(close(fd), 0);
	until_set(&wait_r, 1);	/* stored after wait_fd */
	int ghost = atomic_load(&wait_fd);
	ck_assert_int_eq(atomic_load(&wait_r), 0);
	ck_assert_int_ne(ghost, fd);
	ck_assert(gs_np_is_ghost(ghost));
	ck_assert(!gs_np_is_ghost(fd));
	ck_assert_int_ge(fcntl(ghost, F_GETFD), 0);
	ck_assert_int_eq(write(pfd[1], "y", 1), 1);
	atomic_store(&go, 1);
	until_set(&done, 0);
	ck_assert_int_eq(got, 'y');
	/* Its call is over (gs_np_ghost_drop): the last reference closed it. */
	ck_assert(!gs_np_is_ghost(ghost));
	errno = 0;
	ck_assert_int_eq(fcntl(ghost, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	atomic_store(&go, 2);
}
END_TEST

static Suite *fdtable_suite(void)
{
	Suite *s = suite_create("fdtable");
	TCase *tc = tcase_create("fdtable");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, close_bumps_gen);
	tcase_add_test(tc, event_needs_gen);
	tcase_add_test(tc, invalidate_all);
	tcase_add_test(tc, wait_woken_by_data);
	tcase_add_test(tc, wait_number_reused);
	tcase_add_test(tc, wait_stale_snapshot);
	tcase_add_test(tc, wait_close_ghost);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fdtable_suite());
	srunner_set_fork_status(sr, CK_FORK);	/* one process per test: gs_init() once each */
	srunner_run_all(sr, CK_ENV);	/* CK_VERBOSITY, normal by default */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
