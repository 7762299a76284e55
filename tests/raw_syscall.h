/* raw_syscall.h: a system call made with the syscall instruction itself, for tests
 * that need a call no preloaded library can see (goshim interposes libc's syscall()
 * function, and routes SYS_read, SYS_gettid, ... to its hooks). Returns like syscall():
 * -1 with errno set on failure. x86-64 and aarch64; elsewhere libc's syscall(). */
#ifndef GOSHIM_RAW_SYSCALL_H
#define GOSHIM_RAW_SYSCALL_H
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>

static inline long raw_syscall3(long nr, long a, long b, long c)
{
	long r;
#if defined(__x86_64__)
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
		      x2 __asm__("x2") = c;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	r = x0;
#else
	return syscall(nr, a, b, c);
#endif
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* The OS thread's own id, whatever gettid() says for a green thread. */
static inline pid_t raw_gettid(void)
{
	return (pid_t)raw_syscall3(SYS_gettid, 0, 0, 0);
}
#endif
