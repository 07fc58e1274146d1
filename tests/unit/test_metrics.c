/*
 * The Prometheus exposition: what is counted and the snapshot handed in
 * come out as the documented series, and nothing else is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "metrics.h"

/* The exposition of m and s as a NUL-terminated string (caller frees). */
static char *
render(const struct metrics *m, const struct metrics_snapshot *s)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *text;

	metrics_render(m, s, b);
	len = evbuffer_get_length(b);
	text = malloc(len + 1);
	assert_non_null(text);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	evbuffer_free(b);
	return text;
}

static void
assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
	}
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

/* How many lines of text are exactly line. */
static int
count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	int count = 0;

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			count++;
	return count;
}

/* The value of the sample series (name and labels as written); fails if absent. */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; (p = strstr(p, series)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	fail_msg("no sample %s in:\n%s", series, text);
	return 0;
}

/*
 * Reads the exposition as a scraper would: every sample belongs to a
 * family whose TYPE came before it (a histogram's as NAME_bucket, _sum,
 * _count), its value is a number, and no family is declared twice.
 */
static void
assert_well_formed(const char *text)
{
	char families[64][96], types[64][16];
	size_t nfam = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char line[512], name[96], type[16];

		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (eol != NULL);
		if (sscanf(line, "# TYPE %95s %15s", name, type) == 2) {
			for (size_t i = 0; i < nfam; i++)
				if (strcmp(families[i], name) == 0)
					fail_msg("family %s declared twice", name);
			assert_true(nfam < 64);
			strcpy(families[nfam], name);
			strcpy(types[nfam++], type);
			continue;
		}
		if (line[0] == '#')
			continue;
		{
			size_t nlen = strcspn(line, "{ ");
			const char *value = strrchr(line, ' ');
			bool known = false;
			char *end;

			assert_non_null(value);
			strtod(value + 1, &end);
			if (*end != '\0' && strcmp(value + 1, "+Inf") != 0)
				fail_msg("not a number in \"%s\"", line);
			for (size_t i = 0; i < nfam && !known; i++) {
				size_t flen = strlen(families[i]);
				const char *rest = line + flen;

				if (strncmp(line, families[i], flen) != 0)
					continue;
				known = nlen == flen ||
					(strcmp(types[i], "histogram") == 0 &&
					 (strncmp(rest, "_bucket", 7) == 0 || strncmp(rest, "_sum", 4) == 0 ||
					  strncmp(rest, "_count", 6) == 0) &&
					 strcspn(rest + 1, "{ ") + 1 == nlen - flen);
			}
			if (!known)
				fail_msg("sample without a TYPE before it: \"%s\"", line);
		}
	}
}

static void
test_render_snapshot(void **state)
{
	struct metrics *m = metrics_new();
	const struct metrics_cred creds[] = {
		{ .name = "xibo", .renewals = 3, .failures = 1, .late_renewals = 2, .up = true,
		  .expiry_s = 42 },
		{ .name = "sbc.1", .renewals = 0, .failures = 7, .up = false, .expiry_s = 99 },
	};
	struct metrics_snapshot snap = { .creds = creds, .ncreds = 2, .waiting = 5, .clients = 9 };
	char *text;

	metrics_count_request(m, 200);
	metrics_count_request(m, 200);
	metrics_count_request(m, 503);
	metrics_count_request(m, 99);  /* not a status: ignored */
	metrics_count_request(m, 600); /* neither */
	metrics_count_upstream(m, 40);
	metrics_count_upstream(m, 700);
	metrics_count_upstream(m, 60000);
	text = render(m, &snap);

	assert_line(text, "# TYPE tokenbroker_renewals_total counter");
	assert_line(text, "tokenbroker_renewals_total{credential=\"xibo\",result=\"success\"} 3");
	assert_line(text, "tokenbroker_renewals_total{credential=\"xibo\",result=\"failure\"} 1");
	assert_line(text, "tokenbroker_renewals_total{credential=\"sbc.1\",result=\"failure\"} 7");
	assert_line(text, "# TYPE tokenbroker_late_renewals_total counter");
	assert_line(text, "tokenbroker_late_renewals_total{credential=\"xibo\"} 2");
	assert_line(text, "tokenbroker_late_renewals_total{credential=\"sbc.1\"} 0");
	assert_line(text, "tokenbroker_token_expiry_seconds{credential=\"xibo\"} 42");
	/* No token to hand out: no time to expiry, whatever the snapshot held. */
	assert_line(text, "tokenbroker_token_expiry_seconds{credential=\"sbc.1\"} 0");
	assert_line(text, "tokenbroker_credential_up{credential=\"xibo\"} 1");
	assert_line(text, "tokenbroker_credential_up{credential=\"sbc.1\"} 0");
	assert_line(text, "tokenbroker_requests_total{code=\"200\"} 2");
	assert_line(text, "tokenbroker_requests_total{code=\"503\"} 1");
	assert_null(strstr(text, "code=\"99\""));
	assert_null(strstr(text, "code=\"600\""));
	assert_line(text, "tokenbroker_waiting_clients 5");
	assert_line(text, "tokenbroker_clients 9");
	assert_line(text, "tokenbroker_upstream_duration_seconds_bucket{le=\"0.05\"} 1");
	assert_line(text, "tokenbroker_upstream_duration_seconds_bucket{le=\"1\"} 2");
	assert_line(text, "tokenbroker_upstream_duration_seconds_bucket{le=\"30\"} 2");
	assert_line(text, "tokenbroker_upstream_duration_seconds_bucket{le=\"+Inf\"} 3");
	assert_line(text, "tokenbroker_upstream_duration_seconds_sum 60.740");
	assert_line(text, "tokenbroker_upstream_duration_seconds_count 3");
	assert_well_formed(text);
	free(text);
	metrics_free(m);
}

/*
 * A variant's series carry its key as the label variant, escaped as the
 * text format wants; the main token's keep the labels they always had.
 */
static void
test_render_variants(void **state)
{
	struct metrics *m = metrics_new();
	const struct metrics_cred creds[] = {
		{ .name = "api", .renewals = 2, .up = true, .expiry_s = 60 },
		{ .name = "api", .variant = "scope=read+write", .renewals = 1, .failures = 4,
		  .up = true, .expiry_s = 30 },
		{ .name = "api", .variant = "audience=a\"b\\c\nd", .up = false },
	};
	struct metrics_snapshot snap = { .creds = creds, .ncreds = 3 };
	char *text = render(m, &snap);

	assert_line(text, "tokenbroker_renewals_total{credential=\"api\",result=\"success\"} 2");
	assert_line(text, "tokenbroker_token_expiry_seconds{credential=\"api\"} 60");
	assert_line(text, "tokenbroker_renewals_total{credential=\"api\",variant=\"scope=read+write\","
			  "result=\"success\"} 1");
	assert_line(text, "tokenbroker_renewals_total{credential=\"api\",variant=\"scope=read+write\","
			  "result=\"failure\"} 4");
	assert_line(text,
		    "tokenbroker_token_expiry_seconds{credential=\"api\",variant=\"scope=read+write\"} 30");
	assert_line(text,
		    "tokenbroker_credential_up{credential=\"api\",variant=\"scope=read+write\"} 1");
	assert_line(text, "tokenbroker_credential_up{credential=\"api\",variant=\"audience=a\\\"b"
			  "\\\\c\\nd\"} 0");
	assert_int_equal(count_lines(text, "tokenbroker_credential_up{credential=\"api\"} 1"), 1);
	assert_well_formed(text);
	free(text);
	metrics_free(m);
}

static void
test_render_empty(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_snapshot snap = { 0 };
	char *text = render(m, &snap);

	assert_line(text, "tokenbroker_waiting_clients 0");
	assert_line(text, "tokenbroker_upstream_duration_seconds_count 0");
	assert_null(strstr(text, "credential=\""));
	assert_null(strstr(text, "tokenbroker_requests_total{"));
	/* No proxy: each of their families is still declared, with no series. */
	assert_well_formed(text);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_requests_total counter"), 1);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_retries_total counter"), 1);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_upstream_seconds histogram"), 1);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_active gauge"), 1);
	assert_non_null(strstr(text, "# HELP tokenbroker_proxy_active "));
	assert_null(strstr(text, "proxy=\""));
	free(text);
	metrics_free(m);
}

static void
test_proxy_counting(void **state)
{
	struct metrics_proxy_stats st = { 0 };

	metrics_proxy_count(&st, 200);
	metrics_proxy_count(&st, 200);
	metrics_proxy_count(&st, 502);
	metrics_proxy_count(&st, 99);  /* not a status: ignored */
	metrics_proxy_count(&st, 600); /* neither */
	metrics_proxy_count(NULL, 200);
	assert_int_equal(st.requests[200], 2);
	assert_int_equal(st.requests[502], 1);

	metrics_proxy_upstream(&st, 500);
	metrics_proxy_upstream(&st, 1000); /* a bound is inside its bucket */
	metrics_proxy_upstream(&st, 30000);
	metrics_proxy_upstream(&st, 20000000); /* past the last bound: +Inf only */
	metrics_proxy_upstream(NULL, 1);
	assert_int_equal(st.upstream_count, 4);
	assert_int_equal(st.upstream_sum_us, 20031500);
	assert_int_equal(st.upstream_buckets[0], 2);		      /* 0.001 */
	assert_int_equal(st.upstream_buckets[4], 2);		      /* 0.025 */
	assert_int_equal(st.upstream_buckets[5], 3);		      /* 0.05 */
	assert_int_equal(st.upstream_buckets[METRICS_PROXY_NBUCKETS - 1], 3); /* 10 */
}

static void
test_render_proxies(void **state)
{
	static const char *const bounds[METRICS_PROXY_NBUCKETS] = {
		"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
		"0.1",	 "0.25",   "0.5",   "1",    "2.5",   "10",
	};
	struct metrics *m = metrics_new();
	struct metrics_proxy_stats billing = { 0 }, idle = { 0 };
	const struct metrics_proxy proxies[] = {
		{ .name = "billing", .stats = &billing, .active = 3 },
		{ .name = "idle.1", .stats = &idle, .active = 0 },
	};
	struct metrics_snapshot snap = { .proxies = proxies, .nproxies = 2 };
	double last = 0;
	char series[128], *text;

	metrics_proxy_count(&billing, 200);
	metrics_proxy_count(&billing, 200);
	metrics_proxy_count(&billing, 401);
	billing.retries = 1;
	metrics_proxy_upstream(&billing, 800);
	metrics_proxy_upstream(&billing, 40000);
	metrics_proxy_upstream(&billing, 20000000);
	text = render(m, &snap);
	assert_well_formed(text);

	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_requests_total counter"), 1);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_retries_total counter"), 1);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_upstream_seconds histogram"), 1);
	assert_int_equal(count_lines(text, "# TYPE tokenbroker_proxy_active gauge"), 1);
	assert_line(text, "tokenbroker_proxy_requests_total{proxy=\"billing\",code=\"200\"} 2");
	assert_line(text, "tokenbroker_proxy_requests_total{proxy=\"billing\",code=\"401\"} 1");
	/* Codes not seen, and a proxy that answered nothing, have no series. */
	assert_null(strstr(text, "code=\"502\""));
	assert_null(strstr(text, "tokenbroker_proxy_requests_total{proxy=\"idle.1\""));
	assert_line(text, "tokenbroker_proxy_retries_total{proxy=\"billing\"} 1");
	assert_line(text, "tokenbroker_proxy_retries_total{proxy=\"idle.1\"} 0");
	assert_line(text, "tokenbroker_proxy_active{proxy=\"billing\"} 3");
	assert_line(text, "tokenbroker_proxy_active{proxy=\"idle.1\"} 0");

	/* The buckets, in order, cumulative, ending in +Inf = count. */
	for (size_t i = 0; i < METRICS_PROXY_NBUCKETS; i++) {
		double v;

		snprintf(series, sizeof(series),
			 "tokenbroker_proxy_upstream_seconds_bucket{proxy=\"billing\",le=\"%s\"}",
			 bounds[i]);
		v = sample(text, series);
		assert_true(v >= last);
		last = v;
	}
	assert_true(sample(text, "tokenbroker_proxy_upstream_seconds_bucket{proxy=\"billing\","
				 "le=\"0.001\"}") == 1);
	assert_true(sample(text, "tokenbroker_proxy_upstream_seconds_bucket{proxy=\"billing\","
				 "le=\"0.05\"}") == 2);
	assert_true(last == 2);
	assert_line(text, "tokenbroker_proxy_upstream_seconds_bucket{proxy=\"billing\",le=\"+Inf\"} 3");
	assert_line(text, "tokenbroker_proxy_upstream_seconds_count{proxy=\"billing\"} 3");
	assert_line(text, "tokenbroker_proxy_upstream_seconds_sum{proxy=\"billing\"} 20.040800");
	assert_line(text, "tokenbroker_proxy_upstream_seconds_bucket{proxy=\"idle.1\",le=\"+Inf\"} 0");
	assert_line(text, "tokenbroker_proxy_upstream_seconds_sum{proxy=\"idle.1\"} 0.000000");
	free(text);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_snapshot),
		cmocka_unit_test(test_render_variants),
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_proxy_counting),
		cmocka_unit_test(test_render_proxies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
