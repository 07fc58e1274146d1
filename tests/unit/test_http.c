/*
 * http.c against a real HTTP server: an evhttp listener on 127.0.0.1 on the
 * same event_base, so one loop drives both ends.  The server's behaviour is
 * chosen by the request path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "http.h"
#include "request.h"
#include "response.h"
#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"

#define JSON_BODY "{\"access_token\":\"t0k3n\",\"token_type\":\"Bearer\",\"expires_in\":3600}"
#define FORM_BODY "grant_type=client_credentials&scope=read+write"
#define AUTH_VALUE "Basic Y2xpZW50OnMzY3JldA=="
#define AUTH_HEADER "Authorization: " AUTH_VALUE
#define SLOW_MS 50

/* What the server saw and how busy it was. */
struct server {
	struct event_base *base;
	struct evhttp *evh;
	unsigned short port;
	unsigned requests;
	unsigned inflight;
	unsigned max_inflight;
	char method[8];
	char *path;
	char *body;
	size_t body_len;
	char *content_type;
	unsigned content_types; /* how many Content-Type headers */
	char *authorization;
	char *extra;
	char *user_agent;
	char *expect;
};

/* What one transfer's callback got. */
struct outcome {
	unsigned calls;
	long status;
	char *content_type;
	char *retry_after;
	char *error;
	char *body;
	size_t body_len;
	bool too_large;
	char *url;
	int64_t done_ms;
	unsigned seq;
};

struct fixture {
	struct server srv;
	struct http *http;
	unsigned seq;
};

/* http_start with the limits and TLS settings conf takes from cc. */
static struct http_transfer *
http_start_cc(struct http *h, const struct cred_conf *cc, struct token_request *req,
	      http_done_cb cb, void *arg, char **cause)
{
	struct http_opts o;

	conf_http_opts(cc, &o);
	return http_start(h, &o, req, cb, arg, cause);
}

static struct fixture *cur; /* for the callbacks' ordering counter */

static char *
dup_or_null(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

static void
slow_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evhttp_request *req = arg;

	cur->srv.inflight--;
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *inbuf = evhttp_request_get_input_buffer(req);
	struct evbuffer *buf;
	struct evkeyval *kv;
	const char *path = evhttp_request_get_uri(req);

	s->requests++;
	snprintf(s->method, sizeof(s->method), "%s",
		 evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "other");
	free(s->path);
	s->path = xstrdup(path);
	free(s->body);
	s->body_len = evbuffer_get_length(inbuf);
	s->body = xmalloc(s->body_len + 1);
	evbuffer_copyout(inbuf, s->body, s->body_len);
	s->body[s->body_len] = '\0';
	free(s->content_type);
	s->content_type = dup_or_null(evhttp_find_header(in, "Content-Type"));
	s->content_types = 0;
	TAILQ_FOREACH(kv, in, next)
		if (strcasecmp(kv->key, "Content-Type") == 0)
			s->content_types++;
	free(s->authorization);
	s->authorization = dup_or_null(evhttp_find_header(in, "Authorization"));
	free(s->extra);
	s->extra = dup_or_null(evhttp_find_header(in, "X-Extra"));
	free(s->user_agent);
	s->user_agent = dup_or_null(evhttp_find_header(in, "User-Agent"));
	free(s->expect);
	s->expect = dup_or_null(evhttp_find_header(in, "Expect"));

	if (strcmp(path, "/hang") == 0)
		return; /* never answers */
	if (strcmp(path, "/slow") == 0) {
		struct timeval tv = { 0, SLOW_MS * 1000 };

		if (++s->inflight > s->max_inflight)
			s->max_inflight = s->inflight;
		event_base_once(s->base, -1, EV_TIMEOUT, slow_reply_cb, req, &tv);
		return;
	}

	buf = evbuffer_new();
	if (strcmp(path, "/json") == 0) {
		evhttp_add_header(out, "Content-Type", "application/json");
		evbuffer_add(buf, JSON_BODY, strlen(JSON_BODY));
		evhttp_send_reply(req, 200, "OK", buf);
	} else if (strcmp(path, "/retry") == 0) {
		evhttp_add_header(out, "Retry-After", "  120  ");
		evhttp_send_reply(req, 503, "Service Unavailable", buf);
	} else if (strcmp(path, "/redirect") == 0) {
		evhttp_add_header(out, "Location", "/json");
		evhttp_send_reply(req, 302, "Found", buf);
	} else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigchunked") == 0) {
		size_t n = TOKEN_BODY_MAX + 4096;
		char *big = xmalloc(n);

		memset(big, 'x', n);
		evbuffer_add(buf, big, n);
		free(big);
		if (strcmp(path, "/big") == 0) {
			evhttp_send_reply(req, 200, "OK", buf); /* with Content-Length */
		} else {
			/* chunked and never ended: only the cap stops it */
			evhttp_send_reply_start(req, 200, "OK");
			evhttp_send_reply_chunk(req, buf);
		}
	} else {
		evhttp_send_reply(req, 404, "Not Found", buf);
	}
	evbuffer_free(buf);
}

static void
done_cb(struct http_result *res, void *arg)
{
	struct outcome *o = arg;

	o->calls++;
	o->status = res->status;
	o->content_type = dup_or_null(res->content_type);
	o->retry_after = dup_or_null(res->retry_after);
	o->error = dup_or_null(res->error);
	assert_non_null(res->body);
	o->body_len = res->body->len;
	o->body = xmalloc(res->body->len + 1);
	memcpy(o->body, res->body->data, res->body->len + 1);
	o->too_large = res->body_too_large;
	o->url = xstrdup(res->url);
	o->done_ms = timeutil_mono_ms();
	o->seq = ++cur->seq;
}

static void
outcome_clear(struct outcome *o)
{
	free(o->content_type);
	free(o->retry_after);
	free(o->error);
	free(o->body);
	free(o->url);
	memset(o, 0, sizeof(*o));
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);

	f->srv.base = event_base_new();
	assert_non_null(f->srv.base);
	f->srv.evh = evhttp_new(f->srv.base);
	assert_non_null(f->srv.evh);
	evhttp_set_gencb(f->srv.evh, server_cb, &f->srv);
	bound = evhttp_bind_socket_with_handle(f->srv.evh, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin,
				     &slen),
			 0);
	f->srv.port = ntohs(sin.sin_port);
	f->http = http_new(f->srv.base, 4);
	assert_non_null(f->http);
	cur = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_free(f->http);
	evhttp_free(f->srv.evh);
	event_base_free(f->srv.base);
	free(f->srv.path);
	free(f->srv.body);
	free(f->srv.content_type);
	free(f->srv.authorization);
	free(f->srv.extra);
	free(f->srv.user_agent);
	free(f->srv.expect);
	free(f);
	cur = NULL;
	return 0;
}

static void
reset_http(struct fixture *f, unsigned max_concurrency)
{
	http_free(f->http);
	f->http = http_new(f->srv.base, max_concurrency);
	assert_non_null(f->http);
}

static struct cred_conf
test_cc(void)
{
	struct cred_conf cc;

	memset(&cc, 0, sizeof(cc));
	cc.name = (char *)"test";
	cc.timeout_ms = 5000;
	cc.connect_timeout_ms = 2000;
	cc.tls_verify = true;
	return cc;
}

/* A request as request.c would hand it over; headers is NULL-terminated. */
static struct token_request *
make_request(const char *url, const char *body, const char *auth, const char *const *headers)
{
	struct token_request *req = xcalloc(1, sizeof(*req));

	req->url = xstrdup(url);
	req->body = secret_from_str(body);
	if (auth != NULL)
		req->authorization = secret_from_str(auth);
	req->headers = xcalloc(8, sizeof(char *));
	for (; headers != NULL && headers[req->nheaders] != NULL; req->nheaders++) {
		assert_true(req->nheaders < 8);
		req->headers[req->nheaders] = xstrdup(headers[req->nheaders]);
	}
	req->auth_desc = "test";
	return req;
}

static struct http_transfer *
start(struct fixture *f, const struct cred_conf *cc, const char *path, const char *body,
      const char *auth, const char *const *headers, struct outcome *o)
{
	struct http_transfer *t;
	char *cause = NULL;
	char *url = xasprintf("http://127.0.0.1:%u%s", f->srv.port, path);

	t = http_start_cc(f->http, cc, make_request(url, body, auth, headers), done_cb, o, &cause);
	free(url);
	assert_null(cause);
	assert_non_null(t);
	assert_int_equal(o->calls, 0); /* never from inside http_start */
	return t;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *counter reaches want; fails after 10 seconds. */
static void
run_until(struct fixture *f, const unsigned *counter, unsigned want)
{
	int64_t deadline = timeutil_mono_ms() + 10000;
	struct timeval tick = { 0, 100 * 1000 };
	struct event *wake = evtimer_new(f->srv.base, wake_cb, NULL);

	while (*counter < want && timeutil_mono_ms() < deadline) {
		evtimer_add(wake, &tick); /* so EVLOOP_ONCE returns to check */
		event_base_loop(f->srv.base, EVLOOP_ONCE);
	}
	event_free(wake);
	if (*counter < want)
		fail_msg("timed out waiting for the event loop");
}

static void
run_for(struct fixture *f, int ms)
{
	struct timeval tv = { 0, ms * 1000 };

	event_base_loopexit(f->srv.base, &tv);
	event_base_dispatch(f->srv.base);
}

static void
test_post_json(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	const char *headers[] = { "X-Extra: yes", NULL };
	struct outcome o = { 0 };
	char *url = xasprintf("http://127.0.0.1:%u/json", f->srv.port);

	/* the environment's proxy must be ignored: this one refuses */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	start(f, &cc, "/json", FORM_BODY, AUTH_HEADER, headers, &o);
	assert_int_equal(http_active(f->http), 1);
	run_until(f, &o.calls, 1);
	unsetenv("http_proxy");

	assert_int_equal(o.calls, 1);
	assert_null(o.error);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.content_type, "application/json");
	assert_int_equal(o.body_len, strlen(JSON_BODY));
	assert_true(memcmp(o.body, JSON_BODY, o.body_len) == 0);
	assert_false(o.too_large);
	assert_null(o.retry_after);
	assert_string_equal(o.url, url);
	assert_int_equal(http_active(f->http), 0);

	assert_int_equal(f->srv.requests, 1);
	assert_string_equal(f->srv.method, "POST");
	assert_int_equal(f->srv.body_len, strlen(FORM_BODY));
	assert_true(memcmp(f->srv.body, FORM_BODY, f->srv.body_len) == 0);
	assert_string_equal(f->srv.content_type, "application/x-www-form-urlencoded");
	assert_int_equal(f->srv.content_types, 1);
	/* compared without printing: it stands for a credential */
	assert_non_null(f->srv.authorization);
	assert_true(strcmp(f->srv.authorization, AUTH_VALUE) == 0);
	assert_string_equal(f->srv.extra, "yes");
	assert_string_equal(f->srv.user_agent, "tokenbroker/0.1");
	outcome_clear(&o);
	free(url);
}

/* A Content-Type from the request replaces the form default. */
static void
test_request_content_type(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	const char *headers[] = { "content-type: application/json", NULL };
	struct outcome o = { 0 };

	start(f, &cc, "/json", "{}", NULL, headers, &o);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.status, 200);
	assert_string_equal(f->srv.content_type, "application/json");
	assert_int_equal(f->srv.content_types, 1);
	assert_null(f->srv.authorization);
	outcome_clear(&o);
}

/* A large body goes out at once, without waiting for 100-continue. */
static void
test_large_post_no_expect(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };
	size_t n = 1024 * 1024 + 10;
	char *body = xmalloc(n + 1);

	memset(body, 'a', n);
	body[n] = '\0';
	start(f, &cc, "/json", body, NULL, NULL, &o);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.status, 200);
	assert_null(f->srv.expect);
	assert_int_equal(f->srv.body_len, n);
	assert_true(memcmp(f->srv.body, body, n) == 0);
	free(body);
	outcome_clear(&o);
}

static void
test_retry_after(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };

	start(f, &cc, "/retry", FORM_BODY, NULL, NULL, &o);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.status, 503);
	assert_null(o.error);
	assert_string_equal(o.retry_after, "120");
	outcome_clear(&o);
}

static void
test_redirect_not_followed(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };

	start(f, &cc, "/redirect", FORM_BODY, AUTH_HEADER, NULL, &o);
	run_until(f, &o.calls, 1);
	run_for(f, 50); /* room for a second request, which must not come */
	assert_int_equal(o.status, 302);
	assert_null(o.error);
	assert_int_equal(f->srv.requests, 1);
	assert_string_equal(f->srv.path, "/redirect");
	outcome_clear(&o);
}

static void
check_too_large(struct fixture *f, const char *path)
{
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };
	int64_t t0 = timeutil_mono_ms();

	start(f, &cc, path, FORM_BODY, NULL, NULL, &o);
	run_until(f, &o.calls, 1);
	assert_true(o.done_ms - t0 < cc.timeout_ms / 2); /* cut, not timed out */
	assert_int_equal(o.status, 200);
	assert_true(o.too_large);
	assert_non_null(o.error);
	assert_non_null(strstr(o.error, "larger than"));
	assert_true(o.body_len <= TOKEN_BODY_MAX);
	assert_int_equal(http_active(f->http), 0);
	outcome_clear(&o);
}

static void
test_body_too_large(void **state)
{
	check_too_large(*state, "/big");
}

static void
test_body_too_large_chunked(void **state)
{
	check_too_large(*state, "/bigchunked");
}

static void
test_timeout(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome warm = { 0 }, o = { 0 };
	int64_t t0;

	/* on a reused connection too, which curl reports as not connecting */
	start(f, &cc, "/json", FORM_BODY, NULL, NULL, &warm);
	run_until(f, &warm.calls, 1);
	assert_int_equal(warm.status, 200);
	outcome_clear(&warm);

	cc.timeout_ms = 300;
	t0 = timeutil_mono_ms();
	start(f, &cc, "/hang", FORM_BODY, NULL, NULL, &o);
	run_until(f, &o.calls, 1);
	assert_int_equal(f->srv.requests, 2);
	assert_int_equal(o.status, 0);
	assert_string_equal(o.error, "no answer within 300ms");
	assert_true(o.done_ms - t0 >= 290);
	assert_true(o.done_ms - t0 < 3000);
	outcome_clear(&o);
}

/* A listener whose accept queue is full drops SYNs: connecting hangs. */
static void
test_connect_timeout(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char *url, *cause = NULL;
	int lfd, cfd;
	int64_t t0;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	assert_int_equal(listen(lfd, 0), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);

	cc.connect_timeout_ms = 200;
	url = xasprintf("http://127.0.0.1:%u/token", ntohs(sin.sin_port));
	t0 = timeutil_mono_ms();
	assert_non_null(http_start_cc(f->http, &cc, make_request(url, FORM_BODY, NULL, NULL),
				   done_cb, &o, &cause));
	run_until(f, &o.calls, 1);
	close(cfd);
	close(lfd);

	assert_int_equal(o.status, 0);
	assert_string_equal(o.error, "no connection within 200ms");
	assert_true(o.done_ms - t0 >= 190);
	assert_true(o.done_ms - t0 < cc.timeout_ms);
	free(url);
	outcome_clear(&o);
}

static void
test_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct http_transfer *t;
	char *url, *cause = NULL, *want;
	int fd;

	/* bound but not listening: connecting is refused */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	url = xasprintf("http://127.0.0.1:%u/token", ntohs(sin.sin_port));
	t = http_start_cc(f->http, &cc, make_request(url, FORM_BODY, NULL, NULL), done_cb, &o,
		       &cause);
	assert_non_null(t);
	assert_int_equal(o.calls, 0);
	run_until(f, &o.calls, 1);
	close(fd);

	assert_int_equal(o.status, 0);
	assert_non_null(o.error);
	want = xasprintf("Failed to connect to 127.0.0.1 port %u", ntohs(sin.sin_port));
	assert_non_null(strstr(o.error, want));
	assert_non_null(strstr(o.error, "Couldn't connect to server"));
	/* curl's words are the same for an unreachable host: the cause is named */
	assert_non_null(strstr(o.error, "(Connection refused)"));
	assert_int_equal(o.body_len, 0);
	free(want);
	free(url);
	outcome_clear(&o);
}

/* Only http and https: a token_url of file:// reads nothing. */
static void
test_other_protocol_refused(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome o = { 0 };
	char *cause = NULL;

	assert_non_null(http_start_cc(f->http, &cc,
				   make_request("file:///etc/hostname", "", NULL, NULL), done_cb,
				   &o, &cause));
	assert_int_equal(o.calls, 0);
	run_until(f, &o.calls, 1);
	assert_int_equal(o.status, 0);
	assert_non_null(o.error);
	assert_int_equal(o.body_len, 0);
	outcome_clear(&o);
}

static void
test_bad_header_refused(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	const char *headers[] = { "X-Extra: a\r\nX-Injected: b", NULL };
	struct outcome o = { 0 };
	char *cause = NULL;

	assert_null(http_start_cc(f->http, &cc,
			       make_request("http://127.0.0.1:1/", "", NULL, headers), done_cb,
			       &o, &cause));
	assert_non_null(cause);
	assert_int_equal(http_active(f->http), 0);
	free(cause);
	run_for(f, 20);
	assert_int_equal(o.calls, 0);
}

static void
check_concurrency(struct fixture *f, unsigned max, unsigned want_inflight)
{
	struct cred_conf cc = test_cc();
	struct outcome a = { 0 }, b = { 0 };

	reset_http(f, max);
	start(f, &cc, "/slow", FORM_BODY, NULL, NULL, &a);
	start(f, &cc, "/slow", FORM_BODY, NULL, NULL, &b);
	assert_int_equal(http_active(f->http), 2);
	run_until(f, &b.calls, 1);
	run_until(f, &a.calls, 1);
	assert_int_equal(a.status, 200);
	assert_int_equal(b.status, 200);
	assert_int_equal(f->srv.requests, 2);
	assert_int_equal(f->srv.max_inflight, want_inflight);
	assert_int_equal(a.seq, 1); /* first in, first done */
	assert_int_equal(b.seq, 2);
	if (want_inflight == 1)
		assert_true(b.done_ms - a.done_ms >= SLOW_MS - 5);
	assert_int_equal(http_active(f->http), 0);
	outcome_clear(&a);
	outcome_clear(&b);
}

static void
test_concurrency_one(void **state)
{
	check_concurrency(*state, 1, 1);
}

/* The same with room for both, so the server's count is known to work. */
static void
test_concurrency_two(void **state)
{
	check_concurrency(*state, 2, 2);
}

static void
test_cancel(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome a = { 0 }, b = { 0 }, c = { 0 };
	struct http_transfer *ta, *tc;

	reset_http(f, 1);
	ta = start(f, &cc, "/hang", FORM_BODY, AUTH_HEADER, NULL, &a);
	start(f, &cc, "/json", FORM_BODY, AUTH_HEADER, NULL, &b);
	tc = start(f, &cc, "/json", FORM_BODY, AUTH_HEADER, NULL, &c);
	assert_int_equal(http_active(f->http), 3);

	http_cancel(tc); /* waiting */
	assert_int_equal(http_active(f->http), 2);
	run_until(f, &f->srv.requests, 1);
	http_cancel(ta); /* running: its slot goes to b */
	assert_int_equal(http_active(f->http), 1);
	run_until(f, &b.calls, 1);
	run_for(f, 50);

	assert_int_equal(a.calls, 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(b.status, 200);
	assert_int_equal(f->srv.requests, 2);
	assert_int_equal(http_active(f->http), 0);
	outcome_clear(&b);
}

struct chain {
	struct fixture *f;
	struct outcome first;
	struct outcome second;
};

/* A done callback that starts the next request, as a retry would. */
static void
chain_cb(struct http_result *res, void *arg)
{
	struct chain *c = arg;
	struct cred_conf cc = test_cc();

	done_cb(res, &c->first);
	start(c->f, &cc, "/json", FORM_BODY, NULL, NULL, &c->second);
}

static void
test_start_from_callback(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct chain c = { .f = f };
	char *url = xasprintf("http://127.0.0.1:%u/retry", f->srv.port);
	char *cause = NULL;

	reset_http(f, 1);
	assert_non_null(http_start_cc(f->http, &cc, make_request(url, FORM_BODY, NULL, NULL),
				   chain_cb, &c, &cause));
	run_until(f, &c.second.calls, 1);
	assert_int_equal(c.first.status, 503);
	assert_int_equal(c.second.status, 200);
	assert_int_equal(f->srv.requests, 2);
	assert_int_equal(http_active(f->http), 0);
	free(url);
	outcome_clear(&c.first);
	outcome_clear(&c.second);
}

static void
test_free_pending(void **state)
{
	struct fixture *f = *state;
	struct cred_conf cc = test_cc();
	struct outcome a = { 0 }, b = { 0 };

	reset_http(f, 1);
	start(f, &cc, "/hang", FORM_BODY, AUTH_HEADER, NULL, &a);
	start(f, &cc, "/json", FORM_BODY, AUTH_HEADER, NULL, &b);
	run_until(f, &f->srv.requests, 1);
	f->http = http_free(f->http);
	assert_null(f->http);
	run_for(f, 50);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(f->srv.requests, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_post_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_content_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_post_no_expect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_too_large_chunked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_protocol_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency_two, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
