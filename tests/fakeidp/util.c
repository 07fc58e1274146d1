/*
 * util.c: fakeidp's small helpers: whole-number and boolean parsing,
 * random bytes, and printable copies of a peer's strings for log lines.
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeidp.h"

/* Parses a whole decimal integer within [min, max]: 0 or -EINVAL/-ERANGE. */
int
util_parse_ll(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int
util_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

char *
util_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Printable copy of a peer's string for a log line, at most 80 bytes. */
void
util_log_safe(const char *s, char out[81])
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < 80; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[i] = '\0';
}

void
util_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}
