/*
 * fakeapi: a local stand-in for the API a token protects, for
 * tokenbroker's proxy tests.  Every request under /api/ must carry a
 * Bearer token that fakeidp says is active; what arrived is echoed with
 * the token replaced by a fingerprint, so a test can check what the proxy
 * sent without printing the token.  It can also stream, delay, fail and
 * revoke on request.  It is not an API.
 *
 * usage: fakeapi --introspect URL [--listen ADDR] [--port N]
 *                [--port-file FILE] [--cache-ms MS] [--quiet] [--help]
 *
 *   --introspect  fakeidp's introspection endpoint, plain http, e.g.
 *                 http://127.0.0.1:PORT/introspect (required)
 *   --listen      loopback address only: 127.0.0.0/8, ::1 or localhost
 *                 (default 127.0.0.1)
 *   --port        0 (default) picks an ephemeral port
 *   --port-file   the chosen port and a newline, written atomically (temp
 *                 file and rename) once listening; then "listening on
 *                 127.0.0.1:PORT" goes to stdout (not with --quiet)
 *   --cache-ms    how long an "active" answer is believed for a token
 *                 (default 1000; never past the expiry fakeidp gave; 0
 *                 asks every time)
 *   --quiet       nothing on stdout or stderr but errors
 * SIGTERM and SIGINT end it with status 0; usage errors exit 2, setup
 * errors 1.
 *
 * Every request under /api/ needs "Authorization: Bearer T": T active at
 * --introspect (asked asynchronously, once for all the requests waiting
 * on the same token) and not revoked here.  Without the header: 401 with
 * WWW-Authenticate: Bearer realm="fakeapi" and {"error":"invalid_request",
 * "error_description"}; with a bad, inactive or revoked token: 401 with
 * WWW-Authenticate: Bearer realm="fakeapi", error="invalid_token" and
 * {"error":"invalid_token",...}; when fakeidp cannot be asked: 503 with
 * Retry-After: 1.  Then (any method unless said otherwise):
 *   /api/echo    200 {"method","path","query" (raw, null when none),
 *       "headers":{NAME: VALUE, ... as received, a repeated one repeated;
 *       Authorization appears as "authorization_sha": the first 12 hex
 *       digits of the SHA-256 of its credentials (the text after the
 *       scheme and its spaces: the token itself for Bearer); a
 *       Proxy-Authorization's value reads "(redacted)"},
 *       "authorizations" (how many Authorization headers came),
 *       "body_len","body_sha256" (hex, of the whole body)}
 *   /api/bytes?n=N[&chunked=1]   200 with N bytes (at most 2^40) of
 *       application/octet-stream, byte i being (i * 7 + 3) mod 256 (so the
 *       pattern repeats every 256 bytes); Content-Length unless chunked=1
 *       (then Transfer-Encoding: chunked; n=0 is always an empty body with
 *       Content-Length: 0); HEAD gets the headers only.  Streamed: one
 *       256 KiB chunk is queued at a time, the next once the kernel took
 *       it, so a slow reader holds it back and memory stays flat
 *   /api/delay?ms=N   200 {"delayed_ms":N} after N ms (at most 600000):
 *       nothing, not even the headers, before that
 *   /api/status?code=N   that status (200-599) with {"status":N}
 *   anything else under /api/: 404 (after the token check)
 * Requests with a body take one of at most 32 MiB.
 *
 * Without a token:
 *   GET /stats   {"requests" (under /api/, whatever became of them),
 *       "authorized","rejected" (401s),"dropped" (closed while down),
 *       "introspections","introspection_errors","streams" (/api/bytes
 *       answers started),"aborted" (answers in progress whose client went
 *       away: streams, delays),"bytes_sent","active" (answers in progress
 *       now),"max_active","down","last_method","last_path" (of the last
 *       request under /api/),"current" (the fingerprint of the last token
 *       that passed),"tokens_seen","tokens":[{"sha" (12 hex digits of the
 *       token's SHA-256),"requests" (that came with it),"authorized",
 *       "revoked"}, ...] in the order first seen}
 *   GET or POST /control?k=v&...   200 {"ok":true,"revoked":N}; 400 and
 *       nothing changed when a key or value is bad:
 *         revoke=current   the last token that passed is refused from now
 *                          on (409 when there is none, or it already is)
 *         revoke_all=1     every token seen so far is refused from now on
 *         down=1|0         every request under /api/ has its connection
 *                          closed without an answer / answers again
 *         reset=1          counters to zero, up again; tokens and their
 *                          revocation kept.  Applies first.
 *   anything else: 404.
 *
 * Tokens never reach stdout, stderr or an answer: only their fingerprints.
 *
 * main.c owns the options, the listener, the routing and the order of
 * setup and shutdown; auth.c the token check, introspection and the
 * tokens seen; api.c the endpoints under /api/; admin.c /stats and
 * /control.  The helpers below them are fakeidp's (serve.c, http.c,
 * json.c, form.c, util.c).
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeapi.h"

static const struct api_route {
	const char *path;
	api_handler_fn *handle;
} api_routes[] = {
	{ "/api/echo", api_echo },
	{ "/api/bytes", api_bytes },
	{ "/api/delay", api_delay },
	{ "/api/status", api_status },
};

static void
api_request(struct fakeapi *fa, struct evhttp_request *req, const char *path)
{
	api_handler_fn *handle = api_not_found;

	fa->c.requests++;
	free(fa->last_method);
	free(fa->last_path);
	fa->last_method = xstrdup(http_method(req));
	fa->last_path = xstrdup(path);
	if (fa->down) {
		api_drop(fa, req);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(api_routes); i++)
		if (strcmp(path, api_routes[i].path) == 0)
			handle = api_routes[i].handle;
	auth_check(fa, req, handle);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct fakeapi *fa = arg;
	const char *path = http_path(req);

	if (strncmp(path, "/api/", 5) == 0)
		api_request(fa, req, path);
	else if (strcmp(path, "/stats") == 0)
		admin_stats(fa, req);
	else if (strcmp(path, "/control") == 0)
		admin_control(fa, req);
	else
		http_error(req, 404, "not_found", "fakeapi serves /api/, /stats and /control");
}

/* --- setup ----------------------------------------------------------- */

static void
usage(FILE *f, int status)
{
	fprintf(f, "%s",
	    "usage: fakeapi --introspect URL [--listen ADDR] [--port N]\n"
	    "               [--port-file FILE] [--cache-ms MS] [--quiet]\n");
	exit(status);
}

struct options {
	const char *introspect;
	const char *listen;
	long long port;
	const char *port_file;
	bool quiet;
};

/* Takes --introspect apart: plain http, a host, a path. */
static void
introspect_parse(struct fakeapi *fa, const char *url)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme, *host, *path;
	int port;

	if (u == NULL || (scheme = evhttp_uri_get_scheme(u)) == NULL ||
	    strcmp(scheme, "http") != 0 || (host = evhttp_uri_get_host(u)) == NULL ||
	    *host == '\0') {
		fprintf(stderr, "fakeapi: --introspect takes an http:// URL, not %s\n", url);
		if (u != NULL)
			evhttp_uri_free(u);
		usage(stderr, 2);
	}
	port = evhttp_uri_get_port(u);
	path = evhttp_uri_get_path(u);
	fa->introspect_port = port > 0 ? port : 80;
	fa->introspect_path = xstrdup(path != NULL && *path != '\0' ? path : "/");
	fa->introspect_host = xasprintf(strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host,
	    fa->introspect_port);
	fa->idp = evhttp_connection_base_new(fa->base, NULL, host, (uint16_t)fa->introspect_port);
	if (fa->idp == NULL)
		log_fatal("cannot set up a connection to %s", fa->introspect_host);
	evhttp_connection_set_timeout(fa->idp, INTROSPECT_TIMEOUT_S);
	evhttp_connection_set_retries(fa->idp, 0);
	evhttp_uri_free(u);
}

static void
options_parse(int argc, char **argv, struct fakeapi *fa, struct options *o)
{
	enum {
		OPT_INTROSPECT = 256, OPT_LISTEN, OPT_PORT, OPT_PORT_FILE, OPT_CACHE_MS,
		OPT_QUIET, OPT_HELP,
	};
	static const struct option longopts[] = {
		{ "introspect", required_argument, NULL, OPT_INTROSPECT },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "cache-ms", required_argument, NULL, OPT_CACHE_MS },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long long ms;
	int c;

	o->listen = "127.0.0.1";
	fa->cache_ms = CACHE_MS_DEFAULT;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_INTROSPECT:
			o->introspect = optarg;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_PORT:
			if (util_parse_ll(optarg, 0, 65535, &o->port) < 0) {
				fprintf(stderr, "fakeapi: bad port %s\n", optarg);
				usage(stderr, 2);
			}
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_CACHE_MS:
			if (util_parse_ll(optarg, 0, 3600LL * 1000, &ms) < 0) {
				fprintf(stderr, "fakeapi: bad --cache-ms %s\n", optarg);
				usage(stderr, 2);
			}
			fa->cache_ms = ms;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_HELP:
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc || o->introspect == NULL)
		usage(stderr, 2);
}

int
main(int argc, char **argv)
{
	struct fakeapi fa = { 0 };
	struct options o = { 0 };
	struct event *sigs[2];
	_cleanup_free_ char *addr = NULL;
	unsigned int port;

	TAILQ_INIT(&fa.seen);
	TAILQ_INIT(&fa.pending);
	options_parse(argc, argv, &fa, &o);
	serve_init("fakeapi", o.quiet);

	addr = serve_address(o.listen);
	if (addr == NULL) {
		fprintf(stderr, "fakeapi: --listen takes a loopback address, not %s\n", o.listen);
		usage(stderr, 2);
	}
	fa.base = event_base_new();
	if (fa.base == NULL)
		log_fatal("cannot set up libevent");
	introspect_parse(&fa, o.introspect);

	fa.http = evhttp_new(fa.base);
	if (fa.http == NULL)
		log_fatal("cannot set up libevent");
	evhttp_set_max_body_size(fa.http, API_BODY_MAX);
	evhttp_set_max_headers_size(fa.http, API_HEADERS_MAX);
	/* Long enough for a slow reader of a large /api/bytes stream. */
	evhttp_set_timeout(fa.http, 120);
	evhttp_set_allowed_methods(fa.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(fa.http, request_cb, &fa);
	port = serve_bind(fa.http, addr, o.port);

	serve_signals(fa.base, sigs);
	serve_announce(o.port_file, addr, port, o.quiet);

	if (event_base_dispatch(fa.base) < 0)
		log_fatal("event loop failed");

	api_pending_free_all(&fa);
	evhttp_free(fa.http);
	evhttp_connection_free(fa.idp);
	auth_free(&fa);
	event_free(sigs[0]);
	event_free(sigs[1]);
	event_base_free(fa.base);
	free(fa.introspect_host);
	free(fa.introspect_path);
	free(fa.last_method);
	free(fa.last_path);
	libevent_global_shutdown();
	return 0;
}
