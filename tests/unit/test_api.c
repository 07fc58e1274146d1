/*
 * The socket API's routing, in one process: api_new on a socket in a
 * temporary directory, the credentials loaded from a configuration text
 * (lazy, so nothing is fetched), and a plain client socket on the same
 * loop.  Each path and method reaches its handler or gets 404/405/400
 * with a JSON error; the status is read off the raw answer.  The proxies
 * come from stand-ins for proxy.c, and the access log from a log writer
 * that keeps what it is given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "conf.h"
#include "credential.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "renew.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Stand-ins for proxy.c, which the API only reads: a fixed list. */
struct proxy {
	struct proxy_info info;
};

struct proxy_ctx {
	struct proxy *v;
	size_t n;
};

size_t
proxy_count(const struct proxy_ctx *ctx)
{
	return ctx->n;
}

struct proxy *
proxy_at(struct proxy_ctx *ctx, size_t i)
{
	return &ctx->v[i];
}

void
proxy_info(const struct proxy *p, struct proxy_info *ret)
{
	*ret = p->info;
}

/* The access-log lines logged, as "KEY=VALUE ... | message\n". */
static char logged[8192];

static int
keep_access_lines(int level, const struct log_field *fields, size_t nfields, const char *msg)
{
	size_t len = strlen(logged);

	if (nfields < 2 || strcmp(fields[1].key, "CALLER_UID") != 0)
		return -1;
	assert_int_equal(level, LOG_INFO);
	for (size_t i = 0; i < nfields; i++)
		if (fields[i].value != NULL)
			len += (size_t)snprintf(logged + len, sizeof(logged) - len, "%s=%s ",
						fields[i].key, fields[i].value);
	snprintf(logged + len, sizeof(logged) - len, "| %s\n", msg);
	return 0;
}

struct fx {
	char dir[64];
	char *sock;
	struct event_base *base;
	struct conf *conf;
	struct metrics *metrics;
	struct http *http;
	struct renew *renew;
	struct credential_ctx *creds;
	struct api *api;
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct conf_errors errs = { 0 };
	char *text, *cause = NULL;

	strcpy(fx->dir, "/tmp/test_api.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->sock = xasprintf("%s/s.sock", fx->dir);
	text = xasprintf("[daemon]\nsocket = %s\nstate_dir = %s\n\n"
			 "[credential \"mine\"]\ntoken_url = http://127.0.0.1:9/token\n"
			 "client_id = id\nclient_secret = s\nlazy = yes\n\n"
			 "[credential \"theirs\"]\ntoken_url = http://127.0.0.1:9/token\n"
			 "client_id = id\nclient_secret = s\nlazy = yes\nallow_users = 4242\n",
			 fx->sock, fx->dir);
	if (conf_load_string("t.conf", text, &fx->conf, &errs, NULL) != 0)
		fail_msg("config refused: %s", errs.n > 0 ? errs.v[0] : "?");
	free(text);
	fx->base = event_base_new();
	fx->metrics = metrics_new();
	fx->http = http_new(fx->base, 2);
	fx->renew = renew_new(fx->base);
	fx->creds = credential_ctx_new(fx->base, fx->http, fx->renew, fx->metrics);
	credential_ctx_load(fx->creds, fx->conf);
	fx->api = api_new(fx->base, fx->conf, fx->creds, fx->metrics, -1, &cause);
	if (fx->api == NULL)
		fail_msg("api_new: %s", cause);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	api_free(fx->api);
	credential_ctx_free(fx->creds);
	renew_free(fx->renew);
	http_free(fx->http);
	metrics_free(fx->metrics);
	conf_free(fx->conf);
	event_base_free(fx->base);
	unlink(fx->sock);
	rmdir(fx->dir);
	free(fx->sock);
	free(fx);
	return 0;
}

/*
 * Sends one raw request on a new connection and runs the loop until the
 * answer is complete (the daemon closes, or Content-Length bytes came).
 * Returns the answer (caller frees).
 */
static char *
ask(struct fx *fx, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	size_t len = 0, size = 65536;
	char *buf = xmalloc(size);
	int64_t end = timeutil_mono_ms() + 5000;

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	while (timeutil_mono_ms() < end) {
		ssize_t n;
		const char *body, *cl;

		event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		n = read(fd, buf + len, size - len - 1);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
		body = strstr(buf, "\r\n\r\n");
		cl = strcasestr(buf, "Content-Length: ");
		if (body != NULL && cl != NULL &&
		    len - (size_t)(body + 4 - buf) >= (size_t)atol(cl + 16))
			break;
		usleep(1000);
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The status code of an answer to request; the answer in *ret_body when wanted. */
static int
status_of(struct fx *fx, const char *request, char **ret_body)
{
	char *a = ask(fx, request);
	int code = 0;

	if (sscanf(a, "HTTP/1.1 %d", &code) != 1)
		fail_msg("no status line in \"%s\"", a);
	if (ret_body != NULL)
		*ret_body = a;
	else
		free(a);
	return code;
}

#define GET(p) "GET " p " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
#define POST(p) \
	"POST " p " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static void
test_routes(void **state)
{
	struct fx *fx = *state;
	char *body = NULL;

	assert_int_equal(status_of(fx, GET("/v1/health"), &body), 200);
	assert_non_null(strstr(body, "\"status\":\"ok\""));
	assert_non_null(strstr(body, "\"credentials\":2"));
	free(body);
	assert_int_equal(status_of(fx, GET("/v1/credentials"), &body), 200);
	assert_non_null(strstr(body, "\"name\":\"mine\""));
	assert_non_null(strstr(body, "\"state\":\"pending\""));
	free(body);
	/* Root may read the metrics, and gets them from the snapshot. */
	assert_int_equal(status_of(fx, GET("/metrics"), &body), 200);
	assert_non_null(strstr(body, "tokenbroker_credential_up{credential=\"mine\"} 0"));
	free(body);
}

static void
test_refusals(void **state)
{
	struct fx *fx = *state;
	char *body = NULL;

	assert_int_equal(status_of(fx, GET("/v1/nope"), &body), 404);
	assert_non_null(strstr(body, "\"error\":\"not_found\""));
	free(body);
	assert_int_equal(status_of(fx, GET("/v1/tokens/nosuch"), &body), 404);
	assert_non_null(strstr(body, "no credential"));
	free(body);
	/* A '*' segment must be a credential name. */
	assert_int_equal(status_of(fx, GET("/v1/tokens/a%20b"), NULL), 404);
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine/extra/more"), NULL), 404);
	/* The path exists, the method does not. */
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine/renew"), &body), 405);
	assert_non_null(strstr(body, "GET is not allowed here"));
	free(body);
	assert_int_equal(status_of(fx, POST("/v1/health"), NULL), 405);
	assert_int_equal(status_of(fx, POST("/v1/tokens/mine"), NULL), 405);
	/* Query parameters: unknown, repeated, not a number. */
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?nope=1"), NULL), 400);
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?wait=0&wait=0"), &body), 400);
	assert_non_null(strstr(body, "given more than once"));
	free(body);
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?wait=x"), NULL), 400);
	/* Root is always allowed, even where allow_users names someone else. */
	assert_int_equal(status_of(fx, GET("/v1/tokens/theirs?wait=0"), NULL), 503);
	/* No token and nothing in flight within wait=0: 503 with Retry-After. */
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?wait=0"), &body), 503);
	assert_non_null(strcasestr(body, "Retry-After: "));
	free(body);
}

static void
test_proxies(void **state)
{
	struct fx *fx = *state;
	static const struct proxy_conf open = {
		.name = "p1", .listen = "127.0.0.1:8081", .upstream = "http://127.0.0.1:1/x",
		.credential = "mine", .allow_users = { .any = true }, .allow_groups = { .any = true },
	};
	static uint32_t someone[] = { 4242 };
	static const struct proxy_conf narrow = {
		.name = "p2", .listen = "/run/p2.sock", .upstream = "https://api.example.com",
		.credential = "theirs", .allow_users = { .v = someone, .n = 1 },
		.allow_groups = { .v = someone, .n = 1 },
	};
	/* A reload may leave a proxy for a moment with a credential that is gone. */
	static const struct proxy_conf orphan = {
		.name = "orphan", .listen = "127.0.0.1:8083", .upstream = "http://127.0.0.1:1/y",
		.credential = "gone", .allow_users = { .any = true }, .allow_groups = { .any = true },
	};
	struct metrics_proxy_stats s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	struct proxy v[] = {
		{ { .conf = &open, .active = 2, .stats = &s1 } },
		{ { .conf = &narrow, .requests = 7, .retries = 1, .last_status = 502, .stats = &s2 } },
		{ { .conf = &orphan, .stats = &s3 } },
	};
	struct proxy_ctx ctx = { .v = v, .n = 3 };
	char *body = NULL;

	/* No proxies set: an empty list. */
	assert_int_equal(status_of(fx, GET("/v1/proxies"), &body), 200);
	assert_non_null(strstr(body, "\r\n\r\n{\"proxies\":[]}"));
	free(body);
	assert_int_equal(status_of(fx, POST("/v1/proxies"), &body), 405);
	assert_non_null(strstr(body, "POST is not allowed here"));
	free(body);
	assert_int_equal(status_of(fx, GET("/v1/proxies?x=1"), NULL), 400);

	metrics_proxy_count(&s2, 502);
	api_set_proxies(fx->api, &ctx);
	assert_int_equal(status_of(fx, GET("/v1/proxies"), &body), 200);
	/* Before its first answer a proxy's last status is null. */
	assert_non_null(strstr(body, "{\"name\":\"p1\",\"listen\":\"127.0.0.1:8081\","
				     "\"upstream\":\"http://127.0.0.1:1/x\",\"credential\":\"mine\","
				     "\"requests\":0,\"retries\":0,\"last_status\":null}"));
	/* Root passes any list, the proxy's and its credential's. */
	assert_non_null(strstr(body, "{\"name\":\"p2\",\"listen\":\"/run/p2.sock\","
				     "\"upstream\":\"https://api.example.com\",\"credential\":\"theirs\","
				     "\"requests\":7,\"retries\":1,\"last_status\":502}"));
	assert_null(strstr(body, "orphan"));
	free(body);
	/* The metrics show every proxy, whoever may use it. */
	assert_int_equal(status_of(fx, GET("/metrics"), &body), 200);
	assert_non_null(strstr(body, "\ntokenbroker_proxy_active{proxy=\"p1\"} 2\n"));
	assert_non_null(
		strstr(body, "\ntokenbroker_proxy_requests_total{proxy=\"p2\",code=\"502\"} 1\n"));
	assert_non_null(strstr(body, "\ntokenbroker_proxy_active{proxy=\"orphan\"} 0\n"));
	free(body);
	api_set_proxies(fx->api, NULL);
}

/* log_access: one info line per answer to a token request, with who asked. */
static void
test_access_log(void **state)
{
	struct fx *fx = *state;
	char want[256];

	logged[0] = '\0';
	log_set_writer(keep_access_lines);
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?wait=0"), NULL), 503);
	assert_string_equal(logged, "");

	fx->conf->daemon.log_access = true;
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?wait=0"), NULL), 503);
	snprintf(want, sizeof(want),
		 "CREDENTIAL=mine CALLER_UID=0 CALLER_PID=%d HTTP_STATUS=503 "
		 "| credential mine: token for uid 0 (pid %d): 503\n",
		 (int)getpid(), (int)getpid());
	assert_string_equal(logged, want);
	logged[0] = '\0';
	assert_int_equal(status_of(fx, GET("/v1/tokens/nosuch"), NULL), 404);
	assert_non_null(strstr(logged, "CREDENTIAL=nosuch CALLER_UID=0 "));
	assert_non_null(strstr(logged, "HTTP_STATUS=404 "));
	/* A renewal that fails is answered after its attempt: logged then. */
	logged[0] = '\0';
	assert_int_equal(status_of(fx, POST("/v1/tokens/mine/renew?wait=5"), NULL), 503);
	assert_non_null(strstr(logged, "| credential mine: renewal for uid 0 (pid "));
	assert_non_null(strstr(logged, "): 503\n"));
	/* A malformed request is not a hand-out. */
	logged[0] = '\0';
	assert_int_equal(status_of(fx, GET("/v1/tokens/mine?wait=x"), NULL), 400);
	assert_string_equal(logged, "");
	log_set_writer(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_log, setup, teardown),
	};

	if (geteuid() != 0) {
		/* The metrics and "root is always allowed" checks are root's. */
		printf("1..0 # SKIP test_api runs as root\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
