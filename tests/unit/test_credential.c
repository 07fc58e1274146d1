/*
 * One credential against a real token endpoint (an evhttp listener on
 * 127.0.0.1 on the same event_base): renewals coalesce by token.  A renew
 * for the token served now fetches a new one however fresh it is; a renew
 * for a token already replaced is answered at once with the newer one; a
 * renew while an attempt is in flight joins it; an upstream Retry-After
 * holds renews back.  Token variants: made beside the main token, the
 * least recently asked one dropped for room (never one waited for), an
 * idle one dropped (not while waited for).  A renewal that starts after
 * its token expired is counted late.  The clocks the daemon reads
 * are wrapped (see the Makefile), so a test can step the wall clock as a
 * suspend or an NTP correction would, while libevent's timers know
 * nothing of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "conf.h"
#include "credential.h"
#include "http.h"
#include "metrics.h"
#include "renew.h"
#include "timeutil.h"
#include "variant.h"
#include "xmalloc.h"

/* How far the wall clock the daemon reads is ahead of the real one. */
static int64_t wall_shift_ms;

int64_t __real_timeutil_mono_ms(void);
int64_t __real_timeutil_wall_ms(void);
int64_t __wrap_timeutil_mono_ms(void);
int64_t __wrap_timeutil_wall_ms(void);

int64_t
__wrap_timeutil_mono_ms(void)
{
	return __real_timeutil_mono_ms();
}

int64_t
__wrap_timeutil_wall_ms(void)
{
	return __real_timeutil_wall_ms() + wall_shift_ms;
}

struct fx {
	struct event_base *base;
	struct evhttp *evh;
	unsigned short port;
	unsigned requests;
	int delay_ms;	  /* hold each answer this long */
	int fail_status;  /* answer with this status (and Retry-After: 60) when set */
	struct http *http;
	struct renew *renew;
	struct metrics *metrics;
	struct credential_ctx *ctx;
	struct conf *conf;
	struct credential *c;
	unsigned answered;
	enum credential_result results[8];
};

struct pending {
	struct fx *fx;
	struct evhttp_request *req;
	struct event *timer;
};

static void
fx_reply(struct fx *fx, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();

	if (fx->fail_status != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "60");
		evbuffer_add_printf(b, "{\"error\":\"temporarily_unavailable\"}");
		evhttp_send_reply(req, fx->fail_status, "Unavailable", b);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
		evbuffer_add_printf(b,
				    "{\"access_token\":\"tok-%u\",\"token_type\":\"Bearer\","
				    "\"expires_in\":3600}",
				    fx->requests);
		evhttp_send_reply(req, 200, "OK", b);
	}
	evbuffer_free(b);
}

static void
fx_delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	fx_reply(p->fx, p->req);
	event_free(p->timer);
	free(p);
}

static void
fx_token_cb(struct evhttp_request *req, void *arg)
{
	struct fx *fx = arg;
	struct pending *p;
	struct timeval tv;

	fx->requests++;
	if (fx->delay_ms == 0) {
		fx_reply(fx, req);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->fx = fx;
	p->req = req;
	p->timer = evtimer_new(fx->base, fx_delayed_cb, p);
	tv = timeutil_ms_to_tv(fx->delay_ms);
	evtimer_add(p->timer, &tv);
}

/* Keys added to the credential's section by the setup of a test. */
static const char *conf_extra = "";

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct conf_errors errs = { 0 };
	char *text;

	fx->base = event_base_new();
	fx->evh = evhttp_new(fx->base);
	evhttp_set_cb(fx->evh, "/token", fx_token_cb, fx);
	bound = evhttp_bind_socket_with_handle(fx->evh, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin,
				     &len),
			 0);
	fx->port = ntohs(sin.sin_port);
	text = xasprintf("[credential \"c\"]\ntoken_url = http://127.0.0.1:%u/token\n"
			 "client_id = id\nclient_secret = s3cret\nlazy = yes\n"
			 "backoff_min = 30s\nbackoff_max = 60s\n%s",
			 (unsigned)fx->port, conf_extra);
	assert_int_equal(conf_load_string("t.conf", text, &fx->conf, &errs, NULL), 0);
	free(text);
	fx->metrics = metrics_new();
	fx->http = http_new(fx->base, 4);
	fx->renew = renew_new(fx->base);
	fx->ctx = credential_ctx_new(fx->base, fx->http, fx->renew, fx->metrics);
	credential_ctx_load(fx->ctx, fx->conf);
	fx->c = credential_lookup(fx->ctx, "c");
	assert_non_null(fx->c);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	credential_ctx_free(fx->ctx);
	renew_free(fx->renew);
	http_free(fx->http);
	metrics_free(fx->metrics);
	conf_free(fx->conf);
	evhttp_free(fx->evh);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

static void
answered_cb(struct credential *c, enum credential_result result, void *arg)
{
	struct fx *fx = arg;

	assert_true(fx->answered < 8);
	fx->results[fx->answered++] = result;
}

/* Runs the loop until n waiters have been answered (at most 5 s). */
static void
run_until(struct fx *fx, unsigned n)
{
	int64_t end = timeutil_mono_ms() + 5000;

	while (fx->answered < n && timeutil_mono_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
	assert_int_equal(fx->answered, n);
}

static const char *
current(struct fx *fx)
{
	const struct token *t = credential_token(fx->c, 0);

	assert_non_null(t);
	return t->access_token->data;
}

static void
test_renew_by_token(void **state)
{
	struct fx *fx = *state;
	struct credential_waiter *w = NULL;
	int64_t ra = 0;
	uint64_t g1, g2, g3;

	assert_int_equal(credential_generation(fx->c), 0);
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 1);
	assert_int_equal(fx->results[0], CREDENTIAL_OK);
	assert_int_equal(fx->requests, 1);
	assert_string_equal(current(fx), "tok-1");
	g1 = credential_generation(fx->c);
	assert_true(g1 > 0);

	/* The token served now is replaced at once, however fresh (backoff_min is 30 s). */
	assert_int_equal(credential_renew(fx->c, g1, 5000, answered_cb, fx, &w, &ra), 1);
	assert_non_null(w);
	run_until(fx, 2);
	assert_int_equal(fx->results[1], CREDENTIAL_OK);
	assert_int_equal(fx->requests, 2);
	assert_string_equal(current(fx), "tok-2");
	g2 = credential_generation(fx->c);
	assert_true(g2 > g1);

	/* A caller that saw tok-1 asks too late: tok-2 is the answer, nothing is sent. */
	assert_int_equal(credential_renew(fx->c, g1, 5000, answered_cb, fx, &w, &ra), 0);
	assert_null(w);
	assert_int_equal(fx->requests, 2);

	/* Three renews while the upstream takes its time: one request for all. */
	fx->delay_ms = 100;
	assert_int_equal(credential_renew(fx->c, g2, 5000, answered_cb, fx, &w, &ra), 1);
	assert_int_equal(credential_renew(fx->c, g2, 5000, answered_cb, fx, &w, &ra), 1);
	assert_int_equal(credential_renew(fx->c, g1, 5000, answered_cb, fx, &w, &ra), 1);
	assert_int_equal(credential_state(fx->c), CREDENTIAL_RENEWING);
	run_until(fx, 5);
	for (unsigned i = 2; i < 5; i++)
		assert_int_equal(fx->results[i], CREDENTIAL_OK);
	assert_int_equal(fx->requests, 3);
	assert_string_equal(current(fx), "tok-3");
	g3 = credential_generation(fx->c);
	assert_true(g3 > g2);

	/* The upstream says Retry-After: the next renew is held back, tok-3 stays. */
	fx->delay_ms = 0;
	fx->fail_status = 503;
	assert_int_equal(credential_renew(fx->c, g3, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 6);
	/* Failed, but tok-3 is still good: the waiter gets it, the generation says so. */
	assert_int_equal(fx->results[5], CREDENTIAL_OK);
	assert_int_equal(credential_generation(fx->c), g3);
	assert_int_equal(fx->requests, 4);
	assert_int_equal(credential_renew(fx->c, g3, 5000, answered_cb, fx, &w, &ra), 0);
	assert_int_equal(fx->requests, 4);
	assert_string_equal(current(fx), "tok-3");
	assert_int_equal(credential_generation(fx->c), g3);
	assert_int_equal(credential_state(fx->c), CREDENTIAL_FAILING);
}

/*
 * The wall clock jumps past the token's expiry: no getter serves it or
 * changes anything, and the next hand-out drops it and fetches a new one
 * at once (the schedule, on the monotonic clock, would wait an hour).
 */
static void
test_wall_clock_step(void **state)
{
	struct fx *fx = *state;
	struct credential_waiter *w = NULL;
	struct credential_info info;
	int64_t ra = 0;

	wall_shift_ms = 0;
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 1);
	assert_string_equal(current(fx), "tok-1");
	assert_int_equal(credential_state(fx->c), CREDENTIAL_VALID);

	wall_shift_ms = 3600 * 1000;
	assert_null(credential_token(fx->c, 0));
	assert_int_equal(credential_state(fx->c), CREDENTIAL_EXPIRED);
	credential_info(fx->c, &info);
	assert_int_equal(info.expires_at, 0);
	/* Reading the state started nothing. */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_int_equal(fx->requests, 1);

	/* A client asks: the stale token goes, a new one is fetched now. */
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 2);
	assert_int_equal(fx->results[1], CREDENTIAL_OK);
	assert_int_equal(fx->requests, 2);
	assert_string_equal(current(fx), "tok-2");
	assert_int_equal(credential_state(fx->c), CREDENTIAL_VALID);
	wall_shift_ms = 0;
}

/* Late renewals counted so far. */
static uint64_t
late(struct fx *fx)
{
	struct credential_info info;

	credential_info(fx->c, &info);
	return info.late_renewals;
}

/*
 * A token that expires before its renewal has started (here the wall
 * clock jumps, as after a suspend) is a late renewal, counted; one whose
 * renewal had failed, or was still in flight, is not.
 */
static void
test_late_renewals(void **state)
{
	struct fx *fx = *state;
	struct credential_waiter *w = NULL;
	int64_t ra = 0;

	wall_shift_ms = 0;
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 1);
	assert_int_equal(late(fx), 0);

	/* Past its expiry, no renewal started: late. */
	wall_shift_ms += 3600 * 1000;
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	assert_int_equal(late(fx), 1);
	run_until(fx, 2);
	assert_string_equal(current(fx), "tok-2");

	/* The renewal in flight when the token expires: not late, only slow. */
	fx->delay_ms = 300;
	assert_int_equal(credential_renew(fx->c, credential_generation(fx->c), 5000, answered_cb, fx,
					  &w, &ra),
			 1);
	wall_shift_ms += 3600 * 1000;
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 4);
	assert_int_equal(late(fx), 1); /* the one above */
	assert_string_equal(current(fx), "tok-3");

	/* The renewal failed, and then the token expired: a failure, not late. */
	fx->delay_ms = 0;
	fx->fail_status = 503;
	assert_int_equal(credential_renew(fx->c, credential_generation(fx->c), 5000, answered_cb, fx,
					  &w, &ra),
			 1);
	run_until(fx, 5);
	assert_int_equal(credential_state(fx->c), CREDENTIAL_FAILING);
	wall_shift_ms += 3600 * 1000;
	(void)credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra);
	assert_int_equal(credential_state(fx->c), CREDENTIAL_EXPIRED);
	assert_int_equal(late(fx), 1);
	wall_shift_ms = 0;
}

/*
 * A renewal that is due but whose timer has not run yet (a reload that
 * changed the settings has just scheduled it, the loop is busy) is one
 * that is about to start: a client that asks meanwhile waits for it, and
 * is not told that no attempt is due.
 */
static void
test_overdue_attempt_waited_for(void **state)
{
	struct fx *fx = *state;
	struct credential_waiter *w = NULL;
	struct conf_errors errs = { 0 };
	struct conf *conf2;
	int64_t ra = 0;
	char *text;

	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 1);
	assert_string_equal(current(fx), "tok-1");

	/* Other settings: the token goes, a renewal is due at once. */
	text = xasprintf("[credential \"c\"]\ntoken_url = http://127.0.0.1:%u/token\n"
			 "client_id = id\nclient_secret = s3cret\nlazy = yes\nscope = other\n"
			 "backoff_min = 30s\nbackoff_max = 60s\n",
			 (unsigned)fx->port);
	assert_int_equal(conf_load_string("t.conf", text, &conf2, &errs, NULL), 0);
	free(text);
	credential_ctx_reload(fx->ctx, conf2);
	conf_free(fx->conf);
	fx->conf = conf2;
	fx->c = credential_lookup(fx->ctx, "c");
	assert_null(credential_token(fx->c, 0));

	/* Before the loop gets to that timer, a client asks. */
	usleep(20 * 1000);
	assert_int_equal(credential_get(fx->c, 0, 5000, answered_cb, fx, &w, &ra), 1);
	assert_non_null(w);
	run_until(fx, 2);
	assert_int_equal(fx->results[1], CREDENTIAL_OK);
	assert_string_equal(current(fx), "tok-2");
	assert_int_equal(fx->requests, 2);
}

static int
setup_variants(void **state)
{
	conf_extra = "allow_scopes = a b\nmax_variants = 2\n";
	return setup(state);
}

static int
setup_variants_idle(void **state)
{
	conf_extra = "allow_scopes = a b\nvariant_idle = 1s\n";
	return setup(state);
}

/* The variant of scope s, which must be allowed. */
static struct credential *
variant(struct fx *fx, const char *s)
{
	struct credential *vc = NULL;
	char *cause = NULL;

	assert_int_equal(variant_get(fx->c, s, NULL, NULL, &vc, &cause), 0);
	assert_null(cause);
	assert_non_null(vc);
	return vc;
}

/* The scopes of the credential's variants, in their order, space-separated. */
static char *
variant_scopes(struct fx *fx)
{
	char *out = xstrdup("");

	for (size_t i = 0; i < variant_count(fx->c); i++) {
		char *o = xasprintf("%s%s[%s]", out, i > 0 ? " " : "",
				    variant_key_of(variant_at(fx->c, i))->scope);

		free(out);
		out = o;
	}
	return out;
}

#define assert_scopes(fx, want)                         \
	do {                                            \
		char *got_ = variant_scopes(fx);        \
		assert_string_equal(got_, want);        \
		free(got_);                             \
	} while (0)

/*
 * A variant is a token of its own beside the main one, found again by its
 * key; beyond max_variants the least recently asked one goes, but never
 * one that clients wait for: with all of them waited for, there is no room
 * (-EBUSY) until an answer comes.
 */
static void
test_variants_lru(void **state)
{
	struct fx *fx = *state;
	struct credential_waiter *w = NULL;
	struct credential *va, *vb, *vc, *main = NULL;
	char *cause = NULL;
	int64_t ra = 0;

	assert_int_equal(variant_get(fx->c, NULL, NULL, NULL, &main, &cause), 0);
	assert_ptr_equal(main, fx->c);
	va = variant(fx, "a");
	assert_ptr_not_equal(va, fx->c);
	assert_ptr_equal(variant(fx, "a+a"), va);
	assert_null(variant_key_of(fx->c));
	assert_string_equal(variant_key_of(va)->text, "scope=a");

	assert_int_equal(credential_get(va, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 1);
	assert_int_equal(fx->results[0], CREDENTIAL_OK);
	assert_string_equal(credential_token(va, 0)->access_token->data, "tok-1");
	assert_string_equal(credential_token(va, 0)->scope, "a");
	/* The main token is another, not fetched. */
	assert_int_equal(credential_state(fx->c), CREDENTIAL_PENDING);
	assert_int_equal(fx->requests, 1);

	/* b is waited for; a third variant takes a's place. */
	fx->delay_ms = 200;
	vb = variant(fx, "b");
	assert_int_equal(credential_get(vb, 0, 5000, answered_cb, fx, &w, &ra), 1);
	assert_scopes(fx, "[a] [b]");
	vc = variant(fx, "b a");
	assert_scopes(fx, "[a b] [b]");
	/* Both waited for: no room for another. */
	assert_int_equal(credential_get(vc, 0, 5000, answered_cb, fx, &w, &ra), 1);
	assert_int_equal(variant_get(fx->c, "a", NULL, NULL, &va, &cause), -EBUSY);
	assert_string_equal(cause, "credential \"c\" has 2 variants (max_variants), clients wait "
				   "for each of them: ask again later");
	free(cause);
	assert_scopes(fx, "[a b] [b]");
	run_until(fx, 3);
	assert_int_equal(fx->results[1], CREDENTIAL_OK);
	assert_int_equal(fx->results[2], CREDENTIAL_OK);
	assert_int_equal(fx->requests, 3);
	/* Answered, and "a b" asked again: b, asked least recently, goes for a. */
	assert_ptr_equal(variant(fx, "a b"), vc);
	va = variant(fx, "a");
	assert_scopes(fx, "[a] [a b]");
}

/*
 * A variant not asked for during variant_idle is dropped, but not while a
 * client waits for it.
 */
static void
test_variants_idle(void **state)
{
	struct fx *fx = *state;
	struct credential_waiter *w = NULL;
	struct credential *vb;
	int64_t ra = 0, end;

	fx->delay_ms = 1300;
	vb = variant(fx, "b");
	assert_int_equal(credential_get(vb, 0, 5000, answered_cb, fx, &w, &ra), 1);
	run_until(fx, 1);
	assert_int_equal(fx->results[0], CREDENTIAL_OK);
	/* Idle for longer than variant_idle, but waited for all that time. */
	assert_scopes(fx, "[b]");
	end = timeutil_mono_ms() + 3000;
	while (variant_count(fx->c) > 0 && timeutil_mono_ms() < end)
		event_base_loop(fx->base, EVLOOP_ONCE);
	assert_int_equal(variant_count(fx->c), 0);
	/* Dropped, it is not renewed. */
	assert_int_equal(fx->requests, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_renew_by_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wall_clock_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_renewals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overdue_attempt_waited_for, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variants_lru, setup_variants, teardown),
		cmocka_unit_test_setup_teardown(test_variants_idle, setup_variants_idle, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
