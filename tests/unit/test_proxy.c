/*
 * The proxy's rewriting of headers, without a connection: the client's
 * headers on their way upstream (proxy_upstream_headers) and the
 * upstream's on their way back (proxy_response_headers).  Hop-by-hop
 * headers stay behind, also the ones that a second Connection header
 * names: the values of a header given twice are one list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "http.h"
#include "proxy.h"

static void
test_upstream_headers(void **state)
{
	static const char *const in[][2] = {
		{ "Connection", "X-Foo" },
		{ "X-Foo", "1" },
		{ "connection", "X-Bar, close" },
		{ "x-bar", "2" },
		{ "X-Kept", "yes" },
		{ "Host", "localhost:8081" },
		{ "Authorization", "Bearer the-clients-own" },
		{ "Proxy-Authorization", "Basic dXNlcjpwYXNz" },
		{ "Keep-Alive", "timeout=5" },
		{ "TE", "trailers" },
		{ "Content-Length", "3" },
		{ "Expect", "100-continue" },
		{ "X-Empty", "" },
	};
	struct proxy_conf pc = { .header = "Authorization", .inject = PROXY_INJECT_REPLACE };
	struct evkeyvalq hdrs;
	char **lines;
	size_t n = 0;

	TAILQ_INIT(&hdrs);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_int_equal(evhttp_add_header(&hdrs, in[i][0], in[i][1]), 0);
	lines = proxy_upstream_headers(&pc, &hdrs, &n);
	assert_int_equal(n, 2);
	assert_string_equal(lines[0], "X-Kept: yes");
	assert_string_equal(lines[1], "X-Empty;");
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);

	/* inject = if-absent: the client's own goes through, the proxy then adds none */
	pc.inject = PROXY_INJECT_IF_ABSENT;
	lines = proxy_upstream_headers(&pc, &hdrs, &n);
	assert_int_equal(n, 3);
	assert_string_equal(lines[1], "Authorization: Bearer the-clients-own");
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	evhttp_clear_headers(&hdrs);
}

static void
test_response_headers(void **state)
{
	static const struct http_header h[] = {
		{ "Connection", "X-Foo" },
		{ "X-Foo", "1" },
		{ "Content-Type", "text/plain" },
		{ "Connection", "x-bar,  keep-alive" },
		{ "X-Bar", "2" },
		{ "Transfer-Encoding", "chunked" },
		{ "Keep-Alive", "timeout=5" },
		{ "Proxy-Authenticate", "Basic" },
		{ "X-Kept", "yes" },
	};
	struct evkeyvalq out;
	struct evkeyval *kv;

	TAILQ_INIT(&out);
	proxy_response_headers(h, sizeof(h) / sizeof(h[0]), &out);
	kv = TAILQ_FIRST(&out);
	assert_non_null(kv);
	assert_string_equal(kv->key, "Content-Type");
	kv = TAILQ_NEXT(kv, next);
	assert_non_null(kv);
	assert_string_equal(kv->key, "X-Kept");
	assert_null(TAILQ_NEXT(kv, next));
	evhttp_clear_headers(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_headers),
		cmocka_unit_test(test_response_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
