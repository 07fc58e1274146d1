/*
 * fakeidp: a local OAuth2 token endpoint (RFC 6749 section 4.4, client
 * credentials) for tokenbroker's integration tests and demo, which can also
 * speak the dialects of the three systems tokenbroker has profiles for.  It
 * exists to misbehave on request; it is not an identity provider.
 *
 * usage: fakeidp [--dialect oauth2|xibo|oracle-sbc|xvid]
 *                [--listen ADDR] [--port N] [--port-file FILE]
 *                [--client-id ID] [--client-secret SECRET]
 *                [--client-secret-file FILE] [--lifetime SECONDS]
 *                [--grant-type TYPE] [--token-path PATH]...
 *                [--tls-cert PEM --tls-key PEM [--plain-port-file FILE]]
 *                [--quiet] [--help]
 *
 *   --dialect     how the token endpoint behaves (default oauth2); see
 *                 "Dialects" below
 *   --listen      loopback address only: 127.0.0.0/8, ::1 or localhost
 *                 (default 127.0.0.1)
 *   --port        0 (default) picks an ephemeral port
 *   --port-file   the chosen port and a newline, written atomically (temp
 *                 file and rename) once listening; then "listening on
 *                 127.0.0.1:PORT" goes to stdout (not with --quiet)
 *   --client-id, --client-secret   default "demo-client" / "demo-secret";
 *                 --client-secret-file reads the first line of a file; the
 *                 oracle-sbc dialect takes them as username and password
 *   --lifetime    expires_in of issued tokens (default 3600; 600 in the
 *                 oracle-sbc dialect)
 *   --grant-type  the grant_type to expect (default client_credentials, in
 *                 the xvid dialect client_credential; "*" accepts any, or
 *                 none)
 *   --token-path  where the token endpoint lives (default /token; in the
 *                 xibo and xvid dialects their own path); may be given
 *                 several times; replaces the default; not with oracle-sbc
 *   --tls-cert, --tls-key   PEM files: serve HTTPS instead of HTTP
 *   --plain-port-file   with TLS only: also listen for plain HTTP on a
 *                 second ephemeral loopback port, written to FILE like
 *                 --port-file, where every request is answered 426 Upgrade
 *                 Required (an XML body in the oracle-sbc dialect, JSON
 *                 otherwise)
 *   --quiet       nothing on stdout or stderr but errors
 * SIGTERM and SIGINT end it with status 0; usage errors exit 2, setup
 * errors 1.
 *
 * Endpoints (dialect oauth2):
 *   POST TOKEN-PATH   client credentials.  Client authentication by HTTP
 *       Basic (id and secret each form-urlencoded, RFC 6749 2.3.1) or by
 *       body fields client_id/client_secret; both at once is a 400.  Wrong
 *       grant_type: 400 unsupported_grant_type; bad client: 401
 *       invalid_client with WWW-Authenticate.  Success: 200 {"access_token":
 *       "fk_<32 hex>","token_type":"Bearer","expires_in":N,"scope":S}, scope
 *       echoing the request's, if any.  A query parameter expires_in=N (as
 *       xvid-mediahub takes it) asks for that lifetime instead.  The last
 *       10000 tokens are remembered (as SHA-256 digests) with their expiry.
 *       Every answer that is not 2xx counts as failed and carries
 *       Retry-After when set.
 *   GET  /introspect?token=T (or POST with a form field token):
 *       {"active":true,"expires_in":N,"exp":UNIX} or {"active":false}
 *   GET  /stats: {"requests","issued","failed","auth" (basic, post, both or
 *       none),"grant_type","scope" (decoded),"scope_raw" (as on the wire),
 *       "content_type","query" (raw),"reauth_token" (the body carried a
 *       token where the dialect looks for one: see reauth_param),
 *       "reauth_token_known" (and that token is one issued and unexpired),
 *       "reauth" (the request re-authenticated: a token was issued in the
 *       presented token's lineage), "reauths" (how many did since reset),
 *       "lineages" (lineages started; never reset), "lock_holder" (the
 *       lineage holding the oracle-sbc configuration lock, 0 when free),
 *       "max_concurrent" (most token requests in flight at once), "held"
 *       (in flight now), "dialect","xibo_version","reauth_param","mode",
 *       "method","path","client_id","params" (body fields),"headers"} about
 *       the last token request; null before the first.  Secrets and tokens
 *       read "(redacted)".
 *   GET or POST /control?k=v&...  (also form fields of a POST body) changes
 *       what later token requests get; 200 {"ok":true}, or 400 and nothing
 *       changed when a key or value is bad:
 *         lifetime=N       expires_in of new tokens
 *         fail=STATUS      answer every token request with STATUS (300-599)
 *                          and an error body in the dialect's envelope;
 *                          fail=0 ends it
 *         fail_count=N     only the next N requests fail (status 503 unless
 *                          fail= says otherwise), then normal again
 *         retry_after=N    Retry-After: N on failures; 0 removes it
 *         retry_after_date=1   send Retry-After as an HTTP-date instead
 *         delay_ms=N       hold each token answer N ms (on a timer)
 *         mode=normal|malformed|oversize|no_expires_in|string_expires_in|
 *              error200|no_token|html|silent   the shape of a success;
 *              silent never answers any token request and holds it until
 *              the client goes away or fakeidp exits
 *         token_type=VALUE, grant_type=EXPECTED ("*": any)
 *         require_auth=0   accept requests without valid credentials
 *         xibo_version=2|3 the xibo dialect's generation (default 2)
 *         reauth_param=NAME   where a re-authentication carries the token:
 *                          the form field NAME; empty: the dialect's
 *                          default (oracle-sbc: the whole body; others: a
 *                          field "token", or a body that is not form data)
 *         reset=1          counters to zero, behaviour to the startup one;
 *                          tokens (and the lock) kept unless revoke=1
 *                          (which alone forgets all issued tokens)
 *       reset applies first, then the other keys, whatever their order.
 *   anything else: 404.
 *
 * Dialects.  /introspect, /stats and /control are there in all of them;
 * mode, fail and delay_ms apply to the token endpoint of each.
 *   xibo (Xibo CMS 1.8 and later): POST /api/authorize/access_token only,
 *       any other path an HTML 404 page.  Client authentication only by the
 *       body fields client_id and client_secret (an HTTP Basic header is
 *       ignored).  xibo_version=2: {"access_token":"fk_...","token_type":
 *       "Bearer","expires_in":N}, errors {"error":{"message":"Client
 *       authentication failed.","code":401,"data":[]}}; xibo_version=3: the
 *       access_token is a JWT (base64url header.payload.signature, payload
 *       with aud = client id, jti, iat, nbf, exp = now + lifetime; the
 *       signature is random bytes) and errors are {"error":"invalid_client",
 *       "error_description":"Client authentication failed","hint":"",
 *       "message":"Client authentication failed"}.
 *   oracle-sbc (Oracle SBC REST API): POST /rest/{v1.0,v1.1,v1.2}/auth/token;
 *       any other version 404, as every unknown path, with an XML body
 *       <response><data/><messages><error><reasonCode/><reasonText/>
 *       </error></messages><links/></response>.  HTTP Basic with
 *       base64(username:password), not form-encoded: missing or
 *       undecodable 400, wrong 401.  An empty body authenticates and starts
 *       a new lineage; a body carrying an unexpired token (the whole body,
 *       or the form field reauth_param) re-authenticates: the new token
 *       belongs to the presented token's lineage; an unknown or expired one
 *       is a 401.  Success: 200 application/xml <response><data><accessToken>
 *       fk_...</accessToken></data><messages/><links/></response>, no
 *       expiry; tokens live --lifetime seconds.
 *       POST /rest/VERSION/configuration/lock with "Authorization: Bearer
 *       TOKEN" (unexpired): 200 when the lock is free or its lineage holds
 *       it (it does from then on), 423 when another lineage holds it; a
 *       lineage without an unexpired token left holds nothing.
 *       POST /rest/VERSION/configuration/unlock: 200 and the lock is free,
 *       423 when another lineage holds it.  A bad token: 401.
 *   xvid (Xvid MediaHub): POST /oauth2/token/ only, any other path a 404.
 *       The query must carry format=json (else 400 "Unsupported format",
 *       code 0x0000001: fakeidp's own); expires_in=N in it sets the
 *       lifetime.  Body: grant_type exactly client_credential (else 400
 *       0x0220001 "Invalid grant type"), client_id and client_secret (an
 *       unknown id or a wrong secret: 402 0x0220003 "Application does not
 *       exist"), scope comma-separated from me, mediahub, mediahub_read,
 *       mediahub_write, mediahub_submit_jobs, mediahub_download_files,
 *       autograph (else 400 0x0220002 "Scopes requested are not allowed").
 *       Success: {"access_token":"fk_...","expires_in":"N"}, a string and
 *       no token_type.  Errors are {"error":{"error_code":"0x...",
 *       "error_message":"..."}}; an injected 5xx is 0x0000001 "Internal
 *       Error".
 *
 * The client secret and tokens never reach stdout, stderr or /stats.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "log.h"
#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"

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

enum dialect {
	DIALECT_OAUTH2,
	DIALECT_XIBO,
	DIALECT_SBC,
	DIALECT_XVID,
	DIALECT_N
};

static const char *const dialect_names[DIALECT_N] = {
	[DIALECT_OAUTH2] = "oauth2",
	[DIALECT_XIBO] = "xibo",
	[DIALECT_SBC] = "oracle-sbc",
	[DIALECT_XVID] = "xvid",
};

/* The token paths a dialect serves when --token-path is not given. */
static const char *const dialect_token_path[DIALECT_N] = {
	[DIALECT_OAUTH2] = "/token",
	[DIALECT_XIBO] = "/api/authorize/access_token",
	[DIALECT_XVID] = "/oauth2/token/",
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
	MODE_N
};

static const char *const mode_names[MODE_N] = {
	[MODE_NORMAL] = "normal",
	[MODE_MALFORMED] = "malformed",
	[MODE_OVERSIZE] = "oversize",
	[MODE_NO_EXPIRES_IN] = "no_expires_in",
	[MODE_STRING_EXPIRES_IN] = "string_expires_in",
	[MODE_ERROR200] = "error200",
	[MODE_NO_TOKEN] = "no_token",
	[MODE_HTML] = "html",
	[MODE_SILENT] = "silent",
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
};

struct stats {
	unsigned long long requests;
	unsigned long long issued;
	unsigned long long failed;
	unsigned long long reauths;
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
};

static void hold_free(struct hold *h);

/* --- small helpers --------------------------------------------------- */

/* Parses a whole decimal integer within [min, max]: 0 or -EINVAL/-ERANGE. */
static int
parse_ll(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int
parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *
xstrdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Printable copy of a peer's string for a log line, at most 80 bytes. */
static void
log_safe(const char *s, char out[81])
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < 80; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[i] = '\0';
}

static void
random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

/* --- form-urlencoded and base64 -------------------------------------- */

/* Decodes n bytes of form-urlencoding ("+" is a space) into a new string. */
static char *
form_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static void
form_clear(struct form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->name[i]);
		secret_free_str(f->value[i]);
	}
	f->n = 0;
}

/*
 * Parses len bytes of application/x-www-form-urlencoded text into *ret.
 * 0 on success; -EINVAL when it is not form data (a field without "=", an
 * empty name, a NUL byte), -E2BIG beyond FORM_MAX fields.  Empty fields
 * ("a=1&&b=2") are skipped; an empty text has no fields.
 */
static int
form_parse(const char *s, size_t len, struct form *ret)
{
	struct form f = { 0 };
	const char *p = s, *end = s + len;

	if (len > 0 && memchr(s, '\0', len) != NULL)
		return -EINVAL;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(seg_end - p));

		if (seg_end > p) {
			if (eq == NULL || eq == p) {
				form_clear(&f);
				return -EINVAL;
			}
			if (f.n == FORM_MAX) {
				form_clear(&f);
				return -E2BIG;
			}
			f.name[f.n] = form_decode(p, (size_t)(eq - p));
			f.value[f.n] = form_decode(eq + 1, (size_t)(seg_end - eq - 1));
			f.n++;
		}
		p = amp != NULL ? amp + 1 : end;
	}
	*ret = f;
	return 0;
}

/* The first value of a field, or NULL. */
static const char *
form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

/*
 * The first value of field name in len bytes of form data, as it was on
 * the wire (not decoded), in a new string; NULL when there is none.
 */
static char *
form_raw_get(const char *s, size_t len, const char *name)
{
	const char *p = s, *end = s + len;
	size_t n = strlen(name);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp != NULL ? amp : end;

		if ((size_t)(seg_end - p) > n && memcmp(p, name, n) == 0 && p[n] == '=')
			return xstrndup(p + n + 1, (size_t)(seg_end - p - n - 1));
		p = amp != NULL ? amp + 1 : end;
	}
	return NULL;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes standard base64 (padding optional) into a new NUL-terminated
 * buffer of *ret_len bytes that the caller wipes and frees.  -EINVAL on a
 * bad character.
 */
static int
b64_decode(const char *in, char **ret, size_t *ret_len)
{
	size_t n = strlen(in), o = 0, i;
	char *out = xmalloc(n + 1);
	unsigned int acc = 0;
	int bits = 0;

	for (i = 0; i < n && in[i] != '='; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			goto bad;
		acc = (acc << 6 | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	for (; i < n; i++)
		if (in[i] != '=')
			goto bad;
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
bad:
	secret_free_buf(out, n + 1);
	return -EINVAL;
}

/* Base64url without padding (RFC 7515 section 2) into a new string. */
static char *
b64url_encode(const void *data, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16 | (unsigned int)in[i + 1] << 8 |
		    in[i + 2];

		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
		*o++ = abc[v & 63];
	}
	if (len - i == 1) {
		*o++ = abc[in[i] >> 2];
		*o++ = abc[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		unsigned int v = (unsigned int)in[i] << 8 | in[i + 1];

		*o++ = abc[v >> 10 & 63];
		*o++ = abc[v >> 4 & 63];
		*o++ = abc[(v & 15) << 2];
	}
	*o = '\0';
	return out;
}

/* --- JSON ------------------------------------------------------------ */

/* A generator with an open map; json_finish closes and hands it out. */
static yajl_gen
json_new(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL)
		fatal("out of memory");
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	return g;
}

/* A string value; a peer's bytes that are not UTF-8 are replaced. */
static void
json_string(yajl_gen g, const char *v)
{
	static const char bad[] = "(invalid utf-8)";

	if (v == NULL) {
		yajl_gen_null(g);
		return;
	}
	if (yajl_gen_string(g, (const unsigned char *)v, strlen(v)) == yajl_gen_invalid_string)
		yajl_gen_string(g, (const unsigned char *)bad, sizeof(bad) - 1);
}

static void
json_str(yajl_gen g, const char *key, const char *v)
{
	json_string(g, key);
	json_string(g, v);
}

static void
json_int(yajl_gen g, const char *key, long long v)
{
	json_string(g, key);
	yajl_gen_integer(g, v);
}

static void
json_bool(yajl_gen g, const char *key, bool v)
{
	json_string(g, key);
	yajl_gen_bool(g, v);
}

static void
json_kvlist(yajl_gen g, const char *key, const struct kvlist *l, bool seen)
{
	json_string(g, key);
	if (!seen) {
		yajl_gen_null(g);
		return;
	}
	yajl_gen_map_open(g);
	for (size_t i = 0; i < l->n; i++)
		json_str(g, l->name[i], l->value[i]);
	yajl_gen_map_close(g);
}

/* Closes the map; the text moves into a new evbuffer; g is freed. */
static struct evbuffer *
json_finish(yajl_gen g)
{
	struct evbuffer *b = evbuffer_new();
	const unsigned char *text;
	size_t len;

	if (b == NULL)
		fatal("out of memory");
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &text, &len);
	evbuffer_add(b, text, len);
	yajl_gen_free(g);
	return b;
}

static struct evbuffer *
json_error(const char *error, const char *description)
{
	yajl_gen g = json_new();

	json_str(g, "error", error);
	if (description != NULL)
		json_str(g, "error_description", description);
	return json_finish(g);
}

/* --- replies --------------------------------------------------------- */

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 423: return "Locked";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* The RFC 6749 error code that best fits an injected status. */
static const char *
http_oauth_error(int status)
{
	switch (status) {
	case 401: return "invalid_client";
	case 403: return "unauthorized_client";
	case 429:
	case 503: return "temporarily_unavailable";
	default: return status >= 500 ? "server_error" : "invalid_request";
	}
}

static const char *
http_method(const struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "?";
	}
}

static const char *
http_path(const struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *p = u != NULL ? evhttp_uri_get_path(u) : NULL;

	return p != NULL ? p : "";
}

static const char *
http_query(const struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);

	return u != NULL ? evhttp_uri_get_query(u) : NULL;
}

static void
reply_header(struct evhttp_request *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), name, value);
}

/* Sends status and body (NULL: none; its contents are moved out). */
static void
reply_send(struct evhttp_request *req, int status, struct evbuffer *body)
{
	char path[81];

	log_safe(http_path(req), path);
	log_info("%s %s: %d", http_method(req), path, status);
	evhttp_send_reply(req, status, http_reason(status), body);
}

static void
reply_json(struct evhttp_request *req, int status, struct evbuffer *body)
{
	reply_header(req, "Content-Type", "application/json");
	reply_header(req, "Cache-Control", "no-store");
	reply_send(req, status, body);
	evbuffer_free(body);
}

static void
reply_error(struct evhttp_request *req, int status, const char *error, const char *description)
{
	reply_json(req, status, json_error(error, description));
}

/* --- issued tokens --------------------------------------------------- */

static void
tokens_generate(char out[TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[(TOKEN_LEN - (sizeof(TOKEN_PREFIX) - 1)) / 2];
	char *p = out + sizeof(TOKEN_PREFIX) - 1;

	random_bytes(raw, sizeof(raw));
	memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	for (size_t i = 0; i < sizeof(raw); i++) {
		*p++ = hex[raw[i] >> 4];
		*p++ = hex[raw[i] & 0xf];
	}
	*p = '\0';
	explicit_bzero(raw, sizeof(raw));
}

/* Remembers a token; the oldest is forgotten beyond TOKENS_MAX. */
static void
tokens_remember(struct fakeidp *fk, const char *token, long long lifetime, unsigned long lineage)
{
	struct issued *t = &fk->tokens[fk->tokens_next];

	SHA256((const unsigned char *)token, strlen(token), t->digest);
	t->expires_mono_ms = time_mono_ms() + lifetime * 1000;
	t->expires_wall_ms = time_wall_ms() + lifetime * 1000;
	t->lineage = lineage;
	fk->tokens_next = (fk->tokens_next + 1) % TOKENS_MAX;
	if (fk->tokens_count < TOKENS_MAX)
		fk->tokens_count++;
}

/* The unexpired token equal to s, or NULL. */
static const struct issued *
tokens_find(const struct fakeidp *fk, const char *s)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const struct issued *found = NULL;
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0 || len > TOKEN_MAX)
		return NULL;
	SHA256((const unsigned char *)s, len, digest);
	for (size_t i = 0; i < fk->tokens_count; i++) {
		const struct issued *t = &fk->tokens[i];

		if (memcmp(t->digest, digest, sizeof(digest)) == 0) {
			found = t->expires_mono_ms > time_mono_ms() ? t : NULL;
			break;
		}
	}
	explicit_bzero(digest, sizeof(digest));
	return found;
}

/* Whether a lineage still has an unexpired token. */
static bool
tokens_lineage_alive(const struct fakeidp *fk, unsigned long lineage)
{
	int64_t now = time_mono_ms();

	for (size_t i = 0; lineage != 0 && i < fk->tokens_count; i++)
		if (fk->tokens[i].lineage == lineage && fk->tokens[i].expires_mono_ms > now)
			return true;
	return false;
}

/* The lineage holding the configuration lock, 0 when free. */
static unsigned long
lock_holder(struct fakeidp *fk)
{
	if (fk->lock_holder != 0 && !tokens_lineage_alive(fk, fk->lock_holder)) {
		log_info("lineage %lu has no token left: the configuration lock is free",
		    fk->lock_holder);
		fk->lock_holder = 0;
	}
	return fk->lock_holder;
}

static void
tokens_clear(struct fakeidp *fk)
{
	explicit_bzero(fk->tokens, TOKENS_MAX * sizeof(*fk->tokens));
	fk->tokens_next = 0;
	fk->tokens_count = 0;
}

/* --- behaviour and stats --------------------------------------------- */

static void
behaviour_free(struct behaviour *b)
{
	free(b->token_type);
	free(b->grant_type);
	free(b->reauth_param);
	b->token_type = b->grant_type = b->reauth_param = NULL;
}

static void
behaviour_copy(struct behaviour *dst, const struct behaviour *src)
{
	behaviour_free(dst);
	*dst = *src;
	dst->token_type = xstrdup(src->token_type);
	dst->grant_type = xstrdup(src->grant_type);
	dst->reauth_param = xstrdup_or_null(src->reauth_param);
}

/*
 * Whether this token request gets an injected failure; consumes one of a
 * fail_count.  Sets *ret_status when it does.
 */
static bool
behaviour_take_failure(struct behaviour *b, int *ret_status)
{
	if (b->fail_status == 0 || b->fail_remaining == 0)
		return false;
	*ret_status = b->fail_status;
	if (b->fail_remaining > 0 && --b->fail_remaining == 0)
		b->fail_status = 0;
	return true;
}

static void
kvlist_clear(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->name[i]);
		free(l->value[i]);
	}
	l->n = 0;
}

static void
kvlist_add(struct kvlist *l, const char *name, const char *value)
{
	if (l->n == KV_MAX)
		return;
	l->name[l->n] = xstrdup(name);
	l->value[l->n] = xstrdup(value);
	l->n++;
}

static void
last_request_clear(struct last_request *l)
{
	free(l->method);
	free(l->path);
	free(l->client_id);
	free(l->grant_type);
	free(l->scope);
	free(l->scope_raw);
	free(l->content_type);
	free(l->query);
	kvlist_clear(&l->params);
	kvlist_clear(&l->headers);
	memset(l, 0, sizeof(*l));
}

/* True when s contains the client secret (an empty secret never matches). */
static bool
mentions_secret(const struct fakeidp *fk, const char *s)
{
	return s != NULL && fk->client_secret->len > 0 && strstr(s, fk->client_secret->data) != NULL;
}

static bool
param_is_secret(const char *name)
{
	static const char *const names[] = {
		"client_secret", "password", "token", "access_token", "refresh_token",
		"assertion", "client_assertion", "code",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Authorization keeps its scheme only; cookies go entirely. */
static char *
header_redacted(const struct fakeidp *fk, const char *name, const char *value)
{
	if (strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Proxy-Authorization") == 0) {
		size_t n = strcspn(value, " \t");

		return xasprintf("%.*s " REDACTED, (int)(n > 32 ? 32 : n), value);
	}
	if (strcasecmp(name, "Cookie") == 0 || mentions_secret(fk, value))
		return xstrdup(REDACTED);
	return xstrdup(value);
}

/* Keeps what /stats tells about this token request. */
static void
stats_record(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr)
{
	struct last_request *l = &fk->stats.last;
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const struct evkeyval *kv;
	const char *query = http_query(req);

	last_request_clear(l);
	l->seen = true;
	l->auth = tr->auth;
	l->method = xstrdup(http_method(req));
	l->path = xstrdup(http_path(req));
	l->client_id = xstrdup_or_null(tr->id);
	l->grant_type = xstrdup_or_null(form_get(&tr->form, "grant_type"));
	l->scope = xstrdup_or_null(form_get(&tr->form, "scope"));
	if (tr->is_form)
		l->scope_raw = form_raw_get(tr->body, tr->body_len, "scope");
	l->content_type = xstrdup_or_null(evhttp_find_header(h, "Content-Type"));
	if (query != NULL) {
		bool secret = mentions_secret(fk, query);

		for (size_t i = 0; i < tr->query.n && !secret; i++)
			secret = mentions_secret(fk, tr->query.value[i]) ||
			    (param_is_secret(tr->query.name[i]) && tr->query.value[i][0] != '\0');
		l->query = xstrdup(secret ? REDACTED : query);
	}

	l->reauth_token = tr->presented != NULL;
	l->reauth_token_known = tokens_find(fk, tr->presented) != NULL;

	for (size_t i = 0; i < tr->form.n; i++) {
		bool secret = param_is_secret(tr->form.name[i]) || mentions_secret(fk, tr->form.value[i]);

		kvlist_add(&l->params, tr->form.name[i], secret ? REDACTED : tr->form.value[i]);
	}
	TAILQ_FOREACH(kv, h, next) {
		_cleanup_free_ char *v = header_redacted(fk, kv->key, kv->value);

		kvlist_add(&l->headers, kv->key, v);
	}
}

/* Counters to zero; max_concurrent restarts from what is in flight. */
static void
stats_reset(struct stats *s)
{
	last_request_clear(&s->last);
	s->requests = s->issued = s->failed = s->reauths = 0;
	s->max_concurrent = s->inflight;
}

/* --- holds ----------------------------------------------------------- */

/* 1 when the peer on fd has closed or reset its end, 0 otherwise. */
static int
hold_peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/* The client went away: drop the request with its connection. */
static void
hold_gone(struct hold *h)
{
	struct evhttp_connection *evcon = h->evcon;

	log_info("client went away while its token request was held");
	hold_free(h);
	evhttp_connection_free(evcon);
}

static void
hold_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold *h = arg;

	if (hold_peer_gone(h->fd))
		hold_gone(h);
}

/*
 * The socket of a held request is readable: either the client closed it,
 * or it sent more (a pipelined request, TLS records).  The latter would
 * keep a level-triggered event busy, so fall back to polling.
 */
static void
hold_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold *h = arg;
	struct timeval tv = time_ms_to_tv(POLL_MS);

	if (hold_peer_gone(h->fd)) {
		hold_gone(h);
		return;
	}
	event_del(h->watch);
	h->poll = event_new(h->fk->base, -1, EV_PERSIST, hold_poll_cb, h);
	if (h->poll == NULL)
		fatal("out of memory");
	event_add(h->poll, &tv);
}

static void
hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold *h = arg;
	struct evhttp_request *req = h->req;
	struct evbuffer *body = h->body;
	int status = h->status;

	h->body = NULL;
	hold_free(h);
	reply_send(req, status, body);
	evbuffer_free(body);
}

/*
 * libevent frees the connection under a held request (not expected: its
 * reading is off while a request waits).  A request it detached first is
 * ours to free.
 */
static void
hold_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hold *h = arg;
	struct evhttp_request *req = h->req;

	h->evcon = NULL;
	hold_free(h);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

/*
 * Holds req: answers status/body (body taken over) after delay_ms, or
 * never when body is NULL.  -EBUSY when too many are held; the caller
 * still owns body then.
 */
static int
hold_start(struct fakeidp *fk, struct evhttp_request *req, int status, struct evbuffer *body,
    long long delay_ms)
{
	struct hold *h;
	struct bufferevent *bev;

	if (fk->n_holds >= HOLDS_MAX)
		return -EBUSY;
	h = xcalloc(1, sizeof(*h));
	h->fk = fk;
	h->req = req;
	h->evcon = evhttp_request_get_connection(req);
	bev = evhttp_connection_get_bufferevent(h->evcon);
	h->fd = bufferevent_getfd(bev);
	h->status = status;
	h->body = body;
	h->watch = event_new(fk->base, h->fd, EV_READ | EV_PERSIST, hold_watch_cb, h);
	if (h->watch == NULL)
		fatal("out of memory");
	event_add(h->watch, NULL);
	if (body != NULL) {
		struct timeval tv = time_ms_to_tv(delay_ms);

		h->timer = evtimer_new(fk->base, hold_timer_cb, h);
		if (h->timer == NULL)
			fatal("out of memory");
		evtimer_add(h->timer, &tv);
	}
	evhttp_connection_set_closecb(h->evcon, hold_close_cb, h);
	TAILQ_INSERT_TAIL(&fk->holds, h, entry);
	fk->n_holds++;
	return 0;
}

/* Forgets a hold; neither answers nor frees its request. */
static void
hold_free(struct hold *h)
{
	struct fakeidp *fk = h->fk;

	TAILQ_REMOVE(&fk->holds, h, entry);
	fk->n_holds--;
	if (fk->stats.inflight > 0)
		fk->stats.inflight--;
	if (h->evcon != NULL)
		evhttp_connection_set_closecb(h->evcon, NULL, NULL);
	if (h->watch != NULL)
		event_free(h->watch);
	if (h->poll != NULL)
		event_free(h->poll);
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->body != NULL)
		evbuffer_free(h->body);
	free(h);
}

/* --- the token endpoint ---------------------------------------------- */

/* An error answer, before the dialect puts it into its envelope. */
struct err {
	int status;
	const char *code;	/* RFC 6749 error: oauth2, xibo 3 */
	const char *text;	/* NULL: none in oauth2, else a default */
	const char *hint;	/* xibo 3 only */
	const char *xvid_code;	/* NULL: 0x0000001 */
};

static void
reply_type(struct evhttp_request *req, const char *type)
{
	reply_header(req, "Content-Type", type);
	reply_header(req, "Cache-Control", "no-store");
}

static struct evbuffer *
buffer_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		fatal("out of memory");
	return b;
}

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"

/*
 * The Oracle SBC's error document: the reason phrase in capitals as
 * reasonCode, text as reasonText.  text is fakeidp's own, never a peer's.
 */
static struct evbuffer *
sbc_error_xml(int status, const char *text)
{
	struct evbuffer *b = buffer_new();
	char code[64];
	size_t i;

	for (i = 0; http_reason(status)[i] != '\0' && i < sizeof(code) - 1; i++) {
		char c = http_reason(status)[i];

		code[i] = c == ' ' ? '_' : (char)toupper((unsigned char)c);
	}
	code[i] = '\0';
	evbuffer_add_printf(b, XML_DECL "<response>\n  <data/>\n  <messages>\n    <error>\n"
	    "      <reasonCode>%s</reasonCode>\n      <reasonText>%s</reasonText>\n"
	    "    </error>\n  </messages>\n  <links/>\n</response>\n", code, text);
	return b;
}

/* An error body in the dialect's envelope; its headers go on req. */
static struct evbuffer *
error_body(const struct fakeidp *fk, struct evhttp_request *req, const struct err *e)
{
	const char *reason = http_reason(e->status);
	yajl_gen g;

	if (fk->dialect == DIALECT_SBC) {
		reply_type(req, "application/xml");
		return sbc_error_xml(e->status, e->text != NULL ? e->text : reason);
	}
	if (fk->dialect == DIALECT_OAUTH2) {
		reply_type(req, "application/json");
		return json_error(e->code, e->text);
	}
	g = json_new();
	if (fk->dialect == DIALECT_XVID) {
		json_string(g, "error");
		yajl_gen_map_open(g);
		json_str(g, "error_code", e->xvid_code != NULL ? e->xvid_code : "0x0000001");
		json_str(g, "error_message", e->text != NULL ? e->text :
		    e->status >= 500 ? "Internal Error" : reason);
		yajl_gen_map_close(g);
	} else if (fk->cur.xibo_version >= 3) {
		json_str(g, "error", e->code);
		json_str(g, "error_description", e->text != NULL ? e->text : reason);
		json_str(g, "hint", e->hint != NULL ? e->hint : "");
		json_str(g, "message", e->text != NULL ? e->text : reason);
	} else {
		json_string(g, "error");
		yajl_gen_map_open(g);
		json_str(g, "message", e->text != NULL ? e->text : reason);
		json_int(g, "code", e->status);
		json_string(g, "data");
		yajl_gen_array_open(g);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	reply_type(req, "application/json");
	return json_finish(g);
}

/* Answers an error now, outside the token endpoint. */
static void
reply_err(const struct fakeidp *fk, struct evhttp_request *req, const struct err *e)
{
	struct evbuffer *b = error_body(fk, req, e);

	reply_send(req, e->status, b);
	evbuffer_free(b);
}

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
	if (b64_decode(credentials, &plain, &len) < 0) {
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

	tr->id = xstrdup_or_null(id);
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
		return xstrdup_or_null(form_get(&tr->form, param));
	if (fk->dialect != DIALECT_SBC && tr->is_form)
		return xstrdup_or_null(form_get(&tr->form, "token"));
	while (n > 0 && isspace((unsigned char)tr->body[n - 1]))
		n--;
	return n > 0 ? xstrndup(tr->body, n) : NULL;
}

static void
token_req_parse(const struct fakeidp *fk, struct evhttp_request *req, struct token_req *tr)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(h, "Content-Type");
	const char *authz = evhttp_find_header(h, "Authorization");
	const char *query = http_query(req);
	bool basic, post;

	memset(tr, 0, sizeof(*tr));
	tr->body_len = evbuffer_get_length(in);
	tr->body = xmalloc(tr->body_len + 1);
	evbuffer_copyout(in, tr->body, tr->body_len);
	tr->body[tr->body_len] = '\0';
	if (ct == NULL || content_type_is_form(ct))
		tr->is_form = form_parse(tr->body, tr->body_len, &tr->form) == 0;
	if (query != NULL)
		(void)form_parse(query, strlen(query), &tr->query);

	basic = authz != NULL && strncasecmp(authz, "Basic", 5) == 0 &&
	    (authz[5] == ' ' || authz[5] == '\t');
	post = form_get(&tr->form, "client_id") != NULL || form_get(&tr->form, "client_secret") != NULL;
	if (basic && form_get(&tr->form, "client_secret") != NULL)
		tr->auth = "both";
	else if (basic)
		tr->auth = "basic";
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

static bool
token_req_authenticated(const struct fakeidp *fk, const struct token_req *tr)
{
	if (tr->id == NULL || strcmp(tr->id, fk->client_id) != 0)
		return false;
	if (tr->secret == NULL)
		return fk->client_secret->len == 0;
	return secret_equal(tr->secret, fk->client_secret);
}

static bool
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
	struct evbuffer *b = buffer_new();

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
	long long now = time_wall_ms() / 1000;
	const unsigned char *text;
	char *parts[3], *token, *p;
	size_t len, n[3];
	yajl_gen g = json_new();

	random_bytes(jti_raw, sizeof(jti_raw));
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

	random_bytes(sig, sizeof(sig));
	parts[0] = b64url_encode(header, sizeof(header) - 1);
	parts[1] = b64url_encode(text, len);
	parts[2] = b64url_encode(sig, sizeof(sig));
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
static char *
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
 * The oracle-sbc dialect's 200: XML with an accessToken and no expiry, in
 * the shape the mode asks for.  Remembers the token in lineage.
 */
static struct evbuffer *
token_success_xml(struct fakeidp *fk, struct evhttp_request *req, unsigned long lineage)
{
	const struct behaviour *b = &fk->cur;
	struct evbuffer *body;
	char *token;

	reply_type(req, "application/xml");
	if (b->mode == MODE_ERROR200)
		return sbc_error_xml(400, "the request is invalid");
	body = buffer_new();
	if (b->mode == MODE_NO_TOKEN) {
		evbuffer_add_printf(body, "%s", XML_DECL
		    "<response>\n  <data/>\n  <messages/>\n  <links/>\n</response>\n");
		return body;
	}
	evbuffer_add_printf(body, "%s", XML_DECL "<response>\n  <data>\n    <accessToken>");
	if (b->mode == MODE_MALFORMED)
		return body;
	token = token_new(fk, b->lifetime);
	evbuffer_add(body, token, strlen(token));
	evbuffer_add_printf(body, "%s", "</accessToken>\n");
	if (b->mode == MODE_OVERSIZE) {
		/* Well-formed, but beyond any sane cap: its token is not issued. */
		char *pad = xmalloc(OVERSIZE_LEN);

		memset(pad, 'x', OVERSIZE_LEN);
		evbuffer_add_printf(body, "%s", "    <padding>");
		evbuffer_add(body, pad, OVERSIZE_LEN);
		evbuffer_add_printf(body, "%s", "</padding>\n");
		free(pad);
	} else {
		tokens_remember(fk, token, b->lifetime, lineage);
		fk->stats.issued++;
	}
	evbuffer_add_printf(body, "%s", "  </data>\n  <messages/>\n  <links/>\n</response>\n");
	secret_free_str(token);
	return body;
}

/*
 * The 200 answer of the current mode in the dialect's shape, headers set
 * on req.  Issues and remembers a token, in lineage, where the answer
 * carries a usable one.
 */
static struct evbuffer *
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
		reply_header(req, "Content-Type", "text/html; charset=utf-8");
		return token_html();
	}
	if (fk->dialect == DIALECT_SBC)
		return token_success_xml(fk, req, lineage);
	reply_header(req, "Content-Type", "application/json");
	reply_header(req, "Cache-Control", "no-store");
	reply_header(req, "Pragma", "no-cache");
	if (b->mode == MODE_MALFORMED) {
		body = buffer_new();
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
		(void)parse_ll(asked, 0, LIFETIME_MAX, &lifetime);

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
	reply_header(req, "Retry-After", v);
}

/* Answers at once, or after delay_ms; a request in flight until then. */
static void
token_answer(struct fakeidp *fk, struct evhttp_request *req, int status, struct evbuffer *body)
{
	if (fk->cur.delay_ms > 0 && hold_start(fk, req, status, body, fk->cur.delay_ms) == 0)
		return;
	reply_send(req, status, body);
	evbuffer_free(body);
	fk->stats.inflight--;
}

/* Each dialect's checks: a status, and the body in *ret (headers on req). */
static int
token_oauth2(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	struct err e = { 0 };

	if (strcmp(tr->auth, "both") == 0) {
		e = (struct err){ .status = 400, .code = "invalid_request",
		    .text = "more than one client authentication method" };
	} else if (fk->cur.require_auth && !token_req_authenticated(fk, tr)) {
		reply_header(req, "WWW-Authenticate", "Basic realm=\"fakeidp\"");
		e = (struct err){ .status = 401, .code = "invalid_client",
		    .text = "client authentication failed" };
	} else if (!token_req_grant_ok(fk, tr)) {
		e = (struct err){ .status = 400, .code = "unsupported_grant_type" };
	} else {
		*ret = token_success(fk, req, tr, 0);
		return 200;
	}
	*ret = error_body(fk, req, &e);
	return e.status;
}

static int
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
	*ret = error_body(fk, req, &e);
	return e.status;
}

static int
token_sbc(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	const struct issued *t = NULL;
	unsigned long lineage;
	unsigned long long issued = fk->stats.issued;
	struct err e = { 0 };

	if (fk->cur.require_auth && (tr->id == NULL || tr->basic_bad)) {
		e = (struct err){ .status = 400,
		    .text = "Authorization header with Basic credentials required" };
	} else if (fk->cur.require_auth && !token_req_authenticated(fk, tr)) {
		reply_header(req, "WWW-Authenticate", "Basic realm=\"SBC REST API\"");
		e = (struct err){ .status = 401, .text = "Invalid username or password" };
	} else if (tr->presented != NULL && (t = tokens_find(fk, tr->presented)) == NULL) {
		e = (struct err){ .status = 401, .text = "Invalid or expired token" };
	} else {
		lineage = t != NULL && t->lineage != 0 ? t->lineage : ++fk->lineages;
		*ret = token_success(fk, req, tr, lineage);
		if (t != NULL && fk->stats.issued > issued) {
			fk->stats.reauths++;
			fk->stats.last.reauth = true;
		}
		log_info("%s in lineage %lu", t != NULL ? "re-authenticated" : "authenticated",
		    lineage);
		return 200;
	}
	*ret = error_body(fk, req, &e);
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

static int
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
	*ret = error_body(fk, req, &e);
	return e.status;
}

static void
handle_token(struct fakeidp *fk, struct evhttp_request *req)
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

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		status = 405;
		reply_header(req, "Allow", "POST");
		body = error_body(fk, req, &(struct err){ .status = 405, .code = "invalid_request",
		    .text = "the token endpoint takes POST" });
	} else if (behaviour_take_failure(&fk->cur, &status)) {
		if (status == 401)
			reply_header(req, "WWW-Authenticate", "Basic realm=\"fakeidp\"");
		if (status >= 300 && status < 400)
			reply_header(req, "Location", fk->token_paths[0]);
		body = error_body(fk, req, &(struct err){ .status = status,
		    .code = http_oauth_error(status),
		    .text = fk->dialect == DIALECT_XVID ? NULL : "failure injected by fakeidp" });
	} else if (fk->cur.mode == MODE_SILENT) {
		token_req_clear(&tr);
		if (hold_start(fk, req, 0, NULL, 0) == 0)
			return;
		fk->stats.failed++;
		reply_err(fk, req, &(struct err){ .status = 503, .code = "temporarily_unavailable",
		    .text = "too many requests held" });
		fk->stats.inflight--;
		return;
	} else {
		switch (fk->dialect) {
		case DIALECT_XIBO:
			status = token_xibo(fk, req, &tr, &body);
			break;
		case DIALECT_SBC:
			status = token_sbc(fk, req, &tr, &body);
			break;
		case DIALECT_XVID:
			status = token_xvid(fk, req, &tr, &body);
			break;
		default:
			status = token_oauth2(fk, req, &tr, &body);
			break;
		}
	}
	token_req_clear(&tr);

	if (status >= 300) {
		fk->stats.failed++;
		token_retry_after(fk, req);
	}
	token_answer(fk, req, status, body);
}

/* --- the Oracle SBC's configuration lock ----------------------------- */

/* Whether path is /rest/VERSION/what for a version the SBC has. */
static bool
sbc_path(const char *path, const char *what)
{
	static const char *const versions[] = { "v1.0", "v1.1", "v1.2" };
	size_t n = strlen(what);

	if (strncmp(path, "/rest/", 6) != 0)
		return false;
	path += 6;
	for (size_t i = 0; i < ELEMENTSOF(versions); i++) {
		size_t v = strlen(versions[i]);

		if (strncmp(path, versions[i], v) == 0 && path[v] == '/' &&
		    strncmp(path + v + 1, what, n) == 0 && path[v + 1 + n] == '\0')
			return true;
	}
	return false;
}

/*
 * POST .../configuration/lock or unlock with a Bearer token: the lock
 * belongs to the token's lineage until it is unlocked or the lineage has
 * no unexpired token left.
 */
static void
handle_sbc_lock(struct fakeidp *fk, struct evhttp_request *req, bool lock)
{
	const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	const struct issued *t = NULL;
	unsigned long holder;
	struct evbuffer *b;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply_header(req, "Allow", "POST");
		reply_err(fk, req, &(struct err){ .status = 405, .text = "use POST" });
		return;
	}
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		authz += 7;
		while (*authz == ' ')
			authz++;
		t = tokens_find(fk, authz);
	}
	if (t == NULL || t->lineage == 0) {
		reply_err(fk, req, &(struct err){ .status = 401,
		    .text = "Invalid or expired token" });
		return;
	}
	holder = lock_holder(fk);
	if (holder != 0 && holder != t->lineage) {
		log_info("configuration lock: held by lineage %lu, not %lu", holder, t->lineage);
		reply_err(fk, req, &(struct err){ .status = 423, .code = NULL,
		    .text = "The configuration is locked by another session" });
		return;
	}
	fk->lock_holder = lock ? t->lineage : 0;
	log_info("configuration %s by lineage %lu", lock ? "locked" : "unlocked", t->lineage);
	reply_type(req, "application/xml");
	b = buffer_new();
	evbuffer_add_printf(b, "%s", XML_DECL
	    "<response>\n  <data/>\n  <messages/>\n  <links/>\n</response>\n");
	reply_send(req, 200, b);
	evbuffer_free(b);
}

/* A 404 in the dialect's manner: Xibo's is a web page. */
static void
reply_not_found(struct fakeidp *fk, struct evhttp_request *req)
{
	const char *path = http_path(req);
	size_t n = strlen(path);
	struct evbuffer *b;

	if (fk->dialect == DIALECT_XIBO) {
		reply_header(req, "Content-Type", "text/html; charset=UTF-8");
		b = buffer_new();
		evbuffer_add_printf(b, "%s", "<!DOCTYPE html>\n<html lang=\"en\">\n"
		    "<head><meta charset=\"utf-8\"><title>Page not found</title></head>\n"
		    "<body><h1>Page not found</h1>\n<p>The page you requested could not be "
		    "found.</p></body>\n</html>\n");
		reply_send(req, 404, b);
		evbuffer_free(b);
		return;
	}
	if (fk->dialect == DIALECT_SBC && strncmp(path, "/rest/", 6) == 0 && n > 11 &&
	    strcmp(path + n - 11, "/auth/token") == 0) {
		reply_err(fk, req, &(struct err){ .status = 404,
		    .text = "Unsupported API version" });
		return;
	}
	reply_err(fk, req, &(struct err){ .status = 404, .code = "not_found" });
}

/* The plain-HTTP port of an HTTPS fakeidp: everything is a 426. */
static void
plain_request_cb(struct evhttp_request *req, void *arg)
{
	struct fakeidp *fk = arg;

	reply_header(req, "Upgrade", "TLS/1.2, HTTP/1.1");
	reply_err(fk, req, &(struct err){ .status = 426, .code = "invalid_request",
	    .text = "HTTPS is required: this port speaks plain HTTP only to say so" });
}

/* --- introspect, stats, control -------------------------------------- */

static void
handle_introspect(struct fakeidp *fk, struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *query = http_query(req);
	struct form q = { 0 }, body = { 0 };
	const struct issued *t;
	const char *token;
	yajl_gen g;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
		reply_header(req, "Allow", "GET, POST");
		reply_error(req, 405, "invalid_request", "use GET or POST");
		return;
	}
	if (query != NULL)
		(void)form_parse(query, strlen(query), &q);
	token = form_get(&q, "token");
	if (token == NULL && cmd == EVHTTP_REQ_POST) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		char *text = xmalloc(len + 1);

		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		(void)form_parse(text, len, &body);
		secret_free_buf(text, len + 1);
		token = form_get(&body, "token");
	}

	g = json_new();
	t = tokens_find(fk, token);
	json_bool(g, "active", t != NULL);
	if (t != NULL) {
		json_int(g, "expires_in", (t->expires_mono_ms - time_mono_ms()) / 1000);
		json_int(g, "exp", t->expires_wall_ms / 1000);
	}
	form_clear(&q);
	form_clear(&body);
	reply_json(req, 200, json_finish(g));
}

static void
handle_stats(struct fakeidp *fk, struct evhttp_request *req)
{
	const struct stats *s = &fk->stats;
	const struct last_request *l = &s->last;
	yajl_gen g;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		reply_header(req, "Allow", "GET");
		reply_error(req, 405, "invalid_request", "use GET");
		return;
	}
	g = json_new();
	json_int(g, "requests", (long long)s->requests);
	json_int(g, "issued", (long long)s->issued);
	json_int(g, "failed", (long long)s->failed);
	json_str(g, "auth", l->auth);
	json_str(g, "grant_type", l->grant_type);
	json_str(g, "scope", l->scope);
	json_str(g, "scope_raw", l->scope_raw);
	json_str(g, "content_type", l->content_type);
	json_str(g, "query", l->query);
	json_bool(g, "reauth_token", l->reauth_token);
	json_bool(g, "reauth_token_known", l->reauth_token_known);
	json_bool(g, "reauth", l->reauth);
	json_int(g, "reauths", (long long)s->reauths);
	json_int(g, "lineages", (long long)fk->lineages);
	json_int(g, "lock_holder", (long long)lock_holder(fk));
	json_int(g, "max_concurrent", s->max_concurrent);
	json_int(g, "held", (long long)fk->n_holds);
	json_str(g, "dialect", dialect_names[fk->dialect]);
	json_int(g, "xibo_version", fk->cur.xibo_version);
	json_str(g, "reauth_param", fk->cur.reauth_param);
	json_str(g, "mode", mode_names[fk->cur.mode]);
	json_str(g, "method", l->method);
	json_str(g, "path", l->path);
	json_str(g, "client_id", l->client_id);
	json_kvlist(g, "params", &l->params, l->seen);
	json_kvlist(g, "headers", &l->headers, l->seen);
	reply_json(req, 200, json_finish(g));
}

enum ctl {
	CTL_RESET,
	CTL_REVOKE,
	CTL_LIFETIME,
	CTL_FAIL,
	CTL_FAIL_COUNT,
	CTL_RETRY_AFTER,
	CTL_RETRY_AFTER_DATE,
	CTL_DELAY_MS,
	CTL_MODE,
	CTL_TOKEN_TYPE,
	CTL_GRANT_TYPE,
	CTL_REQUIRE_AUTH,
	CTL_XIBO_VERSION,
	CTL_REAUTH_PARAM,
	CTL_N
};

/* CTL_NAME: like CTL_STRING, but empty is a value too. */
enum ctl_kind { CTL_INT, CTL_BOOL, CTL_STATUS, CTL_MODE_NAME, CTL_STRING, CTL_NAME };

static const struct ctl_key {
	const char *name;
	enum ctl_kind kind;
	long long max;
} ctl_keys[CTL_N] = {
	[CTL_RESET] = { "reset", CTL_BOOL, 0 },
	[CTL_REVOKE] = { "revoke", CTL_BOOL, 0 },
	[CTL_LIFETIME] = { "lifetime", CTL_INT, LIFETIME_MAX },
	[CTL_FAIL] = { "fail", CTL_STATUS, 0 },
	[CTL_FAIL_COUNT] = { "fail_count", CTL_INT, LLONG_MAX },
	[CTL_RETRY_AFTER] = { "retry_after", CTL_INT, LIFETIME_MAX },
	[CTL_RETRY_AFTER_DATE] = { "retry_after_date", CTL_BOOL, 0 },
	[CTL_DELAY_MS] = { "delay_ms", CTL_INT, DELAY_MAX_MS },
	[CTL_MODE] = { "mode", CTL_MODE_NAME, 0 },
	[CTL_TOKEN_TYPE] = { "token_type", CTL_STRING, 0 },
	[CTL_GRANT_TYPE] = { "grant_type", CTL_STRING, 0 },
	[CTL_REQUIRE_AUTH] = { "require_auth", CTL_BOOL, 0 },
	[CTL_XIBO_VERSION] = { "xibo_version", CTL_INT, 3 },
	[CTL_REAUTH_PARAM] = { "reauth_param", CTL_NAME, 0 },
};

/* A /control request, checked whole before anything applies. */
struct control {
	bool given[CTL_N];
	long long num[CTL_N];
	const char *str[CTL_N];		/* into the parsed forms */
};

static int
control_value(struct control *c, const char *name, const char *value)
{
	for (int k = 0; k < CTL_N; k++) {
		const struct ctl_key *key = &ctl_keys[k];
		bool b;

		if (strcmp(name, key->name) != 0)
			continue;
		switch (key->kind) {
		case CTL_INT:
			if (parse_ll(value, 0, key->max, &c->num[k]) < 0)
				return -EINVAL;
			if (k == CTL_XIBO_VERSION && c->num[k] < 2)
				return -EINVAL;
			break;
		case CTL_BOOL:
			if (parse_bool(value, &b) < 0)
				return -EINVAL;
			c->num[k] = b;
			break;
		case CTL_STATUS:
			if (parse_ll(value, 0, 599, &c->num[k]) < 0 ||
			    (c->num[k] != 0 && c->num[k] < 300))
				return -EINVAL;
			break;
		case CTL_MODE_NAME:
			for (c->num[k] = 0; c->num[k] < MODE_N; c->num[k]++)
				if (strcmp(value, mode_names[c->num[k]]) == 0)
					break;
			if (c->num[k] == MODE_N)
				return -EINVAL;
			break;
		case CTL_STRING:
		case CTL_NAME:
			if ((key->kind == CTL_STRING && *value == '\0') ||
			    strlen(value) > STRING_MAX)
				return -EINVAL;
			for (const char *p = value; *p != '\0'; p++)
				if (!isprint((unsigned char)*p))
					return -EINVAL;
			c->str[k] = value;
			break;
		}
		c->given[k] = true;
		return 0;
	}
	return -ENOENT;
}

static void
control_apply(struct fakeidp *fk, const struct control *c)
{
	struct behaviour *b = &fk->cur;

	if (c->given[CTL_RESET] && c->num[CTL_RESET]) {
		behaviour_copy(b, &fk->initial);
		stats_reset(&fk->stats);
	}
	if (c->given[CTL_REVOKE] && c->num[CTL_REVOKE])
		tokens_clear(fk);
	if (c->given[CTL_LIFETIME])
		b->lifetime = c->num[CTL_LIFETIME];
	if (c->given[CTL_FAIL]) {
		b->fail_status = (int)c->num[CTL_FAIL];
		b->fail_remaining = -1;
	}
	if (c->given[CTL_FAIL_COUNT]) {
		b->fail_remaining = c->num[CTL_FAIL_COUNT];
		if (b->fail_remaining == 0)
			b->fail_status = 0;
		else if (b->fail_status == 0)
			b->fail_status = 503;
	}
	if (c->given[CTL_RETRY_AFTER])
		b->retry_after = c->num[CTL_RETRY_AFTER];
	if (c->given[CTL_RETRY_AFTER_DATE])
		b->retry_after_date = c->num[CTL_RETRY_AFTER_DATE];
	if (c->given[CTL_DELAY_MS])
		b->delay_ms = c->num[CTL_DELAY_MS];
	if (c->given[CTL_MODE])
		b->mode = (enum mode)c->num[CTL_MODE];
	if (c->given[CTL_TOKEN_TYPE]) {
		free(b->token_type);
		b->token_type = xstrdup(c->str[CTL_TOKEN_TYPE]);
	}
	if (c->given[CTL_GRANT_TYPE]) {
		free(b->grant_type);
		b->grant_type = xstrdup(c->str[CTL_GRANT_TYPE]);
	}
	if (c->given[CTL_REQUIRE_AUTH])
		b->require_auth = c->num[CTL_REQUIRE_AUTH];
	if (c->given[CTL_XIBO_VERSION])
		b->xibo_version = (int)c->num[CTL_XIBO_VERSION];
	if (c->given[CTL_REAUTH_PARAM]) {
		free(b->reauth_param);
		b->reauth_param = *c->str[CTL_REAUTH_PARAM] != '\0' ?
		    xstrdup(c->str[CTL_REAUTH_PARAM]) : NULL;
	}
}

static void
handle_control(struct fakeidp *fk, struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *query = http_query(req);
	struct form forms[2] = { { 0 }, { 0 } };
	struct control c;
	_cleanup_free_ char *why = NULL;
	yajl_gen g;

	memset(&c, 0, sizeof(c));
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
		reply_header(req, "Allow", "GET, POST");
		reply_error(req, 405, "invalid_request", "use GET or POST");
		return;
	}
	if (query != NULL && form_parse(query, strlen(query), &forms[0]) < 0)
		why = xstrdup("the query is not k=v&k=v");
	if (why == NULL && cmd == EVHTTP_REQ_POST) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		_cleanup_free_ char *text = xmalloc(len + 1);

		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		if (form_parse(text, len, &forms[1]) < 0)
			why = xstrdup("the body is not form data");
	}
	for (size_t f = 0; f < ELEMENTSOF(forms) && why == NULL; f++) {
		for (size_t i = 0; i < forms[f].n && why == NULL; i++) {
			int r = control_value(&c, forms[f].name[i], forms[f].value[i]);
			char name[81];

			log_safe(forms[f].name[i], name);
			if (r == -ENOENT)
				why = xasprintf("unknown key %s", name);
			else if (r < 0)
				why = xasprintf("bad value for %s", name);
		}
	}
	if (why == NULL)
		control_apply(fk, &c);
	form_clear(&forms[0]);
	form_clear(&forms[1]);
	g = json_new();
	json_bool(g, "ok", why == NULL);
	if (why != NULL)
		json_str(g, "error", why);
	reply_json(req, why == NULL ? 200 : 400, json_finish(g));
}

static const struct route {
	const char *path;
	void (*handle)(struct fakeidp *, struct evhttp_request *);
} routes[] = {
	{ "/introspect", handle_introspect },
	{ "/stats", handle_stats },
	{ "/control", handle_control },
};

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct fakeidp *fk = arg;
	const char *path = http_path(req);

	for (size_t i = 0; i < fk->n_token_paths; i++) {
		if (strcmp(path, fk->token_paths[i]) == 0) {
			handle_token(fk, req);
			return;
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		if (strcmp(path, routes[i].path) == 0) {
			routes[i].handle(fk, req);
			return;
		}
	}
	if (fk->dialect == DIALECT_SBC && sbc_path(path, "configuration/lock")) {
		handle_sbc_lock(fk, req, true);
		return;
	}
	if (fk->dialect == DIALECT_SBC && sbc_path(path, "configuration/unlock")) {
		handle_sbc_lock(fk, req, false);
		return;
	}
	reply_not_found(fk, req);
}

/* --- setup ----------------------------------------------------------- */

static void
libevent_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_err("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		log_warn("libevent: %s", msg);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct fakeidp *fk = arg;

	log_info("signal %d, exiting", (int)sig);
	event_base_loopexit(fk->base, NULL);
}

static struct bufferevent *
tls_bev_cb(struct event_base *base, void *arg)
{
	SSL_CTX *ctx = arg;
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		fatal("out of memory");
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatal("out of memory");
	/* Clients that hang up without close_notify are common, not errors. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static const char *
tls_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static SSL_CTX *
tls_setup(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		fatal("cannot create a TLS context: %s", tls_error());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		fatal("cannot load certificate %s: %s", cert, tls_error());
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		fatal("cannot load key %s: %s", key, tls_error());
	if (SSL_CTX_check_private_key(ctx) != 1)
		fatal("key %s does not match certificate %s", key, cert);
	return ctx;
}

/*
 * Checks that addr is loopback and returns it numeric ("localhost" is
 * 127.0.0.1) in a new string; NULL otherwise.
 */
static char *
listen_address(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(addr, "localhost") == 0)
		return xstrdup("127.0.0.1");
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127 ? xstrdup(addr) : NULL;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ? xstrdup(addr) : NULL;
	return NULL;
}

static void
port_file_write(const char *path, unsigned int port)
{
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
	char line[16];
	int fd, n;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		fatal("cannot write port file %s: %s", path, strerror(errno));
	n = snprintf(line, sizeof(line), "%u\n", port);
	if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0) {
		int e = errno;

		unlink(tmp);
		fatal("cannot write port file %s: %s", path, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		fatal("cannot rename %s to %s: %s", tmp, path, strerror(e));
	}
}

/* The first line of a secret file, without its newline. */
static struct secret *
secret_file_read(const char *path)
{
	char buf[4096] = { 0 };	/* read leaves a NUL at the end */
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	struct secret *s;

	if (fd < 0)
		fatal("cannot open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n < 0)
		fatal("cannot read %s: %s", path, strerror(e));
	len = strcspn(buf, "\r\n");
	s = secret_new(buf, len);
	explicit_bzero(buf, sizeof(buf));
	return s;
}

/* Many clients at once must not run out of descriptors before they do. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Binds http to addr and port (0: any) and returns the port it got. */
static unsigned int
listen_on(struct evhttp *http, const char *addr, long long port)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	bound = evhttp_bind_socket_with_handle(http, addr, (uint16_t)port);
	if (bound == NULL)
		fatal("cannot listen on %s port %lld: %s", addr, port, strerror(errno));
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sslen) < 0)
		fatal("getsockname: %s", strerror(errno));
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static void
usage(FILE *f, int status)
{
	fprintf(f, "%s",
	    "usage: fakeidp [--dialect oauth2|xibo|oracle-sbc|xvid]\n"
	    "               [--listen ADDR] [--port N] [--port-file FILE]\n"
	    "               [--client-id ID] [--client-secret SECRET]\n"
	    "               [--client-secret-file FILE] [--lifetime SECONDS]\n"
	    "               [--grant-type TYPE] [--token-path PATH]...\n"
	    "               [--tls-cert PEM --tls-key PEM [--plain-port-file FILE]]\n"
	    "               [--quiet]\n");
	exit(status);
}

struct options {
	const char *listen;
	long long port;
	const char *port_file;
	const char *plain_port_file;
	const char *tls_cert;
	const char *tls_key;
	bool quiet;
};

static void
options_parse(int argc, char **argv, struct fakeidp *fk, struct options *o)
{
	enum {
		OPT_LISTEN = 256, OPT_PORT, OPT_PORT_FILE, OPT_CLIENT_ID, OPT_CLIENT_SECRET,
		OPT_CLIENT_SECRET_FILE, OPT_LIFETIME, OPT_GRANT_TYPE, OPT_TOKEN_PATH,
		OPT_TLS_CERT, OPT_TLS_KEY, OPT_QUIET, OPT_HELP, OPT_DIALECT, OPT_PLAIN_PORT_FILE,
	};
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
		{ "client-secret", required_argument, NULL, OPT_CLIENT_SECRET },
		{ "client-secret-file", required_argument, NULL, OPT_CLIENT_SECRET_FILE },
		{ "lifetime", required_argument, NULL, OPT_LIFETIME },
		{ "grant-type", required_argument, NULL, OPT_GRANT_TYPE },
		{ "token-path", required_argument, NULL, OPT_TOKEN_PATH },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "dialect", required_argument, NULL, OPT_DIALECT },
		{ "plain-port-file", required_argument, NULL, OPT_PLAIN_PORT_FILE },
		{ NULL, 0, NULL, 0 },
	};
	struct behaviour *b = &fk->initial;
	bool lifetime_given = false;
	int c, d;

	o->listen = "127.0.0.1";
	b->lifetime = 3600;
	b->fail_remaining = -1;
	b->require_auth = true;
	b->xibo_version = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_PORT:
			if (parse_ll(optarg, 0, 65535, &o->port) < 0) {
				fprintf(stderr, "fakeidp: bad port %s\n", optarg);
				usage(stderr, 2);
			}
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_CLIENT_ID:
			free(fk->client_id);
			fk->client_id = xstrdup(optarg);
			break;
		case OPT_CLIENT_SECRET:
			secret_free(fk->client_secret);
			fk->client_secret = secret_from_str(optarg);
			break;
		case OPT_CLIENT_SECRET_FILE:
			secret_free(fk->client_secret);
			fk->client_secret = secret_file_read(optarg);
			break;
		case OPT_LIFETIME:
			if (parse_ll(optarg, 0, LIFETIME_MAX, &b->lifetime) < 0) {
				fprintf(stderr, "fakeidp: bad lifetime %s\n", optarg);
				usage(stderr, 2);
			}
			lifetime_given = true;
			break;
		case OPT_GRANT_TYPE:
			if (*optarg == '\0')
				usage(stderr, 2);
			free(b->grant_type);
			b->grant_type = xstrdup(optarg);
			break;
		case OPT_TOKEN_PATH:
			if (optarg[0] != '/' || fk->n_token_paths == TOKEN_PATHS_MAX) {
				fprintf(stderr, "fakeidp: bad or too many token paths: %s\n", optarg);
				usage(stderr, 2);
			}
			fk->token_paths[fk->n_token_paths++] = xstrdup(optarg);
			break;
		case OPT_TLS_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls_key = optarg;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_HELP:
			usage(stdout, 0);
			break;
		case OPT_DIALECT:
			for (d = 0; d < DIALECT_N; d++)
				if (strcmp(optarg, dialect_names[d]) == 0)
					break;
			if (d == DIALECT_N) {
				fprintf(stderr, "fakeidp: unknown dialect %s\n", optarg);
				usage(stderr, 2);
			}
			fk->dialect = (enum dialect)d;
			break;
		case OPT_PLAIN_PORT_FILE:
			o->plain_port_file = optarg;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
		fprintf(stderr, "fakeidp: --tls-cert and --tls-key go together\n");
		usage(stderr, 2);
	}
	if (o->plain_port_file != NULL && o->tls_cert == NULL) {
		fprintf(stderr, "fakeidp: --plain-port-file needs --tls-cert and --tls-key\n");
		usage(stderr, 2);
	}
	if (fk->dialect == DIALECT_SBC && fk->n_token_paths > 0) {
		fprintf(stderr, "fakeidp: the oracle-sbc dialect has its own token paths\n");
		usage(stderr, 2);
	}
	if (fk->client_id == NULL)
		fk->client_id = xstrdup("demo-client");
	if (fk->client_secret == NULL)
		fk->client_secret = secret_from_str("demo-secret");
	if (b->grant_type == NULL)
		b->grant_type = xstrdup(fk->dialect == DIALECT_XVID ? "client_credential" :
		    "client_credentials");
	b->token_type = xstrdup("Bearer");
	if (fk->dialect == DIALECT_SBC) {
		static const char *const paths[] = {
			"/rest/v1.2/auth/token", "/rest/v1.1/auth/token", "/rest/v1.0/auth/token",
		};

		for (size_t i = 0; i < ELEMENTSOF(paths); i++)
			fk->token_paths[fk->n_token_paths++] = xstrdup(paths[i]);
		if (!lifetime_given)
			b->lifetime = 600;
	}
	if (fk->n_token_paths == 0)
		fk->token_paths[fk->n_token_paths++] = xstrdup(dialect_token_path[fk->dialect]);
}

int
main(int argc, char **argv)
{
	struct fakeidp fk = { 0 };
	struct options o = { 0 };
	struct event *sigterm, *sigint;
	_cleanup_free_ char *addr = NULL;
	unsigned int port, plain_port = 0;
	struct hold *h;

	TAILQ_INIT(&fk.holds);
	options_parse(argc, argv, &fk, &o);
	log_init("fakeidp", o.quiet ? LOG_ERR : LOG_INFO);
	event_set_log_callback(libevent_log_cb);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	addr = listen_address(o.listen);
	if (addr == NULL) {
		fprintf(stderr, "fakeidp: --listen takes a loopback address, not %s\n", o.listen);
		usage(stderr, 2);
	}
	behaviour_copy(&fk.cur, &fk.initial);
	fk.tokens = xcalloc(TOKENS_MAX, sizeof(*fk.tokens));

	fk.base = event_base_new();
	fk.http = fk.base != NULL ? evhttp_new(fk.base) : NULL;
	if (fk.http == NULL)
		fatal("cannot set up libevent");
	evhttp_set_max_body_size(fk.http, BODY_MAX);
	evhttp_set_max_headers_size(fk.http, HEADERS_MAX);
	evhttp_set_timeout(fk.http, 60);
	evhttp_set_gencb(fk.http, request_cb, &fk);
	if (o.tls_cert != NULL) {
		fk.ssl = tls_setup(o.tls_cert, o.tls_key);
		evhttp_set_bevcb(fk.http, tls_bev_cb, fk.ssl);
	}

	port = listen_on(fk.http, addr, o.port);
	if (o.plain_port_file != NULL) {
		fk.plain = evhttp_new(fk.base);
		if (fk.plain == NULL)
			fatal("cannot set up libevent");
		evhttp_set_max_body_size(fk.plain, BODY_MAX);
		evhttp_set_max_headers_size(fk.plain, HEADERS_MAX);
		evhttp_set_timeout(fk.plain, 60);
		evhttp_set_gencb(fk.plain, plain_request_cb, &fk);
		plain_port = listen_on(fk.plain, addr, 0);
	}

	sigterm = evsignal_new(fk.base, SIGTERM, signal_cb, &fk);
	sigint = evsignal_new(fk.base, SIGINT, signal_cb, &fk);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) < 0 ||
	    event_add(sigint, NULL) < 0)
		fatal("cannot set up signal handling");

	if (o.plain_port_file != NULL)
		port_file_write(o.plain_port_file, plain_port);
	if (o.port_file != NULL)
		port_file_write(o.port_file, port);
	if (!o.quiet) {
		if (strchr(addr, ':') != NULL)
			printf("listening on [%s]:%u\n", addr, port);
		else
			printf("listening on %s:%u\n", addr, port);
		fflush(stdout);
	}

	if (event_base_dispatch(fk.base) < 0)
		fatal("event loop failed");

	while ((h = TAILQ_FIRST(&fk.holds)) != NULL)
		hold_free(h);
	evhttp_free(fk.http);
	if (fk.plain != NULL)
		evhttp_free(fk.plain);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(fk.base);
	if (fk.ssl != NULL)
		SSL_CTX_free(fk.ssl);
	tokens_clear(&fk);
	free(fk.tokens);
	last_request_clear(&fk.stats.last);
	behaviour_free(&fk.cur);
	behaviour_free(&fk.initial);
	for (size_t i = 0; i < fk.n_token_paths; i++)
		free(fk.token_paths[i]);
	free(fk.client_id);
	secret_free(fk.client_secret);
	libevent_global_shutdown();
	return 0;
}
