/*
 * response.c against real-looking bodies in tests/data: the token and its
 * lifetime from each kind of endpoint, every error envelope, and the XML
 * parser's refusal to expand or fetch entities.  Tokens are compared
 * without being printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "conf.h"
#include "response.h"
#include "secret.h"
#include "xmalloc.h"

#define NOW_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

static char *data_dir;

struct result {
	int r;
	struct token_response *tok;
	struct response_error err;
};

static bool
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* tests/data: $TB_TEST_DATA, the current directory, or beside the binary. */
static int
find_data(void **state)
{
	char exe[PATH_MAX], *slash, *p;
	ssize_t n;

	if (getenv("TB_TEST_DATA") != NULL) {
		data_dir = xstrdup(getenv("TB_TEST_DATA"));
		return 0;
	}
	if (is_dir("tests/data/oauth2-ok.json") || access("tests/data/oauth2-ok.json", R_OK) == 0) {
		data_dir = xstrdup("tests/data");
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	/* build/tests/test_response or build/asan/tests/test_response */
	for (int up = 0; up < 5; up++) {
		slash = strrchr(exe, '/');
		if (slash == NULL)
			return -1;
		*slash = '\0';
		p = xasprintf("%s/tests/data", exe);
		if (access(p, R_OK) == 0 && is_dir(p)) {
			data_dir = p;
			return 0;
		}
		free(p);
	}
	return -1;
}

static int
free_data(void **state)
{
	free(data_dir);
	return 0;
}

static char *
load(const char *name, size_t *len)
{
	char *path = xasprintf("%s/%s", data_dir, name), *buf;
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	free(path);
	*len = (size_t)n;
	return buf;
}

static void
cc_init(struct cred_conf *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->name = "test";
	cc->response_format = RESPONSE_FORMAT_AUTO;
	cc->default_lifetime_ms = 600 * 1000;
}

static void
run(const struct cred_conf *cc, long status, const char *ct, const char *body, size_t len,
    struct result *res)
{
	struct response_opts o;

	memset(res, 0, sizeof(*res));
	conf_response_opts(cc, &o);
	res->r = response_parse(&o, status, ct, body, len, NOW_MS, &res->tok, &res->err);
	if (res->r == 0) {
		assert_non_null(res->tok);
		assert_null(res->err.message);
	} else {
		assert_int_equal(res->r, -EINVAL);
		assert_null(res->tok);
		assert_non_null(res->err.message);
	}
}

static void
run_file(const struct cred_conf *cc, long status, const char *ct, const char *file,
	 struct result *res)
{
	size_t len;
	char *body = load(file, &len);

	run(cc, status, ct, body, len, res);
	free(body);
}

static void
run_str(const struct cred_conf *cc, long status, const char *ct, const char *body,
	struct result *res)
{
	run(cc, status, ct, body, strlen(body), res);
}

static void
clear(struct result *res)
{
	response_free(res->tok);
	response_error_clear(&res->err);
	memset(res, 0, sizeof(*res));
}

/* The token equals want; neither is ever printed. */
static void
check_token(const struct result *res, const char *want)
{
	const struct secret *t;

	if (res->r != 0)
		fail_msg("no token: %s", res->err.message);
	t = res->tok->token->access_token;
	assert_non_null(t);
	if (t->len != strlen(want) || memcmp(t->data, want, t->len) != 0)
		fail_msg("token differs (%zu bytes, expected %zu)", t->len, strlen(want));
}

static void
check_error(const struct result *res, const char *message)
{
	if (res->r == 0)
		fail_msg("expected an error: %s", message);
	assert_string_equal(res->err.message, message);
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
test_refresh_token(void **state)
{
	struct cred_conf cc;
	struct result res;
	const struct secret *rt;

	cc_init(&cc);
	/* A rotated refresh token comes out beside the access token. */
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"at-1\",\"expires_in\":60,\"refresh_token\":\"rt-2\"}", &res);
	check_token(&res, "at-1");
	rt = res.tok->refresh_token;
	assert_non_null(rt);
	assert_true(rt->len == 4 && memcmp(rt->data, "rt-2", 4) == 0);
	assert_non_null(strstr(res.tok->found, "refresh_token at /refresh_token"));
	clear(&res);
	/* None, or null: none. */
	run_str(&cc, 200, "application/json", "{\"access_token\":\"at-1\",\"expires_in\":60}", &res);
	assert_null(res.tok->refresh_token);
	clear(&res);
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"at-1\",\"expires_in\":60,\"refresh_token\":null}", &res);
	assert_null(res.tok->refresh_token);
	clear(&res);
	/* One that is there but unusable fails the answer, naming it (never its value). */
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"at-1\",\"expires_in\":60,\"refresh_token\":\"a\\nb\"}", &res);
	check_error(&res, "HTTP 200 but the refresh_token is not a non-empty printable string");
	clear(&res);
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"at-1\",\"expires_in\":60,\"refresh_token\":42}", &res);
	check_error(&res, "HTTP 200 but the refresh_token is not a non-empty printable string");
	clear(&res);
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"at-1\",\"expires_in\":60,\"refresh_token\":\"\"}", &res);
	check_error(&res, "HTTP 200 but the refresh_token is not a non-empty printable string");
	clear(&res);
}

static void
test_oauth2_ok(void **state)
{
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	run_file(&cc, 200, "application/json;charset=UTF-8", "oauth2-ok.json", &res);
	check_token(&res, "2YotnFZFEjr1zCsicMWpAA.fake-test-token");
	assert_string_equal(res.tok->token->token_type, "Bearer"); /* was "bearer" */
	assert_int_equal(res.tok->token->lifetime_ms, 3600 * 1000);
	assert_int_equal(res.tok->lifetime_source, LIFETIME_EXPIRES_IN);
	assert_string_equal(res.tok->token->scope, "read write");
	assert_string_equal(res.tok->format, "json");
	assert_string_equal(res.tok->found, "access_token at /access_token, token_type at "
					    "/token_type, expires_in at /expires_in, scope at /scope");
	clear(&res);
}

static void
test_keycloak_and_xibo_ok(void **state)
{
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	run_file(&cc, 200, "application/json", "keycloak-ok.json", &res);
	assert_int_equal(res.r, 0);
	assert_int_equal(res.tok->token->lifetime_ms, 300 * 1000);
	assert_string_equal(res.tok->token->scope, "profile email");
	/* the JWT's exp is there too, but expires_in wins */
	assert_int_equal(response_jwt_exp(res.tok->token->access_token), 1767225900);
	clear(&res);

	run_file(&cc, 200, "application/json", "xibo2-ok.json", &res);
	check_token(&res, "kL2yGQdXwzUV9eH3nTvQpR7fAcS1mBjO4iZxY0Wu");
	assert_int_equal(res.tok->token->lifetime_ms, 3600 * 1000);
	assert_null(res.tok->token->scope);
	clear(&res);

	run_file(&cc, 200, "application/json", "xibo3-jwt-ok.json", &res);
	assert_int_equal(res.r, 0);
	assert_int_equal(res.tok->lifetime_source, LIFETIME_EXPIRES_IN);
	assert_int_equal(res.tok->token->lifetime_ms, 3600 * 1000);
	assert_int_equal(response_jwt_exp(res.tok->token->access_token), 1767229200);
	clear(&res);
}

static void
test_xvid_ok(void **state)
{
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	cc.scope_separator = SCOPE_SEP_COMMA;
	/* Xvid answers text/html for JSON: sniffed by its first byte */
	run_file(&cc, 200, "text/html; charset=UTF-8", "xvid-ok.json", &res);
	check_token(&res, "xv_8f3a9c2e7b1d4f6a0e5c9b8d7a6f5e4d");
	assert_int_equal(res.tok->token->lifetime_ms, 7200 * 1000); /* "7200", a string */
	assert_int_equal(res.tok->lifetime_source, LIFETIME_EXPIRES_IN);
	assert_string_equal(res.tok->token->token_type, "Bearer"); /* none given */
	assert_string_equal(res.tok->token->scope, "mediahub.read mediahub.write");
	assert_null(strstr(res.tok->found, "token_type"));
	clear(&res);

	/* with the space separator a comma is part of a scope */
	cc.scope_separator = SCOPE_SEP_SPACE;
	run_file(&cc, 200, NULL, "xvid-ok.json", &res);
	assert_string_equal(res.tok->token->scope, "mediahub.read,mediahub.write");
	clear(&res);
}

static void
test_token_type(void **state)
{
	static const struct {
		const char *body;
		const char *want;
	} cases[] = {
		{ "{\"access_token\":\"t\",\"token_type\":\"BEARER\"}", "Bearer" },
		{ "{\"access_token\":\"t\",\"token_type\":\"bEaReR\"}", "Bearer" },
		{ "{\"access_token\":\"t\",\"token_type\":\"DPoP\"}", "DPoP" },
		{ "{\"access_token\":\"t\",\"token_type\":\"\"}", "Bearer" },
		{ "{\"access_token\":\"t\",\"token_type\":null}", "Bearer" },
		{ "{\"access_token\":\"t\"}", "Bearer" },
		{ "{\"access_token\":\"t\",\"token_type\":\"N_A-1.x~\"}", "N_A-1.x~" },
	};
	/* Not an HTTP token: it would end up in headers, sinks and env files. */
	static const char *const refused[] = {
		"{\"access_token\":\"t\",\"token_type\":\"mac\\u0007\"}",
		"{\"access_token\":\"t\",\"token_type\":\"Bearer\\r\\nX-Injected: 1\"}",
		"{\"access_token\":\"t\",\"token_type\":\"Bearer x\"}",
		"{\"access_token\":\"t\",\"token_type\":\"Bear\\\"er\"}",
		"{\"access_token\":\"t\",\"token_type\":\"B\\u00e9arer\"}",
		"{\"access_token\":\"t\",\"token_type\":\"Bearer\\u0000\"}",
		"{\"access_token\":\"t\",\"token_type\":\"a,b\"}",
		"{\"access_token\":\"t\",\"token_type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_str(&cc, 200, "application/json", cases[i].body, &res);
		assert_int_equal(res.r, 0);
		assert_string_equal(res.tok->token->token_type, cases[i].want);
		clear(&res);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		run_str(&cc, 200, "application/json", refused[i], &res);
		if (res.r == 0)
			fail_msg("token_type accepted: %s", refused[i]);
		assert_non_null(strstr(res.err.message, "is not an HTTP authentication scheme"));
		assert_non_null(strstr(res.err.message, "/token_type"));
		for (const char *p = res.err.message; *p != '\0'; p++)
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		assert_false(res.err.permanent);
		clear(&res);
	}
}

static void
test_expires_in(void **state)
{
	static const struct {
		const char *value;
		int64_t ms;
		const char *message;
	} cases[] = {
		{ "3600", 3600000, NULL },
		{ "\"3600\"", 3600000, NULL },
		{ "\"3600.5\"", 3600500, NULL },
		{ "1.5e3", 1500000, NULL },
		{ "0.25", 250, NULL },
		{ "315576000", INT64_C(315576000000), NULL }, /* ten years */
		{ "null", 600000, NULL },		       /* as if absent */
		{ "\"soon\"", 0, "HTTP 200 but expires_in: not a number: soon" },
		{ "\" 60\"", 0, "HTTP 200 but expires_in: not a number:  60" },
		{ "\"0x10\"", 0, "HTTP 200 but expires_in: not a number: 0x10" },
		{ "\"inf\"", 0, "HTTP 200 but expires_in: not a number: inf" },
		{ "\"\"", 0, "HTTP 200 but expires_in: not a number: " },
		{ "true", 0, "HTTP 200 but expires_in: not a number" },
		{ "{}", 0, "HTTP 200 but expires_in: not a number" },
		{ "\"a\\nb\"", 0, "HTTP 200 but expires_in: not a number: a?b" },
		{ "0", 0, "HTTP 200 but expires_in: out of range: 0" },
		{ "-5", 0, "HTTP 200 but expires_in: out of range: -5" },
		{ "315576001", 0, "HTTP 200 but expires_in: out of range: 315576001" },
		{ "1e400", 0, "HTTP 200 but expires_in: not a number: 1e400" },
	};
	struct cred_conf cc;
	struct result res;
	char *body;

	cc_init(&cc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{\"access_token\":\"tok\",\"expires_in\":%s}", cases[i].value);
		run_str(&cc, 200, "application/json", body, &res);
		if (cases[i].message == NULL) {
			if (res.r != 0)
				fail_msg("%s: %s", cases[i].value, res.err.message);
			assert_int_equal(res.tok->token->lifetime_ms, cases[i].ms);
		} else {
			check_error(&res, cases[i].message);
			assert_false(res.err.auth_failed);
		}
		clear(&res);
		free(body);
	}

	run_file(&cc, 200, "application/json", "expires-in-bad.json", &res);
	check_error(&res, "HTTP 200 but expires_in: not a number: soon");
	clear(&res);

	/* a configured path, into an array */
	cc.expires_in_path = "/data/0/ttl";
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"t\",\"expires_in\":5,\"data\":[{\"ttl\":\"90\"}]}", &res);
	assert_int_equal(res.tok->token->lifetime_ms, 90000);
	assert_non_null(strstr(res.tok->found, "expires_in at /data/0/ttl"));
	clear(&res);

	/* "" switches the lookup off */
	cc.expires_in_path = "";
	run_str(&cc, 200, "application/json", "{\"access_token\":\"t\",\"expires_in\":5}", &res);
	assert_int_equal(res.tok->lifetime_source, LIFETIME_DEFAULT);
	assert_int_equal(res.tok->token->lifetime_ms, 600000);
	clear(&res);
}

static void
test_expires_at(void **state)
{
	static const struct {
		const char *value;
		int64_t ms;
		const char *message;
	} cases[] = {
		{ "1767229200", 3600000, NULL },
		{ "\"1767229200\"", 3600000, NULL },
		{ "1767229200.5", 3600500, NULL },
		{ "\"2026-01-01T02:00:00Z\"", 7200000, NULL },
		{ "\"2026-01-01T02:00:00+01:00\"", 3600000, NULL },
		{ "\"2026-01-01T00:10:00.250Z\"", 600250, NULL },
		{ "\"2025-12-31T23:00:00Z\"", 0, "HTTP 200 but the token has already expired" },
		{ "1767225600", 0, "HTTP 200 but the token has already expired" },
		{ "\"tomorrow\"", 0, "HTTP 200 but expires_at: not a time: tomorrow" },
		{ "\"2026-01-01T02:00:00\"", 0,
		  "HTTP 200 but expires_at: not a time: 2026-01-01T02:00:00" },
		{ "1767225600000", 0, "HTTP 200 but expires_at: not a time: 1767225600000" },
		{ "\"2099-01-01T00:00:00Z\"", 0, "HTTP 200 but expires_at: more than ten years away" },
	};
	struct cred_conf cc;
	struct result res;
	char *body;

	cc_init(&cc);
	cc.token_path = "/data/token";
	cc.expires_at_path = "/data/validUntil";
	run_file(&cc, 200, "application/json", "expires-at-iso.json", &res);
	check_token(&res, "opaque-f1e2d3c4b5a6");
	assert_int_equal(res.tok->lifetime_source, LIFETIME_EXPIRES_AT);
	assert_int_equal(res.tok->token->lifetime_ms, 5400 * 1000);
	assert_string_equal(res.tok->found,
			    "access_token at /data/token, expires_at at /data/validUntil");
	clear(&res);

	cc.token_path = "/token";
	cc.expires_at_path = "/expires_at";
	run_file(&cc, 200, "application/json", "expires-at-unix.json", &res);
	assert_int_equal(res.tok->token->lifetime_ms, 3600 * 1000);
	clear(&res);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = xasprintf("{\"token\":\"tok\",\"expires_at\":%s}", cases[i].value);
		run_str(&cc, 200, "application/json", body, &res);
		if (cases[i].message == NULL) {
			if (res.r != 0)
				fail_msg("%s: %s", cases[i].value, res.err.message);
			assert_int_equal(res.tok->token->lifetime_ms, cases[i].ms);
		} else {
			check_error(&res, cases[i].message);
		}
		clear(&res);
		free(body);
	}

	/* expires_in, when both are given, wins */
	run_str(&cc, 200, "application/json",
		"{\"token\":\"t\",\"expires_in\":60,\"expires_at\":1767229200}", &res);
	assert_int_equal(res.tok->token->lifetime_ms, 60000);
	assert_int_equal(res.tok->lifetime_source, LIFETIME_EXPIRES_IN);
	clear(&res);
}

static char *
b64url(const char *s)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s), o = 0;
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc(n * 4 / 3 + 4);
	uint32_t v;

	for (size_t i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
	return out;
}

static char *
jwt(const char *payload)
{
	char *h = b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"), *p = b64url(payload);
	char *t = xasprintf("%s.%s.c2lnbmF0dXJl", h, p);

	free(h);
	free(p);
	return t;
}

static int64_t
jwt_exp(const char *token)
{
	struct secret *s = secret_from_str(token);
	int64_t r = response_jwt_exp(s);

	secret_free(s);
	return r;
}

static void
test_jwt_exp(void **state)
{
	struct cred_conf cc;
	struct result res;
	char *t, *body;

	cc_init(&cc);
	t = jwt("{\"sub\":\"svc\",\"exp\":1767227400,\"iat\":1767225600}");
	assert_int_equal(jwt_exp(t), 1767227400);
	body = xasprintf("{\"access_token\":\"%s\",\"token_type\":\"Bearer\"}", t);
	run_str(&cc, 200, "application/json", body, &res);
	check_token(&res, t);
	assert_int_equal(res.tok->lifetime_source, LIFETIME_JWT_EXP);
	assert_int_equal(res.tok->token->lifetime_ms, 1800 * 1000);
	assert_non_null(strstr(res.tok->found, "exp at the JWT payload"));
	clear(&res);
	free(body);

	free(t);

	/* padded base64url is read too, unpadded likewise */
	assert_int_equal(jwt_exp("x.eyJleHAiOiAxNzY3MjI3NDAyfQ==.y"), 1767227402);
	assert_int_equal(jwt_exp("x.eyJleHAiOiAxNzY3MjI3NDAyfQ.y"), 1767227402);

	/* an expired JWT, with nothing else to go by, is refused */
	t = jwt("{\"exp\":1767225000}");
	body = xasprintf("{\"access_token\":\"%s\"}", t);
	run_str(&cc, 200, "application/json", body, &res);
	check_error(&res, "HTTP 200 but the token has already expired");
	assert_null(strstr(res.err.message, t));
	clear(&res);
	free(body);
	free(t);

	/* exp must be a number; anything else falls back to default_lifetime */
	t = jwt("{\"exp\":\"1767227400\"}");
	assert_int_equal(jwt_exp(t), -1);
	body = xasprintf("{\"access_token\":\"%s\"}", t);
	run_str(&cc, 200, "application/json", body, &res);
	assert_int_equal(res.tok->lifetime_source, LIFETIME_DEFAULT);
	assert_int_equal(res.tok->token->lifetime_ms, 600000);
	clear(&res);
	free(body);
	free(t);

	t = jwt("{\"exp\":1767227400.9}");
	assert_int_equal(jwt_exp(t), 1767227400);
	free(t);
	t = jwt("{\"iat\":1}");
	assert_int_equal(jwt_exp(t), -1);
	free(t);
	t = jwt("[1767227400]");
	assert_int_equal(jwt_exp(t), -1);
	free(t);

	assert_int_equal(jwt_exp("eyJleHAiOjE3NjcyMjc0MDB9"), -1);   /* one part */
	assert_int_equal(jwt_exp("a.eyJleHAiOjE3NjcyMjc0MDB9"), -1); /* two parts */
	assert_int_equal(jwt_exp("a.eyJleHAiOjE3NjcyMjc0MDB9.b"), 1767227400);
	assert_int_equal(jwt_exp("a.eyJleHAiOjE3NjcyMjc0MDB9.b.c.d"), -1); /* a JWE */
	assert_int_equal(jwt_exp("a.eyJleHAiOjE3Njcy*jc0MDB9.b"), -1);
	assert_int_equal(jwt_exp("a.e.b"), -1);
	assert_int_equal(jwt_exp("..."), -1);
	assert_int_equal(response_jwt_exp(NULL), -1);
}

static void
test_default_lifetime(void **state)
{
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	cc.default_lifetime_ms = 15 * 60 * 1000;
	run_file(&cc, 200, "application/json", "no-lifetime.json", &res);
	check_token(&res, "opaque-without-lifetime");
	assert_int_equal(res.tok->lifetime_source, LIFETIME_DEFAULT);
	assert_int_equal(res.tok->token->lifetime_ms, 15 * 60 * 1000);
	assert_string_equal(res.tok->found, "access_token at /access_token, token_type at /token_type");
	clear(&res);

	cc.default_lifetime_ms = 0;
	run_file(&cc, 200, "application/json", "no-lifetime.json", &res);
	check_error(&res, "HTTP 200 but no lifetime given and no default_lifetime");
	clear(&res);
}

/* Error message must not carry any of these (token, raw body parts). */
static void
check_clean(const struct result *res, const char *const *forbidden)
{
	for (; *forbidden != NULL; forbidden++) {
		if (strstr(res->err.message, *forbidden) != NULL)
			fail_msg("message carries forbidden text");
	}
}

static void
test_error_envelopes(void **state)
{
	static const struct {
		const char *file;
		long status;
		const char *message;
		const char *error;
		const char *description;
		bool auth_failed;
		bool permanent;
		const char *text;
	} cases[] = {
		{ "rfc6749-invalid-scope.json", 400, "HTTP 400: invalid_scope: the scope is wrong",
		  "invalid_scope", "the scope is wrong", false, true,
		  "invalid_scope: the scope is wrong" },
		{ "rfc6749-invalid-client.json", 401,
		  "HTTP 401: invalid_client: Client authentication failed (e.g., unknown client, no "
		  "client authentication included, or unsupported authentication method).",
		  "invalid_client", NULL, true, true, NULL },
		{ "rfc6749-invalid-client.json", 400, NULL, "invalid_client", NULL, true, true,
		  NULL },
		{ "rfc6749-invalid-grant.json", 400, "HTTP 400: invalid_grant", "invalid_grant", NULL,
		  true, true, "invalid_grant" },
		{ "xibo2-error.json", 401, "HTTP 401: Client authentication failed.", NULL,
		  "Client authentication failed.", true, true, "Client authentication failed." },
		{ "xibo3-error.json", 401, "HTTP 401: invalid_client: Client authentication failed",
		  "invalid_client", "Client authentication failed", true, true,
		  "invalid_client: Client authentication failed" },
		{ "league-invalid-scope-hint.json", 400,
		  "HTTP 400: invalid_scope: The requested scope is invalid, unknown, or malformed "
		  "(hint: Check the `media` scope)",
		  "invalid_scope", NULL, false, true, NULL },
		{ "xvid-error.json", 400, "HTTP 400: Scopes requested are not allowed (0x0220002)",
		  "0x0220002", "Scopes requested are not allowed", false, true,
		  "Scopes requested are not allowed (0x0220002)" },
		{ "laravel-unauthenticated.json", 401, "HTTP 401: Unauthenticated.", NULL,
		  "Unauthenticated.", true, true, "Unauthenticated." },
		{ "ok-with-error.json", 200,
		  "HTTP 200 with error: invalid_scope: scope media was not granted", "invalid_scope",
		  NULL, false, true, "invalid_scope: scope media was not granted" },
		{ "no-token.json", 200, "HTTP 200 but no token at /access_token", NULL, NULL, false, false,
		  NULL },
		{ "html-404.html", 404, "HTTP 404: not a token response (text/html, 307 bytes)", NULL,
		  NULL, false, true, NULL },
		{ "html-404.html", 200,
		  "HTTP 200 but the body is neither JSON nor XML (text/html, 307 bytes)", NULL, NULL,
		  false, false, NULL },
		{ "oauth2-ok.json", 500, "HTTP 500: not a token response (text/html, 136 bytes)",
		  NULL, NULL, false, false, NULL },
	};
	static const char *const forbidden[] = { "should-not-be-used", "2YotnFZF", "<html", "<h1>",
						 "Apache", NULL };
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_file(&cc, cases[i].status,
			 strstr(cases[i].file, "html") != NULL || cases[i].status == 500 ?
				 "text/html; charset=iso-8859-1" :
				 "application/json",
			 cases[i].file, &res);
		if (res.r == 0)
			fail_msg("%s: no error", cases[i].file);
		if (cases[i].message != NULL)
			assert_string_equal(res.err.message, cases[i].message);
		if (cases[i].error != NULL)
			assert_string_equal(res.err.error, cases[i].error);
		else
			assert_null(res.err.error);
		if (cases[i].description != NULL)
			assert_string_equal(res.err.description, cases[i].description);
		assert_int_equal(res.err.http_status, cases[i].status);
		assert_int_equal(res.err.auth_failed, cases[i].auth_failed);
		assert_int_equal(res.err.permanent, cases[i].permanent);
		if (cases[i].text != NULL)
			assert_string_equal(res.err.text, cases[i].text);
		check_clean(&res, forbidden);
		clear(&res);
	}
}

static void
test_unparsable(void **state)
{
	struct cred_conf cc;
	struct result res;
	char *big;

	cc_init(&cc);
	run_file(&cc, 200, "application/json", "truncated.json", &res);
	assert_true(starts_with(res.err.message, "HTTP 200 but the body is not JSON: invalid JSON"));
	assert_non_null(strstr(res.err.message, "(application/json, 62 bytes)"));
	assert_null(strstr(res.err.message, "abc123"));
	clear(&res);

	run_file(&cc, 200, "application/json", "trailing-garbage.json", &res);
	assert_true(starts_with(res.err.message, "HTTP 200 but the body is not JSON: invalid JSON"));
	assert_non_null(strstr(res.err.message, "trailing garbage"));
	assert_null(strstr(res.err.message, "abc123"));
	assert_null(strstr(res.err.message, "session_start"));
	clear(&res);

	/* forced JSON, and XML comes */
	cc.response_format = RESPONSE_FORMAT_JSON;
	run_file(&cc, 200, "application/xml", "oracle-sbc-ok.xml", &res);
	assert_true(starts_with(res.err.message, "HTTP 200 but the body is not JSON: "));
	assert_null(strstr(res.err.message, "eyJ"));
	clear(&res);
	cc.response_format = RESPONSE_FORMAT_AUTO;

	run_str(&cc, 200, "text/plain", "just-a-token", &res);
	check_error(&res, "HTTP 200 but the body is neither JSON nor XML (text/plain, 12 bytes)");
	clear(&res);

	run_str(&cc, 200, "application/json", "", &res);
	check_error(&res, "HTTP 200 but the body is empty");
	clear(&res);

	run_str(&cc, 401, NULL, "", &res);
	check_error(&res, "HTTP 401: empty body");
	assert_true(res.err.auth_failed);
	clear(&res);

	run_str(&cc, 503, NULL, "Service Unavailable", &res);
	check_error(&res, "HTTP 503: not a token response (no Content-Type, 19 bytes)");
	clear(&res);

	run(&cc, 0, NULL, NULL, 0, &res);
	check_error(&res, "no HTTP answer");
	assert_int_equal(res.err.http_status, 0);
	clear(&res);

	big = xmalloc(TOKEN_BODY_MAX + 2);
	memset(big, ' ', TOKEN_BODY_MAX + 1);
	big[0] = '{';
	run(&cc, 200, "application/json", big, TOKEN_BODY_MAX + 1, &res);
	check_error(&res, "HTTP 200: the body is too large (1048577 bytes)");
	clear(&res);
	free(big);
}

static void
test_content_type_and_sniffing(void **state)
{
	static const char body[] = "\xef\xbb\xbf \r\n {\"access_token\":\"tok\",\"expires_in\":60}";
	static const char *const types[] = {
		"application/json",
		"Application/JSON; charset=utf-8",
		"application/vnd.api+json",
		"text/plain",
		"text/html",
		"application/octet-stream",
		NULL,
	};
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		run_str(&cc, 200, types[i], body, &res);
		if (res.r != 0)
			fail_msg("%s: %s", types[i] ? types[i] : "none", res.err.message);
		check_token(&res, "tok");
		assert_string_equal(res.tok->format, "json");
		clear(&res);
	}

	/* a JSON Content-Type is believed over the body's first byte */
	cc.token_path = "/response/data/accessToken";
	run_file(&cc, 200, "application/json", "oracle-sbc-ok.xml", &res);
	assert_true(starts_with(res.err.message, "HTTP 200 but the body is not JSON"));
	clear(&res);

	/* XML by type, by +xml, and by sniffing */
	run_file(&cc, 200, "text/xml", "oracle-sbc-ok.xml", &res);
	assert_string_equal(res.tok->format, "xml");
	clear(&res);
	run_file(&cc, 200, "application/soap+xml", "oracle-sbc-ok.xml", &res);
	assert_string_equal(res.tok->format, "xml");
	clear(&res);
	run_file(&cc, 200, "application/octet-stream", "oracle-sbc-ok.xml", &res);
	assert_string_equal(res.tok->format, "xml");
	clear(&res);

	/* an application/problem+json error */
	run_str(&cc, 403, "application/problem+json",
		"{\"type\":\"about:blank\",\"title\":\"Forbidden\",\"detail\":\"client is disabled\"}",
		&res);
	check_error(&res, "HTTP 403: client is disabled");
	assert_false(res.err.auth_failed);
	clear(&res);
}

static void
test_control_characters_in_token(void **state)
{
	struct cred_conf cc;
	struct result res;

	cc_init(&cc);
	run_str(&cc, 200, "application/json", "{\"access_token\":\"abc\\r\\nX-Evil: 1\"}", &res);
	check_error(&res, "HTTP 200 but the token at /access_token contains control characters");
	clear(&res);
	run_str(&cc, 200, "application/json", "{\"access_token\":\"abc\\u0000def\"}", &res);
	check_error(&res, "HTTP 200 but the token at /access_token contains control characters");
	clear(&res);
	run_str(&cc, 200, "application/json", "{\"access_token\":\"\"}", &res);
	check_error(&res, "HTTP 200 but no token at /access_token");
	clear(&res);
	run_str(&cc, 200, "application/json", "{\"access_token\":12345}", &res);
	check_error(&res, "HTTP 200 but no token at /access_token");
	clear(&res);
	/* a top-level message is shown when the token is missing */
	run_str(&cc, 200, "application/json", "{\"message\":\"maintenance\\tmode\"}", &res);
	check_error(&res, "HTTP 200 but no token at /access_token: maintenance?mode");
	clear(&res);
	/* "error" present and not empty fails a 2xx, whatever else is there */
	run_str(&cc, 200, "application/json", "{\"access_token\":\"t\",\"error\":true}", &res);
	check_error(&res, "HTTP 200 with error");
	clear(&res);
	run_str(&cc, 200, "application/json", "{\"access_token\":\"t\",\"error\":{}}", &res);
	check_error(&res, "HTTP 200 with error");
	clear(&res);
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"t\",\"error\":true,\"message\":\"quota\"}", &res);
	check_error(&res, "HTTP 200 with error: quota");
	clear(&res);
	run_str(&cc, 200, "application/json",
		"{\"access_token\":\"t\",\"error\":null,\"message\":\"welcome\"}", &res);
	check_token(&res, "t");
	clear(&res);
	run_str(&cc, 200, "application/json", "{\"access_token\":\"t\",\"error\":\"\"}", &res);
	check_token(&res, "t");
	clear(&res);
	run_str(&cc, 200, "application/json", "{\"access_token\":\"t\",\"error\":false}", &res);
	check_token(&res, "t");
	clear(&res);
	/* a bad pointer in the configuration */
	cc.token_path = "access_token";
	run_str(&cc, 200, "application/json", "{\"access_token\":\"t\"}", &res);
	check_error(&res, "HTTP 200 but token_path access_token is not a valid JSON Pointer");
	clear(&res);
}

/* Redirects stderr to a temporary file; returns the saved descriptor. */
static int
quiet_begin(FILE **tmp)
{
	int saved = dup(STDERR_FILENO);

	fflush(stderr);
	*tmp = tmpfile();
	assert_non_null(*tmp);
	dup2(fileno(*tmp), STDERR_FILENO);
	return saved;
}

/* Restores stderr; returns how many bytes were written to it meanwhile. */
static long
quiet_end(int saved, FILE *tmp)
{
	long n;

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fseek(tmp, 0, SEEK_END);
	n = ftell(tmp);
	fclose(tmp);
	return n;
}

static void
test_oracle_sbc(void **state)
{
	struct cred_conf cc;
	struct result res;
	FILE *tmp;
	int saved;

	cc_init(&cc);
	cc.response_format = RESPONSE_FORMAT_XML;
	cc.token_path = "/response/data/accessToken";
	run_file(&cc, 200, "application/xml", "oracle-sbc-ok.xml", &res);
	check_token(&res, "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.ZmFrZS1zYmMtdG9rZW4.c2ln");
	assert_string_equal(res.tok->format, "xml");
	assert_string_equal(res.tok->token->token_type, "Bearer");
	assert_int_equal(res.tok->lifetime_source, LIFETIME_DEFAULT);
	assert_int_equal(res.tok->token->lifetime_ms, 600000);
	assert_null(res.tok->token->scope);
	assert_string_equal(res.tok->found, "access_token at /response/data/accessToken");
	clear(&res);

	/* XPath proper works as well */
	cc.token_path = "string(//accessToken)";
	run_file(&cc, 200, NULL, "oracle-sbc-ok.xml", &res);
	check_token(&res, "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.ZmFrZS1zYmMtdG9rZW4.c2ln");
	clear(&res);
	cc.token_path = "/response/data/accessToken";

	run_str(&cc, 200, "application/xml",
		"<response><data><accessToken>t</accessToken><expiresIn> 120 </expiresIn></data>"
		"</response>",
		&res);
	assert_int_equal(res.tok->token->lifetime_ms, 600000); /* not at the default path */
	clear(&res);
	cc.expires_in_path = "/response/data/expiresIn";
	run_str(&cc, 200, "application/xml",
		"<response><data><accessToken>t</accessToken><expiresIn> 120 </expiresIn></data>"
		"</response>",
		&res);
	assert_int_equal(res.tok->token->lifetime_ms, 120000);
	clear(&res);

	run_file(&cc, 401, "application/xml", "oracle-sbc-error.xml", &res);
	check_error(&res, "HTTP 401: UNAUTHORIZED: Invalid username or password");
	assert_string_equal(res.err.description, "UNAUTHORIZED: Invalid username or password");
	assert_true(res.err.auth_failed);
	clear(&res);

	/* an <error> under <messages> fails a 200 */
	run_file(&cc, 200, "application/xml", "oracle-sbc-error.xml", &res);
	check_error(&res, "HTTP 200 with error: UNAUTHORIZED: Invalid username or password");
	clear(&res);

	run_str(&cc, 400, "application/xml",
		"<response><data/><messages><error><reasonCode>A</reasonCode></error>"
		"<error><reasonText>second one</reasonText></error></messages></response>",
		&res);
	check_error(&res, "HTTP 400: A; second one");
	clear(&res);

	run_str(&cc, 400, "application/xml",
		"<OAuthException><error>invalid_client</error><error_description>Bad client "
		"credentials</error_description></OAuthException>",
		&res);
	check_error(&res, "HTTP 400: invalid_client: Bad client credentials");
	assert_true(res.err.auth_failed);
	clear(&res);

	saved = quiet_begin(&tmp);
	run_str(&cc, 200, "application/xml", "<response><data><accessToken>x</data></response>",
		&res);
	cc.token_path = "/response/[";
	{
		struct result r2;

		run_file(&cc, 200, "application/xml", "oracle-sbc-ok.xml", &r2);
		assert_int_equal(quiet_end(saved, tmp), 0); /* libxml2 printed nothing */
		check_error(&r2,
			    "HTTP 200 but token_path /response/[ is not a valid XPath");
		clear(&r2);
	}
	check_error(&res, "HTTP 200 but the body is not XML: parse error at line 1 "
			  "(application/xml, 48 bytes)");
	clear(&res);
}

/* A listening socket on the loopback, for catching any fetch. */
static int
listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
test_xml_entities(void **state)
{
	static const char marker[] = "MARKER-7c1f3e-NOT-FOR-TOKENS";
	char path[] = "/tmp/tb-xxe-XXXXXX", *docs[6];
	struct cred_conf cc;
	struct result res;
	int fd, lfd, port;
	FILE *tmp;
	int saved;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, marker, sizeof(marker) - 1), (ssize_t)(sizeof(marker) - 1));
	close(fd);
	lfd = listener(&port);

	docs[0] = xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE response [\n"
			    "  <!ENTITY xxe SYSTEM \"file://%s\">\n]>\n"
			    "<response><data><accessToken>&xxe;</accessToken></data></response>",
			    path);
	docs[1] = xasprintf("<!DOCTYPE response [<!ENTITY xxe SYSTEM \"http://127.0.0.1:%d/t\">]>"
			    "<response><data><accessToken>&xxe;</accessToken></data></response>",
			    port);
	docs[2] = xasprintf("<!DOCTYPE response [<!ENTITY %% p SYSTEM \"http://127.0.0.1:%d/p.dtd\">"
			    " %%p;]><response><data><accessToken>t</accessToken></data></response>",
			    port);
	docs[3] = xasprintf("<!DOCTYPE response SYSTEM \"http://127.0.0.1:%d/r.dtd\">"
			    "<response><data><accessToken>&ext;</accessToken></data></response>",
			    port);
	docs[4] = xasprintf("<!DOCTYPE response [<!ENTITY t \"%s\">]>"
			    "<response><data><accessToken>&t;</accessToken></data></response>",
			    marker);
	docs[5] = xstrdup("<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;"
			  "&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d "
			  "\"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;"
			  "&d;&d;\">]><response><data><accessToken>&e;&e;&e;</accessToken></data>"
			  "</response>");

	cc_init(&cc);
	cc.token_path = "/response/data/accessToken";
	saved = quiet_begin(&tmp);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		for (int fmt = 0; fmt < 2; fmt++) {
			cc.response_format = fmt == 0 ? RESPONSE_FORMAT_AUTO : RESPONSE_FORMAT_XML;
			run_str(&cc, 200, "application/xml", docs[i], &res);
			if (res.r == 0) {
				quiet_end(saved, tmp);
				fail_msg("document %zu was accepted", i);
			}
			if (strstr(res.err.message, marker) != NULL) {
				quiet_end(saved, tmp);
				fail_msg("document %zu: entity text in the message", i);
			}
			if (!starts_with(res.err.message, "HTTP 200 but the body is not XML: ")) {
				quiet_end(saved, tmp);
				fail_msg("document %zu: %s", i, res.err.message);
			}
			clear(&res);
		}
	}
	assert_int_equal(quiet_end(saved, tmp), 0);

	/* nothing tried to fetch from the listener */
	assert_int_equal(accept(lfd, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
	close(lfd);

	/* a DOCTYPE without entities is harmless and parses */
	run_str(&cc, 200, "application/xml",
		"<!DOCTYPE response><response><data><accessToken>t</accessToken></data></response>",
		&res);
	check_token(&res, "t");
	clear(&res);

	unlink(path);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		free(docs[i]);
}

/* Upstream text is sanitized (test_text.c has the cases) and capped. */
static void
test_sanitize(void **state)
{
	/* long upstream text is capped in the error */
	{
		struct cred_conf cc;
		struct result res;
		char desc[1001], *body;

		memset(desc, 'x', 1000);
		desc[1000] = '\0';
		body = xasprintf("{\"error\":\"invalid_request\",\"error_description\":\"%s\"}", desc);
		cc_init(&cc);
		run_str(&cc, 400, "application/json", body, &res);
		assert_int_equal(strlen(res.err.description), RESPONSE_TEXT_MAX);
		assert_true(strcmp(res.err.description + RESPONSE_TEXT_MAX - 3, "...") == 0);
		assert_true(strlen(res.err.message) < 2 * RESPONSE_TEXT_MAX);
		clear(&res);
		free(body);
	}
}

static void
test_error_clear(void **state)
{
	struct response_error err = { 0 };

	response_error_clear(&err);
	response_error_clear(NULL);
	assert_null(response_free(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oauth2_ok),
		cmocka_unit_test(test_refresh_token),
		cmocka_unit_test(test_keycloak_and_xibo_ok),
		cmocka_unit_test(test_xvid_ok),
		cmocka_unit_test(test_token_type),
		cmocka_unit_test(test_expires_in),
		cmocka_unit_test(test_expires_at),
		cmocka_unit_test(test_jwt_exp),
		cmocka_unit_test(test_default_lifetime),
		cmocka_unit_test(test_error_envelopes),
		cmocka_unit_test(test_unparsable),
		cmocka_unit_test(test_content_type_and_sniffing),
		cmocka_unit_test(test_control_characters_in_token),
		cmocka_unit_test(test_oracle_sbc),
		cmocka_unit_test(test_xml_entities),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_error_clear),
	};

	return cmocka_run_group_tests(tests, find_data, free_data);
}
