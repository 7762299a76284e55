/*
 * bench/tlsopt.c: the cost of each way the runtime could give a green thread
 * its own thread identity (TLS) when it switches Gs, measured here.
 *
 *   tls_arch_prctl_ns   arch_prctl(ARCH_SET_FS, current value): a syscall that
 *                       also reloads the FS base in the kernel.
 *   tls_wrfsbase_ns     wrfsbase of the current value, only where the kernel
 *                       enabled FSGSBASE (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE);
 *                       otherwise the instruction raises SIGILL and we print
 *                       "wrfsbase unavailable".
 *   tls_syscall_ns      a plain syscall (getppid), for reference.
 *   tls_copy_used_ns    save one G's used static TLS and load another's: two
 *                       memcpy of tls_used_bytes (the sum of PT_TLS p_memsz of
 *                       the loaded modules, from dl_iterate_phdr).
 *   tls_copy_static_ns  the same with the whole static TLS block,
 *                       tls_static_bytes, from glibc's _dl_get_tls_static_info
 *                       (GLIBC_PRIVATE), which includes the surplus and the TCB.
 *
 * The copies go between three heap buffers (live area, G1's save, G2's save)
 * rather than over this thread's real TLS: writing over the live TCB would be
 * unsafe, and copying hot bytes costs the same wherever they live.
 *
 * Usage: tlsopt        Prints `key value` lines, each the median of 5 repetitions.
 */
#include "bench.h"

#include <asm/prctl.h>
#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1) /* arch/x86/include/uapi/asm/hwcap2.h */
#endif

/* Iterations per repetition, chosen so that each repetition takes ~10-100 ms. */
#define N_SYSCALL 20000
#define N_WRFSBASE 5000000
#define N_COPY 1000000

/* Keeps the compiler from merging or dropping the loop bodies. */
#define barrier() __asm__ __volatile__("" ::: "memory")

static unsigned long get_fs(void)
{
	unsigned long fs = 0;

	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs)) {
		perror("tlsopt: arch_prctl(ARCH_GET_FS)");
		exit(1);
	}
	return fs;
}

static double run_arch_prctl(void)
{
	unsigned long fs = get_fs();
	uint64_t t0 = bench_now_ns();
	long i;

	for (i = 0; i < N_SYSCALL; i++)
		syscall(SYS_arch_prctl, ARCH_SET_FS, fs);
	return (double)(bench_now_ns() - t0) / N_SYSCALL;
}

static double run_wrfsbase(void)
{
	unsigned long fs = get_fs();
	uint64_t t0 = bench_now_ns();
	long i;

	for (i = 0; i < N_WRFSBASE; i++)
		__asm__ __volatile__("wrfsbase %0" : : "r"(fs) : "memory");
	return (double)(bench_now_ns() - t0) / N_WRFSBASE;
}

static double run_syscall(void)
{
	uint64_t t0 = bench_now_ns();
	long i;

	/* Through syscall() so that no libc caching can answer instead. */
	for (i = 0; i < N_SYSCALL; i++)
		syscall(SYS_getppid);
	return (double)(bench_now_ns() - t0) / N_SYSCALL;
}

/* Save G1's TLS from the live area, load G2's into it; two copies of n bytes. */
static double run_copy(size_t n)
{
	char *live = aligned_alloc(64, n + 64);
	char *save[2] = { aligned_alloc(64, n + 64), aligned_alloc(64, n + 64) };
	uint64_t t0;
	long i;

	if (live == NULL || save[0] == NULL || save[1] == NULL) {
		fprintf(stderr, "tlsopt: out of memory\n");
		exit(1);
	}
	memset(live, 1, n);
	memset(save[0], 2, n);
	memset(save[1], 3, n);
	t0 = bench_now_ns();
	for (i = 0; i < N_COPY; i++) {
		memcpy(save[i & 1], live, n);
		barrier();
		memcpy(live, save[!(i & 1)], n);
		barrier();
	}
	t0 = bench_now_ns() - t0;
	free(live);
	free(save[0]);
	free(save[1]);
	return (double)t0 / N_COPY;
}

struct tls_sum {
	size_t bytes;	/* sum of PT_TLS p_memsz */
	int modules;	/* modules that have a PT_TLS segment */
};

static int add_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct tls_sum *s = arg;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type == PT_TLS) {
			s->bytes += info->dlpi_phdr[i].p_memsz;
			s->modules++;
		}
	}
	return 0;
}

/* Prints `name median` for BENCH_REPS runs of fn (arg passed through). */
static void report(const char *name, double (*fn)(size_t), size_t arg)
{
	double v[BENCH_REPS];
	int r;

	for (r = 0; r < BENCH_REPS; r++)
		v[r] = fn(arg);
	printf("%s %.1f\n", name, bench_median(v, BENCH_REPS));
	fflush(stdout);
}

static double arch_prctl_fn(size_t unused) { (void)unused; return run_arch_prctl(); }
static double wrfsbase_fn(size_t unused) { (void)unused; return run_wrfsbase(); }
static double syscall_fn(size_t unused) { (void)unused; return run_syscall(); }

int main(void)
{
	void (*static_info)(size_t *size, size_t *align);
	size_t static_size = 0, static_align = 0;
	struct tls_sum used = { 0, 0 };
	int fsgsbase = !!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE);

	dl_iterate_phdr(add_tls, &used);
	static_info = (void (*)(size_t *, size_t *))
		dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	if (static_info != NULL)
		static_info(&static_size, &static_align);

	printf("fsgsbase %d\n", fsgsbase);
	printf("tls_modules %d\n", used.modules);
	printf("tls_used_bytes %zu\n", used.bytes);
	if (static_info != NULL) {
		printf("tls_static_bytes %zu\n", static_size);
		printf("tls_static_align %zu\n", static_align);
	} else {
		printf("tls_static_bytes unavailable\n");
	}
	fflush(stdout);

	report("tls_arch_prctl_ns", arch_prctl_fn, 0);
	if (fsgsbase)
		report("tls_wrfsbase_ns", wrfsbase_fn, 0);
	else
		printf("wrfsbase unavailable\n");
	report("tls_syscall_ns", syscall_fn, 0);
	/* An executable with no TLS at all still copies nothing: report 0 bytes. */
	if (used.bytes > 0)
		report("tls_copy_used_ns", run_copy, used.bytes);
	if (static_size > 0)
		report("tls_copy_static_ns", run_copy, static_size);
	return 0;
}
