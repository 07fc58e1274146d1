/*
 * Durations and shares as people write them in the configuration ("90",
 * "15m", "1h", "33%") and as the daemon prints them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

struct duration_unit {
	const char *name;
	int64_t ms;
};

/* Longest names first, so "ms" is not read as "m" followed by "s". */
static const struct duration_unit duration_units[] = {
	{ "ms", 1 },	    { "s", 1000 },	  { "m", 60 * 1000 },
	{ "h", 3600 * 1000 }, { "d", 24 * 3600 * 1000 },
};

int
duration_parse(const char *s, int64_t *ret_ms)
{
	int64_t total = 0;
	const char *p = s;
	bool any = false;

	while (isspace((unsigned char)*p))
		p++;
	while (*p != '\0') {
		int64_t n = 0, unit = -1;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			n = n * 10 + (*p - '0');
			if (n > DURATION_MAX_MS)
				return -ERANGE;
		}
		if (*p == '\0' || isspace((unsigned char)*p)) {
			if (any)
				return -EINVAL; /* "1h30" is ambiguous */
			unit = 1000;
		} else {
			for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
				size_t len = strlen(duration_units[i].name);

				if (strncmp(p, duration_units[i].name, len) == 0) {
					unit = duration_units[i].ms;
					p += len;
					break;
				}
			}
			if (unit <= 0)
				return -EINVAL;
		}
		if (n > DURATION_MAX_MS / unit)
			return -ERANGE;
		total += n * unit;
		if (total > DURATION_MAX_MS)
			return -ERANGE;
		any = true;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (!any)
		return -EINVAL;
	*ret_ms = total;
	return 0;
}

/* *ret is written only on success. */
int
duration_span_parse(const char *s, struct span *ret)
{
	size_t len = strlen(s);
	int64_t ms;
	int r;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len > 0 && s[len - 1] == '%') {
		unsigned whole = 0, frac = 0;
		size_t i = 0;

		while (isspace((unsigned char)s[i]))
			i++;
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		for (; isdigit((unsigned char)s[i]); i++) {
			whole = whole * 10 + (unsigned)(s[i] - '0');
			if (whole > 100)
				return -ERANGE;
		}
		if (s[i] == '.') {
			i++;
			if (!isdigit((unsigned char)s[i]))
				return -EINVAL;
			frac = (unsigned)(s[i++] - '0');
			while (isdigit((unsigned char)s[i]))
				i++; /* beyond a tenth of a percent is noise */
		}
		if (i != len - 1)
			return -EINVAL;
		if (whole * 10 + frac > 1000)
			return -ERANGE;
		ret->share = true;
		ret->permille = whole * 10 + frac;
		ret->ms = 0;
		return 0;
	}
	r = duration_parse(s, &ms);
	if (r < 0)
		return r;
	ret->share = false;
	ret->permille = 0;
	ret->ms = ms;
	return 0;
}

int64_t
duration_span_resolve(const struct span *sp, int64_t lifetime_ms)
{
	if (sp->share)
		return lifetime_ms * sp->permille / 1000;
	return sp->ms;
}

/*
 * Exact and parseable back: whole hours, minutes, seconds and the
 * milliseconds left over ("1h2m3s", "1s500ms", "450ms", "0s").
 */
const char *
duration_format(int64_t ms, char *buf, size_t size)
{
	static const struct duration_unit parts[] = {
		{ "h", 3600 * 1000 }, { "m", 60 * 1000 }, { "s", 1000 }, { "ms", 1 },
	};
	uint64_t left;
	size_t off = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	if (ms < 0) {
		snprintf(buf, size, "-");
		off = 1;
		left = (uint64_t)0 - (uint64_t)ms; /* also for INT64_MIN */
	} else {
		left = (uint64_t)ms;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && off < size; i++) {
		uint64_t n = left / (uint64_t)parts[i].ms;
		int w;

		if (n == 0)
			continue;
		left -= n * (uint64_t)parts[i].ms;
		w = snprintf(buf + off, size - off, "%llu%s", (unsigned long long)n, parts[i].name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}
