/* shim/nss.c: user and group lookups (getpwnam, getpwuid, getgrnam, getgrgid
 * and their _r forms). Through NSS they may wait on the network (LDAP, NIS,
 * sssd) inside libc, where the shim cannot see: on a green thread they run on
 * a helper OS thread (sched/offload.c) while the G waits, as the resolver's
 * calls do (resolv.c). The plain forms return libc's static result, the same
 * one whichever thread asked. */
#include <grp.h>
#include <pwd.h>
#include "gs.h"
#include "real.h"

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

GS_EXPORT struct passwd *getpwnam(const char *name)
{
	if (!gs_self())
		return REAL(getpwnam)(name);
	struct nss_job a = { .what = PWNAM, .name = name };
	run(&a, "getpwnam");
	return a.ret;
}

GS_EXPORT struct passwd *getpwuid(uid_t uid)
{
	if (!gs_self())
		return REAL(getpwuid)(uid);
	struct nss_job a = { .what = PWUID, .id = uid };
	run(&a, "getpwuid");
	return a.ret;
}

GS_EXPORT struct group *getgrnam(const char *name)
{
	if (!gs_self())
		return REAL(getgrnam)(name);
	struct nss_job a = { .what = GRNAM, .name = name };
	run(&a, "getgrnam");
	return a.ret;
}

GS_EXPORT struct group *getgrgid(gid_t gid)
{
	if (!gs_self())
		return REAL(getgrgid)(gid);
	struct nss_job a = { .what = GRGID, .id = gid };
	run(&a, "getgrgid");
	return a.ret;
}

GS_EXPORT int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
			 struct passwd **result)
{
	if (!gs_self())
		return REAL(getpwnam_r)(name, pw, buf, len, result);
	struct nss_job a = { .what = PWNAM, .name = name, .ent = pw, .buf = buf, .buflen = len,
			     .result = (void **)result };
	run(&a, "getpwnam_r");
	return a.r;
}

GS_EXPORT int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **result)
{
	if (!gs_self())
		return REAL(getpwuid_r)(uid, pw, buf, len, result);
	struct nss_job a = { .what = PWUID, .id = uid, .ent = pw, .buf = buf, .buflen = len,
			     .result = (void **)result };
	run(&a, "getpwuid_r");
	return a.r;
}

GS_EXPORT int getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
			 struct group **result)
{
	if (!gs_self())
		return REAL(getgrnam_r)(name, gr, buf, len, result);
	struct nss_job a = { .what = GRNAM, .name = name, .ent = gr, .buf = buf, .buflen = len,
			     .result = (void **)result };
	run(&a, "getgrnam_r");
	return a.r;
}

GS_EXPORT int getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **result)
{
	if (!gs_self())
		return REAL(getgrgid_r)(gid, gr, buf, len, result);
	struct nss_job a = { .what = GRGID, .id = gid, .ent = gr, .buf = buf, .buflen = len,
			     .result = (void **)result };
	run(&a, "getgrgid_r");
	return a.r;
}
