/* shim/nss.c: user and group lookups (getpwnam, getpwuid, getgrnam, getgrgid
 * and their _r forms). Through NSS they may wait on the network (LDAP, NIS,
 * sssd) inside libc, where the shim cannot see: on a green thread they run on
 * a helper OS thread (sched/offload.c) while the G waits, as the resolver's
 * calls do (resolv.c). The plain forms return libc's static result, the same
 * one whichever thread asked. */
#include <grp.h>
#include <pwd.h>
#include "gs.h"
#include "shim.h"

struct nss_job {
	struct gs_offload job;
	int what;		/* PWNAM, PWUID, GRNAM, GRGID */
	const char *name;
	unsigned id;
	void *ent;		/* _r: the caller's struct passwd or group */
	char *buf;
	size_t buflen;
	void **result;		/* _r: where the answer goes; NULL: the plain form */
	void *ret;		/* plain form: libc's answer */
	int r;
};
enum { PWNAM, PWUID, GRNAM, GRGID };

static void run_nss(struct gs_offload *j)
{
	struct nss_job *a = (struct nss_job *)j;
	if (!a->result) {
		switch (a->what) {
		case PWNAM: a->ret = REAL(getpwnam)(a->name); break;
		case PWUID: a->ret = REAL(getpwuid)(a->id); break;
		case GRNAM: a->ret = REAL(getgrnam)(a->name); break;
		default: a->ret = REAL(getgrgid)(a->id); break;
		}
		return;
	}
	switch (a->what) {
	case PWNAM:
		a->r = REAL(getpwnam_r)(a->name, a->ent, a->buf, a->buflen, (struct passwd **)a->result);
		break;
	case PWUID:
		a->r = REAL(getpwuid_r)(a->id, a->ent, a->buf, a->buflen, (struct passwd **)a->result);
		break;
	case GRNAM:
		a->r = REAL(getgrnam_r)(a->name, a->ent, a->buf, a->buflen, (struct group **)a->result);
		break;
	default:
		a->r = REAL(getgrgid_r)(a->id, a->ent, a->buf, a->buflen, (struct group **)a->result);
		break;
	}
}

static void run(struct nss_job *a, const char *why)
{
	a->job.fn = run_nss;
	gs_offload(&a->job, why);
}

/* The plain form of fn(arg) and its _r form: run on a helper on a G. */
#define NSS_PLAIN(type, fn, argtype, field, which)					\
	GS_EXPORT type *fn(argtype arg)							\
	{										\
		if (!gs_self())								\
			return REAL(fn)(arg);						\
		struct nss_job a = { .what = which, .field = arg };			\
		run(&a, #fn);								\
		return a.ret;								\
	}

#define NSS_R(type, fn, argtype, field, which)						\
	GS_EXPORT int fn(argtype arg, type *ent, char *buf, size_t len, type **result)	\
	{										\
		if (!gs_self())								\
			return REAL(fn)(arg, ent, buf, len, result);			\
		struct nss_job a = { .what = which, .field = arg, .ent = ent, .buf = buf,	\
				     .buflen = len, .result = (void **)result };		\
		run(&a, #fn);								\
		return a.r;								\
	}

NSS_PLAIN(struct passwd, getpwnam, const char *, name, PWNAM)
NSS_PLAIN(struct passwd, getpwuid, uid_t, id, PWUID)
NSS_PLAIN(struct group, getgrnam, const char *, name, GRNAM)
NSS_PLAIN(struct group, getgrgid, gid_t, id, GRGID)
NSS_R(struct passwd, getpwnam_r, const char *, name, PWNAM)
NSS_R(struct passwd, getpwuid_r, uid_t, id, PWUID)
NSS_R(struct group, getgrnam_r, const char *, name, GRNAM)
NSS_R(struct group, getgrgid_r, gid_t, id, GRGID)
