/*
 * The Prometheus exposition: what is counted and the snapshot handed in
 * come out as the documented series, and nothing else is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static void
test_render_snapshot(void **state)
{
	struct metrics *m = metrics_new();
	const struct metrics_cred creds[] = {
		{ .name = "xibo", .renewals = 3, .failures = 1, .up = true, .expiry_s = 42 },
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
	free(text);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_snapshot),
		cmocka_unit_test(test_render_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
