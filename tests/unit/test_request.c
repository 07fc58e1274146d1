/*
 * request.c: the request each auth_method puts on the wire.  Bodies and
 * Authorization values are compared without being printed (they hold test
 * secrets).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <strings.h>

#include <cmocka.h>
#include <event2/http.h>

#include "conf.h"
#include "profile.h"
#include "request.h"
#include "xmalloc.h"
#include "secret.h"

struct fixture {
	struct cred_conf cc;
	struct request_pair params[4];
	struct request_pair query[4];
	struct request_pair headers[4];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->cc.name = "test";
	f->cc.token_url = "https://idp.example.com/oauth2/token";
	f->cc.auth_method = AUTH_CLIENT_SECRET_BASIC;
	f->cc.grant_type = "client_credentials";
	f->cc.client_id = "client-1";
	f->cc.client_secret = secret_from_str("secret");
	f->cc.params.v = f->params;
	f->cc.query.v = f->query;
	f->cc.headers.v = f->headers;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	secret_free(f->cc.client_secret);
	secret_free(f->cc.password);
	free(f);
	return 0;
}

/* Compares a secret without ever printing it. */
static void
check_secret(const struct secret *s, const char *want, const char *what)
{
	if (s == NULL)
		fail_msg("%s: missing", what);
	if (s->len != strlen(want))
		fail_msg("%s: %zu bytes, expected %zu", what, s->len, strlen(want));
	for (size_t i = 0; i < s->len; i++) {
		if (s->data[i] != want[i])
			fail_msg("%s: differs at byte %zu", what, i);
	}
	assert_int_equal(s->data[s->len], '\0');
}

static struct token_request *
build(const struct cred_conf *cc, const struct secret *current)
{
	struct token_request *req = NULL;
	struct request_opts o;
	char *cause = NULL;

	conf_request_opts(cc, &o);
	if (request_build(&o, current, &req, &cause) != 0)
		fail_msg("request_build: %s", cause);
	assert_null(cause);
	assert_non_null(req);
	assert_non_null(req->body);
	assert_non_null(req->auth_desc);
	return req;
}

static char *
build_fails(const struct cred_conf *cc)
{
	struct token_request *req = NULL;
	struct request_opts o;
	char *cause = NULL;

	conf_request_opts(cc, &o);
	assert_int_equal(request_build(&o, NULL, &req, &cause), -EINVAL);
	assert_null(req);
	assert_non_null(cause);
	return cause;
}

static bool
has_header(const struct token_request *req, const char *line)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		if (strcmp(req->headers[i], line) == 0)
			return true;
	}
	return false;
}

static size_t
count_prefix(const struct token_request *req, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < req->nheaders; i++)
		n += strncasecmp(req->headers[i], prefix, strlen(prefix)) == 0;
	return n;
}

static void
test_form_encode_matches_libevent(void **state)
{
	char all[256], *mine, *theirs;

	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	mine = request_form_encode(all, sizeof(all));
	theirs = evhttp_uriencode(all, sizeof(all), 1);
	assert_non_null(theirs);
	assert_string_equal(mine, theirs);
	free(mine);
	free(theirs);

	mine = request_form_encode("a b+c:%/~&=", 11);
	assert_string_equal(mine, "a+b%2Bc%3A%25%2F~%26%3D");
	free(mine);
	mine = request_form_encode("", 0);
	assert_string_equal(mine, "");
	free(mine);
}

/* RFC 6749 2.3.1: id and secret are form-encoded before base64. */
static void
test_client_secret_basic_encoding(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	f->cc.client_id = "my:id+ %";
	secret_free(f->cc.client_secret);
	f->cc.client_secret = secret_from_str("s3 cr:t+%x");
	req = build(&f->cc, NULL);
	/* base64("my%3Aid%2B+%25:s3+cr%3At%2B%25x") */
	check_secret(req->authorization,
		     "Authorization: Basic bXklM0FpZCUyQislMjU6czMrY3IlM0F0JTJCJTI1eA==",
		     "authorization");
	check_secret(req->body, "grant_type=client_credentials", "body");
	assert_string_equal(req->url, "https://idp.example.com/oauth2/token");
	assert_true(has_header(req, "Accept: application/json"));
	assert_true(has_header(req, "Content-Type: application/x-www-form-urlencoded"));
	assert_int_equal(count_prefix(req, "Authorization"), 0);
	assert_string_equal(req->auth_desc, "client_secret_basic (HTTP Basic with client_id)");
	request_free(req);
}

static void
test_client_secret_basic_scope(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	f->cc.scope = "  read\twrite  admin:all ";
	req = build(&f->cc, NULL);
	check_secret(req->authorization, "Authorization: Basic Y2xpZW50LTE6c2VjcmV0", "authorization");
	check_secret(req->body, "grant_type=client_credentials&scope=read+write+admin%3Aall",
		     "body");
	request_free(req);

	f->cc.scope_separator = SCOPE_SEP_COMMA;
	req = build(&f->cc, NULL);
	check_secret(req->body, "grant_type=client_credentials&scope=read%2Cwrite%2Cadmin%3Aall",
		     "body");
	request_free(req);

	/* only blanks: no scope at all */
	f->cc.scope = "   ";
	req = build(&f->cc, NULL);
	check_secret(req->body, "grant_type=client_credentials", "body");
	request_free(req);
}

static void
test_audience_resource(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	/* Each value a field of its own, after the scope (RFC 8693, RFC 8707). */
	f->cc.scope = "read";
	f->cc.audience = " billing  ledger\t";
	f->cc.resource = "https://api.example.com/ urn:example:res";
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "grant_type=client_credentials&scope=read&audience=billing&audience=ledger"
		     "&resource=https%3A%2F%2Fapi.example.com%2F&resource=urn%3Aexample%3Ares",
		     "body");
	request_free(req);
	f->cc.audience = NULL;
	f->cc.resource = NULL;
}

static void
test_json_body(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	/* The same fields as a JSON object, a repeated one an array. */
	f->cc.body_format = BODY_JSON;
	f->cc.auth_method = AUTH_CLIENT_SECRET_POST;
	f->cc.client_id = "my\"id";
	secret_free(f->cc.client_secret);
	f->cc.client_secret = secret_from_str("p&ss=w rd");
	f->cc.scope = "read write";
	f->cc.audience = "billing ledger";
	f->cc.resource = "https://api.example.com/";
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "{\"grant_type\":\"client_credentials\",\"client_id\":\"my\\\"id\","
		     "\"client_secret\":\"p&ss=w rd\",\"scope\":\"read write\","
		     "\"audience\":[\"billing\",\"ledger\"],"
		     "\"resource\":[\"https://api.example.com/\"]}",
		     "body");
	assert_true(has_header(req, "Content-Type: application/json"));
	assert_false(has_header(req, "Content-Type: application/x-www-form-urlencoded"));
	request_free(req);

	/* client_secret_basic keeps the header; the body has the rest. */
	f->cc.auth_method = AUTH_CLIENT_SECRET_BASIC;
	f->cc.audience = NULL;
	f->cc.resource = NULL;
	req = build(&f->cc, NULL);
	assert_non_null(req->authorization);
	check_secret(req->body, "{\"grant_type\":\"client_credentials\",\"scope\":\"read write\"}",
		     "body");
	request_free(req);

	/*
	 * A value that is not UTF-8 would make JSON no server reads: the
	 * request is not built, and the message names the field, never its
	 * value (a secret's included).
	 */
	{
		static const char *const bad[] = { "client_secret", "audience", "scope" };
		struct request_opts o;
		char *cause;

		f->cc.auth_method = AUTH_CLIENT_SECRET_POST;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			secret_free(f->cc.client_secret);
			f->cc.client_secret = secret_from_str(i == 0 ? "s3cr\xe9t" : "s3cret");
			f->cc.audience = i == 1 ? "billing l\xc3" : "billing";
			f->cc.scope = i == 2 ? "read \x80" : "read";
			conf_request_opts(&f->cc, &o);
			req = NULL;
			cause = NULL;
			assert_int_equal(request_build(&o, NULL, &req, &cause), -EINVAL);
			assert_null(req);
			assert_non_null(cause);
			assert_true(strncmp(cause, bad[i], strlen(bad[i])) == 0);
			assert_non_null(strstr(cause, "not UTF-8"));
			assert_non_null(strstr(cause, "body_format = form"));
			assert_null(strstr(cause, "s3cr"));
			free(cause);
		}
		/* The same values in a form are percent-encoded, as any bytes are. */
		f->cc.body_format = BODY_FORM;
		f->cc.audience = NULL;
		f->cc.scope = "read";
		req = build(&f->cc, NULL);
		check_secret(req->body,
			     "grant_type=client_credentials&client_id=my%22id&client_secret=s3cret"
			     "&scope=read",
			     "body");
		request_free(req);
	}
	f->cc.body_format = BODY_FORM;
}

/* path (mode 0600) holding text; the caller unlinks it. */
static void
write_private(const char *path, const char *text)
{
	FILE *fp;

	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fchmod(fileno(fp), 0600), 0);
	fputs(text, fp);
	fclose(fp);
}

static void
test_grant_token_files(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;
	char dir[] = "/tmp/test_request.XXXXXX", *jwt, *subject, *actor, *cause;

	assert_non_null(mkdtemp(dir));
	jwt = xasprintf("%s/jwt", dir);
	subject = xasprintf("%s/subject", dir);
	actor = xasprintf("%s/actor", dir);
	write_private(jwt, "eyJ.a.b\n");
	write_private(subject, "subj-token\n");
	write_private(actor, "act-token");

	/* jwt-bearer (RFC 7523 2.1): the assertion from its file. */
	f->cc.auth_method = AUTH_NONE;
	f->cc.client_id = NULL;
	f->cc.grant_type = REQUEST_GRANT_JWT_BEARER;
	f->cc.assertion_file = jwt;
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
		     "&assertion=eyJ.a.b",
		     "body");
	request_free(req);

	/* Token exchange (RFC 8693 2.1): subject, its type, actor, requested type. */
	f->cc.grant_type = REQUEST_GRANT_TOKEN_EXCHANGE;
	f->cc.subject_token_file = subject;
	f->cc.actor_token_file = actor;
	f->cc.actor_token_type = "urn:ietf:params:oauth:token-type:access_token";
	f->cc.requested_token_type = "urn:ietf:params:oauth:token-type:access_token";
	f->cc.audience = "billing";
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
		     "&audience=billing"
		     "&subject_token=subj-token"
		     "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"
		     "&actor_token=act-token"
		     "&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
		     "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
		     "body");
	request_free(req);

	/* Read at every request: a rotated file is what goes next. */
	write_private(subject, "rotated");
	f->cc.actor_token_file = NULL;
	f->cc.requested_token_type = NULL;
	f->cc.audience = NULL;
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
		     "&subject_token=rotated"
		     "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
		     "body");
	request_free(req);

	/* Gone: the request fails, naming the key and the file. */
	unlink(subject);
	{
		struct request_opts o;

		cause = NULL;
		req = NULL;
		conf_request_opts(&f->cc, &o);
		assert_int_equal(request_build(&o, NULL, &req, &cause), -ENOENT);
		assert_null(req);
	}
	assert_non_null(strstr(cause, "subject_token_file"));
	assert_non_null(strstr(cause, subject));
	assert_non_null(strstr(cause, "No such file"));
	free(cause);

	unlink(jwt);
	unlink(actor);
	rmdir(dir);
	free(jwt);
	free(subject);
	free(actor);
	f->cc.grant_type = "client_credentials";
	f->cc.subject_token_file = NULL;
	f->cc.assertion_file = NULL;
	f->cc.actor_token_type = NULL;
}

static void
test_client_secret_post(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	f->cc.auth_method = AUTH_CLIENT_SECRET_POST;
	f->cc.grant_type = "client_credential";
	f->cc.client_id = "my:id";
	secret_free(f->cc.client_secret);
	f->cc.client_secret = secret_from_str("p&ss=w rd");
	f->cc.scope = "mediahub.read mediahub.write";
	f->cc.scope_separator = SCOPE_SEP_COMMA;
	req = build(&f->cc, NULL);
	assert_null(req->authorization);
	check_secret(req->body,
		     "grant_type=client_credential&client_id=my%3Aid&client_secret=p%26ss%3Dw+rd"
		     "&scope=mediahub.read%2Cmediahub.write",
		     "body");
	assert_null(strstr(req->auth_desc, "p&ss"));
	assert_string_equal(req->auth_desc,
			    "client_secret_post (client_id and client_secret in the body)");
	request_free(req);
}

static void
test_basic(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;
	char *cause;

	f->cc.auth_method = AUTH_BASIC;
	f->cc.username = "admin";
	f->cc.password = secret_from_str("pa:ss w+rd");
	f->cc.scope = "ignored";
	f->cc.client_id = NULL;
	req = build(&f->cc, NULL);
	/* base64("admin:pa:ss w+rd"): no form encoding for plain Basic */
	check_secret(req->authorization, "Authorization: Basic YWRtaW46cGE6c3MgdytyZA==",
		     "authorization");
	check_secret(req->body, "", "body");
	assert_string_equal(req->auth_desc, "basic (HTTP Basic with username)");
	request_free(req);

	f->params[0] = (struct request_pair){ "foo", "b r" };
	f->cc.params.n = 1;
	req = build(&f->cc, NULL);
	check_secret(req->body, "foo=b+r", "body");
	request_free(req);

	/* RFC 7617: the user-id cannot hold the separator */
	f->cc.username = "ad:min";
	cause = build_fails(&f->cc);
	assert_non_null(strstr(cause, "username"));
	free(cause);

	f->cc.username = "admin";
	secret_free(f->cc.password);
	f->cc.password = NULL;
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "auth_method basic needs username and password");
	free(cause);
}

static void
test_none(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	f->cc.auth_method = AUTH_NONE;
	req = build(&f->cc, NULL);
	assert_null(req->authorization);
	check_secret(req->body, "grant_type=client_credentials&client_id=client-1", "body");
	request_free(req);

	f->cc.client_id = NULL;
	f->cc.scope = "a b";
	req = build(&f->cc, NULL);
	check_secret(req->body, "grant_type=client_credentials&scope=a+b", "body");
	request_free(req);
}

static void
test_refresh_grant(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;
	char *cause;

	/* The token to spend comes from the credential (file or state_dir), encoded. */
	f->cc.grant_type = "refresh_token";
	f->cc.refresh_token = secret_from_str("rt/1+2=");
	f->cc.scope = "offline_access";
	req = build(&f->cc, NULL);
	check_secret(req->authorization, "Authorization: Basic Y2xpZW50LTE6c2VjcmV0", "authorization");
	check_secret(req->body, "grant_type=refresh_token&scope=offline_access&refresh_token=rt%2F1%2B2%3D",
		     "body");
	request_free(req);
	f->cc.body_format = BODY_JSON;
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "{\"grant_type\":\"refresh_token\",\"scope\":\"offline_access\","
		     "\"refresh_token\":\"rt/1+2=\"}",
		     "json body");
	request_free(req);
	secret_free(f->cc.refresh_token);

	/* None to spend: says where one goes. */
	f->cc.refresh_token = NULL;
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "grant_type refresh_token: no refresh token (put one in "
				   "refresh_token_file)");
	free(cause);
}

static void
test_password_grant(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;
	char *cause;

	f->cc.grant_type = "password";
	f->cc.username = "alice@example.com";
	f->cc.password = secret_from_str("c0rrect horse&");
	f->cc.scope = "openid";
	req = build(&f->cc, NULL);
	check_secret(req->authorization, "Authorization: Basic Y2xpZW50LTE6c2VjcmV0", "authorization");
	check_secret(req->body,
		     "grant_type=password&username=alice%40example.com&password=c0rrect+horse%26"
		     "&scope=openid",
		     "body");
	request_free(req);

	secret_free(f->cc.password);
	f->cc.password = NULL;
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "grant_type password needs username and password");
	free(cause);
}

static void
test_params_in_order(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;

	f->cc.auth_method = AUTH_CLIENT_SECRET_POST;
	f->cc.scope = "s";
	f->params[0] = (struct request_pair){ "audience", "https://api.example.com/" };
	f->params[1] = (struct request_pair){ "resource", "urn:x y" };
	f->params[2] = (struct request_pair){ "a&b", "=" };
	f->cc.params.n = 3;
	req = build(&f->cc, NULL);
	check_secret(req->body,
		     "grant_type=client_credentials&client_id=client-1&client_secret=secret&scope=s"
		     "&audience=https%3A%2F%2Fapi.example.com%2F&resource=urn%3Ax+y&a%26b=%3D",
		     "body");
	request_free(req);
}

static void
test_query(void **state)
{
	struct fixture *f = *state;
	static const struct profile xvid = {
		.name = "xvid-mediahub",
		.requested_lifetime_query = "expires_in",
	};
	struct token_request *req;

	f->query[0] = (struct request_pair){ "format", "json" };
	f->query[1] = (struct request_pair){ "x", "a b&c" };
	f->cc.query.n = 2;
	req = build(&f->cc, NULL);
	assert_string_equal(req->url, "https://idp.example.com/oauth2/token?format=json&x=a+b%26c");
	request_free(req);

	f->cc.token_url = "https://idp.example.com/token?tenant=7";
	req = build(&f->cc, NULL);
	assert_string_equal(req->url, "https://idp.example.com/token?tenant=7&format=json&x=a+b%26c");
	request_free(req);

	f->cc.token_url = "https://idp.example.com/token?";
	f->cc.query.n = 1;
	req = build(&f->cc, NULL);
	assert_string_equal(req->url, "https://idp.example.com/token?format=json");
	request_free(req);

	f->cc.token_url = "https://idp.example.com/token#frag";
	req = build(&f->cc, NULL);
	assert_string_equal(req->url, "https://idp.example.com/token?format=json#frag");
	request_free(req);

	/* requested_lifetime only for a profile that can ask for one */
	f->cc.token_url = "https://api.xvid.com/v1/oauth2/token/";
	f->cc.requested_lifetime_ms = 3600 * 1000;
	req = build(&f->cc, NULL);
	assert_string_equal(req->url, "https://api.xvid.com/v1/oauth2/token/?format=json");
	request_free(req);

	f->cc.profile = &xvid;
	req = build(&f->cc, NULL);
	assert_string_equal(req->url,
			    "https://api.xvid.com/v1/oauth2/token/?format=json&expires_in=3600");
	request_free(req);

	f->cc.requested_lifetime_ms = 0;
	req = build(&f->cc, NULL);
	assert_string_equal(req->url, "https://api.xvid.com/v1/oauth2/token/?format=json");
	request_free(req);

	/* an explicit query.expires_in is not doubled */
	f->cc.requested_lifetime_ms = 7200 * 1000;
	f->query[1] = (struct request_pair){ "expires_in", "60" };
	f->cc.query.n = 2;
	req = build(&f->cc, NULL);
	assert_string_equal(req->url,
			    "https://api.xvid.com/v1/oauth2/token/?format=json&expires_in=60");
	request_free(req);
}

static void
test_headers(void **state)
{
	struct fixture *f = *state;
	struct token_request *req;
	char *cause;

	f->headers[0] = (struct request_pair){ "X-Tenant", "acme corp" };
	f->cc.headers.n = 1;
	req = build(&f->cc, NULL);
	assert_true(has_header(req, "X-Tenant: acme corp"));
	assert_true(has_header(req, "Accept: application/json"));
	assert_int_equal(req->nheaders, 3);
	request_free(req);

	f->cc.response_format = RESPONSE_FORMAT_XML;
	req = build(&f->cc, NULL);
	assert_true(has_header(req, "Accept: application/xml"));
	assert_int_equal(count_prefix(req, "Accept:"), 1);
	request_free(req);

	/* the user's Accept wins, in any case */
	f->headers[1] = (struct request_pair){ "accept", "application/vnd.api+json" };
	f->cc.headers.n = 2;
	req = build(&f->cc, NULL);
	assert_true(has_header(req, "accept: application/vnd.api+json"));
	assert_int_equal(count_prefix(req, "Accept:"), 1);
	request_free(req);

	f->headers[1] = (struct request_pair){ "X-Evil", "a\r\nHost: other" };
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "header.X-Evil: control character in the value");
	free(cause);

	f->headers[1] = (struct request_pair){ "Bad Name", "x" };
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "header.Bad Name: not a valid header name");
	free(cause);

	/* a second Authorization would fight with HTTP Basic */
	f->headers[1] = (struct request_pair){ "Authorization", "Bearer x" };
	cause = build_fails(&f->cc);
	assert_non_null(strstr(cause, "conflicts"));
	free(cause);

	f->cc.auth_method = AUTH_NONE;
	req = build(&f->cc, NULL);
	assert_true(has_header(req, "Authorization: Bearer x"));
	assert_null(req->authorization);
	request_free(req);
}

static void
test_reauth(void **state)
{
	struct fixture *f = *state;
	struct secret *tok = secret_from_str("cur+tok/en=");
	struct token_request *req;

	f->cc.auth_method = AUTH_BASIC;
	f->cc.username = "admin";
	f->cc.password = secret_from_str("pw");
	f->cc.reauth_with_token = true;

	/* no current token: plain authentication */
	f->cc.reauth_token_param = "";
	req = build(&f->cc, NULL);
	check_secret(req->body, "", "body");
	check_secret(req->authorization, "Authorization: Basic YWRtaW46cHc=", "authorization");
	assert_string_equal(req->auth_desc, "basic (HTTP Basic with username)");
	request_free(req);

	/* empty param: the raw token is the whole body, Basic still sent */
	req = build(&f->cc, tok);
	check_secret(req->body, "cur+tok/en=", "body");
	check_secret(req->authorization, "Authorization: Basic YWRtaW46cHc=", "authorization");
	assert_true(has_header(req, "Content-Type: application/x-www-form-urlencoded"));
	assert_null(strstr(req->auth_desc, "cur+tok"));
	assert_non_null(strstr(req->auth_desc, "current token as the body"));
	request_free(req);

	/* NULL behaves as empty */
	f->cc.reauth_token_param = NULL;
	req = build(&f->cc, tok);
	check_secret(req->body, "cur+tok/en=", "body");
	request_free(req);

	/* a named field, after the params */
	f->cc.reauth_token_param = "token";
	f->params[0] = (struct request_pair){ "p", "1" };
	f->cc.params.n = 1;
	req = build(&f->cc, tok);
	check_secret(req->body, "p=1&token=cur%2Btok%2Fen%3D", "body");
	assert_non_null(strstr(req->auth_desc, "current token in the body"));
	request_free(req);

	f->cc.auth_method = AUTH_CLIENT_SECRET_BASIC;
	req = build(&f->cc, tok);
	check_secret(req->body, "grant_type=client_credentials&p=1&token=cur%2Btok%2Fen%3D",
		     "body");
	request_free(req);

	/* not configured: the token is not sent */
	f->cc.reauth_with_token = false;
	req = build(&f->cc, tok);
	check_secret(req->body, "grant_type=client_credentials&p=1", "body");
	request_free(req);

	secret_free(tok);
}

static void
test_missing_settings(void **state)
{
	struct fixture *f = *state;
	char *cause;

	f->cc.token_url = NULL;
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "no token_url");
	free(cause);

	f->cc.token_url = "https://idp.example.com/token";
	f->cc.client_id = NULL;
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "auth_method client_secret_basic needs client_id and client_secret");
	free(cause);

	f->cc.client_id = "id";
	f->cc.auth_method = AUTH_CLIENT_SECRET_POST;
	secret_free(f->cc.client_secret);
	f->cc.client_secret = NULL;
	cause = build_fails(&f->cc);
	assert_string_equal(cause, "auth_method client_secret_post needs client_id and client_secret");
	free(cause);

	assert_null(request_free(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_encode_matches_libevent),
		cmocka_unit_test_setup_teardown(test_client_secret_basic_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_secret_basic_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audience_resource, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_token_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_secret_post, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reauth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_settings, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
