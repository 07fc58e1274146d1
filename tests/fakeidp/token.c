/*
 * token.c: the token endpoint: reading a token request (client
 * authentication by HTTP Basic or body fields, the token a
 * re-authentication presents), the checks of the oauth2, xibo and xvid
 * dialects (oracle-sbc's are in sbc.c; the refresh_token grant's in
 * refresh.c), new tokens and JWTs, the success answer in each mode,
 * injected failures, delays and Retry-After.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base64.h"
#include "cleanup.h"
#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "fakeidp.h"

static bool
content_type_is_form(const char *ct)
{
	static const char form[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form) - 1;

	return strncasecmp(ct, form, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Splits "Basic BASE64" into the id and secret it carries, each
 * form-urldecoded (RFC 6749 2.3.1) when encoded is set, else taken as they
 * are (RFC 7617).  Sets basic_bad, and nothing else, when it does not
 * decode, which then fails authentication.
 */
static void
token_req_basic(struct token_req *tr, const char *credentials, bool encoded)
{
	char *plain, *colon;
	size_t len, id_len;

	while (*credentials == ' ' || *credentials == '\t')
		credentials++;
	if (base64_decode(credentials, strlen(credentials), false, &plain, &len) < 0) {
		tr->basic_bad = true;
		return;
	}
	colon = memchr(plain, ':', len);
	if (colon == NULL || memchr(plain, '\0', len) != NULL) {
		tr->basic_bad = true;
		secret_free_buf(plain, len + 1);
		return;
	}
	id_len = (size_t)(colon - plain);
	if (encoded) {
		char *secret = form_decode(colon + 1, len - id_len - 1);

		tr->id = form_decode(plain, id_len);
		tr->secret = secret_from_str(secret);
		secret_free_str(secret);
	} else {
		tr->id = xstrndup(plain, id_len);
		tr->secret = secret_new(colon + 1, len - id_len - 1);
	}
	secret_free_buf(plain, len + 1);
}

/* Client authentication by the body fields client_id and client_secret. */
static void
token_req_post(struct token_req *tr)
{
	const char *id = form_get(&tr->form, "client_id");
	const char *secret = form_get(&tr->form, "client_secret");

	tr->id = util_strdup_or_null(id);
	tr->secret = secret != NULL ? secret_from_str(secret) : NULL;
}

/*
 * The token a re-authentication presents, in a new string, or NULL: the
 * form field reauth_param when that is set; else in the oracle-sbc dialect
 * the whole body, in the others a field "token" or a body that is not form
 * data.  A whole body loses its trailing blanks.
 */
static char *
token_req_presented(const struct fakeidp *fk, const struct token_req *tr)
{
	const char *param = fk->cur.reauth_param;
	size_t n = tr->body_len;

	if (param != NULL)
		return util_strdup_or_null(form_get(&tr->form, param));
	if (fk->dialect != DIALECT_SBC && tr->is_form)
		return util_strdup_or_null(form_get(&tr->form, "token"));
	while (n > 0 && isspace((unsigned char)tr->body[n - 1]))
		n--;
	return n > 0 ? xstrndup(tr->body, n) : NULL;
}

static void
token_req_parse(struct fakeidp *fk, struct evhttp_request *req, struct token_req *tr)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(h, "Content-Type");
	const char *authz = evhttp_find_header(h, "Authorization");
	const char *query = http_query(req);
	bool basic, post, assertion;

	memset(tr, 0, sizeof(*tr));
	tr->body_len = evbuffer_get_length(in);
	tr->body = xmalloc(tr->body_len + 1);
	evbuffer_copyout(in, tr->body, tr->body_len);
	tr->body[tr->body_len] = '\0';
	if (ct == NULL || content_type_is_form(ct))
		tr->is_form = form_parse(tr->body, tr->body_len, &tr->form) == 0;
	else if (strncasecmp(ct, "application/json", 16) == 0 &&
		 memchr(tr->body, '\0', tr->body_len) == NULL)
		tr->is_form = form_parse_json(tr->body, &tr->form) == 0;
	if (query != NULL)
		(void)form_parse(query, strlen(query), &tr->query);

	basic = authz != NULL && strncasecmp(authz, "Basic", 5) == 0 &&
	    (authz[5] == ' ' || authz[5] == '\t');
	post = form_get(&tr->form, "client_id") != NULL || form_get(&tr->form, "client_secret") != NULL;
	assertion = form_get(&tr->form, "client_assertion") != NULL ||
	    form_get(&tr->form, "client_assertion_type") != NULL;
	assertion_tls(fk, req, tr);
	if (assertion)
		assertion_check(fk, req, tr);
	if (assertion && (basic || form_get(&tr->form, "client_secret") != NULL))
		tr->auth = "both";
	else if (assertion)
		tr->auth = "assertion";
	else if (basic && form_get(&tr->form, "client_secret") != NULL)
		tr->auth = "both";
	else if (basic)
		tr->auth = "basic";
	else if (post && tr->assertion.tls_cert && form_get(&tr->form, "client_secret") == NULL)
		tr->auth = "tls";
	else if (post)
		tr->auth = "post";
	else
		tr->auth = "none";

	switch (fk->dialect) {
	case DIALECT_XIBO:
	case DIALECT_XVID:
		/* The body alone: a Basic header is not looked at. */
		token_req_post(tr);
		break;
	case DIALECT_SBC:
		if (basic)
			token_req_basic(tr, authz + 6, false);
		else
			tr->basic_bad = true;
		break;
	default:
		if (basic)
			token_req_basic(tr, authz + 6, true);
		else if (post)
			token_req_post(tr);
		if (tr->id == NULL && tr->assertion.ok)
			tr->id = xstrdup(tr->assertion.iss);
		break;
	}
	tr->presented = token_req_presented(fk, tr);
}

static void
token_req_clear(struct token_req *tr)
{
	free(tr->id);
	secret_free(tr->secret);
	secret_free_str(tr->presented);
	form_clear(&tr->form);
	form_clear(&tr->query);
	secret_free_buf(tr->body, tr->body_len + 1);
	memset(tr, 0, sizeof(*tr));
}

bool
token_req_authenticated(const struct fakeidp *fk, const struct token_req *tr)
{
	if (tr->id == NULL || strcmp(tr->id, fk->client_id) != 0)
		return false;
	if (strcmp(tr->auth, "assertion") == 0)
		return tr->assertion.ok;
	if (strcmp(tr->auth, "tls") == 0)
		return true;
	if (tr->secret == NULL)
		return fk->client_secret->len == 0;
	return secret_equal(tr->secret, fk->client_secret);
}

bool
token_req_grant_ok(const struct fakeidp *fk, const struct token_req *tr)
{
	const char *grant = form_get(&tr->form, "grant_type");

	if (strcmp(fk->cur.grant_type, "*") == 0)
		return true;
	return grant != NULL && strcmp(grant, fk->cur.grant_type) == 0;
}

static struct evbuffer *
token_html(void)
{
	struct evbuffer *b = http_buffer_new();

	evbuffer_add_printf(b, "%s",
	    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
	    "<body><h1>Sign in</h1><form method=\"post\" action=\"/login\">\n"
	    "<input name=\"username\"><input name=\"password\" type=\"password\">\n"
	    "<button>Sign in</button></form></body></html>\n");
	return b;
}

/*
 * A JWT as Xibo 3 issues them: base64url header.payload.signature, the
 * payload with aud, jti, iat, nbf, exp, sub and scopes; the signature is
 * random bytes (nobody checks it: the broker is not the audience).  A new
 * string for token_free.
 */
static char *
token_jwt(const char *aud, long long lifetime)
{
	static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fakeidp\"}";
	static const char hex[] = "0123456789abcdef";
	unsigned char jti_raw[20], sig[256];
	char jti[2 * sizeof(jti_raw) + 1];
	long long now = timeutil_wall_ms() / 1000;
	const unsigned char *text;
	char *parts[3], *token, *p;
	size_t len, n[3];
	yajl_gen g = json_new();

	util_random_bytes(jti_raw, sizeof(jti_raw));
	for (size_t i = 0; i < sizeof(jti_raw); i++) {
		jti[2 * i] = hex[jti_raw[i] >> 4];
		jti[2 * i + 1] = hex[jti_raw[i] & 0xf];
	}
	jti[sizeof(jti) - 1] = '\0';
	json_str(g, "aud", aud);
	json_str(g, "jti", jti);
	json_int(g, "iat", now);
	json_int(g, "nbf", now);
	json_int(g, "exp", now + lifetime);
	json_str(g, "sub", "");
	json_string(g, "scopes");
	yajl_gen_array_open(g);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &text, &len);

	util_random_bytes(sig, sizeof(sig));
	parts[0] = base64url_encode(header, sizeof(header) - 1);
	parts[1] = base64url_encode(text, len);
	parts[2] = base64url_encode(sig, sizeof(sig));
	yajl_gen_free(g);
	len = 0;
	for (size_t i = 0; i < 3; i++)
		len += (n[i] = strlen(parts[i])) + 1;
	token = p = xmalloc(len);
	for (size_t i = 0; i < 3; i++) {
		memcpy(p, parts[i], n[i]);
		p += n[i];
		*p++ = i < 2 ? '.' : '\0';
		secret_free_str(parts[i]);
	}
	explicit_bzero(sig, sizeof(sig));
	return token;
}

/* A new token for the dialect in a new string: "fk_" and hex, or a JWT. */
char *
token_new(const struct fakeidp *fk, long long lifetime)
{
	char token[TOKEN_LEN + 1];
	char *s;

	if (fk->dialect == DIALECT_XIBO && fk->cur.xibo_version >= 3)
		return token_jwt(fk->client_id, lifetime);
	tokens_generate(token);
	s = xstrdup(token);
	explicit_bzero(token, sizeof(token));
	return s;
}

/*
 * The 200 answer of the current mode in the dialect's shape, headers set
 * on req.  Issues and remembers a token, in lineage, where the answer
 * carries a usable one.
 */
struct evbuffer *
token_success(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    unsigned long lineage)
{
	const struct behaviour *b = &fk->cur;
	const char *scope = form_get(&tr->form, "scope");
	const char *asked = form_get(&tr->query, "expires_in");
	long long lifetime = b->lifetime;
	bool xvid = fk->dialect == DIALECT_XVID;
	struct evbuffer *body;
	char *token;
	yajl_gen g;

	if (b->mode == MODE_HTML) {
		http_header(req, "Content-Type", "text/html; charset=utf-8");
		return token_html();
	}
	if ((body = evil_body(fk, req)) != NULL)
		return body;
	if (fk->dialect == DIALECT_SBC)
		return sbc_success(fk, req, lineage);
	http_header(req, "Content-Type", "application/json");
	http_header(req, "Cache-Control", "no-store");
	http_header(req, "Pragma", "no-cache");
	if (b->mode == MODE_MALFORMED) {
		body = http_buffer_new();
		evbuffer_add_printf(body, "%s", "{\"access_token\": ");
		return body;
	}
	if (b->mode == MODE_ERROR200)
		return json_error("invalid_scope", "the requested scope is invalid, unknown, or malformed");
	g = json_new();
	if (b->mode == MODE_NO_TOKEN) {
		if (!xvid)
			json_str(g, "token_type", b->token_type);
		return json_finish(g);
	}
	if (asked != NULL && (fk->dialect == DIALECT_OAUTH2 || xvid))
		(void)util_parse_ll(asked, 0, LIFETIME_MAX, &lifetime);

	token = token_new(fk, lifetime);
	json_str(g, "access_token", token);
	if (!xvid)
		json_str(g, "token_type", b->token_type);
	if (b->mode == MODE_STRING_EXPIRES_IN || (xvid && b->mode != MODE_NO_EXPIRES_IN)) {
		char s[32];

		snprintf(s, sizeof(s), "%lld", lifetime);
		json_str(g, "expires_in", s);
	} else if (b->mode != MODE_NO_EXPIRES_IN) {
		json_int(g, "expires_in", lifetime);
	}
	if (scope != NULL && fk->dialect == DIALECT_OAUTH2)
		json_str(g, "scope", scope);
	if (b->mode == MODE_OVERSIZE) {
		/* Valid JSON, but beyond any sane cap: its token is not issued. */
		char *pad = xmalloc(OVERSIZE_LEN + 1);

		memset(pad, 'x', OVERSIZE_LEN);
		pad[OVERSIZE_LEN] = '\0';
		json_str(g, "padding", pad);
		free(pad);
	} else {
		tokens_remember(fk, token, lifetime, lineage);
		fk->stats.issued++;
		/* Only token_oauth2's checks let a refresh_token grant get here. */
		if (refresh_grant(fk, tr))
			refresh_issue(fk, g);
	}
	secret_free_str(token);
	return json_finish(g);
}

static void
token_retry_after(const struct fakeidp *fk, struct evhttp_request *req)
{
	char v[64];

	if (fk->cur.retry_after <= 0)
		return;
	if (fk->cur.retry_after_date) {
		time_t t = time(NULL) + (time_t)fk->cur.retry_after;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(v, sizeof(v), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	} else {
		snprintf(v, sizeof(v), "%lld", fk->cur.retry_after);
	}
	http_header(req, "Retry-After", v);
}

/* Answers at once, or after delay_ms; a request in flight until then. */
static void
token_answer(struct fakeidp *fk, struct evhttp_request *req, int status, struct evbuffer *body)
{
	if (fk->cur.delay_ms > 0 && hold_start(fk, req, status, body, fk->cur.delay_ms) == 0)
		return;
	if (status == 200 && fk->cur.mode == MODE_HUGE_CHUNKED)
		evil_send_chunked(req, status, body);
	else
		http_send(req, status, body);
	evbuffer_free(body);
	fk->stats.inflight--;
}

/* Each dialect's checks: a status, and the body in *ret (headers on req). */
int
token_oauth2(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	struct err e = { 0 };

	if (strcmp(tr->auth, "both") == 0) {
		e = (struct err){ .status = 400, .code = "invalid_request",
		    .text = "more than one client authentication method" };
	} else if (fk->cur.require_auth && tr->assertion.present && !tr->assertion.ok) {
		/* RFC 6749 5.2: 400 when the client did not use the Basic scheme. */
		e = (struct err){ .status = 400, .code = "invalid_client",
		    .text = tr->assertion.error };
	} else if (fk->cur.require_auth && !token_req_authenticated(fk, tr)) {
		http_header(req, "WWW-Authenticate", "Basic realm=\"fakeidp\"");
		e = (struct err){ .status = 401, .code = "invalid_client",
		    .text = "client authentication failed" };
	} else if (refresh_grant(fk, tr)) {
		if (refresh_check(fk, tr, &e) == 0) {
			*ret = token_success(fk, req, tr, 0);
			return 200;
		}
	} else if (!token_req_grant_ok(fk, tr)) {
		e = (struct err){ .status = 400, .code = "unsupported_grant_type" };
	} else {
		*ret = token_success(fk, req, tr, 0);
		return 200;
	}
	*ret = dialect_error_body(fk, req, &e);
	return e.status;
}

int
token_xibo(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	bool v3 = fk->cur.xibo_version >= 3;
	struct err e = { 0 };

	if (fk->cur.require_auth && !token_req_authenticated(fk, tr)) {
		e = (struct err){ .status = 401, .code = "invalid_client",
		    .text = v3 ? "Client authentication failed" : "Client authentication failed." };
	} else if (!token_req_grant_ok(fk, tr)) {
		e = (struct err){ .status = 400, .code = "unsupported_grant_type",
		    .text = "The authorization grant type is not supported by the authorization server.",
		    .hint = "Check that all required parameters have been provided" };
	} else {
		*ret = token_success(fk, req, tr, 0);
		return 200;
	}
	*ret = dialect_error_body(fk, req, &e);
	return e.status;
}

/* scope as Xvid takes it: comma-separated names it knows; none is fine. */
static bool
xvid_scope_ok(const char *scope)
{
	static const char *const known[] = {
		"me", "mediahub", "mediahub_read", "mediahub_write", "mediahub_submit_jobs",
		"mediahub_download_files", "autograph",
	};
	const char *p = scope;

	if (scope == NULL || *scope == '\0')
		return true;
	for (;;) {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (size_t i = 0; i < ELEMENTSOF(known) && !found; i++)
			found = strlen(known[i]) == n && memcmp(known[i], p, n) == 0;
		if (!found)
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

int
token_xvid(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	const char *format = form_get(&tr->query, "format");
	struct err e = { 0 };

	if (!token_req_grant_ok(fk, tr)) {
		e = (struct err){ .status = 400, .xvid_code = "0x0220001",
		    .text = "Invalid grant type" };
	} else if (fk->cur.require_auth && !token_req_authenticated(fk, tr)) {
		e = (struct err){ .status = 402, .xvid_code = "0x0220003",
		    .text = "Application does not exist" };
	} else if (!xvid_scope_ok(form_get(&tr->form, "scope"))) {
		e = (struct err){ .status = 400, .xvid_code = "0x0220002",
		    .text = "Scopes requested are not allowed" };
	} else if (format == NULL || strcmp(format, "json") != 0) {
		e = (struct err){ .status = 400, .xvid_code = "0x0000001",
		    .text = "Unsupported format" };
	} else {
		*ret = token_success(fk, req, tr, 0);
		return 200;
	}
	*ret = dialect_error_body(fk, req, &e);
	return e.status;
}

void
token_handle(struct fakeidp *fk, struct evhttp_request *req)
{
	struct token_req tr;
	struct evbuffer *body;
	int status = 200;

	fk->stats.requests++;
	fk->stats.inflight++;
	if (fk->stats.inflight > fk->stats.max_concurrent)
		fk->stats.max_concurrent = fk->stats.inflight;
	token_req_parse(fk, req, &tr);
	stats_record(fk, req, &tr);
	if (refresh_grant(fk, &tr))
		fk->stats.refresh_requests++;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		status = 405;
		http_header(req, "Allow", "POST");
		body = dialect_error_body(fk, req, &(struct err){ .status = 405, .code = "invalid_request",
		    .text = "the token endpoint takes POST" });
	} else if (control_take_failure(&fk->cur, &status)) {
		if (status == 401)
			http_header(req, "WWW-Authenticate", "Basic realm=\"fakeidp\"");
		if (status >= 300 && status < 400)
			http_header(req, "Location", fk->token_paths[0]);
		body = dialect_error_body(fk, req, &(struct err){ .status = status,
		    .code = fk->cur.fail_error != NULL ? fk->cur.fail_error : http_oauth_error(status),
		    .text = fk->dialect == DIALECT_XVID ? NULL : "failure injected by fakeidp" });
	} else if (fk->cur.mode == MODE_SILENT) {
		token_req_clear(&tr);
		if (hold_start(fk, req, 0, NULL, 0) == 0)
			return;
		fk->stats.failed++;
		dialect_reply_err(fk, req, &(struct err){ .status = 503, .code = "temporarily_unavailable",
		    .text = "too many requests held" });
		fk->stats.inflight--;
		return;
	} else {
		status = dialect_token(fk, req, &tr, &body);
	}
	token_req_clear(&tr);

	if (status >= 300) {
		fk->stats.failed++;
		token_retry_after(fk, req);
	}
	token_answer(fk, req, status, body);
}
