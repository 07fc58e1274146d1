/*
 * The token endpoint's answer: its format told from the configuration, the
 * Content-Type or the first byte; the token, its type, lifetime and granted
 * scope out of it, or an error a person can act on; and the sanitizing of
 * untrusted text that every piece uses.  The document layer is
 * response-doc.c, the error envelopes response-env.c, the JWT's exp
 * response-jwt.c.  Error text from the body is sanitized and capped;
 * neither the token nor the body itself ever goes into a message.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "json.h"
#include "response-int.h"
#include "response.h"
#include "text.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Longest lifetime believed: ten years. */
#define RESPONSE_LIFETIME_MAX_S (10 * 36525LL * 864) /* 10 * 365.25 days in seconds */

/* ---- untrusted text ---- */

/* A blank as JSON and XML skip it. */
bool
response_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Sanitized text (capped at RESPONSE_TEXT_MAX) with surrounding blanks
 * dropped; NULL when nothing is left.
 */
char *
response_text(const char *s, size_t len)
{
	while (len > 0 && response_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && response_blank(s[len - 1]))
		len--;
	if (len == 0)
		return NULL;
	return text_sanitize(s, len, RESPONSE_TEXT_MAX);
}

/*
 * A decimal number as JSON writes it (sign, digits, fraction, exponent),
 * nothing else: no hex, no "inf", no blanks.
 */
bool
response_number(const char *s, size_t len, double *ret)
{
	size_t i = 0, d;
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return false;
	if (s[i] == '-' || s[i] == '+')
		i++;
	for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (d == 0)
		return false;
	if (i < len && s[i] == '.') {
		i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		for (d = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	}
	if (i != len)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*ret = strtod(buf, NULL);
	return isfinite(*ret);
}

/* ---- the answer ---- */

static bool
response_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/* The media type of a Content-Type, lower-cased and sanitized; or NULL. */
static char *
response_media_type(const char *ct)
{
	char *t;
	size_t n;

	if (ct == NULL)
		return NULL;
	ct += strspn(ct, " \t");
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	t = text_sanitize(ct, n, 64);
	for (char *p = t; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return t;
}

static bool
response_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static enum response_fmt
response_detect(enum response_format want, const char *mt, const char *body, size_t len)
{
	size_t i = 0;

	if (want == RESPONSE_FORMAT_JSON)
		return FMT_JSON;
	if (want == RESPONSE_FORMAT_XML)
		return FMT_XML;
	if (mt != NULL) {
		if (strcmp(mt, "application/json") == 0 || response_suffix(mt, "+json"))
			return FMT_JSON;
		if (strcmp(mt, "application/xml") == 0 || strcmp(mt, "text/xml") == 0 ||
		    response_suffix(mt, "+xml"))
			return FMT_XML;
	}
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && response_blank(body[i]))
		i++;
	if (i < len && body[i] == '{')
		return FMT_JSON;
	if (i < len && body[i] == '<')
		return mt != NULL && strcmp(mt, "text/html") == 0 ? FMT_HTML : FMT_XML;
	return FMT_UNKNOWN;
}

/* Fills err; message and the other strings become err's. */
static int
response_fail(struct response_error *err, long status, char *message)
{
	err->http_status = status;
	err->message = message;
	if (status == 401 || response_env_auth_code(err->error))
		err->auth_failed = true;
	err->permanent = response_env_permanent(status, err->error, err->auth_failed);
	return -EINVAL;
}

/* "(text/html, 1234 bytes)": a body described, never quoted. */
static char *
response_describe(const char *mt, size_t len)
{
	return xasprintf("(%s, %zu bytes)", mt != NULL ? mt : "no Content-Type", len);
}

/*
 * Seconds from a JSON number or a numeric string; 0 and *ret_ms (> 0 and
 * at most ten years), else -EINVAL with *why.
 */
static int
response_seconds(const struct response_value *v, bool absolute, int64_t now_ms, int64_t *ret_ms,
		 const char **why)
{
	double s;
	int64_t ms;

	if (v->kind != RV_NUMBER && v->kind != RV_STRING) {
		*why = "not a number";
		return -EINVAL;
	}
	if (!response_number(v->text, v->len, &s)) {
		*why = "not a number";
		return -EINVAL;
	}
	if (absolute) {
		if (s <= 0 || s > 1e11) {
			*why = "out of range";
			return -EINVAL;
		}
		ms = (int64_t)(s * 1000 + 0.5) - now_ms;
	} else {
		if (s <= 0 || s > (double)RESPONSE_LIFETIME_MAX_S) {
			*why = "out of range";
			return -EINVAL;
		}
		ms = (int64_t)(s * 1000 + 0.5);
	}
	*ret_ms = ms;
	return 0;
}

static void
response_found(char **found, const char *what, const char *path)
{
	char *s;

	if (*found == NULL) {
		*found = xasprintf("%s at %s", what, path);
		return;
	}
	s = xasprintf("%s, %s at %s", *found, what, path);
	free(*found);
	*found = s;
}

/* A path that is configured: NULL means the default, "" means not wanted. */
static const char *
response_path(const char *path, const char *def)
{
	if (path == NULL)
		return def;
	return *path == '\0' ? NULL : path;
}

/*
 * The lifetime: expires_in, else expires_at, else the JWT's exp, else the
 * default.  Returns 0, or -EINVAL with *ret_msg (without the "HTTP 200"
 * prefix).
 */
static int
response_lifetime(const struct response_opts *o, struct response_doc *doc, int64_t now_ms,
		  struct token_response *tok, char **ret_msg)
{
	const char *in_path = response_path(o->expires_in_path, "/expires_in");
	const char *at_path = response_path(o->expires_at_path, NULL);
	struct response_value v = { 0 };
	const char *why;
	char *shown;
	int64_t ms = 0, exp;
	int r;

	if (in_path != NULL) {
		if (response_doc_value(doc, in_path, &v) < 0) {
			*ret_msg = xasprintf("expires_in_path %s is not valid", in_path);
			return -EINVAL;
		}
		if (v.kind != RV_NONE) {
			r = response_seconds(&v, false, now_ms, &ms, &why);
			if (r < 0) {
				if (v.text != NULL) {
					shown = text_sanitize(v.text, v.len, 32);
					*ret_msg = xasprintf("expires_in: %s: %s", why, shown);
					free(shown);
				} else {
					*ret_msg = xstrdup("expires_in: not a number");
				}
				response_doc_value_clear(&v);
				return r;
			}
			response_doc_value_clear(&v);
			response_found(&tok->found, "expires_in", in_path);
			tok->lifetime_source = LIFETIME_EXPIRES_IN;
			goto done;
		}
	}
	if (at_path != NULL) {
		if (response_doc_value(doc, at_path, &v) < 0) {
			*ret_msg = xasprintf("expires_at_path %s is not valid", at_path);
			return -EINVAL;
		}
		if (v.kind != RV_NONE) {
			r = response_seconds(&v, true, now_ms, &ms, &why);
			if (r < 0 && v.kind == RV_STRING && timeutil_parse_iso8601(v.text, &exp) == 0) {
				ms = exp - now_ms;
				r = 0;
			}
			if (r < 0) {
				if (v.text != NULL) {
					shown = text_sanitize(v.text, v.len, 40);
					*ret_msg = xasprintf("expires_at: not a time: %s", shown);
					free(shown);
				} else {
					*ret_msg = xstrdup("expires_at: not a time");
				}
				response_doc_value_clear(&v);
				return r;
			}
			response_doc_value_clear(&v);
			if (ms > RESPONSE_LIFETIME_MAX_S * 1000) {
				*ret_msg = xstrdup("expires_at: more than ten years away");
				return -EINVAL;
			}
			response_found(&tok->found, "expires_at", at_path);
			tok->lifetime_source = LIFETIME_EXPIRES_AT;
			goto done;
		}
	}
	exp = response_jwt_exp(tok->token->access_token);
	if (exp > 0 && exp <= RESPONSE_LIFETIME_MAX_S + now_ms / 1000) {
		ms = exp * 1000 - now_ms;
		response_found(&tok->found, "exp", "the JWT payload");
		tok->lifetime_source = LIFETIME_JWT_EXP;
		goto done;
	}
	ms = o->default_lifetime_ms;
	tok->lifetime_source = LIFETIME_DEFAULT;
done:
	if (ms <= 0) {
		*ret_msg = xstrdup(tok->lifetime_source == LIFETIME_DEFAULT ?
					   "no lifetime given and no default_lifetime" :
					   "the token has already expired");
		return -EINVAL;
	}
	tok->token->lifetime_ms = ms;
	if (tok->lifetime_source == LIFETIME_EXPIRES_AT || tok->lifetime_source == LIFETIME_JWT_EXP)
		tok->token->expires_wall_ms = now_ms + ms;
	return 0;
}

/* The token's type: "Bearer" when absent, any case of bearer normalised. */
static int
response_token_type(const struct response_opts *o, struct response_doc *doc,
		    struct token_response *tok, char **ret_msg)
{
	const char *path = response_path(o->token_type_path, "/token_type");
	struct response_value v = { 0 };

	if (path != NULL && response_doc_value(doc, path, &v) < 0) {
		*ret_msg = xasprintf("token_type_path %s is not valid", path);
		return -EINVAL;
	}
	if (v.kind == RV_STRING && v.len > 0) {
		/*
		 * It goes into Authorization headers, sinks and environment
		 * files, where a space, a line break or a quote would change
		 * what the reader sees: an RFC 7230 token, or nothing.
		 */
		if (v.len > RESPONSE_TOKEN_TYPE_MAX || !text_token(v.text, v.len)) {
			char *shown = text_sanitize(v.text, v.len, 32);

			*ret_msg = xasprintf("the token_type at %s is not an HTTP authentication "
					     "scheme (letters, digits and !#$%%&'*+-.^_`|~, at most "
					     "%d): refused '%s'",
					     path, RESPONSE_TOKEN_TYPE_MAX, shown);
			free(shown);
			response_doc_value_clear(&v);
			return -EINVAL;
		}
		free(tok->token->token_type);
		tok->token->token_type = strcasecmp(v.text, "bearer") == 0 ? xstrdup("Bearer") :
								      xstrndup(v.text, v.len);
		response_found(&tok->found, "token_type", path);
	}
	/* Otherwise token_new's "Bearer" stays. */
	response_doc_value_clear(&v);
	return 0;
}

/* The granted scope (JSON "scope"), space-separated; NULL when none. */
static char *
response_scope(const struct response_opts *o, struct response_doc *doc,
	       struct token_response *tok)
{
	const struct json *j;
	const char *seps = o->scope_separator == SCOPE_SEP_COMMA ? " ,\t" : " \t";
	char *raw, *out, *p;
	size_t n, len = 0;

	if (doc->fmt != FMT_JSON)
		return NULL;
	j = json_get(doc->json, "scope");
	if (j == NULL || j->type != JSON_STRING)
		return NULL;
	raw = text_sanitize(j->text, j->len, RESPONSE_TEXT_MAX);
	out = xmalloc(strlen(raw) + 1);
	for (p = raw;;) {
		p += strspn(p, seps);
		if (*p == '\0')
			break;
		n = strcspn(p, seps);
		if (len > 0)
			out[len++] = ' ';
		memcpy(out + len, p, n);
		len += n;
		p += n;
	}
	out[len] = '\0';
	free(raw);
	if (len == 0) {
		free(out);
		return NULL;
	}
	response_found(&tok->found, "scope", "/scope");
	return out;
}

/*
 * A rotated refresh token, when the answer has one.  One that is there but
 * unusable fails the answer: taking the access token and dropping the
 * refresh token would lose the only one the server still accepts.
 */
static int
response_refresh_token(struct response_doc *doc, struct token_response *tok, char **ret_msg)
{
	struct response_value v = { 0 };

	if (response_doc_value(doc, "/refresh_token", &v) < 0 || v.kind == RV_NONE) {
		response_doc_value_clear(&v);
		return 0;
	}
	if (v.kind != RV_STRING || v.len == 0 || v.len > TOKEN_BODY_MAX ||
	    !text_printable(v.text, v.len)) {
		response_doc_value_clear(&v);
		*ret_msg = xstrdup("the refresh_token is not a non-empty printable string");
		return -EINVAL;
	}
	tok->refresh_token = secret_new(v.text, v.len);
	response_doc_value_clear(&v);
	response_found(&tok->found, "refresh_token", "/refresh_token");
	return 0;
}

/*
 * The answer once parsed: an error envelope, or the token and its lifetime.
 * Returns 0 with *ret_tok, or -EINVAL with err filled.
 */
static int
response_extract(const struct response_opts *o, long status, const char *mt, size_t len,
		 struct response_doc *doc, int64_t now_ms, struct token_response **ret_tok,
		 struct response_error *err)
{
	const char *token_path = response_path(o->token_path, "/access_token");
	struct response_env env = { 0 };
	struct response_value v = { 0 };
	struct token_response *tok;
	char *text, *msg = NULL, *desc;
	int r;

	if (token_path == NULL)
		token_path = "";
	response_env_read(doc, &env);
	text = response_env_text(&env);

	if (!response_2xx(status) || env.error_key) {
		err->text = text != NULL ? xstrdup(text) : NULL;
		err->error = env.code_is_error ? TAKE_PTR(env.code) : NULL;
		err->description = TAKE_PTR(env.desc);
		if (response_2xx(status)) {
			msg = text != NULL ? xasprintf("HTTP %ld with error: %s", status, text) :
					     xasprintf("HTTP %ld with error", status);
		} else if (text == NULL) {
			desc = response_describe(mt, len);
			msg = xasprintf("HTTP %ld: not a token response %s", status, desc);
			free(desc);
		} else {
			msg = xasprintf("HTTP %ld: %s", status, text);
		}
		free(text);
		response_env_clear(&env);
		return response_fail(err, status, msg);
	}

	if (response_doc_value(doc, token_path, &v) < 0) {
		msg = xasprintf("HTTP %ld but token_path %s is not a valid %s", status, token_path,
				doc->fmt == FMT_XML ? "XPath" : "JSON Pointer");
	} else if (v.kind != RV_STRING || v.len == 0) {
		msg = text != NULL ?
			      xasprintf("HTTP %ld but no token at %s: %s", status, token_path, text) :
			      xasprintf("HTTP %ld but no token at %s", status, token_path);
	} else if (!text_printable(v.text, v.len)) {
		msg = xasprintf("HTTP %ld but the token at %s contains control characters", status,
				token_path);
	}
	free(text);
	if (msg != NULL) {
		err->description = TAKE_PTR(env.desc);
		response_env_clear(&env);
		response_doc_value_clear(&v);
		return response_fail(err, status, msg);
	}
	response_env_clear(&env);

	tok = xcalloc(1, sizeof(*tok));
	tok->token = token_new(secret_new(v.text, v.len), NULL, NULL);
	response_doc_value_clear(&v);
	tok->format = doc->fmt == FMT_XML ? "xml" : "json";
	response_found(&tok->found, "access_token", token_path);
	if (response_token_type(o, doc, tok, &text) < 0 ||
	    response_lifetime(o, doc, now_ms, tok, &text) < 0) {
		response_free(tok);
		msg = xasprintf("HTTP %ld but %s", status, text);
		free(text);
		return response_fail(err, status, msg);
	}
	tok->token->scope = response_scope(o, doc, tok);
	if (doc->fmt == FMT_JSON && (r = response_refresh_token(doc, tok, &text)) < 0) {
		response_free(tok);
		msg = xasprintf("HTTP %ld but %s", status, text);
		free(text);
		return response_fail(err, status, msg);
	}
	*ret_tok = tok;
	return 0;
}

int
response_parse(const struct response_opts *o, long status, const char *content_type,
	       const char *body, size_t len, int64_t now_wall_ms,
	       struct token_response **ret_tok, struct response_error *ret_err)
{
	struct response_doc doc = { 0 };
	char *mt, *cause = NULL, *desc, *msg;
	int r;

	memset(ret_err, 0, sizeof(*ret_err));
	if (status <= 0)
		return response_fail(ret_err, 0, xstrdup("no HTTP answer"));
	if (body == NULL)
		len = 0;
	mt = response_media_type(content_type);
	if (len > TOKEN_BODY_MAX) {
		r = response_fail(ret_err, status,
				  xasprintf("HTTP %ld: the body is too large (%zu bytes)", status,
					    len));
		free(mt);
		return r;
	}
	if (len == 0) {
		r = response_fail(ret_err, status,
				  response_2xx(status) ?
					  xasprintf("HTTP %ld but the body is empty", status) :
					  xasprintf("HTTP %ld: empty body", status));
		free(mt);
		return r;
	}

	doc.fmt = response_detect(o->format, mt, body, len);
	if (doc.fmt == FMT_JSON || doc.fmt == FMT_XML)
		r = response_doc_parse(&doc, body, len, &cause);
	else
		r = -EINVAL;

	if (r == 0) {
		r = response_extract(o, status, mt, len, &doc, now_wall_ms, ret_tok, ret_err);
	} else {
		desc = response_describe(mt, len);
		if (!response_2xx(status))
			msg = xasprintf("HTTP %ld: not a token response %s", status, desc);
		else if (doc.fmt == FMT_JSON || doc.fmt == FMT_XML)
			msg = xasprintf("HTTP %ld but the body is not %s: %s %s", status,
					doc.fmt == FMT_JSON ? "JSON" : "XML", cause, desc);
		else
			msg = xasprintf("HTTP %ld but the body is neither JSON nor XML %s", status,
					desc);
		free(desc);
		free(cause);
		r = response_fail(ret_err, status, msg);
	}
	response_doc_clear(&doc);
	free(mt);
	return r;
}

struct token_response *
response_free(struct token_response *tok)
{
	if (tok == NULL)
		return NULL;
	token_free(tok->token);
	secret_free(tok->refresh_token);
	free(tok->found);
	free(tok);
	return NULL;
}

void
response_error_clear(struct response_error *err)
{
	if (err == NULL)
		return;
	free(err->error);
	free(err->description);
	free(err->text);
	free(err->message);
	memset(err, 0, sizeof(*err));
}
