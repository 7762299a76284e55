/* shim/resolv.c: the resolver. glibc's getaddrinfo and getnameinfo wait for
 * DNS inside libc, through calls the shim does not see: on a green thread they
 * run on a helper OS thread (sched/offload.c) while the G waits, so the other
 * Gs of its OS thread go on. Elsewhere (a thread the shim did not make) they
 * run as they are. */
#include <netdb.h>
#include <sys/socket.h>
#include "gs.h"
#include "real.h"

struct gai_job {
	struct gs_offload job;
	const char *node, *service;
	const struct addrinfo *hints;
	struct addrinfo **res;
	int ret;
};

static void run_gai(struct gs_offload *j)
{
	struct gai_job *a = (struct gai_job *)j;
	a->ret = REAL(getaddrinfo)(a->node, a->service, a->hints, a->res);
}

GS_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			  struct addrinfo **res)
{
	if (!gs_self())
		return REAL(getaddrinfo)(node, service, hints, res);
	struct gai_job a = { .job.fn = run_gai, .node = node, .service = service,
			     .hints = hints, .res = res };
	gs_offload(&a.job, "getaddrinfo");
	return a.ret;
}

struct gni_job {
	struct gs_offload job;
	const struct sockaddr *sa;
	socklen_t salen;
	char *host, *serv;
	socklen_t hostlen, servlen;
	int flags, ret;
};

static void run_gni(struct gs_offload *j)
{
	struct gni_job *a = (struct gni_job *)j;
	a->ret = REAL(getnameinfo)(a->sa, a->salen, a->host, a->hostlen, a->serv, a->servlen,
				   a->flags);
}

GS_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
			  char *serv, socklen_t servlen, int flags)
{
	if (!gs_self())
		return REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	struct gni_job a = { .job.fn = run_gni, .sa = sa, .salen = salen, .host = host,
			     .hostlen = hostlen, .serv = serv, .servlen = servlen, .flags = flags };
	gs_offload(&a.job, "getnameinfo");
	return a.ret;
}
