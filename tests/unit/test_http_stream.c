/*
 * http.c's streaming transfers (the proxy's) against a real evhttp server
 * on 127.0.0.1, one loop driving both ends: what goes out (method, body,
 * the caller's headers and none of curl's own), what comes back (status,
 * headers, a body in pieces), pausing, the header timeout, failures and a
 * transfer stopped from its headers callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "http.h"
#include "timeutil.h"
#include "xmalloc.h"

#define BIG_LEN (300 * 1024)

struct fixture {
	struct event_base *base;
	struct evhttp *evh;
	unsigned short port;
	struct http *http;
	/* what the server saw */
	unsigned requests;
	char *method;
	size_t body_len;
	char *client_header;
	bool saw_accept, saw_content_type, saw_expect, saw_empty;
	/* what the transfer got */
	long status;
	char *x_answer;
	unsigned headers_calls, data_calls, end_calls;
	size_t got;
	bool pattern_ok;
	enum http_stream_end how;
	char *error;
	int pause_first; /* the data callback pauses once */
	struct event *resume;
	struct http_transfer *t;
	bool stop_at_headers;
};

static unsigned char
pattern(size_t i)
{
	return (unsigned char)((i * 7 + 3) & 0xff);
}

static void
delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	evhttp_send_reply(arg, 200, "OK", NULL);
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct fixture *fx = arg;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *buf = evbuffer_new();
	const char *v;

	fx->requests++;
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: v = "GET"; break;
	case EVHTTP_REQ_PUT: v = "PUT"; break;
	case EVHTTP_REQ_HEAD: v = "HEAD"; break;
	default: v = "other"; break;
	}
	free(fx->method);
	fx->method = xstrdup(v);
	fx->body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	free(fx->client_header);
	v = evhttp_find_header(in, "X-Client");
	fx->client_header = v != NULL ? xstrdup(v) : NULL;
	fx->saw_accept = evhttp_find_header(in, "Accept") != NULL;
	fx->saw_content_type = evhttp_find_header(in, "Content-Type") != NULL;
	fx->saw_expect = evhttp_find_header(in, "Expect") != NULL;
	v = evhttp_find_header(in, "X-Empty");
	fx->saw_empty = v != NULL && v[0] == '\0';
	if (strcmp(uri, "/delay") == 0) {
		struct timeval tv = { 0, 300 * 1000 };

		evbuffer_free(buf);
		event_base_once(fx->base, -1, EV_TIMEOUT, delayed_cb, req, &tv);
		return;
	}
	evhttp_add_header(out, "X-Answer", "42");
	if (strcmp(uri, "/big") == 0) {
		unsigned char *b = xmalloc(BIG_LEN);

		for (size_t i = 0; i < BIG_LEN; i++)
			b[i] = pattern(i);
		evbuffer_add(buf, b, BIG_LEN);
		free(b);
	} else if (strcmp(uri, "/head") == 0) {
		evhttp_add_header(out, "Content-Length", "5");
	} else {
		evbuffer_add_printf(buf, "hello");
	}
	evhttp_send_reply(req, strcmp(uri, "/created") == 0 ? 201 : 200, "OK", buf);
	evbuffer_free(buf);
}

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	fx->base = event_base_new();
	fx->evh = evhttp_new(fx->base);
	assert_non_null(fx->evh);
	evhttp_set_allowed_methods(fx->evh, EVHTTP_REQ_GET | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(fx->evh, server_cb, fx);
	bound = evhttp_bind_socket_with_handle(fx->evh, "127.0.0.1", 0);
	assert_non_null(bound);
	getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &len);
	fx->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	fx->http = http_new(fx->base, 64);
	assert_non_null(fx->http);
	fx->pattern_ok = true;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	http_free(fx->http);
	evhttp_free(fx->evh);
	if (fx->resume != NULL)
		event_free(fx->resume);
	event_base_free(fx->base);
	free(fx->method);
	free(fx->client_header);
	free(fx->x_answer);
	free(fx->error);
	free(fx);
	return 0;
}

static int
headers_cb(void *arg, long status, const struct http_header *h, size_t n)
{
	struct fixture *fx = arg;

	fx->headers_calls++;
	fx->status = status;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, "X-Answer") == 0)
			fx->x_answer = xstrdup(h[i].value);
	if (fx->stop_at_headers) {
		event_base_loopexit(fx->base, NULL);
		return -1;
	}
	return 0;
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *fx = arg;

	http_stream_resume(fx->t);
}

static int
data_cb(void *arg, const void *p, size_t len)
{
	struct fixture *fx = arg;
	const unsigned char *b = p;

	fx->data_calls++;
	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern(fx->got + i))
			fx->pattern_ok = false;
	fx->got += len;
	if (fx->pause_first > 0) {
		struct timeval tv = { 0, 20 * 1000 };

		/* taken; no more until resumed */
		fx->pause_first--;
		if (fx->resume == NULL)
			fx->resume = evtimer_new(fx->base, resume_cb, fx);
		evtimer_add(fx->resume, &tv);
		return 1;
	}
	return 0;
}

static void
end_cb(void *arg, enum http_stream_end how, const char *error)
{
	struct fixture *fx = arg;

	fx->end_calls++;
	fx->how = how;
	fx->error = error != NULL ? xstrdup(error) : NULL;
	event_base_loopexit(fx->base, NULL);
}

static const struct http_stream_cbs cbs = { headers_cb, data_cb, end_cb };

static void
run(struct fixture *fx, const char *method, const char *path, const char *const *headers,
    size_t nheaders, const char *body, int64_t timeout_ms)
{
	struct http_opts o = { .timeout_ms = timeout_ms, .connect_timeout_ms = 1000,
			       .tls_verify = true };
	char *url = xasprintf("http://127.0.0.1:%u%s", fx->port, path);
	struct http_stream_req r = {
		.method = method,
		.url = url,
		.headers = headers,
		.nheaders = nheaders,
		.body = body,
		.body_len = body != NULL ? strlen(body) : 0,
		.has_body = body != NULL,
	};
	struct timeval cap = { 5, 0 };
	char *cause = NULL;

	fx->t = http_stream_start(fx->http, &o, &r, &cbs, fx, &cause);
	free(url);
	if (fx->t == NULL)
		fail_msg("http_stream_start: %s", cause);
	event_base_loopexit(fx->base, &cap);
	event_base_dispatch(fx->base);
}

static void
test_big_body_in_pieces(void **state)
{
	struct fixture *fx = *state;

	run(fx, "GET", "/big", NULL, 0, NULL, 2000);
	assert_int_equal(fx->end_calls, 1);
	assert_int_equal(fx->how, HTTP_STREAM_DONE);
	assert_null(fx->error);
	assert_int_equal(fx->headers_calls, 1);
	assert_int_equal(fx->status, 200);
	assert_string_equal(fx->x_answer, "42");
	assert_int_equal(fx->got, BIG_LEN);
	assert_true(fx->pattern_ok);
	assert_true(fx->data_calls > 1);
}

static void
test_pause_and_resume(void **state)
{
	struct fixture *fx = *state;

	fx->pause_first = 3;
	run(fx, "GET", "/big", NULL, 0, NULL, 2000);
	assert_int_equal(fx->how, HTTP_STREAM_DONE);
	assert_int_equal(fx->got, BIG_LEN);
	assert_true(fx->pattern_ok);
}

static void
test_put_with_headers(void **state)
{
	struct fixture *fx = *state;
	const char *const headers[] = { "X-Client: yes", "X-Empty;" };

	run(fx, "PUT", "/created", headers, 2, "0123456789", 2000);
	assert_int_equal(fx->how, HTTP_STREAM_DONE);
	assert_int_equal(fx->status, 201);
	assert_string_equal(fx->method, "PUT");
	assert_int_equal(fx->body_len, 10);
	assert_string_equal(fx->client_header, "yes");
	assert_true(fx->saw_empty);
	/* nothing of curl's own: no Accept, no form Content-Type, no Expect */
	assert_false(fx->saw_accept);
	assert_false(fx->saw_content_type);
	assert_false(fx->saw_expect);
}

static void
test_head_has_no_body(void **state)
{
	struct fixture *fx = *state;

	run(fx, "HEAD", "/head", NULL, 0, NULL, 2000);
	assert_int_equal(fx->how, HTTP_STREAM_DONE);
	assert_string_equal(fx->method, "HEAD");
	assert_int_equal(fx->got, 0);
	assert_int_equal(fx->data_calls, 0);
}

static void
test_header_timeout(void **state)
{
	struct fixture *fx = *state;

	run(fx, "GET", "/delay", NULL, 0, NULL, 50);
	assert_int_equal(fx->end_calls, 1);
	assert_int_equal(fx->how, HTTP_STREAM_TIMEOUT);
	assert_non_null(strstr(fx->error, "no response headers within"));
	assert_int_equal(fx->headers_calls, 0);
}

static void
test_refused(void **state)
{
	struct fixture *fx = *state;

	/* a port nobody listens on: the server's, once freed */
	evhttp_free(fx->evh);
	fx->evh = evhttp_new(fx->base);
	run(fx, "GET", "/", NULL, 0, NULL, 2000);
	assert_int_equal(fx->end_calls, 1);
	assert_int_equal(fx->how, HTTP_STREAM_FAILED);
	assert_non_null(fx->error);
	assert_int_equal(fx->headers_calls, 0);
}

static void
test_stop_at_headers(void **state)
{
	struct fixture *fx = *state;
	struct timeval tv = { 0, 100 * 1000 };

	fx->stop_at_headers = true;
	run(fx, "GET", "/big", NULL, 0, NULL, 2000);
	assert_int_equal(fx->headers_calls, 1);
	/* the loop runs on: the stopped transfer ends without a callback */
	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);
	assert_int_equal(fx->end_calls, 0);
	assert_int_equal(fx->data_calls, 0);
	assert_int_equal(http_active(fx->http), 0);
}

static void
test_bad_header_refused(void **state)
{
	struct fixture *fx = *state;
	const char *const headers[] = { "X-Bad: a\r\nInjected: b" };
	struct http_opts o = { .timeout_ms = 1000, .connect_timeout_ms = 1000, .tls_verify = true };
	struct http_stream_req r = { .method = "GET", .url = "http://127.0.0.1:1/",
				     .headers = headers, .nheaders = 1 };
	char *cause = NULL;

	assert_null(http_stream_start(fx->http, &o, &r, &cbs, fx, &cause));
	assert_non_null(strstr(cause, "line break"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_big_body_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_and_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_with_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_has_no_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_at_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
