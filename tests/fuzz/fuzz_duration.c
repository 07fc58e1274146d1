/*
 * Durations, shares and sizes as the configuration writes them
 * (common/duration.c, conf_value_duration, conf_value_span and
 * conf_value_size in daemon/conf-value.c).  The input is a value as a
 * configuration line holds it (no NUL, no line break), then eight bytes of
 * a number to format.
 *
 * Properties: a duration parsed is 0 to 30 days, and formatting it and
 * parsing that gives it again; so does any number of milliseconds in that
 * range; a share is at most 100%, one of 1% to 90% is what conf_value_span
 * takes, and resolving it stays within the lifetime; conf_value_duration
 * keeps its minimum; a size is accepted exactly when it is digits and one
 * optional unit (k, m, g in either case) within the bounds, is the number
 * those say (checked with 128-bit arithmetic), and formatting it with its
 * largest unit and parsing that gives it again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-int.h"
#include "duration.h"
#include "fuzz.h"

#define VALUE_MAX 256

static const int64_t size_mins[] = { 0, 1, 1024 };
static const int64_t size_maxes[] = { (int64_t)1 << 40, 16 << 20, INT64_MAX };
static const int64_t duration_mins[] = { 0, 1, 1000, 30000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_duration(const char *v)
{
	char buf[64], *cause = NULL;
	int64_t ms = -1, again = -1, min, got = -1;
	int r = duration_parse(v, &ms);

	if (r == 0) {
		FUZZ_CHECK(ms >= 0 && ms <= DURATION_MAX_MS, "duration %lld ms", (long long)ms);
		duration_format(ms, buf, sizeof(buf));
		FUZZ_CHECK(duration_parse(buf, &again) == 0 && again == ms,
			   "%lld ms formatted as %s parses to %lld", (long long)ms, buf,
			   (long long)again);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -ERANGE, "duration_parse returned %d", r);
	}
	for (size_t i = 0; i < sizeof(duration_mins) / sizeof(duration_mins[0]); i++) {
		min = duration_mins[i];
		if (conf_value_duration(v, min, &got, &cause) == 0) {
			FUZZ_CHECK(r == 0 && got == ms && got >= min,
				   "conf_value_duration took what duration_parse did not");
		} else {
			FUZZ_CHECK(cause != NULL && (r < 0 || ms < min),
				   "a refusal without a cause");
			free(cause);
			cause = NULL;
		}
	}
}

static void
check_span(const char *v)
{
	struct span sp, conf_sp;
	char *cause = NULL;
	int64_t ms = -1;
	int r = duration_span_parse(v, &sp);

	if (r == 0 && sp.share) {
		FUZZ_CHECK(sp.permille <= 1000, "a share of %u permille", sp.permille);
		FUZZ_CHECK(duration_span_resolve(&sp, 3600000) <= 3600000,
			   "a share beyond the lifetime");
	} else if (r == 0) {
		FUZZ_CHECK(duration_parse(v, &ms) == 0 && ms == sp.ms,
			   "a span that is not the duration");
	}
	if (conf_value_span(v, &conf_sp, &cause) == 0) {
		FUZZ_CHECK(r == 0 && conf_sp.share == sp.share,
			   "conf_value_span took another span");
		FUZZ_CHECK(conf_sp.share ? conf_sp.permille >= 10 && conf_sp.permille <= 900
					 : conf_sp.ms > 0,
			   "conf_value_span took a span out of bounds");
	} else {
		FUZZ_CHECK(cause != NULL, "a refusal without a cause");
		free(cause);
	}
}

/* What the size v is by its definition: digits and one optional unit. */
static bool
size_expected(const char *v, __int128 *ret)
{
	size_t digits = strspn(v, "0123456789");
	__int128 n = 0, unit = 1;
	const char *u = v + digits;

	if (digits == 0)
		return false;
	if (*u != '\0') {
		if (u[1] != '\0')
			return false;
		switch (*u) {
		case 'k':
		case 'K':
			unit = (__int128)1 << 10;
			break;
		case 'm':
		case 'M':
			unit = (__int128)1 << 20;
			break;
		case 'g':
		case 'G':
			unit = (__int128)1 << 30;
			break;
		default:
			return false;
		}
	}
	for (size_t i = 0; i < digits; i++) {
		n = n * 10 + (v[i] - '0');
		if (n > (__int128)INT64_MAX)
			n = (__int128)INT64_MAX + 1; /* more than any bound */
	}
	*ret = n * unit;
	return true;
}

static void
check_size(const char *v)
{
	char buf[64], *cause = NULL;
	int64_t got = -1, again = -1, min, max;
	__int128 want = 0;
	bool valid = size_expected(v, &want);

	for (size_t i = 0; i < sizeof(size_mins) / sizeof(size_mins[0]); i++) {
		min = size_mins[i];
		max = size_maxes[i];
		if (conf_value_size(v, min, max, &got, &cause) == 0) {
			FUZZ_CHECK(valid && got == want, "size \"%s\" taken as %" PRId64, v, got);
			FUZZ_CHECK(got >= min && got <= max, "size %" PRId64 " out of bounds", got);
			if (got > 0 && got % (1 << 30) == 0)
				snprintf(buf, sizeof(buf), "%" PRId64 "g", got >> 30);
			else if (got > 0 && got % (1 << 20) == 0)
				snprintf(buf, sizeof(buf), "%" PRId64 "M", got >> 20);
			else if (got > 0 && got % (1 << 10) == 0)
				snprintf(buf, sizeof(buf), "%" PRId64 "k", got >> 10);
			else
				snprintf(buf, sizeof(buf), "%" PRId64, got);
			FUZZ_CHECK(conf_value_size(buf, min, max, &again, &cause) == 0 &&
					   again == got,
				   "size %" PRId64 " written %s does not parse back", got, buf);
		} else {
			FUZZ_CHECK(cause != NULL, "a refusal without a cause");
			FUZZ_CHECK(!valid || want < min || want > max,
				   "size \"%s\" (%" PRId64 " to %" PRId64 ") refused: %s", v, min,
				   max, cause);
			free(cause);
			cause = NULL;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	char buf[64], *v;
	int64_t ms, again = -1;
	size_t len;

	v = fuzz_field(&in, '\n', VALUE_MAX, &len);
	if (strlen(v) == len) { /* a configuration line holds no NUL */
		check_duration(v);
		check_span(v);
		check_size(v);
	}
	free(v);

	ms = (int64_t)((uint64_t)fuzz_u32(&in) << 32 | fuzz_u32(&in));
	duration_format(ms, buf, sizeof(buf));
	FUZZ_CHECK(strlen(buf) > 0, "%lld ms formatted as nothing", (long long)ms);
	if (ms >= 0 && ms <= DURATION_MAX_MS)
		FUZZ_CHECK(duration_parse(buf, &again) == 0 && again == ms,
			   "%lld ms formatted as %s parses to %lld", (long long)ms, buf,
			   (long long)again);
	return 0;
}
