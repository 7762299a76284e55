/*
 * bench/icount.c: instructions (user mode) between two int3 markers, counted
 * by single-stepping, for machines without hardware counters (a VM where
 * `perf stat -e instructions` says <not supported>) or a mode valgrind cannot
 * run (goshim's moving and tp modes need wrfsbase, which valgrind lacks).
 *
 * Usage: icount PROG ARGS...
 * Runs PROG under ptrace. The first int3 a thread executes starts counting:
 * every other thread that exists then is stopped (SIGSTOP, held until the
 * end, so a monitor thread cannot hand the counted work to another OS thread
 * while single-stepping slows it a thousandfold); the thread that hit it and
 * threads created meanwhile are single-stepped. The next int3 at the same
 * address ends the count.
 * Prints on stderr: icount N locked L newthreads T, where L counts the
 * instructions with a lock prefix or an xchg with memory (locked implicitly).
 * x86-64 only (rip, int3, the lock prefix).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXT 1024

static pid_t tids[MAXT];
static int held[MAXT];	/* 1: SIGSTOP sent, 2: stopped and held */
static int heldsig[MAXT];	/* a signal to deliver when let go */
static int nt;

static int slot(pid_t t)
{
	for (int i = 0; i < nt; i++)
		if (tids[i] == t)
			return i;
	if (nt == MAXT) {
		fprintf(stderr, "icount: more than %d threads\n", MAXT);
		exit(2);
	}
	tids[nt] = t;
	held[nt] = 0;
	return nt++;
}

/* Whether the instruction at pc is a locked read-modify-write. */
static int locked_at(pid_t t, long pc)
{
	unsigned long w = (unsigned long)ptrace(PTRACE_PEEKTEXT, t, pc, 0);
	const unsigned char *b = (const unsigned char *)&w;
	int k = 0;
	while (k < 4 && (b[k] == 0x66 || b[k] == 0xf2 || b[k] == 0xf3 || b[k] == 0x2e ||
			 b[k] == 0x3e || b[k] == 0x64 || b[k] == 0x65))
		k++;
	if (b[k] == 0xf0)
		return 1;
	if ((b[k] & 0xf0) == 0x40)	/* REX */
		k++;
	return (b[k] == 0x86 || b[k] == 0x87) && (b[k + 1] >> 6) != 3;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: icount PROG ARGS...\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	int st, live = 1, counting = 0, born = 0, status = 0;
	unsigned long long n = 0, nlock = 0;
	long mark = 0;
	waitpid(pid, &st, 0);
	slot(pid);
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL);
	ptrace(PTRACE_CONT, pid, 0, 0);
	while (live > 0) {
		pid_t t = waitpid(-1, &st, __WALL);
		if (t < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (t == pid)
				status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			live--;
			continue;
		}
		int i = slot(t), sig = 0, s = WSTOPSIG(st), ev = st >> 16;
		if (ev == PTRACE_EVENT_CLONE) {
			unsigned long c;
			ptrace(PTRACE_GETEVENTMSG, t, 0, &c);
			slot((pid_t)c);
			live++;
			born += counting;
		} else if (s == SIGTRAP && ev == 0) {
			siginfo_t si;
			ptrace(PTRACE_GETSIGINFO, t, 0, &si);
			long pc = ptrace(PTRACE_PEEKUSER, t, offsetof(struct user_regs_struct, rip), 0);
			if (si.si_code == SI_KERNEL && !counting) {	/* int3: start */
				counting = 1;
				mark = pc;
				for (int j = 0; j < nt; j++)
					if (tids[j] != t) {
						held[j] = 1;
						heldsig[j] = 0;
						syscall(SYS_tgkill, pid, tids[j], SIGSTOP);
					}
			} else if (si.si_code == SI_KERNEL && counting && pc == mark) {	/* end */
				counting = 0;
				fprintf(stderr, "icount %llu locked %llu newthreads %d\n", n, nlock, born);
				for (int j = 0; j < nt; j++) {
					if (held[j] == 2)
						ptrace(PTRACE_CONT, tids[j], 0, heldsig[j]);
					held[j] = 0;
				}
			}
		} else if (s == SIGSTOP && ev == 0) {
			if (held[i] == 1) {	/* the stop we asked for */
				held[i] = 2;
				continue;
			}
		} else {
			sig = s;
		}
		if (held[i]) {	/* stopped for something else first: hold it from here */
			held[i] = 2;
			heldsig[i] = sig;
			continue;
		}
		if (counting) {
			long pc = ptrace(PTRACE_PEEKUSER, t, offsetof(struct user_regs_struct, rip), 0);
			n++;
			nlock += locked_at(t, pc);
			ptrace(PTRACE_SINGLESTEP, t, 0, sig);
		} else {
			ptrace(PTRACE_CONT, t, 0, sig);
		}
	}
	return status;
}
