/*
 * discovery.c: the documents an issuer's token endpoint is looked up in
 * (OpenID Connect's, then RFC 8414's), the GET, and what a document says:
 * the issuer must be the configured one exactly, the endpoint a URL
 * token_url would take, the mTLS alias taken for tls_client_auth.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discovery.h"
#include "request.h"

static void
assert_url(const char *issuer, unsigned i, const char *want)
{
	char *got = discovery_url(issuer, i);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_urls(void **state)
{
	assert_url("https://login.example.com", 0,
		   "https://login.example.com/.well-known/openid-configuration");
	assert_url("https://login.example.com", 1,
		   "https://login.example.com/.well-known/oauth-authorization-server");
	assert_url("https://login.example.com/", 1,
		   "https://login.example.com/.well-known/oauth-authorization-server");
	/* A path: after it for OIDC, before it for RFC 8414 (section 3.1). */
	assert_url("https://login.example.com/realms/prod", 0,
		   "https://login.example.com/realms/prod/.well-known/openid-configuration");
	assert_url("https://login.example.com/realms/prod/", 0,
		   "https://login.example.com/realms/prod/.well-known/openid-configuration");
	assert_url("https://login.example.com:8443/realms/prod", 1,
		   "https://login.example.com:8443/.well-known/oauth-authorization-server"
		   "/realms/prod");
	assert_url("https://login.example.com", DISCOVERY_NDOCS, NULL);
}

static void
test_request(void **state)
{
	struct token_request *req = discovery_request("http://127.0.0.1:1/.well-known/x");

	assert_true(req->get);
	assert_string_equal(req->url, "http://127.0.0.1:1/.well-known/x");
	assert_int_equal(req->nheaders, 1);
	assert_string_equal(req->headers[0], "Accept: application/json");
	assert_null(req->authorization);
	assert_int_equal(req->body->len, 0);
	request_free(req);
}

static int
parse(const char *doc, const char *issuer, bool mtls, char **url, char **cause)
{
	*url = NULL;
	*cause = NULL;
	return discovery_parse(doc, strlen(doc), issuer, mtls, url, cause);
}

static void
assert_refused_with(int want, const char *doc, const char *issuer, const char *cause_has)
{
	char *url, *cause;

	assert_int_equal(parse(doc, issuer, false, &url, &cause), want);
	assert_null(url);
	assert_non_null(cause);
	if (strstr(cause, cause_has) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", cause, cause_has);
	free(cause);
}

static void
assert_refused(const char *doc, const char *issuer, const char *cause_has)
{
	assert_refused_with(-EINVAL, doc, issuer, cause_has);
}

static void
test_parse(void **state)
{
	static const char iss[] = "https://login.example.com/realms/prod";
	static const char doc[] =
		"{\"issuer\":\"https://login.example.com/realms/prod\","
		"\"token_endpoint\":\"https://login.example.com/realms/prod/token\","
		"\"mtls_endpoint_aliases\":{\"token_endpoint\":\"https://mtls.example.com/token\"}}";
	char *url, *cause;

	assert_int_equal(parse(doc, iss, false, &url, &cause), 0);
	assert_string_equal(url, "https://login.example.com/realms/prod/token");
	free(url);
	/* tls_client_auth: the alias (RFC 8705 section 5). */
	assert_int_equal(parse(doc, iss, true, &url, &cause), 0);
	assert_string_equal(url, "https://mtls.example.com/token");
	free(url);
	/* No alias: the token endpoint itself. */
	assert_int_equal(parse("{\"issuer\":\"https://a.example\","
			       "\"token_endpoint\":\"https://a.example/t\"}",
			       "https://a.example", true, &url, &cause), 0);
	assert_string_equal(url, "https://a.example/t");
	free(url);
	assert_null(cause);
}

static void
test_parse_refused(void **state)
{
	/* The mix-up defence: exactly the configured issuer, not one like it. */
	assert_refused("{\"issuer\":\"https://evil.example\",\"token_endpoint\":\"https://e/t\"}",
		       "https://login.example.com", "is issuer \"https://evil.example\"'s");
	assert_refused("{\"issuer\":\"https://login.example.com/\","
		       "\"token_endpoint\":\"https://login.example.com/t\"}",
		       "https://login.example.com", "not \"https://login.example.com\"'s");
	assert_refused("{\"token_endpoint\":\"https://a.example/t\"}", "https://a.example",
		       "names no issuer");
	assert_refused("{\"issuer\":\"https://a.example\"}", "https://a.example",
		       "names no token_endpoint");
	assert_refused("{\"issuer\":\"https://a.example\",\"token_endpoint\":42}",
		       "https://a.example", "names no token_endpoint");
	/* Plain HTTP to a host that is not loopback: as for token_url. */
	assert_refused("{\"issuer\":\"https://a.example\","
		       "\"token_endpoint\":\"http://a.example/t\"}",
		       "https://a.example", "https:// is required");
	/* No document at all (a page that answers every path): -EBADMSG. */
	assert_refused_with(-EBADMSG, "<html>login</html>", "https://a.example",
			    "not a discovery document");
	assert_refused_with(-EBADMSG, "[1,2]", "https://a.example", "not a JSON object");
	/* What the server says is shown as text, never as control bytes. */
	assert_refused("{\"issuer\":\"https://a\\u001b[31m\",\"token_endpoint\":\"https://a/t\"}",
		       "https://a.example", "https://a?[31m");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
