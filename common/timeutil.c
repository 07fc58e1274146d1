/*
 * The two clocks (monotonic for schedules, wall for expiry) in
 * milliseconds, and the timestamp formats upstreams send: HTTP-date and
 * ISO 8601.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

static int64_t
time_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
timeutil_mono_ms(void)
{
	/* CLOCK_BOOTTIME: monotonic, and it goes on while the machine sleeps. */
	return time_clock_ms(CLOCK_BOOTTIME);
}

int64_t
timeutil_wall_ms(void)
{
	return time_clock_ms(CLOCK_REALTIME);
}

struct timeval
timeutil_ms_to_tv(int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

static bool
time_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* mon is 1..12. */
static int
time_days_in_month(int year, int mon)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return mon == 2 && time_leap_year(year) ? 29 : days[mon - 1];
}

/*
 * RFC 7231 section 7.1.1.1: a two-digit year more than 50 years in the
 * future is the most recent past year with the same last two digits.
 */
static int
time_rfc850_year(int two_digits)
{
	time_t t = time(NULL);
	struct tm now;
	int year;

	gmtime_r(&t, &now);
	year = (now.tm_year + 1900) / 100 * 100 + two_digits;
	if (year > now.tm_year + 1900 + 50)
		year -= 100;
	return year;
}

/*
 * strptime() does the HTTP-date forms (with LC_TIME "C", which the daemon
 * never changes); what it lets through, an impossible day such as 31 Feb,
 * is refused here rather than moved into the next month by timegm().
 */
int
timeutil_parse_http_date(const char *s, int64_t *ret_ms)
{
	static const char *const formats[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",	     /* asctime */
	};

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = { 0 };
		const char *end = strptime(s, formats[i], &tm);

		if (end == NULL)
			continue;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0')
			continue;
		if (i == 1)
			tm.tm_year = time_rfc850_year((tm.tm_year + 1900) % 100) - 1900;
		if (tm.tm_mday > time_days_in_month(tm.tm_year + 1900, tm.tm_mon + 1))
			return -EINVAL;
		*ret_ms = (int64_t)timegm(&tm) * 1000;
		return 0;
	}
	return -EINVAL;
}

/* Exactly n digits at *p, advancing it; -1 if they are not there. */
static int
time_digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

/*
 * YYYY-MM-DD, "T" (or "t" or a space), hh:mm:ss, an optional fraction
 * (milliseconds kept), then "Z" or an offset: +hh:mm, +hhmm or +hh.  A
 * time without a zone is refused: it would be read in some local time.
 * Parsed by hand: strptime() skips spaces and takes single digits.
 */
int
timeutil_parse_iso8601(const char *s, int64_t *ret_ms)
{
	struct tm tm = { 0 };
	const char *p = s;
	int year, mon, day, hh, mm, ss, oh = 0, om = 0, sign = 1;
	int64_t frac_ms = 0, scale = 100;

	if ((year = time_digits(&p, 4)) < 0 || *p++ != '-' || (mon = time_digits(&p, 2)) < 0 ||
	    *p++ != '-' || (day = time_digits(&p, 2)) < 0)
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if ((hh = time_digits(&p, 2)) < 0 || *p++ != ':' || (mm = time_digits(&p, 2)) < 0 ||
	    *p++ != ':' || (ss = time_digits(&p, 2)) < 0)
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > time_days_in_month(year, mon) || hh > 23 ||
	    mm > 59 || ss > 60)
		return -EINVAL;
	if (*p == '.' || *p == ',') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac_ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if ((oh = time_digits(&p, 2)) < 0)
			return -EINVAL;
		if (*p == ':') {
			p++;
			if ((om = time_digits(&p, 2)) < 0)
				return -EINVAL;
		} else if (*p != '\0' && (om = time_digits(&p, 2)) < 0) {
			return -EINVAL;
		}
		if (oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL; /* a time without zone is ambiguous */
	}
	if (*p != '\0')
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*ret_ms = ((int64_t)timegm(&tm) - (int64_t)sign * (oh * 3600 + om * 60)) * 1000 + frac_ms;
	return 0;
}
