/* sched/util.c: messages and fatal errors, without stdio (which may be locked
 * by the G that failed) and without malloc. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gs.h"

static void vsay(const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "goshim: ");
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if (n >= (int)sizeof buf - 1)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	ssize_t r = write(2, buf, (size_t)n);
	(void)r;
}

void gs_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void gs_throw(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	if (gs_allm)	/* the runtime is up: show every G */
		gs_dump(2);
	abort();
}
