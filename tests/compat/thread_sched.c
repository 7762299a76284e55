/* thread_sched.c: compat test of per-thread scheduling parameters (issue 17):
 * pthread_getschedparam / setschedparam / setschedprio on the calling thread and on
 * another one, read back; a new thread inherits its creator's (PTHREAD_INHERIT_SCHED)
 * or takes the attribute's (PTHREAD_EXPLICIT_SCHED), also in pthread_getattr_np;
 * EINVAL for a bad policy or a priority out of the policy's range, at set and at
 * create; sched_setscheduler / sched_getscheduler / sched_getparam with pid 0 act
 * on the calling thread; and, once CAP_SYS_NICE is dropped from the effective set,
 * EPERM for a real-time policy (RLIMIT_RTPRIO is 0 here). The program's threads
 * block at once and never spin, since natively they do run SCHED_FIFO for a while.
 * What is printed is the same whether the program starts with CAP_SYS_NICE or not. */
#include "compat.h"
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RC(x) printf("%-58s %s\n", #x, errname(x))

static sem_t go, printed;

static void show(const char *who, pthread_t t)
{
	struct sched_param sp;
	int pol = -1;
	int r = pthread_getschedparam(t, &pol, &sp);

	printf("%s: %s policy %d prio %d\n", who, errname(r), pol, r ? -1 : sp.sched_priority);
}

static void *child(void *arg)
{
	pthread_attr_t a;
	int pol, inh;
	struct sched_param sp;

	show((const char *)arg, pthread_self());
	CHECK_RC(pthread_getattr_np(pthread_self(), &a), 0);
	CHECK_RC(pthread_attr_getschedpolicy(&a, &pol), 0);
	CHECK_RC(pthread_attr_getschedparam(&a, &sp), 0);
	CHECK_RC(pthread_attr_getinheritsched(&a, &inh), 0);
	printf("  getattr_np: policy %d prio %d\n", pol, sp.sched_priority);
	pthread_attr_destroy(&a);
	CHECK_SYS(sem_post(&printed));
	while (sem_wait(&go) != 0)
		CHECK(errno == EINTR);
	return NULL;
}

static void wait_printed(void)
{
	while (sem_wait(&printed) != 0)
		CHECK(errno == EINTR);
}

static bool has_cap_sys_nice(void)
{
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };
	struct { uint32_t eff, perm, inh; } d[2];

	return syscall(SYS_capget, &hdr, d) == 0 && (d[0].eff & (1u << 23));
}

static void drop_cap_sys_nice(void)
{
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };
	struct { uint32_t eff, perm, inh; } d[2];

	CHECK_SYS(syscall(SYS_capget, &hdr, d));
	d[0].eff &= ~(1u << 23);
	CHECK_SYS(syscall(SYS_capset, &hdr, d));
}

int main(void)
{
	struct sched_param sp = { 0 };
	pthread_attr_t a;
	pthread_t t;
	struct rlimit rl = { 0, 0 };

	CHECK_SYS(sem_init(&go, 0, 0));
	CHECK_SYS(sem_init(&printed, 0, 0));
	CHECK_SYS(setrlimit(RLIMIT_RTPRIO, &rl));
	show("main", pthread_self());
	if (has_cap_sys_nice()) {
		/* Real-time parameters: set, read back, inherited by a new thread. */
		sp.sched_priority = 10;
		RC(pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp));
		show("main after FIFO 10", pthread_self());
		CHECK_RC(pthread_create(&t, NULL, child, "inheriting child"), 0);
		wait_printed();
		RC(pthread_setschedprio(pthread_self(), 20));
		RC(pthread_setschedprio(pthread_self(), 100));
		RC(pthread_setschedprio(pthread_self(), 0));
		show("main after setschedprio", pthread_self());
		sp.sched_priority = 7;
		RC(pthread_setschedparam(t, SCHED_RR, &sp)); /* another thread's */
		show("child set by main", t);
		sp.sched_priority = 0;
		RC(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp));
		CHECK_SYS(sem_post(&go));
		CHECK_RC(pthread_join(t, NULL), 0);

		CHECK_RC(pthread_attr_init(&a), 0);
		RC(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED));
		RC(pthread_attr_setschedpolicy(&a, SCHED_RR));
		sp.sched_priority = 3;
		RC(pthread_attr_setschedparam(&a, &sp));
		CHECK_RC(pthread_create(&t, &a, child, "explicit child"), 0);
		wait_printed();
		CHECK_SYS(sem_post(&go));
		CHECK_RC(pthread_join(t, NULL), 0);
		RC(pthread_attr_setschedpolicy(&a, SCHED_OTHER)); /* keeps priority 3 */
		RC(pthread_create(&t, &a, child, "never"));
		pthread_attr_destroy(&a);
	} else {
		printf("(no CAP_SYS_NICE: the real-time part is left out)\n");
	}

	/* Errors and the other policies. */
	sp.sched_priority = 5;
	RC(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp));
	RC(pthread_setschedparam(pthread_self(), 77, &sp));
	sp.sched_priority = 0;
	RC(pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp));
	show("main after BATCH", pthread_self());
	RC(pthread_setschedprio(pthread_self(), 1));
	RC(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp));
	printf("sched_getscheduler(0) %d\n", sched_getscheduler(0));
	CHECK_SYS(sched_setscheduler(0, SCHED_BATCH, &sp));
	printf("after sched_setscheduler(0, BATCH): %d\n", sched_getscheduler(0));
	sp.sched_priority = 3;
	CHECK_ERRNO(sched_setscheduler(0, SCHED_OTHER, &sp), EINVAL);
	CHECK_SYS(sched_getparam(0, &sp));
	printf("sched_getparam(0) prio %d\n", sp.sched_priority);
	sp.sched_priority = 0;
	CHECK_SYS(sched_setscheduler(0, SCHED_OTHER, &sp));

	/* Without CAP_SYS_NICE and with RLIMIT_RTPRIO 0: EPERM for real-time. */
	if (has_cap_sys_nice())
		drop_cap_sys_nice();
	sp.sched_priority = 1;
	RC(pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp));
	CHECK_RC(pthread_attr_init(&a), 0);
	RC(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED));
	RC(pthread_attr_setschedpolicy(&a, SCHED_RR));
	RC(pthread_attr_setschedparam(&a, &sp));
	RC(pthread_create(&t, &a, child, "never"));
	pthread_attr_destroy(&a);
	show("main at the end", pthread_self());
	return 0;
}
