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
 *                [--tls-cert PEM --tls-key PEM [--plain-port-file FILE]
 *                 [--client-ca PEM]]
 *                [--client-public-key PEM] [--assertion-audience AUD]
 *                [--refresh-token TOKEN | --refresh-token-file FILE]
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
 *   --issuer      publish a discovery document for this issuer (its
 *                 endpoints at the issuer's origin: give this server's
 *                 address, or /PATH for this server's origin and PATH,
 *                 "/" for none): --discovery oidc (the default) or oauth (RFC
 *                 8414's well-known path); --doc-issuer names another
 *                 issuer in it, a mix-up; --discovery-page has OIDC's path
 *                 answer 200 with a web page (see discovery.c)
 *   --tls-cert, --tls-key   PEM files: serve HTTPS instead of HTTP
 *   --plain-port-file   with TLS only: also listen for plain HTTP on a
 *                 second ephemeral loopback port, written to FILE like
 *                 --port-file, where every request is answered 426 Upgrade
 *                 Required (an XML body in the oracle-sbc dialect, JSON
 *                 otherwise)
 *   --client-ca   with TLS only: ask every client for a certificate and
 *                 verify it against this CA file (a client without one is
 *                 still served); a verified certificate and a client_id in
 *                 the body with no secret authenticate (auth "tls",
 *                 RFC 8705 tls_client_auth)
 *   --client-public-key   a PEM public key (or certificate) that verifies
 *                 client assertions (RFC 7523 2.2, private_key_jwt): see
 *                 "Client assertions" below
 *   --assertion-audience  the aud a client assertion must carry (default:
 *                 the token endpoint's URL as requested, scheme://Host/path)
 *   --refresh-token, --refresh-token-file   the first valid refresh token
 *                 (or the first line of FILE): turns on the refresh_token
 *                 grant, see "Refresh tokens" below; oauth2 dialect only
 *   --quiet       nothing on stdout or stderr but errors
 * SIGTERM and SIGINT end it with status 0; usage errors exit 2, setup
 * errors 1.
 *
 * Endpoints (dialect oauth2):
 *   POST TOKEN-PATH   client credentials (and refresh tokens: see
 *       "Refresh tokens").  The body is a form, or a JSON
 *       object (Content-Type: application/json) of the same fields, a
 *       repeated one as an array of strings.  Client authentication by HTTP
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
 *   GET  /refresh-token: {"refresh_token":T,"family":N,"revoked":B}, the
 *       current refresh token (null when there is none) for a test to
 *       compare with what its client kept; the one place that shows it.
 *   GET  /entity: counts a fetch ("entity_fetches" in /stats) and answers
 *       text/plain: what the entities and the DTD of the xml_* modes name,
 *       so a test sees whether a parser fetched it.
 *   GET  /introspect?token=T (or POST with a form field token):
 *       {"active":true,"expires_in":N,"exp":UNIX,"exp_ms":UNIX-MS} or
 *       {"active":false}
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
 *       (in flight now), "entity_fetches" (GET /entity since reset),
 *       "discovery_fetches" (of the discovery document since reset),
 *       "flap", "dialect","xibo_version","reauth_param","mode",
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
 *         fail_error=CODE  the error code of injected failures (e.g.
 *                          invalid_grant); empty: the one for the status
 *         fail_count=N     only the next N requests fail (status 503 unless
 *                          fail= says otherwise), then normal again
 *         retry_after=N    Retry-After: N on failures; 0 removes it
 *         retry_after_date=1   send Retry-After as an HTTP-date instead
 *         delay_ms=N       hold each token answer N ms (on a timer)
 *         mode=normal|malformed|oversize|no_expires_in|string_expires_in|
 *              error200|no_token|html|silent   the shape of a success;
 *              silent never answers any token request and holds it until
 *              the client goes away or fakeidp exits.  Answers no parser
 *              should take (their tokens are never issued), in any
 *              dialect: invalid_json (a trailing comma), deep_json (valid,
 *              with an array nested 100000 deep), bad_utf8 (bytes that are
 *              not UTF-8 in the access_token), huge (valid, 50 MiB, with a
 *              Content-Length), huge_chunked (the same, chunked); and in
 *              the oracle-sbc dialect's shape, application/xml:
 *              xml_entity (external entities, file:///etc/passwd and
 *              /entity, in the accessToken), xml_bomb (a billion laughs:
 *              ten levels of ten), xml_dtd (a well-formed answer whose
 *              DOCTYPE names /entity as its external DTD)
 *         token_type=VALUE, grant_type=EXPECTED ("*": any)
 *         require_auth=0   accept requests without valid credentials
 *         xibo_version=2|3 the xibo dialect's generation (default 2)
 *         reauth_param=NAME   where a re-authentication carries the token:
 *                          the form field NAME; empty: the dialect's
 *                          default (oracle-sbc: the whole body; others: a
 *                          field "token", or a body that is not form data)
 *         rotate=0|1       whether a refresh hands out a new refresh token
 *                          (default 1); see "Refresh tokens"
 *         invalid_grant=N  the next N refresh_token grants (with a refresh
 *                          token present) get 400 invalid_grant; the
 *                          tokens stay as they are
 *         refresh_revoke=1 the family of refresh tokens is revoked (as by an
 *                          administrator): every refresh is invalid_grant
 *                          until refresh_token= starts a new family
 *         refresh_token=T  a new family whose one valid token is T (as an
 *                          administrator issues one to put in a file); the
 *                          earlier families' tokens are unknown from then
 *                          on; oauth2 dialect only; turns the grant on
 *         flap=N           from now on N token requests are answered, the
 *                          next N fail, and so on; while it is set, fail=
 *                          only gives its failures' status (else 503) and
 *                          fail_count does not apply; flap=0 ends it
 *         reset=1          counters to zero, behaviour to the startup one;
 *                          tokens (and the lock) kept unless revoke=1
 *                          (which alone forgets all issued access tokens);
 *                          refresh tokens are kept (refresh_revoke=1 and
 *                          refresh_token= change them)
 *       reset applies first, then the other keys, whatever their order.
 *   anything else: 404.
 *
 * Client assertions (dialect oauth2).  A body with client_assertion or
 * client_assertion_type authenticates by it alone (auth "assertion"; with a
 * secret too, "both" and 400): the type must be jwt-bearer, the assertion a
 * compact JWS with alg RS256, PS256 or ES256 whose signature verifies with
 * --client-public-key, iss and sub the client id (and a body client_id the
 * same), aud a single string equal to the expected audience, exp in the
 * future, iat at most 5 seconds ahead, and a jti never seen before (the last
 * 10000 are remembered; never reset).  Any failure: 400 invalid_client with
 * the failed check as error_description.  /stats adds "assertions" (accepted
 * since reset), and about the last request "assertion" (one was sent),
 * "assertion_ok", "assertion_error", "assertion_alg", "assertion_kid",
 * "assertion_x5t" (x5t#S256), "assertion_iss", "assertion_aud",
 * "assertion_jti_unique" (its jti was new), "assertion_fp" (first 6 hex of
 * the assertion's SHA-256, to tell one from the next) and
 * "tls_client_cert" (a verified client certificate); never the assertion.
 *
 * Refresh tokens (dialect oauth2, with --refresh-token or /control
 * refresh_token=).  A token request with grant_type=refresh_token is
 * answered as that grant, whatever --grant-type expects, after client
 * authentication as for any grant (require_auth=0 lifts it): the form
 * field refresh_token must be the current token of the one family of
 * refresh tokens, else 400 invalid_grant ("refresh token unknown", for
 * one never issued or of an earlier family; "refresh token revoked");
 * without the field 400 invalid_request.  Success is the usual answer
 * (mode applies) plus "refresh_token":"rt_<32 hex>", a new token that is
 * the family's current one from then on, while the one presented is
 * consumed (rotation, as OAuth 2.0 Security BCP 4.14.2 asks of public
 * clients); with rotate=0 no refresh_token is in the answer and the same
 * one stays valid.  The rotation happens when the answer is made: an
 * answer the client never reads (delay_ms, a timeout) still consumed its
 * token.  A consumed token presented again is a reuse: 400 invalid_grant
 * ("refresh token already used...") and the whole family is revoked, its
 * current token too, as real servers do.  The last 10000 consumed tokens
 * are remembered (as SHA-256 digests).  /stats adds "refresh_requests"
 * (refresh_token grants received, any outcome), "refresh_ok" (answered
 * with an access token), "refresh_reuses" (consumed tokens presented),
 * each since reset; "refresh_family" (the family's number: 1 for
 * --refresh-token, one more for each refresh_token=; 0 for none),
 * "refresh_revoked", "refresh_rotate", "invalid_grant" (injections left),
 * "refresh_fp" (first 6 hex of the current token's SHA-256); and about the
 * last token request "refresh_presented" (current, consumed, revoked,
 * unknown or missing; null for another grant) and "refresh_presented_fp".
 * A refresh token itself only GET /refresh-token shows.
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
 * The client secret and tokens never reach stdout, stderr or /stats; only
 * GET /refresh-token shows one: the current refresh token.
 *
 * main.c owns the options, the listeners (TLS included), the routing of a
 * request to its endpoint, and the order of setup and shutdown.  The rest
 * is one noun a file beside it: token.c the token endpoint, dialect.c the
 * table of dialects, sbc.c the oracle-sbc extras, assertion.c client
 * assertions and certificates, tokens.c the issued
 * tokens, refresh.c the refresh_token grant and its family of refresh
 * tokens, evil.c the answers no parser should take, hold.c delayed
 * answers, control.c and stats.c the /control and
 * /stats state; serve.c, form.c, json.c, http.c and util.c below them
 * (base64 is common/'s).  tests/fakeapi links those five too.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeidp.h"

/* The plain-HTTP port of an HTTPS fakeidp: everything is a 426. */
static void
plain_request_cb(struct evhttp_request *req, void *arg)
{
	struct fakeidp *fk = arg;

	http_header(req, "Upgrade", "TLS/1.2, HTTP/1.1");
	dialect_reply_err(fk, req, &(struct err){ .status = 426, .code = "invalid_request",
	    .text = "HTTPS is required: this port speaks plain HTTP only to say so" });
}

static const struct route {
	const char *path;
	void (*handle)(struct fakeidp *, struct evhttp_request *);
} routes[] = {
	{ "/introspect", tokens_introspect },
	{ "/stats", stats_handle },
	{ "/control", control_handle },
	{ "/refresh-token", refresh_handle },
	{ "/entity", evil_entity },
};

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct fakeidp *fk = arg;
	const char *path = http_path(req);

	for (size_t i = 0; i < fk->n_token_paths; i++) {
		if (strcmp(path, fk->token_paths[i]) == 0) {
			token_handle(fk, req);
			return;
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
		if (strcmp(path, routes[i].path) == 0) {
			routes[i].handle(fk, req);
			return;
		}
	}
	if (fk->dialect == DIALECT_SBC && sbc_route(fk, req, path))
		return;
	if (discovery_route(fk, req, path))
		return;
	dialect_not_found(fk, req);
}

/* --- setup ----------------------------------------------------------- */

static struct bufferevent *
tls_bev_cb(struct event_base *base, void *arg)
{
	SSL_CTX *ctx = arg;
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		log_fatal("out of memory");
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		log_fatal("out of memory");
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
tls_setup(const char *cert, const char *key, const char *client_ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		log_fatal("cannot create a TLS context: %s", tls_error());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		log_fatal("cannot load certificate %s: %s", cert, tls_error());
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		log_fatal("cannot load key %s: %s", key, tls_error());
	if (SSL_CTX_check_private_key(ctx) != 1)
		log_fatal("key %s does not match certificate %s", key, cert);
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1)
			log_fatal("cannot load CA file %s: %s", client_ca, tls_error());
		/* Asked for, not required: tests without one share the port. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
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
		log_fatal("cannot open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n < 0)
		log_fatal("cannot read %s: %s", path, strerror(e));
	len = strcspn(buf, "\r\n");
	s = secret_new(buf, len);
	explicit_bzero(buf, sizeof(buf));
	return s;
}

/* A secret option's value into *slot: arg itself, or the file arg names. */
static void
secret_option(struct secret **slot, const char *arg, bool from_file)
{
	secret_free(*slot);
	*slot = from_file ? secret_file_read(arg) : secret_from_str(arg);
}

/* An HTTP server on fk's base whose requests go to cb, with fakeidp's limits. */
static struct evhttp *
server_new(struct fakeidp *fk, void (*cb)(struct evhttp_request *, void *))
{
	struct evhttp *http = evhttp_new(fk->base);

	if (http == NULL)
		log_fatal("cannot set up libevent");
	evhttp_set_max_body_size(http, BODY_MAX);
	evhttp_set_max_headers_size(http, HEADERS_MAX);
	evhttp_set_timeout(http, 60);
	evhttp_set_gencb(http, cb, fk);
	return http;
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
	    "               [--issuer URL [--discovery oidc|oauth] [--doc-issuer S]\n"
	    "                [--discovery-page]]\n"
	    "               [--tls-cert PEM --tls-key PEM [--plain-port-file FILE]\n"
	    "                [--client-ca PEM]]\n"
	    "               [--client-public-key PEM] [--assertion-audience AUD]\n"
	    "               [--refresh-token TOKEN | --refresh-token-file FILE]\n"
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
	const char *client_ca;
	struct secret *refresh_token;
	bool quiet;
};

static void
options_parse(int argc, char **argv, struct fakeidp *fk, struct options *o)
{
	enum {
		OPT_LISTEN = 256, OPT_PORT, OPT_PORT_FILE, OPT_CLIENT_ID, OPT_CLIENT_SECRET,
		OPT_CLIENT_SECRET_FILE, OPT_LIFETIME, OPT_GRANT_TYPE, OPT_TOKEN_PATH,
		OPT_TLS_CERT, OPT_TLS_KEY, OPT_QUIET, OPT_HELP, OPT_DIALECT, OPT_PLAIN_PORT_FILE,
		OPT_CLIENT_CA, OPT_CLIENT_PUBLIC_KEY, OPT_ASSERTION_AUDIENCE, OPT_REFRESH_TOKEN,
		OPT_ISSUER, OPT_DOC_ISSUER, OPT_DISCOVERY, OPT_DISCOVERY_PAGE,
		OPT_REFRESH_TOKEN_FILE,
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
		{ "issuer", required_argument, NULL, OPT_ISSUER },
		{ "doc-issuer", required_argument, NULL, OPT_DOC_ISSUER },
		{ "discovery", required_argument, NULL, OPT_DISCOVERY },
		{ "discovery-page", no_argument, NULL, OPT_DISCOVERY_PAGE },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "dialect", required_argument, NULL, OPT_DIALECT },
		{ "plain-port-file", required_argument, NULL, OPT_PLAIN_PORT_FILE },
		{ "client-ca", required_argument, NULL, OPT_CLIENT_CA },
		{ "client-public-key", required_argument, NULL, OPT_CLIENT_PUBLIC_KEY },
		{ "assertion-audience", required_argument, NULL, OPT_ASSERTION_AUDIENCE },
		{ "refresh-token", required_argument, NULL, OPT_REFRESH_TOKEN },
		{ "refresh-token-file", required_argument, NULL, OPT_REFRESH_TOKEN_FILE },
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
	b->rotate = true;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_PORT:
			if (util_parse_ll(optarg, 0, 65535, &o->port) < 0) {
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
		case OPT_CLIENT_SECRET_FILE:
			secret_option(&fk->client_secret, optarg, c == OPT_CLIENT_SECRET_FILE);
			break;
		case OPT_LIFETIME:
			if (util_parse_ll(optarg, 0, LIFETIME_MAX, &b->lifetime) < 0) {
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
		case OPT_ISSUER:
			free(fk->issuer);
			fk->issuer = xstrdup(optarg);
			break;
		case OPT_DOC_ISSUER:
			free(fk->doc_issuer);
			fk->doc_issuer = xstrdup(optarg);
			break;
		case OPT_DISCOVERY:
			if (strcmp(optarg, "oidc") != 0 && strcmp(optarg, "oauth") != 0) {
				fprintf(stderr, "fakeidp: --discovery oidc or oauth, not %s\n", optarg);
				usage(stderr, 2);
			}
			fk->discovery_oauth = strcmp(optarg, "oauth") == 0;
			break;
		case OPT_DISCOVERY_PAGE:
			fk->discovery_page = true;
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
			d = dialect_from_name(optarg);
			if (d < 0) {
				fprintf(stderr, "fakeidp: unknown dialect %s\n", optarg);
				usage(stderr, 2);
			}
			fk->dialect = (enum dialect)d;
			break;
		case OPT_PLAIN_PORT_FILE:
			o->plain_port_file = optarg;
			break;
		case OPT_CLIENT_CA:
			o->client_ca = optarg;
			break;
		case OPT_CLIENT_PUBLIC_KEY:
			EVP_PKEY_free(fk->client_pubkey);
			fk->client_pubkey = assertion_public_key(optarg);
			break;
		case OPT_ASSERTION_AUDIENCE:
			free(fk->assertion_audience);
			fk->assertion_audience = xstrdup(optarg);
			break;
		case OPT_REFRESH_TOKEN:
		case OPT_REFRESH_TOKEN_FILE:
			secret_option(&o->refresh_token, optarg, c == OPT_REFRESH_TOKEN_FILE);
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
	if (o->client_ca != NULL && o->tls_cert == NULL) {
		fprintf(stderr, "fakeidp: --client-ca needs --tls-cert and --tls-key\n");
		usage(stderr, 2);
	}
	if (o->plain_port_file != NULL && o->tls_cert == NULL) {
		fprintf(stderr, "fakeidp: --plain-port-file needs --tls-cert and --tls-key\n");
		usage(stderr, 2);
	}
	if (o->refresh_token != NULL && (o->refresh_token->len == 0 || fk->dialect != DIALECT_OAUTH2)) {
		fprintf(stderr, "fakeidp: a refresh token is for the oauth2 dialect, and not empty\n");
		usage(stderr, 2);
	}
	if (o->refresh_token != NULL) {
		refresh_set(fk, o->refresh_token->data);
		o->refresh_token = secret_free(o->refresh_token);
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
		fk->token_paths[fk->n_token_paths++] = xstrdup(dialect_token_path(fk->dialect));
}

int
main(int argc, char **argv)
{
	struct fakeidp fk = { 0 };
	struct options o = { 0 };
	struct event *sigs[2];
	_cleanup_free_ char *addr = NULL;
	unsigned int port, plain_port = 0;
	struct hold *h;

	TAILQ_INIT(&fk.holds);
	options_parse(argc, argv, &fk, &o);
	serve_init("fakeidp", o.quiet);

	addr = serve_address(o.listen);
	if (addr == NULL) {
		fprintf(stderr, "fakeidp: --listen takes a loopback address, not %s\n", o.listen);
		usage(stderr, 2);
	}
	control_behaviour_copy(&fk.cur, &fk.initial);
	fk.tokens = xcalloc(TOKENS_MAX, sizeof(*fk.tokens));

	fk.base = event_base_new();
	if (fk.base == NULL)
		log_fatal("cannot set up libevent");
	fk.http = server_new(&fk, request_cb);
	if (o.tls_cert != NULL) {
		fk.ssl = tls_setup(o.tls_cert, o.tls_key, o.client_ca);
		fk.client_ca = o.client_ca != NULL;
		evhttp_set_bevcb(fk.http, tls_bev_cb, fk.ssl);
	}

	port = serve_bind(fk.http, addr, o.port);
	/* --issuer /PATH: this server's own origin, then PATH ("/": none). */
	if (fk.issuer != NULL && fk.issuer[0] == '/') {
		char *issuer = xasprintf("%s://%s:%u%s", fk.ssl != NULL ? "https" : "http", addr,
		    port, strcmp(fk.issuer, "/") == 0 ? "" : fk.issuer);

		free(fk.issuer);
		fk.issuer = issuer;
	}
	if (o.plain_port_file != NULL) {
		fk.plain = server_new(&fk, plain_request_cb);
		plain_port = serve_bind(fk.plain, addr, 0);
	}

	serve_signals(fk.base, sigs);
	/* The plain port first: a test waits for --port-file alone. */
	if (o.plain_port_file != NULL)
		serve_port_file(o.plain_port_file, plain_port);
	serve_announce(o.port_file, addr, port, o.quiet);

	if (event_base_dispatch(fk.base) < 0)
		log_fatal("event loop failed");

	while ((h = TAILQ_FIRST(&fk.holds)) != NULL)
		hold_free(h);
	evhttp_free(fk.http);
	if (fk.plain != NULL)
		evhttp_free(fk.plain);
	event_free(sigs[0]);
	event_free(sigs[1]);
	event_base_free(fk.base);
	if (fk.ssl != NULL)
		SSL_CTX_free(fk.ssl);
	tokens_clear(&fk);
	free(fk.tokens);
	stats_last_clear(&fk.stats.last);
	control_behaviour_free(&fk.cur);
	control_behaviour_free(&fk.initial);
	for (size_t i = 0; i < fk.n_token_paths; i++)
		free(fk.token_paths[i]);
	free(fk.client_id);
	free(fk.issuer);
	free(fk.doc_issuer);
	secret_free(fk.client_secret);
	assertion_clear(&fk);
	refresh_clear(&fk);
	libevent_global_shutdown();
	return 0;
}
