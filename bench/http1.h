/*
 * What bench/loadgen.c and bench/upstream.c both read in an HTTP/1.1 head.
 * Header-only: each program is built from its .c files in one command.
 */
#ifndef TB_BENCH_HTTP1_H
#define TB_BENCH_HTTP1_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

/*
 * Case-insensitive: whether the header line h (len bytes, no CRLF) is
 * "name: value"; then its value without the blanks around it, vlen bytes.
 * NULL when it is another header.
 */
static inline const char *
http1_header_value(const char *h, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *v, *end = h + len;

	if (len <= nlen || strncasecmp(h, name, nlen) != 0 || h[nlen] != ':')
		return NULL;
	for (v = h + nlen + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

#endif
