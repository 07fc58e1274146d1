/*
 * Durations and shares as a user writes them in the configuration, and the
 * two timestamp formats upstreams send (HTTP-date in Retry-After and
 * Expires, ISO 8601 in expires_at fields).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"
#include "timeutil.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static void
assert_duration(const char *s, int64_t want)
{
	int64_t ms = -1;

	if (duration_parse(s, &ms) != 0)
		fail_msg("\"%s\" was refused", s);
	if (ms != want)
		fail_msg("\"%s\": %lld ms, expected %lld", s, (long long)ms, (long long)want);
}

static void
assert_duration_error(const char *s, int want)
{
	int64_t ms = 12345;
	int r = duration_parse(s, &ms);

	if (r != want)
		fail_msg("\"%s\": returned %d, expected %d", s, r, want);
	assert_int_equal(ms, 12345); /* untouched on failure */
}

static void
test_duration_parse(void **state)
{
	assert_duration("90", 90 * SEC);
	assert_duration("90s", 90 * SEC);
	assert_duration("500ms", 500);
	assert_duration("15m", 15 * MIN);
	assert_duration("1h", HOUR);
	assert_duration("1h30m", HOUR + 30 * MIN);
	assert_duration("1h 30m", HOUR + 30 * MIN);
	assert_duration("2d", 2 * DAY);
	assert_duration("1m30s250ms", 90 * SEC + 250);
	assert_duration("0", 0);
	assert_duration("0s", 0);
	assert_duration("  5m  ", 5 * MIN);
	assert_duration("30d", 30 * DAY);
	assert_duration("720h", 30 * DAY);
	assert_duration("2592000", 30 * DAY);

	assert_duration_error("", -EINVAL);
	assert_duration_error("   ", -EINVAL);
	assert_duration_error("abc", -EINVAL);
	assert_duration_error("s", -EINVAL);
	assert_duration_error("-5", -EINVAL);
	assert_duration_error("-5s", -EINVAL);
	assert_duration_error("1.5h", -EINVAL);
	assert_duration_error("5 s", -EINVAL);
	assert_duration_error("10x", -EINVAL);
	assert_duration_error("15M", -EINVAL);
	assert_duration_error("5min", -EINVAL);
	assert_duration_error("1h30", -EINVAL); /* 30 what? */
	assert_duration_error("90 30", -EINVAL);
}

static void
test_duration_overflow(void **state)
{
	assert_duration_error("31d", -ERANGE);
	assert_duration_error("721h", -ERANGE);
	assert_duration_error("2592001", -ERANGE);
	assert_duration_error("29d24h1ms", -ERANGE);
	assert_duration_error("99999999999999999999999999", -ERANGE);
	assert_duration_error("9223372036854775807ms", -ERANGE);
}

static void
test_span_parse(void **state)
{
	struct span sp;

	assert_int_equal(duration_span_parse("33%", &sp), 0);
	assert_true(sp.share);
	assert_int_equal(sp.permille, 330);

	assert_int_equal(duration_span_parse("12.5%", &sp), 0);
	assert_true(sp.share);
	assert_int_equal(sp.permille, 125);

	assert_int_equal(duration_span_parse("0%", &sp), 0);
	assert_true(sp.share);
	assert_int_equal(sp.permille, 0);

	assert_int_equal(duration_span_parse("100%", &sp), 0);
	assert_int_equal(sp.permille, 1000);

	assert_int_equal(duration_span_parse(" 50% ", &sp), 0);
	assert_int_equal(sp.permille, 500);

	assert_int_equal(duration_span_parse("5m", &sp), 0);
	assert_false(sp.share);
	assert_int_equal(sp.ms, 5 * MIN);

	/* Refused, and *ret left as it was. */
	sp.share = true;
	sp.permille = 777;
	sp.ms = 0;
	assert_int_equal(duration_span_parse("101%", &sp), -ERANGE);
	assert_int_equal(duration_span_parse("100.1%", &sp), -ERANGE);
	assert_int_equal(duration_span_parse("1000%", &sp), -ERANGE);
	assert_int_equal(duration_span_parse("%", &sp), -EINVAL);
	assert_int_equal(duration_span_parse(".5%", &sp), -EINVAL);
	assert_int_equal(duration_span_parse("5.%", &sp), -EINVAL);
	assert_int_equal(duration_span_parse("33 %", &sp), -EINVAL);
	assert_int_equal(duration_span_parse("-5%", &sp), -EINVAL);
	assert_int_equal(duration_span_parse("abc", &sp), -EINVAL);
	assert_int_equal(duration_span_parse("31d", &sp), -ERANGE);
	assert_true(sp.share);
	assert_int_equal(sp.permille, 777);
}

static void
test_span_resolve(void **state)
{
	struct span third = { true, 0, 330 }, half = { true, 0, 500 }, tenth = { true, 0, 125 };
	struct span fixed = { false, 5 * MIN, 0 };

	assert_int_equal(duration_span_resolve(&third, HOUR), 1188 * SEC); /* 33% of 1h */
	assert_int_equal(duration_span_resolve(&half, 10 * MIN), 5 * MIN);
	assert_int_equal(duration_span_resolve(&tenth, 8 * SEC), SEC);
	assert_int_equal(duration_span_resolve(&third, 0), 0);
	/* A duration does not depend on the lifetime. */
	assert_int_equal(duration_span_resolve(&fixed, HOUR), 5 * MIN);
	assert_int_equal(duration_span_resolve(&fixed, 10 * SEC), 5 * MIN);
}

static void
assert_format(int64_t ms, const char *want)
{
	char buf[64];

	assert_string_equal(duration_format(ms, buf, sizeof(buf)), want);
}

static void
test_duration_format(void **state)
{
	char small[4];
	int64_t ms;

	assert_format(0, "0s");
	assert_format(1, "1ms");
	assert_format(450, "450ms");
	assert_format(SEC, "1s");
	assert_format(90 * SEC, "1m30s");
	assert_format(HOUR, "1h");
	assert_format(HOUR + 2 * MIN + 3 * SEC, "1h2m3s");
	assert_format(2 * DAY, "48h");
	/* Sub-second parts are not dropped. */
	assert_format(1500, "1s500ms");
	assert_format(HOUR + 7, "1h7ms");
	assert_format(-1500, "-1s500ms");
	assert_format(INT64_MIN, "-2562047788015h12m55s808ms");

	/* What it writes reads back the same. */
	for (ms = 0; ms < 3 * DAY; ms = ms * 3 + 7) {
		char buf[64];
		int64_t back = -1;

		assert_int_equal(duration_parse(duration_format(ms, buf, sizeof(buf)), &back), 0);
		assert_int_equal(back, ms);
	}

	/* Truncated to the buffer, never past it. */
	assert_string_equal(duration_format(HOUR + 2 * MIN + 3 * SEC, small, sizeof(small)), "1h2");
}

static void
assert_http_date(const char *s, int64_t want_s)
{
	int64_t ms = -1;

	if (timeutil_parse_http_date(s, &ms) != 0)
		fail_msg("\"%s\" was refused", s);
	assert_int_equal(ms, want_s * 1000);
}

static void
assert_http_date_bad(const char *s)
{
	int64_t ms = 42;

	if (timeutil_parse_http_date(s, &ms) != -EINVAL)
		fail_msg("\"%s\" was accepted", s);
	assert_int_equal(ms, 42);
}

static void
test_http_date(void **state)
{
	/* RFC 7231's example, in its three forms. */
	assert_http_date("Sun, 06 Nov 1994 08:49:37 GMT", 784111777);
	assert_http_date("Sunday, 06-Nov-94 08:49:37 GMT", 784111777);
	assert_http_date("Sun Nov  6 08:49:37 1994", 784111777);
	assert_http_date("Sun Nov 6 08:49:37 1994", 784111777);
	assert_http_date("Tue, 29 Feb 2000 00:00:00 GMT", 951782400);
	assert_http_date("Thu, 01 Jan 1970 00:00:00 GMT", 0);
	/* RFC 850: a two-digit year is never more than 50 years ahead. */
	assert_http_date("Thursday, 06-Nov-25 08:49:37 GMT", 1762418977);
	assert_http_date("Wednesday, 06-Nov-69 08:49:37 GMT", 3150953377);

	assert_http_date_bad("");
	assert_http_date_bad("garbage");
	assert_http_date_bad("Sun, 06 Nov 1994 08:49:37");
	assert_http_date_bad("Sun, 06 Nov 1994 08:49:37 +0000");
	assert_http_date_bad("Sun, 06 Nov 1994 08:49:37 GMT junk");
	assert_http_date_bad("Sun, 06 Nov 1994 25:49:37 GMT");
	assert_http_date_bad("Sun, 31 Feb 1994 08:49:37 GMT");
	assert_http_date_bad("Mon, 29 Feb 1900 00:00:00 GMT");
	assert_http_date_bad("120");
}

static void
assert_iso(const char *s, int64_t want_ms)
{
	int64_t ms = -1;

	if (timeutil_parse_iso8601(s, &ms) != 0)
		fail_msg("\"%s\" was refused", s);
	if (ms != want_ms)
		fail_msg("\"%s\": %lld, expected %lld", s, (long long)ms, (long long)want_ms);
}

static void
assert_iso_bad(const char *s)
{
	int64_t ms = 42;

	if (timeutil_parse_iso8601(s, &ms) != -EINVAL)
		fail_msg("\"%s\" was accepted", s);
	assert_int_equal(ms, 42);
}

static void
test_iso8601(void **state)
{
	const int64_t t = 1795514400LL * 1000; /* 2026-11-24T10:00:00Z */

	assert_iso("2026-11-24T10:00:00Z", t);
	assert_iso("2026-11-24t10:00:00z", t);
	assert_iso("2026-11-24 10:00:00Z", t);
	assert_iso("1970-01-01T00:00:00Z", 0);
	assert_iso("2000-02-29T00:00:00Z", 951782400LL * 1000);
	/* offsets */
	assert_iso("2026-11-24T11:00:00+01:00", t);
	assert_iso("2026-11-24T11:00:00+0100", t);
	assert_iso("2026-11-24T11:00:00+01", t);
	assert_iso("2026-11-24T04:30:00-05:30", t);
	assert_iso("2026-11-24T10:00:00+00:00", t);
	assert_iso("2026-11-24T10:00:00-00:00", t);
	/* fractions: milliseconds kept, the rest dropped */
	assert_iso("2026-11-24T10:00:00.5Z", t + 500);
	assert_iso("2026-11-24T10:00:00,25Z", t + 250);
	assert_iso("2026-11-24T10:00:00.123456789Z", t + 123);
	assert_iso("2026-11-24T11:00:00.001+01:00", t + 1);
	/* a leap second */
	assert_iso("2026-12-31T23:59:60Z", 1798761600LL * 1000);

	assert_iso_bad("");
	assert_iso_bad("2026-11-24");
	assert_iso_bad("2026-11-24T10:00:00"); /* no zone */
	assert_iso_bad("2026-11-24T10:00Z");
	assert_iso_bad("2026-11-24T10:00:00.Z");
	assert_iso_bad("2026-11-24T10:00:00Zjunk");
	assert_iso_bad("2026-11-24T10:00:00 Z");
	assert_iso_bad("2026-11-24T10:0:0Z");
	assert_iso_bad("2026-11-24T 10:00:00Z");
	assert_iso_bad(" 2026-11-24T10:00:00Z");
	assert_iso_bad("2026-11-24X10:00:00Z");
	assert_iso_bad("2026-13-24T10:00:00Z");
	assert_iso_bad("2026-00-24T10:00:00Z");
	assert_iso_bad("2026-02-29T10:00:00Z");
	assert_iso_bad("2026-04-31T10:00:00Z");
	assert_iso_bad("2026-11-24T24:00:00Z");
	assert_iso_bad("2026-11-24T10:60:00Z");
	assert_iso_bad("2026-11-24T10:00:00+24:00");
	assert_iso_bad("2026-11-24T10:00:00+01:60");
	assert_iso_bad("2026-11-24T10:00:00+-1:00");
	assert_iso_bad("2026-11-24T10:00:00+ 1:00");
	assert_iso_bad("2026-11-24T10:00:00+1");
	assert_iso_bad("2026-11-24T10:00:00+01:0");
	assert_iso_bad("2026-11-24T10:00:00+01:00:00");
	assert_iso_bad("1795514400");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse),	cmocka_unit_test(test_duration_overflow),
		cmocka_unit_test(test_span_parse),	cmocka_unit_test(test_span_resolve),
		cmocka_unit_test(test_duration_format), cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_iso8601),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
