/* shim/resolv.c: the resolver. glibc's getaddrinfo, getnameinfo,
 * gethostbyname(_r) and gethostbyaddr wait for DNS inside libc, through calls
 * the shim does not see: on a green thread they run on a helper OS thread
 * (sched/offload.c) while the G waits, so the other Gs of its OS thread go on.
 * Elsewhere (a thread the shim did not make) they run as they are. */
#include <netdb.h>
#include <sys/socket.h>
#include "gs.h"
#include "shim.h"

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

/* The older calls: h_errno is carried like errno (the caller's going in). */
struct hbn_job {
	struct gs_offload job;
	const char *name;
	const void *addr;
	socklen_t len;
	int type, herr;
	struct hostent *ret;
};

static void run_hbn(struct gs_offload *j)
{
	struct hbn_job *a = (struct hbn_job *)j;
	h_errno = a->herr;
	a->ret = a->name ? REAL(gethostbyname)(a->name) : REAL(gethostbyaddr)(a->addr, a->len, a->type);
	a->herr = h_errno;
}

GS_EXPORT struct hostent *gethostbyname(const char *name)
{
	if (!gs_self())
		return REAL(gethostbyname)(name);
	struct hbn_job a = { .job.fn = run_hbn, .name = name, .herr = h_errno };
	gs_offload(&a.job, "gethostbyname");
	h_errno = a.herr;
	return a.ret;
}

GS_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	if (!gs_self())
		return REAL(gethostbyaddr)(addr, len, type);
	struct hbn_job a = { .job.fn = run_hbn, .addr = addr, .len = len, .type = type,
			     .herr = h_errno };
	gs_offload(&a.job, "gethostbyaddr");
	h_errno = a.herr;
	return a.ret;
}

struct hbnr_job {
	struct gs_offload job;
	const char *name;
	struct hostent *ret;
	char *buf;
	size_t buflen;
	struct hostent **result;
	int *herrp, herr, r;
};

static void run_hbnr(struct gs_offload *j)
{
	struct hbnr_job *a = (struct hbnr_job *)j;
	a->r = REAL(gethostbyname_r)(a->name, a->ret, a->buf, a->buflen, a->result, &a->herr);
}

GS_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			      struct hostent **result, int *h_errnop)
{
	if (!gs_self())
		return REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
	struct hbnr_job a = { .job.fn = run_hbnr, .name = name, .ret = ret, .buf = buf,
			      .buflen = buflen, .result = result, .herr = *h_errnop };
	gs_offload(&a.job, "gethostbyname_r");
	*h_errnop = a.herr;
	return a.r;
}
