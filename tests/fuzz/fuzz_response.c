/*
 * The token endpoint's answer, as response_parse reads it.  The first
 * bytes of the input choose how the credential reads answers
 * (response_format, the paths: the defaults, the profiles' and custom
 * JSON Pointers and XPaths, an expires_at_path, default_lifetime, the
 * scope separator), the HTTP status and the Content-Type; the rest is the
 * body.
 *
 * Properties: only a 2xx answer gives a token; a token that comes out is
 * non-empty printable text, and for JSON exactly the string at its path;
 * its type an RFC 7230 token of at most 64 bytes; its lifetime positive
 * and at most ten years, an absolute expiry consistent with it; a scope
 * printable, words joined by single spaces; a refresh token printable.  A
 * refusal has the status it came with, a message that is sanitized
 * (printable, valid UTF-8) and capped, and an error code and description
 * that are too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "response.h"
#include "text.h"

#define LIFETIME_MAX_MS (10 * 36525LL * 864 * 1000) /* ten years */
#define MESSAGE_MAX (4 * RESPONSE_TEXT_MAX + 256)

struct paths {
	const char *token, *expires_in, *token_type, *expires_at;
};

static const struct paths path_sets[] = {
	{ NULL, NULL, NULL, NULL },			    /* the defaults */
	{ "/response/data/accessToken", NULL, NULL, NULL }, /* oracle-sbc */
	{ "/token", NULL, NULL, "/expires_at" },
	{ "/data/token", "/data/ttl", "/data/type", "/data/validUntil" },
	{ "", "", "", "" }, /* "": not wanted */
	{ "//token", "string(//ttl)", "//type", "//expires" },
	{ "/r/@token", "/r/@expires_in", "/r/@type", "/r/@exp" },
	{ "/a~1b/0", "/e~0x", "/t/1", "/exp" },
	{ "count(/*)", "/x[", "/", "1 div 0" }, /* odd and invalid XPaths */
	{ "/access_token", "/expires_in", "/token_type", "/expires_at" },
};

static const long statuses[] = { 200, 201, 204, 299, 400, 401, 403, 404, 408, 425,
				 429, 500, 502, 503, 0,	  -1,  100, 199, 300, 302 };

static const char *const content_types[] = {
	NULL,
	"application/json",
	"application/json; charset=utf-8",
	"APPLICATION/JSON",
	"application/problem+json",
	"text/xml",
	"application/xml",
	"application/vnd.sbc+xml; charset=UTF-8",
	"text/html",
	"text/html; charset=iso-8859-1",
	"text/plain",
	"",
	" ; x=y",
	"\tapplication/json\t;",
};

static const int64_t default_lifetimes[] = { 600 * 1000, 1, 0, 30LL * 24 * 3600 * 1000 };
static const int64_t nows[] = { 1767225600000, 1, 0, 99999999999999 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For a JSON body: the string at the token's path, as the parser must have found it. */
static void
check_json_token(const struct response_opts *o, const char *body, size_t len,
		 const struct secret *tok)
{
	const char *path = o->token_path != NULL ? o->token_path : "/access_token";
	const struct json *v;
	struct json *j = NULL;
	char *cause = NULL;

	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
		body += 3;
		len -= 3;
	}
	FUZZ_CHECK(json_parse(body, len, &j, &cause) == 0, "a token from a body that is not JSON");
	v = json_pointer(j, path);
	FUZZ_CHECK(v != NULL && v->type == JSON_STRING, "the token is not the string at %s", path);
	FUZZ_CHECK(v->len == tok->len && memcmp(v->text, tok->data, tok->len) == 0,
		   "the token differs from the string at %s", path);
	json_free(j);
}

static void
check_token(const struct response_opts *o, long status, const char *body, size_t len, int64_t now,
	    const struct token_response *tr)
{
	const struct token *t = tr->token;

	FUZZ_CHECK(status >= 200 && status <= 299, "a token from HTTP %ld", status);
	FUZZ_CHECK(t != NULL && t->access_token != NULL, "no token in a success");
	FUZZ_CHECK(t->access_token->len > 0, "an empty token");
	FUZZ_CHECK(strlen(t->access_token->data) == t->access_token->len, "a NUL in the token");
	FUZZ_CHECK(text_printable(t->access_token->data, t->access_token->len),
		   "a control character in the token");
	FUZZ_CHECK(t->token_type != NULL && strlen(t->token_type) <= RESPONSE_TOKEN_TYPE_MAX &&
			   text_token(t->token_type, strlen(t->token_type)),
		   "the token type is not an RFC 7230 token");
	FUZZ_CHECK(t->lifetime_ms > 0 && t->lifetime_ms <= LIFETIME_MAX_MS,
		   "lifetime %lld ms out of bounds", (long long)t->lifetime_ms);
	if (tr->lifetime_source == LIFETIME_EXPIRES_AT || tr->lifetime_source == LIFETIME_JWT_EXP)
		FUZZ_CHECK(t->expires_wall_ms == now + t->lifetime_ms,
			   "the absolute expiry disagrees with the lifetime");
	else
		FUZZ_CHECK(t->expires_wall_ms == 0, "an absolute expiry from a relative lifetime");
	if (tr->lifetime_source == LIFETIME_DEFAULT)
		FUZZ_CHECK(t->lifetime_ms == o->default_lifetime_ms, "not the default lifetime");
	if (t->scope != NULL) {
		FUZZ_CHECK(t->scope[0] != '\0' && fuzz_sanitized(t->scope) &&
				   strlen(t->scope) <= RESPONSE_TEXT_MAX,
			   "the scope is not sanitized text");
		FUZZ_CHECK(fuzz_trimmed(t->scope) && strstr(t->scope, "  ") == NULL &&
				   strchr(t->scope, '\t') == NULL,
			   "the scope's words are not joined by single spaces");
	}
	if (tr->refresh_token != NULL)
		FUZZ_CHECK(tr->refresh_token->len > 0 &&
				   strlen(tr->refresh_token->data) == tr->refresh_token->len &&
				   text_printable(tr->refresh_token->data, tr->refresh_token->len),
			   "the refresh token is not printable text");
	FUZZ_CHECK(strcmp(tr->format, "json") == 0 || strcmp(tr->format, "xml") == 0, "format %s",
		   tr->format);
	FUZZ_CHECK(tr->found != NULL && text_printable(tr->found, strlen(tr->found)),
		   "what was found is not printable");
	if (strcmp(tr->format, "json") == 0)
		check_json_token(o, body, len, t->access_token);
	else
		FUZZ_CHECK(tr->refresh_token == NULL, "a refresh token from XML");
}

/* NULL, or sanitized text of at most max bytes. */
static void
check_text(const char *what, const char *s, size_t max)
{
	if (s == NULL)
		return;
	FUZZ_CHECK(fuzz_sanitized(s), "%s is not sanitized", what);
	FUZZ_CHECK(strlen(s) <= max, "%s is %zu bytes", what, strlen(s));
}

static void
check_error(long status, const struct response_error *e)
{
	FUZZ_CHECK(e->http_status == (status > 0 ? status : 0), "http_status %ld for %ld",
		   e->http_status, status);
	FUZZ_CHECK(e->message != NULL && e->message[0] != '\0', "no message");
	check_text("the message", e->message, MESSAGE_MAX);
	check_text("the error code", e->error, RESPONSE_TEXT_MAX);
	check_text("the description", e->description, RESPONSE_TEXT_MAX);
	check_text("the upstream's text", e->text, 3 * RESPONSE_TEXT_MAX + 32);
	if (e->error != NULL)
		FUZZ_CHECK(e->error[0] != '\0' && fuzz_trimmed(e->error),
			   "the error code is not trimmed");
	if (status > 0)
		FUZZ_CHECK(strncmp(e->message, "HTTP ", 5) == 0,
			   "the message does not start with the status");
	if (e->auth_failed)
		FUZZ_CHECK(e->permanent, "an authentication failure that is not permanent");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct response_opts o = { 0 };
	struct token_response *tr = NULL;
	struct response_error err;
	const struct paths *ps;
	const char *ct;
	long status;
	int64_t now;
	char *body;
	size_t len;
	uint8_t b;
	int r;

	b = fuzz_byte(&in);
	o.format = (enum response_format)(b % 3);
	o.scope_separator = (b >> 2) & 1 ? SCOPE_SEP_COMMA : SCOPE_SEP_SPACE;
	o.default_lifetime_ms = default_lifetimes[(b >> 3) & 3];
	now = nows[(b >> 5) & 3];
	ps = &path_sets[fuzz_choice(&in, sizeof(path_sets) / sizeof(path_sets[0]))];
	o.token_path = ps->token;
	o.expires_in_path = ps->expires_in;
	o.token_type_path = ps->token_type;
	o.expires_at_path = ps->expires_at;
	status = statuses[fuzz_choice(&in, sizeof(statuses) / sizeof(statuses[0]))];
	ct = content_types[fuzz_choice(&in, sizeof(content_types) / sizeof(content_types[0]))];
	body = fuzz_rest(&in, &len);

	r = response_parse(&o, status, ct, body, len, now, &tr, &err);
	if (r == 0) {
		FUZZ_CHECK(tr != NULL, "success without a token");
		FUZZ_CHECK(err.message == NULL && err.error == NULL, "success with an error");
		check_token(&o, status, body, len, now, tr);
		response_free(tr);
	} else {
		FUZZ_CHECK(r == -EINVAL, "returned %d", r);
		FUZZ_CHECK(tr == NULL, "a token with a failure");
		check_error(status, &err);
		response_error_clear(&err);
	}
	free(body);
	return 0;
}
