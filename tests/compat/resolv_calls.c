/* resolv_calls.c: compat test of getaddrinfo, getnameinfo, gethostbyname(_r) and
 * gethostbyaddr, which goshim runs on a helper thread while the green thread waits
 * (sched/offload.c). Results and error codes (EAI_*, h_errno, errno) of lookups that
 * need no network (numeric hosts, no host, /etc/services), errno after a call, and
 * 32 threads x 50 calls at once, each checking its own answer. */
#include "compat.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>

static void show(const char *what, const char *node, const char *serv, int family, int flags)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = flags };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(node, serv, &hints, &res);
	printf("%s: %s", what, r ? gai_strerror(r) : "ok");
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		char host[64], port[16];
		int g = getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, port, sizeof port,
				    NI_NUMERICHOST | NI_NUMERICSERV);
		printf(" [%s %s %d]", g ? gai_strerror(g) : host, g ? "" : port, a->ai_family);
	}
	printf("\n");
	if (res)
		freeaddrinfo(res);
}

#define THREADS 32
#define CALLS 50
static atomic_int good;

static void *worker(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < CALLS; i++) {
		char node[32], serv[16];
		snprintf(node, sizeof node, "127.0.%ld.%d", id, i + 1);
		snprintf(serv, sizeof serv, "%ld", 1000 + id * 100 + i);
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
		struct addrinfo *res = NULL;
		if (getaddrinfo(node, serv, &hints, &res) != 0 || !res)
			continue;
		char host[64], port[16];
		if (getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof host, port, sizeof port,
				NI_NUMERICHOST | NI_NUMERICSERV) == 0 &&
		    !strcmp(host, node) && !strcmp(port, serv))
			atomic_fetch_add(&good, 1);
		freeaddrinfo(res);
	}
	return NULL;
}

int main(void)
{
	show("numeric v4", "127.0.0.1", "80", AF_INET, AI_NUMERICHOST | AI_NUMERICSERV);
	show("numeric v6", "::1", "443", AF_INET6, AI_NUMERICHOST);
	show("passive, no host", NULL, "8080", AF_INET, AI_PASSIVE);
	show("service by name", "127.0.0.1", "http", AF_INET, AI_NUMERICHOST);
	show("not numeric", "no.such.host.invalid", "80", AF_INET, AI_NUMERICHOST);
	show("unknown service", "127.0.0.1", "no-such-service", AF_INET, AI_NUMERICHOST);
	show("service not numeric", "127.0.0.1", "http", AF_INET, AI_NUMERICHOST | AI_NUMERICSERV);
	show("bad flags", "127.0.0.1", "80", AF_INET, 0x7fff0000);
	show("bad family", "127.0.0.1", "80", 12345, AI_NUMERICHOST);
	show("neither host nor service", NULL, NULL, AF_INET, 0);

	/* getnameinfo's own errors. */
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	char host[64], tiny[4], port[16];
	int r = getnameinfo((struct sockaddr *)&sin, sizeof sin - 1, host, sizeof host, port,
			    sizeof port, NI_NUMERICHOST);
	printf("short salen: %s\n", r ? gai_strerror(r) : "ok");
	r = getnameinfo((struct sockaddr *)&sin, sizeof sin, tiny, sizeof tiny, port, sizeof port,
			NI_NUMERICHOST);
	printf("small host buffer: %s\n", r ? gai_strerror(r) : "ok");
	r = getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV);
	printf("numeric: %s %s %s\n", r ? gai_strerror(r) : "ok", host, port);

	/* errno is left as the call leaves it natively. */
	errno = 1234;
	struct addrinfo *res = NULL;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_flags = AI_NUMERICHOST };
	r = getaddrinfo("127.0.0.1", NULL, &hints, &res);
	printf("errno after a good call: %s\n", errno == 1234 ? "unchanged" : "changed");
	if (res)
		freeaddrinfo(res);

	/* The older calls: numeric names need no lookup; h_errno as they set it. */
	h_errno = 0;
	struct hostent *h = gethostbyname("127.0.0.1");
	printf("gethostbyname numeric: %s, h_errno %d\n", h ? h->h_name : "NULL", h_errno);
	h = gethostbyname("300.1.1.1");
	printf("gethostbyname bad address: %s, h_errno %d\n", h ? h->h_name : "NULL", h_errno);
	errno = 0;
	h = gethostbyaddr(&sin.sin_addr, 3, AF_INET);
	printf("gethostbyaddr bad length: %s, h_errno %d, errno %s\n", h ? h->h_name : "NULL",
	       h_errno, strerror(errno));
	struct hostent he, *hr = NULL;
	char buf[1024];
	int herr = 0;
	r = gethostbyname_r("10.1.2.3", &he, buf, sizeof buf, &hr, &herr);
	printf("gethostbyname_r: %d %s, h_errno %d\n", r, hr ? hr->h_name : "NULL", herr);
	r = gethostbyname_r("10.1.2.3", &he, buf, 8, &hr, &herr);
	printf("gethostbyname_r small buffer: %s %s, h_errno %d\n", strerror(r), hr ? hr->h_name : "NULL", herr);

	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		CHECK_RC(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		CHECK_RC(pthread_join(t[i], NULL), 0);
	printf("concurrent: %d of %d answers right\n", atomic_load(&good), THREADS * CALLS);
	CHECK_EQ(atomic_load(&good), THREADS * CALLS);
	return 0;
}
