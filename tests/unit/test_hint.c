/*
 * The table of causes and hints, on made-up failures: which row a failure
 * takes (the specific before the general), how the text is filled in, and
 * that a failure no row knows gets no hint.  hints.t has a real fixture
 * for each row; this checks the choices between rows that look alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "hint.h"

static const char conf_text[] =
	"[credential \"plain\"]\n"
	"token_url = http://127.0.0.1:8080/oauth/token\n"
	"client_id = a\n"
	"client_secret = b\n"
	"[credential \"xibo\"]\n"
	"profile = xibo\n"
	"base_url = https://cms.example.com\n"
	"client_id = a\n"
	"client_secret = b\n"
	"[credential \"xibo-basic\"]\n"
	"profile = xibo\n"
	"base_url = https://cms.example.com\n"
	"client_id = a\n"
	"client_secret = b\n"
	"auth_method = client_secret_basic\n"
	"[credential \"proxied\"]\n"
	"token_url = https://idp.example.com/token\n"
	"client_id = a\n"
	"client_secret = b\n"
	"proxy = proxy.example.com\n";

static struct conf *conf;

static int
setup(void **state)
{
	struct conf_errors errs = { 0 }, warns = { 0 };

	if (conf_load_string("t.conf", conf_text, &conf, &errs, &warns) < 0)
		return -1;
	conf_errors_clear(&errs);
	conf_errors_clear(&warns);
	return 0;
}

static int
teardown(void **state)
{
	conf_free(conf);
	return 0;
}

/* The cause and text chosen for credential name, failure res and error. */
static char *
hint_of(const char *name, const struct http_result *res, const char *error,
	const char **ret_cause)
{
	const struct cred_conf *cc = conf_find(conf, name);
	struct hint_case c = { .cc = cc, .res = res, .error = error, .url = cc->token_url };

	*ret_cause = NULL;
	return hint_for(&c, ret_cause);
}

static void
assert_hint(const char *name, const struct http_result *res, const char *error,
	    const char *cause, const char *text)
{
	const char *got = NULL;
	char *h = hint_of(name, res, error, &got);

	assert_non_null(h);
	assert_string_equal(got, cause);
	if (text != NULL && strstr(h, text) == NULL)
		fail_msg("hint \"%s\" lacks \"%s\"", h, text);
	free(h);
}

static void
test_transport(void **state)
{
	struct http_result r = { .failure = HTTP_FAIL_CONNECT, .error = (char *)"refused" };

	assert_hint("plain", &r, NULL, "refused", "nothing listens on 127.0.0.1:8080");
	/* through a proxy, the address that refused is the proxy's (default port 1080) */
	assert_hint("proxied", &r, NULL, "proxy-refused",
		    "nothing listens on proxy.example.com:1080, the proxy");
	r.failure = HTTP_FAIL_TLS_PLAIN;
	r.error = (char *)"OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number";
	assert_hint("xibo", &r, NULL, "tls-plain-http", "plain HTTP on port 443");
	r.failure = HTTP_FAIL_TLS_ALERT;
	r.error = (char *)"OpenSSL/3.0: error:0A000418:SSL routines::tlsv1 alert unknown ca, errno 0";
	assert_hint("plain", &r, NULL, "tls-client-cert-wanted", "(tlsv1 alert unknown ca):");
}

static void
test_certificate(void **state)
{
	struct http_result r = { .failure = HTTP_FAIL_TLS_CERT, .error = (char *)"x" };

	r.cert.seen = true;
	r.cert.problem = PEERCERT_UNTRUSTED;
	r.cert.subject = (char *)"CN=cms.example.com";
	r.cert.issuer = (char *)"CN=Corp CA";
	assert_hint("xibo", &r, NULL, "tls-unknown-ca",
		    "(CN=cms.example.com) was issued by CN=Corp CA, which this host does not "
		    "trust: set ca_file");
	r.cert.problem = PEERCERT_OTHER;
	r.cert.problem_text = (char *)"certificate revoked";
	assert_hint("xibo", &r, NULL, "tls-cert", "(certificate revoked)");
	/* a name mismatch without a subjectAltName names the subject */
	r.failure = HTTP_FAIL_TLS_NAME;
	r.cert.problem = PEERCERT_OK;
	assert_hint("xibo", &r, NULL, "tls-name-mismatch",
		    "is for CN=cms.example.com, not cms.example.com");
}

/* A refused secret: check it first when the method is the profile's own. */
static void
test_refused_secret(void **state)
{
	struct http_result r = { .status = 401 };

	assert_hint("xibo", &r, NULL, "secret-refused",
		    "check client_id and the secret first (auth_method client_secret_post is "
		    "what profile xibo sends)");
	assert_hint("xibo-basic", &r, NULL, "secret-refused-method",
		    "profile xibo sends client_secret_post, this credential client_secret_basic");
	assert_hint("plain", &r, NULL, "secret-refused", "try auth_method = client_secret_post");
	/* the error code alone is enough, with any status */
	r.status = 400;
	assert_hint("plain", &r, "invalid_client", "secret-refused", NULL);
}

static void
test_http(void **state)
{
	struct http_result r = { .status = 404 };

	assert_hint("xibo", &r, NULL, "xibo-path", "https://cms.example.com/api/authorize");
	assert_hint("plain", &r, NULL, "not-found", "check token_url");
	r.status = 302;
	r.redirect_url = (char *)"https://idp.example.com/realms/x/token";
	assert_hint("plain", &r, NULL, "redirect",
		    "redirects to https://idp.example.com/realms/x/token;");
	r.redirect_url = NULL;
	r.status = 503;
	assert_hint("plain", &r, NULL, "server-error", "(503)");
	r.retry_after = (char *)"120";
	assert_hint("plain", &r, NULL, "server-error-retry", "Retry-After 120");
	r.status = 200;
	r.retry_after = NULL;
	r.content_type = (char *)"text/html; charset=utf-8";
	assert_hint("plain", &r, NULL, "web-page", NULL);
	r.content_type = (char *)"application/json";
	assert_hint("plain", &r, NULL, "no-token", "token_path (now /access_token)");
}

static void
test_no_row(void **state)
{
	struct http_result r = { .status = 418 };
	const char *cause = "unset";

	assert_null(hint_of("plain", &r, NULL, &cause));
	r.status = 0;
	r.failure = HTTP_FAIL_OTHER;
	r.error = (char *)"something else";
	assert_null(hint_of("plain", &r, NULL, &cause));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_refused_secret),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_no_row),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
