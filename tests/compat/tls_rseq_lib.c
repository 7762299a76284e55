/* tls_rseq_lib.c: dlopen'ed by tls_rseq_user: reads glibc's rseq area's cpu_id
 * of the calling thread (negative when rseq is not registered). */
// compat-helper
#include <stddef.h>
#include <sys/rseq.h>

int rseq_cpu_id(void)
{
	if (__rseq_size == 0)
		return -1;
	char *tp = __builtin_thread_pointer();
	return ((volatile struct rseq *)(tp + __rseq_offset))->cpu_id;
}
