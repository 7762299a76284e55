/* nss_calls.c: compat test of getpwnam, getpwuid, getgrnam, getgrgid and their _r
 * forms, which goshim runs on a helper thread while the green thread waits
 * (shim/nss.c). Root's entries (present in /etc/passwd and /etc/group of any
 * machine), a name that does not exist, a buffer too small (ERANGE), errno left
 * alone by a good call, and 16 threads x 50 lookups at once. */
#include "compat.h"
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>

#define THREADS 16
#define CALLS 50
static atomic_int good;

static void *worker(void *arg)
{
	char buf[4096];
	for (int i = 0; i < CALLS; i++) {
		struct passwd pw, *p = NULL;
		struct group gr, *g = NULL;
		if (getpwuid_r(0, &pw, buf, sizeof buf, &p) == 0 && p && !strcmp(p->pw_name, "root") &&
		    getgrgid_r(0, &gr, buf, sizeof buf, &g) == 0 && g && g->gr_gid == 0)
			atomic_fetch_add(&good, 1);
	}
	return NULL;
}

int main(void)
{
	struct passwd *p = getpwnam("root");
	printf("getpwnam root: %s uid %d dir %s\n", p ? p->pw_name : "NULL", p ? (int)p->pw_uid : -1,
	       p ? p->pw_dir : "-");
	p = getpwuid(0);
	printf("getpwuid 0: %s\n", p ? p->pw_name : "NULL");
	struct group *g = getgrnam("root");
	printf("getgrnam root: %s gid %d\n", g ? g->gr_name : "NULL", g ? (int)g->gr_gid : -1);
	g = getgrgid(0);
	printf("getgrgid 0: %s\n", g ? g->gr_name : "NULL");
	errno = 0;
	p = getpwnam("no-such-user-goshim");
	int e = errno;
	printf("getpwnam unknown: %s, errno %s\n", p ? "found" : "NULL", e ? strerror(e) : "0");

	char buf[4096], tiny[4];
	struct passwd pw, *pr = NULL;
	struct group gr, *gp = NULL;
	int r = getpwnam_r("root", &pw, buf, sizeof buf, &pr);
	printf("getpwnam_r root: %d %s\n", r, pr ? pr->pw_name : "NULL");
	r = getpwnam_r("root", &pw, tiny, sizeof tiny, &pr);
	printf("getpwnam_r small buffer: %s %s\n", strerror(r), pr ? "found" : "NULL");
	r = getpwnam_r("no-such-user-goshim", &pw, buf, sizeof buf, &pr);
	printf("getpwnam_r unknown: %d %s\n", r, pr ? "found" : "NULL");
	r = getgrnam_r("root", &gr, buf, sizeof buf, &gp);
	printf("getgrnam_r root: %d %s\n", r, gp ? gp->gr_name : "NULL");
	r = getgrgid_r(0, &gr, tiny, sizeof tiny, &gp);
	printf("getgrgid_r small buffer: %s %s\n", strerror(r), gp ? "found" : "NULL");
	errno = 4321;
	r = getpwuid_r(0, &pw, buf, sizeof buf, &pr);
	printf("errno after a good call: %s\n", errno == 4321 ? "unchanged" : "changed");

	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("concurrent: %d of %d lookups right\n", atomic_load(&good), THREADS * CALLS);
	CHECK_EQ(atomic_load(&good), THREADS * CALLS);
	return 0;
}
