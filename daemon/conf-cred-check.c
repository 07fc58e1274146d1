/*
 * The checks across a credential's keys, made once the whole section is
 * set: what one key requires of another (token_url or a profile's
 * base_url, the secrets an auth_method needs, backoff_min within
 * backoff_max, paths that suit response_format) and keys that mean nothing
 * here (a warning).  Each message goes to the line of the key at fault,
 * else to the section's header.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "assertion.h"
#include "cleanup.h"
#include "conf-int.h"
#include "profile.h"
#include "text.h"
#include "xmalloc.h"

/* Where a message about a key goes: its line, else the section's. */
static void
cred_where(const struct cred_build *b, int id, unsigned *file, unsigned *line)
{
	if (b->key_line[id] != 0) {
		*file = b->key_file[id];
		*line = b->key_line[id];
	} else {
		*file = b->sect->file;
		*line = b->sect->line;
	}
}

/* base + path with every "{api_version}" replaced. */
static char *
cred_join_url(const char *base, const char *path, const char *api_version)
{
	static const char var[] = "{api_version}";
	char *url = xstrdup(base);
	const char *p = path, *hit;

	while ((hit = strstr(p, var)) != NULL) {
		char *u = xasprintf("%s%.*s%s", url, (int)(hit - p), p, api_version);

		free(url);
		url = u;
		p = hit + strlen(var);
	}
	if (*p != '\0') {
		char *u = xasprintf("%s%s", url, p);

		free(url);
		url = u;
	}
	return url;
}

static void
cred_check_token_url(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const struct profile *p = cc->profile;
	const char *base = cc->base_url != NULL ? cc->base_url : p->default_base_url;
	char *url, *cause = NULL;
	unsigned file, line;

	if (cc->issuer != NULL && cc->token_url != NULL) {
		cred_where(b, CK_ISSUER, &file, &line);
		conf_warning(b->ld, file, line, "issuer: not used, token_url is given");
	}
	if (cc->issuer != NULL && p->token_path != NULL) {
		cred_where(b, CK_ISSUER, &file, &line);
		conf_error(b->ld, file, line, "issuer: profile %s builds its token_url from "
			   "base_url; issuer is for profile oauth2", p->name);
		return;
	}
	if (cc->token_url != NULL || cc->issuer != NULL || b->key_failed[CK_TOKEN_URL] ||
	    b->key_failed[CK_ISSUER] || b->key_failed[CK_BASE_URL] ||
	    b->key_failed[CK_API_VERSION])
		return;
	if (p->token_path == NULL || base == NULL) {
		conf_error(b->ld, b->sect->file, b->sect->line,
			   "credential \"%s\": token_url, issuer (or base_url with a profile) "
			   "is required", cc->name);
		return;
	}
	url = cred_join_url(base, p->token_path, cc->api_version);
	if (conf_value_url(url, true, &cause) < 0) {
		cred_where(b, CK_BASE_URL, &file, &line);
		conf_error(b->ld, file, line, "base_url: %s", cause);
		free(cause);
		free(url);
		return;
	}
	cc->token_url = url;
}

static void
cred_check_auth(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const char *am = conf_cred_auth_method_name(cc->auth_method);
	unsigned sf = b->sect->file, sl = b->sect->line, file, line;
	bool client = cc->auth_method == AUTH_CLIENT_SECRET_BASIC ||
		      cc->auth_method == AUTH_CLIENT_SECRET_POST;
	bool user = cc->auth_method == AUTH_BASIC;
	bool password_grant = cc->grant_type != NULL && strcmp(cc->grant_type, "password") == 0;
	_cleanup_free_ char *why = NULL;

	if (b->key_failed[CK_AUTH_METHOD])
		return;
	if (client) {
		if (cc->client_id == NULL && !b->key_failed[CK_CLIENT_ID])
			conf_error(b->ld, sf, sl, "client_id: required by auth_method %s", am);
		if (cc->client_secret == NULL && !b->key_failed[CK_CLIENT_SECRET] &&
		    !b->key_failed[CK_CLIENT_SECRET_FILE])
			conf_error(b->ld, sf, sl,
				   "client_secret: required by auth_method %s (give client_secret "
				   "or client_secret_file)",
				   am);
	}
	if (user || password_grant) {
		why = user ? xasprintf("auth_method %s", am) : xstrdup("grant_type password");
		if (cc->username == NULL && !b->key_failed[CK_USERNAME])
			conf_error(b->ld, sf, sl, "username: required by %s", why);
		if (cc->password == NULL && !b->key_failed[CK_PASSWORD] &&
		    !b->key_failed[CK_PASSWORD_FILE])
			conf_error(b->ld, sf, sl,
				   "password: required by %s (give password or password_file)",
				   why);
	}
	if (user && cc->username != NULL && strchr(cc->username, ':') != NULL) {
		cred_where(b, CK_USERNAME, &file, &line);
		conf_error(b->ld, file, line,
			   "username: must not contain ':' with auth_method basic (RFC 7617)");
	}
	if (cc->auth_method != AUTH_CLIENT_SECRET_BASIC && cc->auth_method != AUTH_BASIC)
		return;
	for (size_t i = 0; i < cc->headers.n; i++) {
		if (strcasecmp(cc->headers.v[i].name, "Authorization") != 0)
			continue;
		cred_where(b, CK_HEADER, &file, &line);
		conf_error(b->ld, file, line,
			   "header.%s: auth_method %s sends its own Authorization header; use "
			   "auth_method none to send this one",
			   cc->headers.v[i].name, am);
	}
}

/* A key an auth_method needs, not given: at the section's header. */
static void
cred_require(struct cred_build *b, int id, bool present, const char *am)
{
	if (present || b->key_failed[id])
		return;
	conf_error(b->ld, b->sect->file, b->sect->line, "%s: required by auth_method %s",
		   conf_cred_keys[id].name, am);
}

/*
 * private_key_jwt: reads and parses client_key now (the PEM text is wiped;
 * the key lives on in libcrypto until the configuration is freed), finds
 * the algorithm, and the certificate thumbprint when assertion_kid = x5t.
 */
static void
cred_check_jwt_key(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	struct secret *pem = NULL;
	enum assertion_alg alg;
	char *cause = NULL;
	unsigned file, line;

	if (cc->client_key == NULL || b->key_failed[CK_CLIENT_KEY])
		return;
	cred_where(b, CK_CLIENT_KEY, &file, &line);
	if (conf_value_secret_file(cc->client_key, &pem, &cause) < 0 ||
	    assertion_key_parse(pem->data, pem->len, &cc->assertion_key, &cause) < 0) {
		conf_error(b->ld, file, line, "client_key: %s%s%s", cause,
			   pem != NULL ? " in " : "", pem != NULL ? cc->client_key : "");
		secret_free(pem);
		free(cause);
		return;
	}
	secret_free(pem);
	if (b->key_failed[CK_ASSERTION_ALG]) {
		/* already reported */
	} else if (assertion_key_alg(cc->assertion_key, cc->assertion_alg, &alg, &cause) < 0) {
		cred_where(b, CK_ASSERTION_ALG, &file, &line);
		conf_error(b->ld, file, line, "assertion_alg: %s", cause);
		free(cause);
	} else {
		cc->assertion_alg = alg;
	}
	if (cc->assertion_kid == NULL || strcmp(cc->assertion_kid, "x5t") != 0)
		return;
	cred_where(b, CK_ASSERTION_KID, &file, &line);
	if (cc->client_cert == NULL) {
		if (!b->key_failed[CK_CLIENT_CERT])
			conf_error(b->ld, file, line,
				   "assertion_kid: x5t needs client_cert (the certificate of "
				   "client_key)");
		return;
	}
	if (assertion_cert_x5t(cc->client_cert, &cc->assertion_x5t, &cause) < 0) {
		conf_error(b->ld, file, line, "assertion_kid: %s", cause);
		free(cause);
	}
}

static size_t
strlen0(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* An error at key id's line when value (of len bytes) is not UTF-8 text. */
static void
cred_check_utf8(struct cred_build *b, int id, const char *value, size_t len, const char *what,
		const char *hint)
{
	unsigned file, line;

	if (value == NULL || text_utf8_valid(value, len))
		return;
	cred_where(b, id, &file, &line);
	conf_error(b->ld, file, line, "%s: not UTF-8 text, which %s needs%s",
		   conf_cred_keys[id].name, what, hint);
}

/*
 * private_key_jwt: the values that go into the assertion's JSON must be
 * UTF-8 text, as JSON is (RFC 8259 8.1); a server could not read one that
 * is not.
 */
static void
cred_check_jwt_text(struct cred_build *b)
{
	const struct cred_conf *cc = b->cc;
	static const char what[] = "the client assertion (JSON)";

	cred_check_utf8(b, CK_CLIENT_ID, cc->client_id, strlen0(cc->client_id), what, "");
	cred_check_utf8(b, CK_ASSERTION_AUDIENCE, cc->assertion_audience,
			strlen0(cc->assertion_audience), what, "");
	cred_check_utf8(b, CK_ASSERTION_KID, cc->assertion_kid, strlen0(cc->assertion_kid), what,
			"");
}

/*
 * body_format json: the same for every value the body carries that is
 * known at load.  Tokens read from files at each request are checked
 * there (request.c).  A secret's message names its key, never its value.
 * private_key_jwt has said so for client_id already.
 */
static void
cred_check_json_body(struct cred_build *b)
{
	const struct cred_conf *cc = b->cc;
	static const char what[] = "body_format = json", hint[] = " (or set body_format = form)";
	const struct {
		int id;
		const char *value;
	} v[] = {
		{ CK_CLIENT_ID, cc->client_id },
		{ CK_USERNAME, cc->username },
		{ CK_SCOPE, cc->scope },
		{ CK_AUDIENCE, cc->audience },
		{ CK_RESOURCE, cc->resource },
		{ CK_SUBJECT_TOKEN_TYPE, cc->subject_token_type },
		{ CK_ACTOR_TOKEN_TYPE, cc->actor_token_type },
		{ CK_REQUESTED_TOKEN_TYPE, cc->requested_token_type },
	};
	const struct {
		int id, file_id;
		const struct secret *value;
	} sv[] = {
		{ CK_CLIENT_SECRET, CK_CLIENT_SECRET_FILE, cc->client_secret },
		{ CK_PASSWORD, CK_PASSWORD_FILE, cc->password },
	};

	if (cc->body_format != BODY_JSON)
		return;
	for (size_t i = 0; i < ELEMENTSOF(v); i++)
		if (v[i].id != CK_CLIENT_ID || cc->auth_method != AUTH_PRIVATE_KEY_JWT)
			cred_check_utf8(b, v[i].id, v[i].value, strlen0(v[i].value), what, hint);
	for (size_t i = 0; i < ELEMENTSOF(sv); i++)
		if (sv[i].value != NULL)
			cred_check_utf8(b, b->key_line[sv[i].file_id] != 0 ? sv[i].file_id : sv[i].id,
					sv[i].value->data, sv[i].value->len, what, hint);
	for (size_t i = 0; i < cc->params.n; i++)
		if (!text_utf8_valid(cc->params.v[i].value, strlen(cc->params.v[i].value))) {
			unsigned file, line;

			cred_where(b, CK_PARAM, &file, &line);
			conf_error(b->ld, file, line, "param.%s: not UTF-8 text, which %s needs%s",
				   cc->params.v[i].name, what, hint);
		}
}

/* The assertion keys mean nothing to the other auth_methods. */
static void
cred_check_assertion_keys(struct cred_build *b)
{
	static const int jwt_ids[] = { CK_ASSERTION_ALG, CK_ASSERTION_KID, CK_ASSERTION_AUDIENCE,
				       CK_ASSERTION_LIFETIME };
	enum auth_method m = b->cc->auth_method;
	const char *am = conf_cred_auth_method_name(m);

	for (size_t i = 0; i < ELEMENTSOF(jwt_ids); i++)
		if (m != AUTH_PRIVATE_KEY_JWT && b->key_line[jwt_ids[i]] != 0)
			conf_warning(b->ld, b->key_file[jwt_ids[i]], b->key_line[jwt_ids[i]],
				     "%s: only for auth_method private_key_jwt, not %s; ignored",
				     conf_cred_keys[jwt_ids[i]].name, am);
	if (m != AUTH_CLIENT_ASSERTION && b->key_line[CK_CLIENT_ASSERTION_FILE] != 0)
		conf_warning(b->ld, b->key_file[CK_CLIENT_ASSERTION_FILE],
			     b->key_line[CK_CLIENT_ASSERTION_FILE],
			     "client_assertion_file: only for auth_method client_assertion, not %s; "
			     "ignored",
			     am);
}

/* What private_key_jwt, client_assertion and tls_client_auth need. */
/*
 * The grants that send a token of another party: jwt-bearer its assertion,
 * token exchange its subject token, each from a file.
 */
static void
cred_check_grant_files(struct cred_build *b)
{
	const struct cred_conf *cc = b->cc;
	const char *g = cc->grant_type != NULL ? cc->grant_type : "client_credentials";

	if (strcmp(g, REQUEST_GRANT_JWT_BEARER) == 0 && cc->assertion_file == NULL &&
	    !b->key_failed[CK_ASSERTION_FILE])
		conf_error(b->ld, b->sect->file, b->sect->line,
			   "assertion_file: required by grant_type %s", g);
	if (strcmp(g, REQUEST_GRANT_REFRESH_TOKEN) == 0 && cc->refresh_token_file == NULL &&
	    !b->key_failed[CK_REFRESH_TOKEN_FILE])
		conf_error(b->ld, b->sect->file, b->sect->line,
			   "refresh_token_file: required by grant_type %s (the first refresh "
			   "token; the rotated ones are kept in state_dir)", g);
	if (strcmp(g, REQUEST_GRANT_REFRESH_TOKEN) != 0 && cc->refresh_token_file != NULL) {
		unsigned file, line;

		cred_where(b, CK_REFRESH_TOKEN_FILE, &file, &line);
		conf_error(b->ld, file, line,
			   "refresh_token_file: only used by grant_type refresh_token (this "
			   "credential's is %s)", g);
	}
	if (strcmp(g, REQUEST_GRANT_TOKEN_EXCHANGE) == 0 && cc->subject_token_file == NULL &&
	    !b->key_failed[CK_SUBJECT_TOKEN_FILE])
		conf_error(b->ld, b->sect->file, b->sect->line,
			   "subject_token_file: required by grant_type %s", g);
}

static void
cred_check_assertion_auth(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const char *am = conf_cred_auth_method_name(cc->auth_method);

	cred_check_assertion_keys(b);
	cred_check_grant_files(b);
	switch (cc->auth_method) {
	case AUTH_PRIVATE_KEY_JWT:
		cred_require(b, CK_CLIENT_ID, cc->client_id != NULL, am);
		cred_require(b, CK_CLIENT_KEY, cc->client_key != NULL, am);
		cred_check_jwt_key(b);
		cred_check_jwt_text(b);
		break;
	case AUTH_CLIENT_ASSERTION:
		cred_require(b, CK_CLIENT_ASSERTION_FILE, cc->client_assertion_file != NULL, am);
		break;
	case AUTH_TLS_CLIENT_AUTH:
		cred_require(b, CK_CLIENT_ID, cc->client_id != NULL, am);
		cred_require(b, CK_CLIENT_CERT, cc->client_cert != NULL, am);
		cred_require(b, CK_CLIENT_KEY, cc->client_key != NULL, am);
		break;
	default:
		break;
	}
}

static void
cred_check_timing(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	char min[32], max[32];
	unsigned file, line;

	if (b->key_failed[CK_BACKOFF_MIN] || b->key_failed[CK_BACKOFF_MAX] ||
	    cc->backoff_min_ms <= cc->backoff_max_ms)
		return;
	duration_format(cc->backoff_min_ms, min, sizeof(min));
	duration_format(cc->backoff_max_ms, max, sizeof(max));
	if (b->key_line[CK_BACKOFF_MIN] != 0) {
		cred_where(b, CK_BACKOFF_MIN, &file, &line);
		conf_error(b->ld, file, line, "backoff_min: %s is larger than backoff_max (%s)",
			   min, max);
	} else {
		cred_where(b, CK_BACKOFF_MAX, &file, &line);
		conf_error(b->ld, file, line, "backoff_max: %s is smaller than backoff_min (%s)",
			   max, min);
	}
}

/*
 * Token variants: a refresh token rotates at every use, so the variants of
 * one credential (each its own token request) cannot share it; and the
 * variants' limits mean nothing when no caller may ask for one.
 */
static void
cred_check_variants(struct cred_build *b)
{
	static const struct {
		int id;
		const char *what;
	} allows[] = {
		{ CK_ALLOW_SCOPES, "scope" },
		{ CK_ALLOW_AUDIENCES, "audience" },
		{ CK_ALLOW_RESOURCES, "resource" },
	};
	static const int limit_ids[] = { CK_MAX_VARIANTS, CK_VARIANT_IDLE };
	const struct cred_conf *cc = b->cc;
	bool any = cc->allow_scopes != NULL || cc->allow_audiences != NULL ||
		   cc->allow_resources != NULL;
	bool refresh = cc->grant_type != NULL && strcmp(cc->grant_type, "refresh_token") == 0;

	for (size_t i = 0; refresh && i < ELEMENTSOF(allows); i++) {
		int id = allows[i].id;

		if (b->key_line[id] == 0 || b->key_failed[id])
			continue;
		conf_error(b->ld, b->key_file[id], b->key_line[id],
			   "%s: not with grant_type refresh_token: the refresh token rotates at "
			   "every use and cannot be shared by several variants; configure a second "
			   "credential (with a refresh token of its own) for the other %s",
			   conf_cred_keys[id].name, allows[i].what);
	}
	for (size_t i = 0; i < ELEMENTSOF(limit_ids); i++)
		if (!any && b->key_line[limit_ids[i]] != 0 && !b->key_failed[limit_ids[i]])
			conf_warning(b->ld, b->key_file[limit_ids[i]], b->key_line[limit_ids[i]],
				     "%s: no allow_scopes, allow_audiences or allow_resources is "
				     "set, so there are no variants; ignored",
				     conf_cred_keys[limit_ids[i]].name);
}

/* The paths against response_format, which may stand after them. */
static void
cred_check_paths(struct cred_build *b)
{
	static const int ids[] = { CK_TOKEN_PATH, CK_EXPIRES_IN_PATH, CK_TOKEN_TYPE_PATH,
				   CK_EXPIRES_AT_PATH };
	struct cred_conf *cc = b->cc;
	unsigned file, line;

	if (b->key_failed[CK_RESPONSE_FORMAT])
		return;
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		const struct cred_key *k = &conf_cred_keys[ids[i]];
		const char *v = *(char *const *)(const void *)((const char *)cc + k->off);

		if (v == NULL)
			continue;
		cred_where(b, ids[i], &file, &line);
		if (cc->response_format == RESPONSE_FORMAT_JSON && !conf_value_json_pointer_ok(v))
			conf_error(b->ld, file, line,
				   "%s: \"%s\" is not a JSON Pointer (use /name/name, or empty "
				   "for the whole body)",
				   k->name, v);
		else if (cc->response_format == RESPONSE_FORMAT_XML && *v == '\0')
			conf_error(b->ld, file, line,
				   "%s: must not be empty with response_format xml", k->name);
	}
}

static void
cred_check_profile_keys(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const struct profile *p = cc->profile;

	if (b->key_line[CK_API_VERSION] != 0 && !b->key_failed[CK_API_VERSION] &&
	    (p->token_path == NULL || strstr(p->token_path, "{api_version}") == NULL))
		conf_warning(b->ld, b->key_file[CK_API_VERSION], b->key_line[CK_API_VERSION],
			     "api_version: profile %s has no version in its path; ignored",
			     p->name);
	if (b->key_line[CK_REQUESTED_LIFETIME] != 0 && cc->requested_lifetime_ms > 0 &&
	    p->requested_lifetime_query == NULL)
		conf_warning(b->ld, b->key_file[CK_REQUESTED_LIFETIME],
			     b->key_line[CK_REQUESTED_LIFETIME],
			     "requested_lifetime: profile %s cannot ask for a lifetime; ignored",
			     p->name);
}

/* sink_mode, sink_owner and sink_format mean nothing without a sink. */
static void
cred_check_sink(struct cred_build *b)
{
	static const int ids[] = { CK_SINK_MODE, CK_SINK_OWNER, CK_SINK_FORMAT };

	if (b->cc->sink != NULL || b->key_failed[CK_SINK])
		return;
	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		if (b->key_line[ids[i]] != 0 && !b->key_failed[ids[i]])
			conf_warning(b->ld, b->key_file[ids[i]], b->key_line[ids[i]],
				     "%s: no sink is set; ignored", conf_cred_keys[ids[i]].name);
}

/*
 * Every check, in the order its messages should come for one line.  The
 * caller skips them when the profile is unknown or a line could not be
 * read: with a key missing they would only add noise.
 */
void
conf_cred_check_all(struct cred_build *b)
{
	cred_check_token_url(b);
	cred_check_auth(b);
	if (!b->key_failed[CK_AUTH_METHOD])
		cred_check_assertion_auth(b);
	cred_check_json_body(b);
	cred_check_timing(b);
	cred_check_variants(b);
	cred_check_paths(b);
	cred_check_profile_keys(b);
	cred_check_sink(b);
}
