/*
 * The token request: URL, headers, Authorization and form body for one
 * credential, shaped by its auth_method.  Every buffer that holds a secret
 * (or its encoded form) is wiped before it is released.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <yajl/yajl_gen.h>

#include "text.h"
#include "timeutil.h"
#include "request.h"
#include "secbuf.h"
#include "log.h"
#include "xmalloc.h"

/* Hands the contents over as a secret and wipes the buffer. */
static struct secret *
request_buf_secret(struct secbuf *b)
{
	struct secret *s = secret_new(b->data != NULL ? b->data : "", b->len);

	secbuf_clear(b);
	return s;
}

/*
 * application/x-www-form-urlencoded, byte for byte what libevent's
 * evhttp_uriencode(s, len, 1) produces: ALPHA DIGIT - . _ ~ kept, space as
 * '+', everything else %XX in upper case.  It is written here rather than
 * called because evhttp_uriencode formats each byte with a printf into an
 * evbuffer that is freed unwiped, which is no place for a client secret.
 */
static void
request_buf_encode(struct secbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	secbuf_reserve(b, len * 3);
	for (size_t i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			b->data[b->len++] = (char)c;
		} else if (c == ' ') {
			b->data[b->len++] = '+';
		} else {
			b->data[b->len++] = '%';
			b->data[b->len++] = hex[c >> 4];
			b->data[b->len++] = hex[c & 0xf];
		}
	}
	b->data[b->len] = '\0';
}

char *
request_form_encode(const char *s, size_t len)
{
	struct secbuf b = { 0 };

	request_buf_encode(&b, s, len);
	return secbuf_take(&b);
}

/* Appends "&name=value" (no '&' first) with both parts encoded. */
static void
request_buf_field(struct secbuf *b, const char *name, const char *value, size_t vlen)
{
	if (b->len > 0)
		secbuf_add(b, "&", 1);
	request_buf_encode(b, name, strlen(name));
	secbuf_add(b, "=", 1);
	request_buf_encode(b, value, vlen);
}

/*
 * "Authorization: Basic " + base64(user ":" password), with both halves
 * form-encoded first when encode is set (RFC 6749 2.3.1).
 */
static struct secret *
request_basic(const char *user, const struct secret *password, bool encode)
{
	struct secbuf plain = { 0 }, hdr = { 0 };
	unsigned char *b64;
	size_t n;
	int k;

	if (encode)
		request_buf_encode(&plain, user, strlen(user));
	else
		secbuf_str(&plain, user);
	secbuf_add(&plain, ":", 1);
	if (encode)
		request_buf_encode(&plain, password->data, password->len);
	else
		secbuf_add(&plain, password->data, password->len);

	n = 4 * ((plain.len + 2) / 3) + 1;
	b64 = xmalloc(n);
	k = EVP_EncodeBlock(b64, (const unsigned char *)plain.data, (int)plain.len);
	secbuf_clear(&plain);
	secbuf_str(&hdr, "Authorization: Basic ");
	secbuf_add(&hdr, (const char *)b64, k < 0 ? 0 : (size_t)k);
	secret_free_buf(b64, n);
	return request_buf_secret(&hdr);
}

/* The configured scopes joined by the wire separator, or NULL for none. */
static char *
request_scope(const struct request_opts *o)
{
	struct secbuf b = { 0 };
	const char *p = o->scope, *sep = o->scope_separator == SCOPE_SEP_COMMA ? "," : " ";
	size_t n;

	if (p == NULL)
		return NULL;
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t");
		if (b.len > 0)
			secbuf_str(&b, sep);
		secbuf_add(&b, p, n);
		p += n;
	}
	return secbuf_take(&b);
}

static bool
request_has_header(const struct request_opts *o, const char *name)
{
	for (size_t i = 0; i < o->headers.n; i++) {
		if (strcasecmp(o->headers.v[i].name, name) == 0)
			return true;
	}
	return false;
}

/* RFC 9110 token characters, for header names. */
static bool
request_header_name_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return false;
	}
	return true;
}

static void
request_add_header(struct token_request *req, char *line)
{
	req->headers = xreallocarray(req->headers, req->nheaders + 1, sizeof(*req->headers));
	req->headers[req->nheaders++] = line;
}

static int
request_headers(const struct request_opts *o, struct token_request *req, char **cause)
{
	const char *accept;

	for (size_t i = 0; i < o->headers.n; i++) {
		const struct request_pair *h = &o->headers.v[i];

		if (!request_header_name_valid(h->name)) {
			*cause = xasprintf("header.%s: not a valid header name", h->name);
			return -EINVAL;
		}
		if (!text_field_value(h->value, strlen(h->value))) {
			*cause = xasprintf("header.%s: control character in the value", h->name);
			return -EINVAL;
		}
		if (req->authorization != NULL && strcasecmp(h->name, "Authorization") == 0) {
			*cause = xasprintf("header.%s: conflicts with auth_method %s", h->name,
					   o->auth_method == AUTH_BASIC ? "basic" :
									   "client_secret_basic");
			return -EINVAL;
		}
		request_add_header(req, xasprintf("%s: %s", h->name, h->value));
	}
	if (!request_has_header(o, "Accept")) {
		accept = o->accept_xml ? "application/xml" :
								      "application/json";
		request_add_header(req, xasprintf("Accept: %s", accept));
	}
	if (!request_has_header(o, "Content-Type"))
		request_add_header(req, xstrdup(o->body_format == BODY_JSON ?
							"Content-Type: application/json" :
							"Content-Type: application/x-www-form-urlencoded"));
	return 0;
}

static bool
request_has_query(const struct request_opts *o, const char *name)
{
	for (size_t i = 0; i < o->query.n; i++) {
		if (strcmp(o->query.v[i].name, name) == 0)
			return true;
	}
	return false;
}

/*
 * token_url with query.* and the requested lifetime appended to its query
 * (after an existing one, before any fragment).
 */
static char *
request_url(const struct request_opts *o)
{
	struct secbuf q = { 0 }, url = { 0 };
	const char *u = o->token_url, *frag, *qmark;
	size_t base;
	char secs[32];

	for (size_t i = 0; i < o->query.n; i++)
		request_buf_field(&q, o->query.v[i].name, o->query.v[i].value,
				  strlen(o->query.v[i].value));
	if (o->requested_lifetime_query != NULL && o->requested_lifetime_ms > 0 &&
	    !request_has_query(o, o->requested_lifetime_query)) {
		snprintf(secs, sizeof(secs), "%lld",
			 (long long)((o->requested_lifetime_ms + 999) / 1000));
		request_buf_field(&q, o->requested_lifetime_query, secs, strlen(secs));
	}
	if (q.len == 0)
		return xstrdup(u);

	frag = strchr(u, '#');
	base = frag != NULL ? (size_t)(frag - u) : strlen(u);
	secbuf_add(&url, u, base);
	qmark = memchr(u, '?', base);
	if (qmark == NULL)
		secbuf_add(&url, "?", 1);
	else if (base > 0 && u[base - 1] != '?' && u[base - 1] != '&')
		secbuf_add(&url, "&", 1);
	secbuf_add(&url, q.data, q.len);
	if (frag != NULL)
		secbuf_str(&url, frag);
	secbuf_clear(&q);
	return secbuf_take(&url);
}

static const char *
request_auth_desc(enum auth_method m, int reauth)
{
	static const char *const desc[][3] = {
		[AUTH_CLIENT_SECRET_BASIC] = {
			"client_secret_basic (HTTP Basic with client_id)",
			"client_secret_basic (HTTP Basic with client_id) and the current token in the body",
			"client_secret_basic (HTTP Basic with client_id) and the current token as the body",
		},
		[AUTH_CLIENT_SECRET_POST] = {
			"client_secret_post (client_id and client_secret in the body)",
			"client_secret_post (client_id and client_secret in the body) and the current token",
			"the current token as the body (client_secret_post credentials not sent)",
		},
		[AUTH_BASIC] = {
			"basic (HTTP Basic with username)",
			"basic (HTTP Basic with username) and the current token in the body",
			"basic (HTTP Basic with username) and the current token as the body",
		},
		[AUTH_NONE] = {
			"none (no client authentication)",
			"none (no client authentication) and the current token in the body",
			"the current token as the body (no client authentication)",
		},
		[AUTH_PRIVATE_KEY_JWT] = {
			"private_key_jwt (a JWT signed with client_key in the body)",
			"private_key_jwt (a JWT signed with client_key in the body) and the current token",
			"the current token as the body (private_key_jwt assertion not sent)",
		},
		[AUTH_CLIENT_ASSERTION] = {
			"client_assertion (the assertion from client_assertion_file in the body)",
			"client_assertion (the assertion from client_assertion_file in the body) and "
			"the current token",
			"the current token as the body (client_assertion not sent)",
		},
		[AUTH_TLS_CLIENT_AUTH] = {
			"tls_client_auth (client certificate; client_id in the body)",
			"tls_client_auth (client certificate; client_id in the body) and the current token",
			"the current token as the body (with the client certificate)",
		},
	};

	if ((unsigned)m >= sizeof(desc) / sizeof(desc[0]))
		return "unknown auth_method";
	return desc[m][reauth];
}

/* Fails unless the credential carries what its auth_method needs. */
static int
request_check(const struct request_opts *o, bool password_grant, char **cause)
{
	bool has_client = o->client_id != NULL && *o->client_id != '\0';
	bool has_user = o->username != NULL && *o->username != '\0';

	if (o->token_url == NULL || *o->token_url == '\0') {
		*cause = xstrdup("no token_url");
		return -EINVAL;
	}
	switch (o->auth_method) {
	case AUTH_CLIENT_SECRET_BASIC:
	case AUTH_CLIENT_SECRET_POST:
		if (!has_client || o->client_secret == NULL) {
			*cause = xasprintf("auth_method %s needs client_id and client_secret",
					   o->auth_method == AUTH_CLIENT_SECRET_BASIC ?
						   "client_secret_basic" :
						   "client_secret_post");
			return -EINVAL;
		}
		break;
	case AUTH_BASIC:
		if (!has_user || o->password == NULL) {
			*cause = xstrdup("auth_method basic needs username and password");
			return -EINVAL;
		}
		/* RFC 7617: the user-id cannot carry the separator. */
		if (strchr(o->username, ':') != NULL) {
			*cause = xstrdup("auth_method basic: username must not contain ':'");
			return -EINVAL;
		}
		return 0;
	case AUTH_NONE:
		break;
	case AUTH_PRIVATE_KEY_JWT:
		if (!has_client || o->assertion.key == NULL) {
			*cause = xstrdup("auth_method private_key_jwt needs client_id and client_key");
			return -EINVAL;
		}
		break;
	case AUTH_CLIENT_ASSERTION:
		if (o->client_assertion_file == NULL) {
			*cause = xstrdup("auth_method client_assertion needs client_assertion_file");
			return -EINVAL;
		}
		break;
	case AUTH_TLS_CLIENT_AUTH:
		if (!has_client) {
			*cause = xstrdup("auth_method tls_client_auth needs client_id");
			return -EINVAL;
		}
		break;
	default:
		*cause = xstrdup("unknown auth_method");
		return -EINVAL;
	}
	if (password_grant && (!has_user || o->password == NULL)) {
		*cause = xstrdup("grant_type password needs username and password");
		return -EINVAL;
	}
	return 0;
}

/*
 * The client assertion for private_key_jwt (signed now, with a jti never
 * used before) or client_assertion (read from its file now), into *ret;
 * what it was goes to req->assertion.  Returns 0, or -errno and *cause.
 */
static int
request_assertion(const struct request_opts *o, struct token_request *req,
		  struct secret **ret, char **cause)
{
	if (o->auth_method == AUTH_PRIVATE_KEY_JWT) {
		req->assertion.signed_here = true;
		return assertion_sign(&o->assertion, timeutil_wall_ms() / 1000, ret,
				      &req->assertion.claims, cause);
	}
	req->assertion.file = o->client_assertion_file;
	return assertion_read_file("client_assertion_file", o->client_assertion_file, ret,
				   &req->assertion.file_mtime_ms, cause);
}

/*
 * A request body being written: a form, or a JSON object (yajl writing
 * straight into the wiped buffer).
 */
struct request_body {
	struct secbuf buf;
	yajl_gen json;	 /* NULL for a form */
	const char *bad; /* JSON: the first field whose value is not UTF-8 */
};

static void
request_body_begin(struct request_body *b, enum body_format f)
{
	memset(b, 0, sizeof(*b));
	if (f != BODY_JSON)
		return;
	if ((b->json = yajl_gen_alloc(NULL)) == NULL)
		log_fatal("out of memory");
	yajl_gen_config(b->json, yajl_gen_print_callback, secbuf_yajl_cb, &b->buf);
	yajl_gen_config(b->json, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(b->json);
}

static void
request_body_end(struct request_body *b)
{
	if (b->json == NULL)
		return;
	yajl_gen_map_close(b->json);
	yajl_gen_free(b->json);
	b->json = NULL;
}

static void
request_body_field(struct request_body *b, const char *name, const char *value, size_t vlen)
{
	if (b->json == NULL) {
		request_buf_field(&b->buf, name, value, vlen);
		return;
	}
	if (b->bad != NULL)
		return;
	yajl_gen_string(b->json, (const unsigned char *)name, strlen(name));
	if (yajl_gen_string(b->json, (const unsigned char *)value, vlen) != yajl_gen_status_ok)
		b->bad = name;
}

/*
 * A field for each of the space-separated values of words (RFC 8693,
 * 8707); in JSON one member whose value is the array of them.
 */
static void
request_body_words(struct request_body *b, const char *name, const char *words)
{
	bool opened = false;

	for (const char *w = words; w != NULL && *w != '\0';) {
		size_t n;

		w += strspn(w, " \t");
		n = strcspn(w, " \t");
		if (n > 0 && b->json == NULL) {
			request_buf_field(&b->buf, name, w, n);
		} else if (n > 0 && b->bad == NULL) {
			if (!opened) {
				yajl_gen_string(b->json, (const unsigned char *)name, strlen(name));
				yajl_gen_array_open(b->json);
				opened = true;
			}
			if (yajl_gen_string(b->json, (const unsigned char *)w, n) !=
			    yajl_gen_status_ok)
				b->bad = name;
		}
		w += n;
	}
	if (opened && b->bad == NULL)
		yajl_gen_array_close(b->json);
}

/*
 * The OAuth2 form: grant_type, the client's fields for client_secret_post
 * (or client_id alone for none and tls_client_auth, and beside an
 * assertion, which RFC 7521 4.2 allows), the assertion, username and
 * password for the password grant, the scope, audience and resource.
 * auth_method basic sends none of it.
 */
static void
request_oauth2_body(const struct request_opts *o, const struct secret *assertion,
		    struct request_body *body)
{
	const char *grant = o->grant_type != NULL ? o->grant_type : "client_credentials";
	bool has_client = o->client_id != NULL && *o->client_id != '\0';
	char *scope;

	if (o->auth_method == AUTH_BASIC)
		return;
	request_body_field(body, "grant_type", grant, strlen(grant));
	if (has_client && o->auth_method != AUTH_CLIENT_SECRET_BASIC)
		request_body_field(body, "client_id", o->client_id, strlen(o->client_id));
	if (o->auth_method == AUTH_CLIENT_SECRET_POST)
		request_body_field(body, "client_secret", o->client_secret->data,
				  o->client_secret->len);
	if (assertion != NULL) {
		request_body_field(body, "client_assertion_type", ASSERTION_TYPE,
				  strlen(ASSERTION_TYPE));
		request_body_field(body, "client_assertion", assertion->data, assertion->len);
	}
	if (strcmp(grant, "password") == 0) {
		request_body_field(body, "username", o->username, strlen(o->username));
		request_body_field(body, "password", o->password->data, o->password->len);
	}
	scope = request_scope(o);
	if (scope != NULL && *scope != '\0')
		request_body_field(body, "scope", scope, strlen(scope));
	free(scope);
	request_body_words(body, "audience", o->audience);
	request_body_words(body, "resource", o->resource);
}

/* A token from file into field name; a failed read is the request's. */
static int
request_file_field(struct request_body *body, const char *name, const char *file, char **cause)
{
	struct secret *tok = NULL;
	int64_t mtime;
	char *key = xasprintf("%s_file", strcmp(name, "assertion") == 0 ? "assertion" : name);
	int r = assertion_read_file(key, file, &tok, &mtime, cause);

	free(key);

	if (r < 0)
		return r;
	request_body_field(body, name, tok->data, tok->len);
	secret_free(tok);
	return 0;
}

/*
 * The tokens a grant carries: the refresh token it spends (RFC 6749 6),
 * and those of other parties, each read from its file now (they rotate):
 * the jwt-bearer grant's assertion (RFC 7523 2.1), token exchange's
 * subject and actor tokens (RFC 8693 2.1).
 */
static int
request_grant_tokens(const struct request_opts *o, struct request_body *body, char **cause)
{
	const char *grant = o->grant_type != NULL ? o->grant_type : "client_credentials";
	int r;

	if (strcmp(grant, REQUEST_GRANT_JWT_BEARER) == 0 && o->assertion_file != NULL)
		return request_file_field(body, "assertion", o->assertion_file, cause);
	if (strcmp(grant, REQUEST_GRANT_REFRESH_TOKEN) == 0) {
		if (o->refresh_token == NULL) {
			*cause = xstrdup("grant_type refresh_token: no refresh token (put one in "
					 "refresh_token_file)");
			return -EINVAL;
		}
		request_body_field(body, "refresh_token", o->refresh_token->data,
				   o->refresh_token->len);
		return 0;
	}
	if (strcmp(grant, REQUEST_GRANT_TOKEN_EXCHANGE) != 0 || o->subject_token_file == NULL)
		return 0;
	if ((r = request_file_field(body, "subject_token", o->subject_token_file, cause)) < 0)
		return r;
	request_body_field(body, "subject_token_type",
			   o->subject_token_type != NULL ? o->subject_token_type :
							   REQUEST_TOKEN_TYPE_JWT,
			   strlen(o->subject_token_type != NULL ? o->subject_token_type :
								  REQUEST_TOKEN_TYPE_JWT));
	if (o->actor_token_file != NULL) {
		const char *type = o->actor_token_type != NULL ? o->actor_token_type :
								 REQUEST_TOKEN_TYPE_JWT;

		if ((r = request_file_field(body, "actor_token", o->actor_token_file, cause)) < 0)
			return r;
		request_body_field(body, "actor_token_type", type, strlen(type));
	}
	if (o->requested_token_type != NULL)
		request_body_field(body, "requested_token_type", o->requested_token_type,
				   strlen(o->requested_token_type));
	return 0;
}

int
request_build(const struct request_opts *o, const struct secret *current_token,
	      struct token_request **ret, char **cause)
{
	struct token_request *req;
	struct secret *assertion = NULL;
	struct request_body body;
	bool reauth = o->reauth_with_token && current_token != NULL;
	bool raw = reauth && (o->reauth_token_param == NULL || *o->reauth_token_param == '\0');
	const char *grant = o->grant_type != NULL ? o->grant_type : "client_credentials";
	int r;

	r = request_check(o, o->auth_method != AUTH_BASIC && strcmp(grant, "password") == 0,
			  cause);
	if (r < 0)
		return r;

	req = xcalloc(1, sizeof(*req));
	if (o->auth_method == AUTH_CLIENT_SECRET_BASIC)
		req->authorization = request_basic(o->client_id, o->client_secret, true);
	else if (o->auth_method == AUTH_BASIC)
		req->authorization = request_basic(o->username, o->password, false);

	r = request_headers(o, req, cause);
	if (r < 0) {
		request_free(req);
		return r;
	}
	req->url = request_url(o);

	request_body_begin(&body, raw ? BODY_FORM : o->body_format);
	if (raw) {
		secbuf_add(&body.buf, current_token->data, current_token->len);
	} else {
		if (o->auth_method == AUTH_PRIVATE_KEY_JWT ||
		    o->auth_method == AUTH_CLIENT_ASSERTION) {
			r = request_assertion(o, req, &assertion, cause);
			if (r < 0) {
				request_body_end(&body);
				secbuf_clear(&body.buf);
				request_free(req);
				return r;
			}
		}
		request_oauth2_body(o, assertion, &body);
		secret_free(assertion);
		if ((r = request_grant_tokens(o, &body, cause)) < 0) {
			request_body_end(&body);
			secbuf_clear(&body.buf);
			request_free(req);
			return r;
		}
		for (size_t i = 0; i < o->params.n; i++)
			request_body_field(&body, o->params.v[i].name, o->params.v[i].value,
					  strlen(o->params.v[i].value));
		if (reauth)
			request_body_field(&body, o->reauth_token_param, current_token->data,
					  current_token->len);
	}
	request_body_end(&body);
	if (body.bad != NULL) {
		/* The field's name only: its value may be a secret. */
		*cause = xasprintf("%s: not UTF-8 text, which a JSON body needs (RFC 8259); "
				   "correct it, or set body_format = form",
				   body.bad);
		secbuf_clear(&body.buf);
		request_free(req);
		return -EINVAL;
	}
	req->body = request_buf_secret(&body.buf);
	req->auth_desc = request_auth_desc(o->auth_method, raw ? 2 : reauth ? 1 : 0);
	*ret = req;
	return 0;
}

struct token_request *
request_free(struct token_request *req)
{
	if (req == NULL)
		return NULL;
	free(req->url);
	/* A header.NAME may well carry an API key: wipe them all. */
	for (size_t i = 0; i < req->nheaders; i++)
		secret_free_str(req->headers[i]);
	free(req->headers);
	secret_free(req->authorization);
	secret_free(req->body);
	free(req);
	return NULL;
}
