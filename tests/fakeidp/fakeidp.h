/*
 * fakeidp.h: what fakeidp's files share.  The one state (struct fakeidp),
 * the shapes of a token request and of an error answer, and each file's
 * exported functions, under the file's name.  What fakeidp does for a
 * caller is documented in main.c.  Outside tests/fakeidp only fakeapi
 * includes it, for the helpers it links (serve.c, http.c, json.c, form.c,
 * util.c).
 */

#ifndef FAKEIDP_H
#define FAKEIDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <yajl/yajl_gen.h>

#include "secret.h"

#define TOKEN_PREFIX "fk_"
#define TOKEN_MAX 8192		/* longest token looked up */
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + 32)
#define TOKENS_MAX 10000
#define HOLDS_MAX 10000
#define FORM_MAX 64
#define KV_MAX 64
#define TOKEN_PATHS_MAX 16
#define BODY_MAX (64 * 1024)
#define HEADERS_MAX (16 * 1024)
#define OVERSIZE_LEN (2 * 1024 * 1024)
#define LIFETIME_MAX (10LL * 366 * 24 * 3600)
#define DELAY_MAX_MS (3600LL * 1000)
#define STRING_MAX 128
#define POLL_MS 200
#define REDACTED "(redacted)"
#define JTIS_MAX 10000		/* jti values remembered, to refuse a replay */
#define REFRESH_PREFIX "rt_"
#define REFRESH_USED_MAX 10000	/* consumed refresh tokens remembered */
#define ASSERTION_SKEW 5	/* seconds an iat may lie in the future */
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"

enum dialect {
	DIALECT_OAUTH2,
	DIALECT_XIBO,
	DIALECT_SBC,
	DIALECT_XVID,
	DIALECT_N
};

enum mode {
	MODE_NORMAL,
	MODE_MALFORMED,
	MODE_OVERSIZE,
	MODE_NO_EXPIRES_IN,
	MODE_STRING_EXPIRES_IN,
	MODE_ERROR200,
	MODE_NO_TOKEN,
	MODE_HTML,
	MODE_SILENT,
	MODE_INVALID_JSON,
	MODE_DEEP_JSON,
	MODE_BAD_UTF8,
	MODE_HUGE,
	MODE_HUGE_CHUNKED,
	MODE_XML_ENTITY,
	MODE_XML_BOMB,
	MODE_XML_DTD,
	MODE_N
};

/* What token requests get; /control changes it, reset=1 restores it. */
struct behaviour {
	long long lifetime;
	int fail_status;		/* 0: no injected failure */
	long long fail_remaining;	/* -1: every request while failing */
	long long retry_after;		/* 0: no Retry-After */
	bool retry_after_date;
	long long delay_ms;
	enum mode mode;
	char *token_type;
	char *grant_type;		/* "*" accepts any */
	bool require_auth;
	int xibo_version;		/* 2 or 3 */
	char *reauth_param;		/* NULL: the dialect's default place */
	char *fail_error;		/* injected failures' error code; NULL: by status */
	bool rotate;			/* a refresh hands out a new refresh token */
	long long invalid_grant;	/* refreshes still to refuse as invalid_grant */
	long long flap;			/* 0: off; else N answers, N failures, again */
	long long flap_seen;		/* token requests since flap was set */
};

/* What a refresh_token grant presented, as /stats names it. */
enum refresh_seen {
	REFRESH_NONE,			/* not a refresh_token grant */
	REFRESH_MISSING,		/* no refresh_token field */
	REFRESH_CURRENT,		/* the family's valid one */
	REFRESH_REVOKED,		/* the family's current one, the family revoked */
	REFRESH_CONSUMED,		/* rotated away: a reuse */
	REFRESH_UNKNOWN,		/* never issued, or of an earlier family */
	REFRESH_SEEN_N
};

/*
 * What a token request's client assertion (or TLS client certificate) was;
 * never the assertion itself.  Plain arrays, so /stats keeps a copy.
 */
struct assertion_seen {
	bool present;			/* client_assertion or its type in the body */
	bool ok;			/* every check passed */
	const char *error;		/* static: the first check that failed */
	char alg[16];
	char kid[STRING_MAX];
	char x5t[STRING_MAX];		/* x5t#S256 */
	char iss[STRING_MAX];
	char aud[STRING_MAX];
	bool jti_unique;		/* a jti never seen before (now remembered) */
	char fp[7];			/* first 6 hex of the assertion's SHA-256 */
	bool tls_cert;			/* a client certificate verified on the connection */
};

/* Name/value pairs shown in /stats, already redacted. */
struct kvlist {
	size_t n;
	char *name[KV_MAX];
	char *value[KV_MAX];
};

/* What /stats tells about the last token request; all owned. */
struct last_request {
	bool seen;
	const char *auth;		/* static */
	char *method;
	char *path;
	char *client_id;
	char *grant_type;
	char *scope;
	char *scope_raw;
	char *content_type;
	char *query;
	bool reauth_token;
	bool reauth_token_known;
	bool reauth;
	struct kvlist params;
	struct kvlist headers;
	struct assertion_seen assertion;
	enum refresh_seen refresh;
	char refresh_fp[7];		/* of the refresh token presented */
};

struct stats {
	unsigned long long requests;
	unsigned long long issued;
	unsigned long long failed;
	unsigned long long reauths;
	unsigned long long assertions;	/* client assertions accepted */
	unsigned long long refresh_requests;	/* refresh_token grants received */
	unsigned long long refresh_ok;		/* and answered with a token */
	unsigned long long refresh_reuses;	/* consumed refresh tokens presented */
	unsigned long long entity_fetches;	/* GET /entity */
	unsigned long long discovery_fetches;	/* GET of the discovery document */
	unsigned int inflight;		/* a gauge: reset leaves it */
	unsigned int max_concurrent;
	struct last_request last;
};

/*
 * An issued token, known by its SHA-256 only; expiry on both clocks (mono
 * decides, wall is shown).  Lineage 0 is none; the oracle-sbc dialect
 * numbers them from 1.
 */
struct issued {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int64_t expires_mono_ms;
	int64_t expires_wall_ms;
	unsigned long lineage;
};

/*
 * A token request whose answer waits: for delay_ms (timer set, body is the
 * answer) or for ever (mode silent, no timer).  The request stays owned by
 * libevent; a hold only watches its socket so a client that goes away
 * frees its connection at once.
 */
struct hold {
	TAILQ_ENTRY(hold) entry;
	struct fakeidp *fk;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int fd;
	struct event *watch;		/* readable: closed, or more data */
	struct event *poll;		/* after more data: poll for the close */
	struct event *timer;		/* NULL when silent */
	int status;
	struct evbuffer *body;
};

TAILQ_HEAD(hold_list, hold);

/* A consumed refresh token, known by its SHA-256 only, and its family. */
struct refresh_used {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	unsigned long family;
};

/*
 * The one family of refresh tokens (refresh.c): its current token (NULL:
 * the refresh_token grant is off), its number (each new family from
 * --refresh-token or /control refresh_token= counts one up), whether it is
 * revoked, and a ring of REFRESH_USED_MAX consumed tokens.
 */
struct refresh {
	struct secret *current;
	unsigned long family;
	bool revoked;
	struct refresh_used *used;
	size_t used_next;
	size_t used_count;
};

struct fakeidp {
	enum dialect dialect;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp *plain;		/* the 426 port, or NULL */
	SSL_CTX *ssl;
	char *client_id;
	struct secret *client_secret;
	char *token_paths[TOKEN_PATHS_MAX];
	size_t n_token_paths;
	struct behaviour initial;
	struct behaviour cur;
	struct stats stats;
	struct issued *tokens;		/* ring of TOKENS_MAX */
	size_t tokens_next;
	size_t tokens_count;
	struct hold_list holds;
	size_t n_holds;
	unsigned long lineages;		/* started so far; the last one's number */
	unsigned long lock_holder;	/* 0: the configuration lock is free */
	EVP_PKEY *client_pubkey;	/* verifies client assertions; or NULL */
	char *assertion_audience;	/* NULL: the token endpoint's URL */
	unsigned char (*jtis)[SHA256_DIGEST_LENGTH];	/* ring of JTIS_MAX */
	size_t jtis_next;
	size_t jtis_count;
	bool client_ca;			/* TLS asks for a client certificate */
	char *issuer;			/* --issuer: publish a discovery document */
	char *doc_issuer;		/* --doc-issuer: the issuer it names */
	bool discovery_oauth;		/* RFC 8414's well-known path, not OIDC's */
	bool discovery_page;		/* the OIDC path answers 200, a web page */
	struct refresh refresh;
};

/* A parsed application/x-www-form-urlencoded text; values are wiped. */
struct form {
	size_t n;
	char *name[FORM_MAX];
	char *value[FORM_MAX];
};

/* A token request as received; owned strings, wiped by token_req_clear. */
struct token_req {
	const char *auth;		/* "basic", "post", "both", "none" */
	char *id;			/* client id presented, or NULL */
	struct secret *secret;		/* client secret presented, or NULL */
	bool basic_bad;			/* an Authorization that does not decode */
	char *presented;		/* a token to re-authenticate with, or NULL */
	bool is_form;
	struct form form;		/* empty unless is_form */
	struct form query;
	char *body;
	size_t body_len;
	struct assertion_seen assertion;
};

/* An error answer, before the dialect puts it into its envelope. */
struct err {
	int status;
	const char *code;	/* RFC 6749 error: oauth2, xibo 3 */
	const char *text;	/* NULL: none in oauth2, else a default */
	const char *hint;	/* xibo 3 only */
	const char *xvid_code;	/* NULL: 0x0000001 */
};

/*
 * A dialect's checks of a token request: the status, and the body in *ret
 * (its headers already on req).
 */
typedef int dialect_token_fn(struct fakeidp *fk, struct evhttp_request *req,
    const struct token_req *tr, struct evbuffer **ret);

/* serve.c */
void serve_init(const char *prog, bool quiet);
char *serve_address(const char *addr);
void serve_port_file(const char *path, unsigned int port);
unsigned int serve_bind(struct evhttp *http, const char *addr, long long port);
void serve_signals(struct event_base *base, struct event *ret[2]);
void serve_announce(const char *port_file, const char *addr, unsigned int port, bool quiet);

/* util.c */
int util_parse_ll(const char *s, long long min, long long max, long long *ret);
int util_parse_bool(const char *s, bool *ret);
char *util_strdup_or_null(const char *s);
void util_log_safe(const char *s, char out[81]);
void util_random_bytes(void *buf, size_t len);

/* form.c */
char *form_decode(const char *s, size_t n);
void form_clear(struct form *f);
int form_parse(const char *s, size_t len, struct form *ret);
int form_parse_json(const char *s, struct form *ret);
const char *form_get(const struct form *f, const char *name);
char *form_raw_get(const char *s, size_t len, const char *name);


/* json.c */
/* discovery.c: serves --issuer's discovery document at path; false when not it. */
bool discovery_route(struct fakeidp *fk, struct evhttp_request *req, const char *path);

yajl_gen json_new(void);
void json_string(yajl_gen g, const char *v);
void json_str(yajl_gen g, const char *key, const char *v);
void json_int(yajl_gen g, const char *key, long long v);
void json_bool(yajl_gen g, const char *key, bool v);
void json_kvlist(yajl_gen g, const char *key, const struct kvlist *l, bool seen);
struct evbuffer *json_finish(yajl_gen g);
struct evbuffer *json_error(const char *error, const char *description);

/* http.c */
const char *http_reason(int status);
const char *http_oauth_error(int status);
const char *http_method(const struct evhttp_request *req);
const char *http_path(const struct evhttp_request *req);
const char *http_query(const struct evhttp_request *req);
struct evbuffer *http_buffer_new(void);
void http_header(struct evhttp_request *req, const char *name, const char *value);
void http_type(struct evhttp_request *req, const char *type);
void http_send(struct evhttp_request *req, int status, struct evbuffer *body);
void http_json(struct evhttp_request *req, int status, struct evbuffer *body);
void http_error(struct evhttp_request *req, int status, const char *error,
    const char *description);
bool http_allow(struct evhttp_request *req, int methods, const char *allow,
    const char *description);

/* tokens.c */
void tokens_generate(char out[TOKEN_LEN + 1]);
void tokens_remember(struct fakeidp *fk, const char *token, long long lifetime,
    unsigned long lineage);
const struct issued *tokens_find(const struct fakeidp *fk, const char *s);
bool tokens_lineage_alive(const struct fakeidp *fk, unsigned long lineage);
void tokens_clear(struct fakeidp *fk);
void tokens_introspect(struct fakeidp *fk, struct evhttp_request *req);

/* stats.c */
void stats_last_clear(struct last_request *l);
void stats_record(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr);
void stats_reset(struct stats *s);
void stats_handle(struct fakeidp *fk, struct evhttp_request *req);

/* control.c */
const char *control_mode_name(enum mode mode);
void control_behaviour_free(struct behaviour *b);
void control_behaviour_copy(struct behaviour *dst, const struct behaviour *src);
bool control_take_failure(struct behaviour *b, int *ret_status);
void control_handle(struct fakeidp *fk, struct evhttp_request *req);

/* hold.c */
int hold_start(struct fakeidp *fk, struct evhttp_request *req, int status,
    struct evbuffer *body, long long delay_ms);
void hold_free(struct hold *h);

/* dialect.c */
const char *dialect_name(enum dialect d);
int dialect_from_name(const char *name);
const char *dialect_token_path(enum dialect d);
int dialect_token(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret);
struct evbuffer *dialect_error_body(const struct fakeidp *fk, struct evhttp_request *req,
    const struct err *e);
void dialect_reply_err(const struct fakeidp *fk, struct evhttp_request *req, const struct err *e);
void dialect_not_found(struct fakeidp *fk, struct evhttp_request *req);

/* token.c */
bool token_req_authenticated(const struct fakeidp *fk, const struct token_req *tr);
bool token_req_grant_ok(const struct fakeidp *fk, const struct token_req *tr);
char *token_new(const struct fakeidp *fk, long long lifetime);
struct evbuffer *token_success(struct fakeidp *fk, struct evhttp_request *req,
    const struct token_req *tr, unsigned long lineage);
int token_oauth2(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret);
int token_xibo(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret);
int token_xvid(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret);
void token_handle(struct fakeidp *fk, struct evhttp_request *req);

/* assertion.c */
EVP_PKEY *assertion_public_key(const char *path);
void assertion_check(struct fakeidp *fk, struct evhttp_request *req, struct token_req *tr);
void assertion_tls(const struct fakeidp *fk, struct evhttp_request *req, struct token_req *tr);
void assertion_clear(struct fakeidp *fk);

/* refresh.c */
const char *refresh_seen_name(enum refresh_seen seen);
bool refresh_enabled(const struct fakeidp *fk);
bool refresh_grant(const struct fakeidp *fk, const struct token_req *tr);
void refresh_set(struct fakeidp *fk, const char *token);
void refresh_revoke(struct fakeidp *fk);
enum refresh_seen refresh_classify(const struct fakeidp *fk, const char *s);
int refresh_check(struct fakeidp *fk, const struct token_req *tr, struct err *e);
void refresh_issue(struct fakeidp *fk, yajl_gen g);
void refresh_handle(struct fakeidp *fk, struct evhttp_request *req);
void refresh_clear(struct fakeidp *fk);

/* evil.c */
struct evbuffer *evil_body(struct fakeidp *fk, struct evhttp_request *req);
void evil_send_chunked(struct evhttp_request *req, int status, struct evbuffer *body);
void evil_entity(struct fakeidp *fk, struct evhttp_request *req);

/* sbc.c */
struct evbuffer *sbc_error_xml(int status, const char *text);
struct evbuffer *sbc_success(struct fakeidp *fk, struct evhttp_request *req,
    unsigned long lineage);
int sbc_token(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret);
unsigned long sbc_lock_holder(struct fakeidp *fk);
bool sbc_route(struct fakeidp *fk, struct evhttp_request *req, const char *path);

#endif
