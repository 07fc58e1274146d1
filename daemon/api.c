#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <yajl/yajl_gen.h>

#include "api.h"
#include "cleanup.h"
#include "log.h"
#include "metrics.h"
#include "secbuf.h"
#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"

#define API_MAX_HEADERS_SIZE 8192
#define API_MAX_BODY_SIZE 4096
#define API_MAX_GROUPS 256
#define API_WAIT_DEFAULT_S 5
#define API_WAIT_MAX_S 300
#define API_MIN_VALID_MAX_S 86400
#define API_ACCEPT_PAUSE_MS 1000
/*
 * A connection has this long (or client_timeout when that is shorter) to
 * start its first request: idle connections are what a local user would
 * hold to crowd others out.
 */
#define API_HELLO_TIMEOUT_MS 5000
/* Connections accepted in one turn of the loop before they are admitted. */
#define API_ACCEPT_BATCH 32
/*
 * Descriptors kept out of the clients' reach: a base for stdio, the
 * listener, the event loop, the journal, configuration reloads, state and
 * sink files, plus a batch of connections not yet admitted and the
 * refusals lingering below; and per upstream transfer its socket (and one
 * kept for reuse), the resolver's socketpair.
 */
#define API_FD_RESERVE_BASE (48 + API_ACCEPT_BATCH + API_LINGER_MAX)
#define API_FD_PER_TRANSFER 4
/* Slots (at most, and at most 1/16 of the total) only root may take. */
#define API_ROOT_SLOTS 16
/*
 * A refused connection is answered 503 and closed; up to this many wait a
 * moment for the client to finish sending its request, so that it reads the
 * answer instead of a broken pipe.  Beyond that they are closed at once.
 */
#define API_LINGER_MAX 16
#define API_LINGER_MS 1000
#define API_LINGER_BYTES 16384
#define API_REFUSE_LOG_MS 1000

/* A client connection, known from its accept until it closes. */
struct api_conn {
	struct api *api;
	struct evhttp_connection *evcon;
	int fd;
	uid_t uid;
	gid_t gids[API_MAX_GROUPS]; /* primary first, then supplementary */
	size_t ngids;
	pid_t pid;
	bool hello; /* no request yet: the short idle limit applies */
	struct api_req *pending; /* a request waiting for a token */
};

/* A refused connection, answered, waiting briefly for its client to close. */
struct api_linger {
	struct api *api;
	int fd;
	size_t drained;
	int64_t until_ms; /* monotonic */
	struct event *ev;
};

struct api_uid {
	uid_t uid;
	unsigned n;
};

/* A request that waits for a credential. */
struct api_req {
	struct api_conn *conn;
	struct evhttp_request *req;
	struct credential_waiter *waiter;
	struct event *closed; /* the client hung up */
	bool text;
	bool renew;
	uint64_t seen; /* renew: the generation of the token served when it was asked */
	int64_t wait_s;
};

struct api {
	struct event_base *base;
	const struct conf *conf;
	struct credential_ctx *creds;
	struct metrics *metrics;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *resume; /* re-enables accepting after EMFILE */
	char *path;	      /* socket file we created, removed at exit */
	struct api_conn **conns; /* by fd */
	size_t nconns_slots;
	unsigned clients;
	struct api_uid *uids; /* connections per uid, for max_clients_per_uid */
	size_t nuids;
	/*
	 * Connections evhttp accepted in this turn of the loop, not yet
	 * admitted: their bufferevents, each holding a reference of ours.
	 */
	struct bufferevent **fresh;
	size_t nfresh, fresh_slots;
	struct event *admit; /* admits the fresh ones once evhttp is done */
	unsigned fd_cap;     /* clients the descriptor limit leaves room for */
	struct api_linger linger[API_LINGER_MAX];
	unsigned refused;    /* refusals not logged yet */
	int64_t refused_logged_ms;
	bool listening;
	bool paused; /* out of descriptors: not accepting for a moment */
	bool stopping;
	struct api *next; /* in api_servers */
};

unsigned
api_fd_reserve(const struct daemon_conf *dc)
{
	return API_FD_RESERVE_BASE + API_FD_PER_TRANSFER * dc->upstream_concurrency;
}

unsigned
api_fd_cap(const struct daemon_conf *dc)
{
	struct rlimit rl;
	unsigned reserve = api_fd_reserve(dc);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= (rlim_t)UINT_MAX)
		return UINT_MAX;
	if (rl.rlim_cur >= 2 * (rlim_t)reserve)
		return (unsigned)(rl.rlim_cur - reserve);
	return (unsigned)(rl.rlim_cur / 2);
}

struct api_route {
	const char *pattern; /* '*' matches one path segment: the credential name */
	enum evhttp_cmd_type method;
	void (*handler)(struct api_conn *conn, struct evhttp_request *req, const char *name,
			struct evkeyvalq *query);
};

/* evbuffer's cleanup for a sent body: responses carry tokens. */
static void
api_out_cleanup_cb(const void *data, size_t len, void *arg)
{
	struct secbuf *o = arg;

	secbuf_clear(o);
	free(o);
}

static yajl_gen
api_gen_new(struct secbuf *o)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL)
		fatal("out of memory");
	yajl_gen_config(g, yajl_gen_print_callback, secbuf_yajl_cb, o);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	return g;
}

static void
api_gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void
api_gen_kv_str(yajl_gen g, const char *k, const char *v)
{
	api_gen_str(g, k);
	if (v == NULL)
		yajl_gen_null(g);
	else if (yajl_gen_string(g, (const unsigned char *)v, strlen(v)) != yajl_gen_status_ok)
		api_gen_str(g, "?"); /* not UTF-8: cannot happen for sanitized text */
}

static void
api_gen_kv_int(yajl_gen g, const char *k, long long v)
{
	api_gen_str(g, k);
	yajl_gen_integer(g, v);
}

/* Sends o as the body with status code; takes o (wiped when sent). */
static void
api_send(struct evhttp_request *req, int code, const char *content_type, struct secbuf *o)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *reason;

	switch (code) {
	case 200: reason = "OK"; break;
	case 400: reason = "Bad Request"; break;
	case 403: reason = "Forbidden"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 503: reason = "Service Unavailable"; break;
	default: reason = "Error"; break;
	}
	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (buf == NULL || evbuffer_add_reference(buf, o->data, o->len, api_out_cleanup_cb, o) < 0)
		fatal("out of memory");
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

static void
api_send_json(struct evhttp_request *req, int code, yajl_gen g, struct secbuf *o)
{
	yajl_gen_free(g);
	secbuf_add(o, "\n", 1);
	api_send(req, code, "application/json", o);
}

/*
 * An error answer: {"error": code, "message": text} plus the upstream's
 * status and error code when an upstream failure is the cause.
 */
static void
api_error(struct evhttp_request *req, int status, const char *code, const char *message,
	  long upstream_status, const char *upstream_error, int64_t retry_after_s)
{
	struct secbuf *o = xcalloc(1, sizeof(*o));
	yajl_gen g = api_gen_new(o);

	yajl_gen_map_open(g);
	api_gen_kv_str(g, "error", code);
	api_gen_kv_str(g, "message", message);
	if (upstream_status > 0)
		api_gen_kv_int(g, "upstream_status", upstream_status);
	if (upstream_error != NULL)
		api_gen_kv_str(g, "upstream_error", upstream_error);
	yajl_gen_map_close(g);
	if (retry_after_s > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%lld", (long long)retry_after_s);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
	}
	api_send_json(req, status, g, o);
}

static void
api_errorf(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
api_errorf(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	api_error(req, status, code, msg, 0, NULL, 0);
	free(msg);
}

/* 503 for a credential that has no token to give, with the reason. */
static void
api_unavailable(struct evhttp_request *req, struct credential *c, const char *why,
		int64_t retry_after_s)
{
	struct credential_info info;
	char *msg;

	credential_info(c, &info);
	if (info.last_error != NULL)
		msg = xasprintf("%s: %s; last error: %s", credential_name(c), why, info.last_error);
	else
		msg = xasprintf("%s: %s", credential_name(c), why);
	if (retry_after_s <= 0)
		retry_after_s = info.retry_after_s > 0 ? info.retry_after_s : 1;
	api_error(req, 503, "unavailable", msg, info.upstream_status, info.upstream_error,
		  retry_after_s);
	free(msg);
}

/*
 * The token answer: JSON, or the bare token for Accept: text/plain.  ar,
 * when not NULL, is a POST .../renew: its JSON answer also says whether the
 * token was renewed, and if not, why (the token served is still valid).
 */
static void
api_send_token(struct evhttp_request *req, struct credential *c, const struct token *t,
	       const struct api_req *ar, bool text)
{
	struct secbuf *o = xcalloc(1, sizeof(*o));
	int64_t now = time_wall_ms();
	yajl_gen g;

	if (text) {
		secbuf_add(o, t->access_token->data, t->access_token->len);
		secbuf_add(o, "\n", 1);
		api_send(req, 200, "text/plain; charset=utf-8", o);
		return;
	}
	g = api_gen_new(o);
	yajl_gen_map_open(g);
	api_gen_kv_str(g, "name", credential_name(c));
	api_gen_str(g, "access_token");
	yajl_gen_string(g, (const unsigned char *)t->access_token->data, t->access_token->len);
	api_gen_kv_str(g, "token_type", t->token_type);
	api_gen_kv_int(g, "expires_at", t->expires_wall_ms / 1000);
	api_gen_kv_int(g, "expires_in", (t->expires_wall_ms - now) / 1000);
	if (t->scope != NULL)
		api_gen_kv_str(g, "scope", t->scope);
	if (ar != NULL && ar->renew) {
		struct credential_info info;

		credential_info(c, &info);
		api_gen_str(g, "renewed");
		yajl_gen_bool(g, t->generation > ar->seen);
		if (t->generation <= ar->seen)
			api_gen_kv_str(g, "renew_error",
				       info.last_error != NULL ? info.last_error
							       : "the upstream's Retry-After is in force");
	}
	yajl_gen_map_close(g);
	api_send_json(req, 200, g, o);
}

static bool
api_wants_text(struct evhttp_request *req)
{
	const char *accept =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");

	return accept != NULL && strstr(accept, "text/plain") != NULL &&
	       strstr(accept, "application/json") == NULL;
}

static bool
api_allowed(const struct api_conn *conn, const struct cred_conf *cc)
{
	return conf_ids_allow(&cc->allow_users, &cc->allow_groups, conn->uid, conn->gids,
			      conn->ngids);
}

/*
 * Reads a whole number of seconds from query parameter key into *ret.
 * Returns 0 (absent: *ret unchanged) or -EINVAL with an answer sent.
 */
static int
api_query_seconds(struct evhttp_request *req, struct evkeyvalq *q, const char *key, int64_t max,
		  int64_t *ret)
{
	const char *v = evhttp_find_header(q, key);
	char *end;
	long long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > max) {
		api_errorf(req, 400, "bad_request", "%s must be a number of seconds from 0 to %lld",
			   key, (long long)max);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

/*
 * Parses the query string qs into q (values decoded, '+' as a space), as
 * evhttp_parse_query_str does, but refuses what it would let through: a
 * parameter given twice (which one counts is then anyone's guess) and a NUL
 * byte in a value (which would end it early: "5%00..." read as 5).  Returns
 * 0, or -EINVAL with a 400 answer sent and q cleared.
 */
static int
api_query_parse(struct evhttp_request *req, const char *qs, struct evkeyvalq *q)
{
	char *copy = xstrdup(qs), *p = copy, *arg;
	const char *msg = NULL;
	char *bad = NULL;

	TAILQ_INIT(q);
	while (msg == NULL && p != NULL && *p != '\0') {
		char *key, *value, *decoded;
		size_t len;

		arg = strsep(&p, "&");
		value = arg;
		key = strsep(&value, "=");
		if (value == NULL || *key == '\0') {
			msg = "malformed query string";
			break;
		}
		if (evhttp_find_header(q, key) != NULL) {
			msg = "is given more than once";
			bad = xstrndup(key, 64);
			break;
		}
		if ((decoded = evhttp_uridecode(value, 1, &len)) == NULL)
			fatal("out of memory");
		if (strlen(decoded) != len) {
			msg = "has a NUL byte";
			bad = xstrndup(key, 64);
		} else {
			evhttp_add_header(q, key, decoded);
		}
		free(decoded);
	}
	free(copy);
	if (msg == NULL)
		return 0;
	evhttp_clear_headers(q);
	if (bad == NULL) {
		api_error(req, 400, "bad_request", msg, 0, NULL, 0);
		return -EINVAL;
	}
	for (char *c = bad; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f || *c == '"')
			*c = '?';
	api_errorf(req, 400, "bad_request", "parameter \"%s\" %s", bad, msg);
	free(bad);
	return -EINVAL;
}

/* Refuses query parameters other than the ones named. */
static int
api_query_only(struct evhttp_request *req, struct evkeyvalq *q, const char *const *known)
{
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, q, next) {
		bool ok = false;

		for (const char *const *k = known; *k != NULL; k++)
			ok = ok || strcmp(kv->key, *k) == 0;
		if (!ok) {
			char *key = xstrndup(kv->key, 64);

			for (char *p = key; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
			api_errorf(req, 400, "bad_request", "unknown parameter \"%s\"", key);
			free(key);
			return -EINVAL;
		}
	}
	return 0;
}

static void api_req_free(struct api_req *ar);

static void
api_wait_cb(struct credential *c, enum credential_result result, void *arg)
{
	struct api_req *ar = arg;
	struct evhttp_request *req = ar->req;
	const struct token *t;
	char why[96];

	ar->waiter = NULL;
	/* A reload may have taken the caller's right away while it waited. */
	if (result != CREDENTIAL_GONE && !api_allowed(ar->conn, credential_conf(c))) {
		api_errorf(req, 403, "forbidden", "uid %u is not allowed credential \"%s\"",
			   (unsigned)ar->conn->uid, credential_name(c));
		api_req_free(ar);
		return;
	}
	switch (result) {
	case CREDENTIAL_OK:
		t = credential_token(c, 0);
		if (t != NULL) {
			api_send_token(req, c, t, ar, ar->text);
			break;
		}
		/* FALLTHROUGH */
	case CREDENTIAL_FAILED:
		api_unavailable(req, c, ar->renew ? "renewal failed" : "no valid token", 0);
		break;
	case CREDENTIAL_TIMEOUT:
		snprintf(why, sizeof(why), "no valid token within %llds", (long long)ar->wait_s);
		api_unavailable(req, c, why, 0);
		break;
	case CREDENTIAL_TOO_SHORT:
		api_unavailable(req, c, "the upstream's tokens live shorter than min_valid", 0);
		break;
	case CREDENTIAL_GONE:
		if (ar->conn->api->stopping)
			api_error(req, 503, "stopping", "tokenbrokerd is stopping", 0, NULL, 1);
		else
			api_errorf(req, 404, "not_found", "no credential \"%s\"", credential_name(c));
		break;
	}
	api_req_free(ar);
}

/* The client hung up while it waited: drop its request and connection. */
static void
api_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_req *ar = arg;
	struct evhttp_connection *evcon = ar->conn->evcon;

	/*
	 * EV_CLOSED also fires when the peer only shuts down its writing side;
	 * libevent 2.1's evhttp drops such a connection as well, whether or
	 * not a request waits on it, so it is treated as gone.
	 */
	log_debug("uid %u hung up while waiting", (unsigned)ar->conn->uid);
	credential_waiter_cancel(ar->waiter);
	ar->waiter = NULL;
	api_req_free(ar);
	evhttp_connection_free(evcon);
}

static void
api_req_free(struct api_req *ar)
{
	if (ar->closed != NULL)
		event_free(ar->closed);
	ar->conn->pending = NULL;
	free(ar);
}

/* Waits for c on behalf of req; answers at once when there is nothing to wait for. */
static void
api_wait(struct api_conn *conn, struct evhttp_request *req, struct credential *c, bool renew,
	 int64_t min_valid_s, int64_t wait_s)
{
	struct api_req *ar = xcalloc(1, sizeof(*ar));
	int64_t retry_after_s = 0;
	int r;

	ar->conn = conn;
	ar->req = req;
	ar->renew = renew;
	ar->text = api_wants_text(req);
	ar->wait_s = wait_s;
	/* A renew replaces the token served now, whoever's attempt does it. */
	if (renew) {
		ar->seen = credential_generation(c);
		r = credential_renew(c, ar->seen, wait_s * 1000, api_wait_cb, ar, &ar->waiter,
				     &retry_after_s);
	} else {
		r = credential_get(c, min_valid_s * 1000, wait_s * 1000, api_wait_cb, ar,
				   &ar->waiter, &retry_after_s);
	}
	if (r == 1) {
		conn->pending = ar;
		/* EV_CLOSED: told when the peer hangs up, without reading its data. */
		ar->closed = event_new(conn->api->base, conn->fd, EV_CLOSED, api_closed_cb, ar);
		if (ar->closed != NULL)
			event_add(ar->closed, NULL);
		return;
	}
	if (r == 0) {
		api_send_token(req, c, credential_token(c, min_valid_s * 1000), ar, ar->text);
	} else if (r == -ERANGE) {
		api_unavailable(req, c, "the upstream's tokens live shorter than min_valid", 0);
	} else {
		api_unavailable(req, c, "no valid token", retry_after_s);
	}
	free(ar);
}

/* Looks up a credential the caller may use; answers 404/403 otherwise. */
static struct credential *
api_credential(struct api_conn *conn, struct evhttp_request *req, const char *name)
{
	struct credential *c = credential_lookup(conn->api->creds, name);

	if (c == NULL) {
		api_errorf(req, 404, "not_found", "no credential \"%s\"", name);
		return NULL;
	}
	if (!api_allowed(conn, credential_conf(c))) {
		log_notice("uid %u (pid %d) is not allowed credential %s", (unsigned)conn->uid,
			   (int)conn->pid, name);
		api_errorf(req, 403, "forbidden", "uid %u is not allowed credential \"%s\"",
			   (unsigned)conn->uid, name);
		return NULL;
	}
	return c;
}

static void
api_get_token(struct api_conn *conn, struct evhttp_request *req, const char *name,
	      struct evkeyvalq *q)
{
	static const char *const known[] = { "min_valid", "wait", NULL };
	int64_t min_valid = 0, wait = API_WAIT_DEFAULT_S;
	struct credential *c;

	if (api_query_only(req, q, known) < 0 ||
	    api_query_seconds(req, q, "min_valid", API_MIN_VALID_MAX_S, &min_valid) < 0 ||
	    api_query_seconds(req, q, "wait", API_WAIT_MAX_S, &wait) < 0)
		return;
	if ((c = api_credential(conn, req, name)) == NULL)
		return;
	api_wait(conn, req, c, false, min_valid, wait);
}

static void
api_post_renew(struct api_conn *conn, struct evhttp_request *req, const char *name,
	       struct evkeyvalq *q)
{
	static const char *const known[] = { "wait", NULL };
	int64_t wait = API_WAIT_DEFAULT_S;
	struct credential *c;

	if (api_query_only(req, q, known) < 0 ||
	    api_query_seconds(req, q, "wait", API_WAIT_MAX_S, &wait) < 0)
		return;
	if ((c = api_credential(conn, req, name)) == NULL)
		return;
	log_info("uid %u asks to renew credential %s", (unsigned)conn->uid, name);
	api_wait(conn, req, c, true, 0, wait);
}

static void
api_gen_time(yajl_gen g, const char *k, int64_t t)
{
	api_gen_str(g, k);
	if (t > 0)
		yajl_gen_integer(g, t);
	else
		yajl_gen_null(g);
}

static void
api_get_credentials(struct api_conn *conn, struct evhttp_request *req, const char *name,
		    struct evkeyvalq *q)
{
	static const char *const known[] = { NULL };
	struct secbuf *o;
	yajl_gen g;

	if (api_query_only(req, q, known) < 0)
		return;
	o = xcalloc(1, sizeof(*o));
	g = api_gen_new(o);
	yajl_gen_map_open(g);
	api_gen_str(g, "credentials");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < credential_count(conn->api->creds); i++) {
		struct credential *c = credential_at(conn->api->creds, i);
		struct credential_info info;

		if (!api_allowed(conn, credential_conf(c)))
			continue;
		credential_info(c, &info);
		yajl_gen_map_open(g);
		api_gen_kv_str(g, "name", credential_name(c));
		api_gen_kv_str(g, "state", credential_state_name(info.state));
		api_gen_time(g, "expires_at", info.expires_at);
		api_gen_time(g, "next_renewal", info.next_renewal);
		api_gen_time(g, "last_renewal", info.last_renewal);
		api_gen_kv_int(g, "renewals", (long long)info.renewals);
		api_gen_kv_int(g, "failures", (long long)info.failures);
		api_gen_kv_str(g, "last_error", info.last_error);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	api_send_json(req, 200, g, o);
}

static void
api_get_health(struct api_conn *conn, struct evhttp_request *req, const char *name,
	       struct evkeyvalq *q)
{
	struct secbuf *o = xcalloc(1, sizeof(*o));
	yajl_gen g = api_gen_new(o);

	yajl_gen_map_open(g);
	api_gen_kv_str(g, "status", "ok");
	api_gen_kv_int(g, "credentials", (long long)credential_count(conn->api->creds));
	yajl_gen_map_close(g);
	api_send_json(req, 200, g, o);
}

static void api_get_metrics(struct api_conn *conn, struct evhttp_request *req, const char *name,
			    struct evkeyvalq *q);

static const struct api_route api_routes[] = {
	{ "/v1/tokens/*", EVHTTP_REQ_GET, api_get_token },
	{ "/v1/tokens/*/renew", EVHTTP_REQ_POST, api_post_renew },
	{ "/v1/credentials", EVHTTP_REQ_GET, api_get_credentials },
	{ "/v1/health", EVHTTP_REQ_GET, api_get_health },
	{ "/metrics", EVHTTP_REQ_GET, api_get_metrics },
};

/*
 * Matches path against pattern; a '*' segment must be a valid credential
 * name, copied to name (CONF_NAME_MAX + 1 bytes).
 */
static bool
api_route_match(const char *pattern, const char *path, char *name)
{
	while (*pattern != '\0') {
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");

			if (len == 0 || len > CONF_NAME_MAX)
				return false;
			memcpy(name, path, len);
			name[len] = '\0';
			if (!conf_name_valid(name))
				return false;
			path += len;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *path == '\0';
}

static const char *
api_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "other";
	}
}

/* Connections of uid open now. */
static unsigned
api_uid_conns(const struct api *api, uid_t uid)
{
	for (size_t i = 0; i < api->nuids; i++)
		if (api->uids[i].uid == uid)
			return api->uids[i].n;
	return 0;
}

/* Counts a connection of uid in (delta 1) or out (-1); returns the new count. */
static unsigned
api_uid_count(struct api *api, uid_t uid, int delta)
{
	size_t i;

	for (i = 0; i < api->nuids && api->uids[i].uid != uid; i++)
		;
	if (i == api->nuids) {
		api->uids = xreallocarray(api->uids, api->nuids + 1, sizeof(*api->uids));
		api->uids[api->nuids++] = (struct api_uid){ uid, 0 };
	}
	api->uids[i].n += (unsigned)delta;
	if (api->uids[i].n == 0)
		api->uids[i] = api->uids[--api->nuids];
	else
		return api->uids[i].n;
	return 0;
}

/* Clients served at once: max_clients, or fewer when descriptors are short. */
static unsigned
api_cap(const struct api *api)
{
	unsigned max = api->conf->daemon.max_clients;

	return api->fd_cap < max ? api->fd_cap : max;
}

/*
 * Accepts unless stopping or out of descriptors, or until API_ACCEPT_BATCH
 * connections accepted in this turn wait to be admitted: past the caps a
 * connection is still accepted, to be answered and closed at once, but a
 * burst must not take every descriptor before admission sorts it out.
 */
static void
api_listen_update(struct api *api)
{
	bool want = !api->stopping && !api->paused && api->nfresh < API_ACCEPT_BATCH;

	if (api->listener == NULL || want == api->listening)
		return;
	if (want)
		evconnlistener_enable(api->listener);
	else
		evconnlistener_disable(api->listener);
	api->listening = want;
}

/*
 * evhttp closes a connection (the client left, a timeout, an error, our
 * own free): called once for each admitted connection, which it frees.
 */
static void
api_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct api_conn *conn = arg;
	struct api *api = conn->api;

	/* evhttp may report a close twice (a reset, then the free): count one. */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	api_uid_count(api, conn->uid, -1);
	if (conn->pending != NULL) {
		credential_waiter_cancel(conn->pending->waiter);
		api_req_free(conn->pending);
	}
	if ((size_t)conn->fd < api->nconns_slots && api->conns[conn->fd] == conn)
		api->conns[conn->fd] = NULL;
	api->clients--;
	free(conn);
	api_listen_update(api);
}

/* Reads the peer's uid, gid, pid and groups. */
static int
api_conn_peer(struct api_conn *conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[API_MAX_GROUPS];

	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	conn->uid = cred.uid;
	conn->pid = cred.pid;
	conn->gids[0] = cred.gid;
	conn->ngids = 1;
	len = sizeof(groups);
	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t) && conn->ngids < API_MAX_GROUPS; i++)
			conn->gids[conn->ngids++] = groups[i];
	}
	return 0;
}

/*
 * Why one more connection of uid may not be served, or NULL.  Root may
 * take every slot and has no per-uid cap, so it is answered while others
 * hold all theirs; other uids leave API_ROOT_SLOTS to root, and hold at most
 * max_clients_per_uid each.  When the descriptor limit is what makes the
 * cap, one uid also holds at most half the rest, so it cannot shut out
 * every other user by itself.
 */
static const char *
api_over_cap(const struct api *api, uid_t uid)
{
	unsigned cap = api_cap(api), root = cap / 16, per_uid;

	if (root > API_ROOT_SLOTS)
		root = API_ROOT_SLOTS;
	if (api->clients >= cap)
		return "too many clients";
	if (uid == 0)
		return NULL;
	if (api->clients >= cap - root)
		return "too many clients";
	per_uid = api->conf->daemon.max_clients_per_uid;
	if (api->fd_cap < api->conf->daemon.max_clients && per_uid > (cap - root) / 2)
		per_uid = (cap - root) / 2 > 0 ? (cap - root) / 2 : 1;
	if (api_uid_conns(api, uid) >= per_uid)
		return "too many connections from this uid";
	return NULL;
}

/* Refusals are logged at most once a second, with how many there were. */
static void
api_refuse_log(struct api *api, uid_t uid, const char *why)
{
	int64_t now = time_mono_ms();

	api->refused++;
	if (api->refused_logged_ms != 0 && now - api->refused_logged_ms < API_REFUSE_LOG_MS)
		return;
	log_notice("refused %u connection%s over the client limits (the last from uid %u: %s)",
		   api->refused, api->refused == 1 ? "" : "s", (unsigned)uid, why);
	api->refused = 0;
	api->refused_logged_ms = now;
}

static void
api_linger_end(struct api_linger *l)
{
	if (l->ev == NULL)
		return;
	event_free(l->ev);
	l->ev = NULL;
	close(l->fd);
	l->fd = -1;
}

/* A refused client's late request is read and dropped until it closes. */
static void
api_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_linger *l = arg;
	char junk[4096];
	ssize_t n;

	if (what & EV_READ) {
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n > 0)
			l->drained += (size_t)n;
		if ((n > 0 && l->drained < API_LINGER_BYTES) ||
		    (n < 0 && (errno == EAGAIN || errno == EINTR))) {
			int64_t left = l->until_ms - time_mono_ms();
			struct timeval tv = time_ms_to_tv(left > 0 ? left : 0);

			/* The same deadline, however the client trickles. */
			if (left > 0 && event_add(l->ev, &tv) == 0)
				return;
		}
	}
	api_linger_end(l);
}

/*
 * Answers a connection over the limits with 503 too_many_clients and stops
 * writing to it.  Unless API_LINGER_MAX others already do, a duplicate of fd
 * stays open for a moment, so that a client still sending its request reads
 * the answer rather than a broken pipe.  The caller closes fd.
 */
static void
api_refuse(struct api *api, int fd, const char *why)
{
	struct timeval tv = time_ms_to_tv(API_LINGER_MS);
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *body;
	size_t blen;
	char head[256], junk[4096];
	struct iovec iov[3];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
	struct api_linger *l = NULL;
	size_t drained = 0;
	ssize_t got;
	int n;

	if (g == NULL)
		fatal("out of memory");
	yajl_gen_map_open(g);
	api_gen_kv_str(g, "error", "too_many_clients");
	api_gen_kv_str(g, "message", why);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &body, &blen);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
		     "Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     blen + 1);
	iov[0] = (struct iovec){ head, (size_t)n };
	iov[1] = (struct iovec){ (void *)body, blen };
	iov[2] = (struct iovec){ (void *)"\n", 1 };
	/* What already came is read first: closing over unread data resets. */
	while (drained < API_LINGER_BYTES && (got = recv(fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		drained += (size_t)got;
	(void)sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	yajl_gen_free(g);
	shutdown(fd, SHUT_WR);
	metrics_count_request(api->metrics, 503);
	for (size_t i = 0; i < API_LINGER_MAX && l == NULL; i++)
		if (api->linger[i].ev == NULL)
			l = &api->linger[i];
	if (l == NULL || api->stopping || (l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return;
	l->api = api;
	l->drained = drained;
	l->until_ms = time_mono_ms() + API_LINGER_MS;
	l->ev = event_new(api->base, l->fd, EV_READ, api_linger_cb, l);
	if (l->ev == NULL || event_add(l->ev, &tv) < 0) {
		if (l->ev != NULL)
			event_free(l->ev);
		l->ev = NULL;
		close(l->fd);
		l->fd = -1;
	}
}

/*
 * Admits or refuses one connection evhttp accepted: reads who the peer is,
 * checks the caps, and either records it (counted until its close callback)
 * with the short first-request idle limit, or answers 503 and closes it.
 * busy is a connection whose request is being handled: not freed under
 * its handler, which answers it (it has no record).  Drops our reference
 * to bev.
 */
static void
api_admit_one(struct api *api, struct bufferevent *bev, struct evhttp_connection *busy)
{
	void *cbarg = NULL;
	struct evhttp_connection *evcon;
	struct api_conn *conn;
	struct timeval tv;
	const char *why;
	int fd;

	/* evhttp makes the connection its bufferevent's callback argument. */
	bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
	fd = bufferevent_getfd(bev);
	bufferevent_decref(bev);
	/* Already gone (its callbacks are cleared when evhttp drops it). */
	if ((evcon = cbarg) == NULL || fd < 0)
		return;
	conn = xcalloc(1, sizeof(*conn));
	conn->api = api;
	conn->evcon = evcon;
	conn->fd = fd;
	if (api_conn_peer(conn) < 0) {
		log_warn("cannot read a client's credentials: %s", strerror(errno));
		free(conn);
		if (evcon != busy)
			evhttp_connection_free(evcon);
		return;
	}
	if ((why = api_over_cap(api, conn->uid)) != NULL) {
		api_refuse_log(api, conn->uid, why);
		free(conn);
		if (evcon != busy) {
			api_refuse(api, fd, why);
			evhttp_connection_free(evcon);
		}
		return;
	}
	if ((size_t)fd >= api->nconns_slots) {
		size_t n = (size_t)fd + 64;

		api->conns = xreallocarray(api->conns, n, sizeof(*api->conns));
		memset(api->conns + api->nconns_slots, 0,
		       (n - api->nconns_slots) * sizeof(*api->conns));
		api->nconns_slots = n;
	}
	api->conns[fd] = conn;
	api->clients++;
	api_uid_count(api, conn->uid, 1);
	conn->hello = true;
	tv = time_ms_to_tv(api->conf->daemon.client_timeout_ms < API_HELLO_TIMEOUT_MS
				   ? api->conf->daemon.client_timeout_ms
				   : API_HELLO_TIMEOUT_MS);
	evhttp_connection_set_timeout_tv(evcon, &tv);
	evhttp_connection_set_closecb(evcon, api_conn_close_cb, conn);
}

/* Admits every connection accepted since the last time; busy: as above. */
static void
api_admit_pending(struct api *api, struct evhttp_connection *busy)
{
	/* api_admit_one never accepts, so the list does not grow under us. */
	for (size_t i = 0; i < api->nfresh; i++)
		api_admit_one(api, api->fresh[i], busy);
	api->nfresh = 0;
	api_listen_update(api);
}

static void
api_admit_cb(evutil_socket_t fd, short what, void *arg)
{
	api_admit_pending(arg, NULL);
}

/*
 * evhttp's constructor for an accepted connection's bufferevent: the one
 * point where libevent 2.1 lets us see a connection before its first
 * request.  The fd is not set yet, so the bufferevent is kept (with a
 * reference of ours) and looked at by api_admit_cb, made active now: it
 * runs later in this same turn of the loop, before any read on the new
 * connection.  Stops accepting when a batch waits (api_listen_update()).
 */
static struct bufferevent *
api_bev_cb(struct event_base *base, void *arg)
{
	struct api *api = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

	if (bev == NULL)
		fatal("out of memory");
	if (api->nfresh == api->fresh_slots) {
		api->fresh_slots = api->fresh_slots * 2 + 16;
		api->fresh = xreallocarray(api->fresh, api->fresh_slots, sizeof(*api->fresh));
	}
	bufferevent_incref(bev);
	api->fresh[api->nfresh++] = bev;
	event_active(api->admit, EV_TIMEOUT, 1);
	api_listen_update(api);
	return bev;
}

/*
 * The record of req's connection, made when it was accepted; NULL if it
 * has none (not admitted).  Its first request brings the idle limit up to
 * client_timeout.
 */
static struct api_conn *
api_conn_get(struct api *api, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	struct api_conn *conn;

	/* Admission runs before any request can arrive; this is in case not. */
	if (api->nfresh > 0)
		api_admit_pending(api, evcon);
	if (fd < 0 || (size_t)fd >= api->nconns_slots || (conn = api->conns[fd]) == NULL ||
	    conn->evcon != evcon)
		return NULL;
	if (conn->hello) {
		struct timeval tv = time_ms_to_tv(api->conf->daemon.client_timeout_ms);

		conn->hello = false;
		evhttp_connection_set_timeout_tv(evcon, &tv);
	}
	return conn;
}

/* Every answer, whoever sent it, counted by status code once it is out. */
static void
api_complete_cb(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;

	metrics_count_request(api->metrics, evhttp_request_get_response_code(req));
}

/* Renders the metrics with the credentials' state as it is now, read only. */
static void
api_metrics_snapshot(struct api *api, struct evbuffer *buf)
{
	size_t n = credential_count(api->creds);
	struct metrics_cred *mc = xcalloc(n > 0 ? n : 1, sizeof(*mc));
	struct metrics_snapshot snap = {
		.creds = mc,
		.ncreds = n,
		.waiting = credential_ctx_waiters(api->creds),
		.clients = api->clients,
	};
	int64_t now = time_wall_ms() / 1000;

	for (size_t i = 0; i < n; i++) {
		const struct credential *c = credential_at(api->creds, i);
		struct credential_info info;

		credential_info(c, &info);
		mc[i].name = credential_name(c);
		mc[i].renewals = info.renewals;
		mc[i].failures = info.failures;
		mc[i].up = credential_token(c, 0) != NULL;
		mc[i].expiry_s = info.expires_at > now ? info.expires_at - now : 0;
	}
	metrics_render(api->metrics, &snap, buf);
	free(mc);
}

/* GET /metrics: root and the users and groups of metrics_allow. */
static void
api_get_metrics(struct api_conn *conn, struct evhttp_request *req, const char *name,
		struct evkeyvalq *q)
{
	const struct daemon_conf *dc = &conn->api->conf->daemon;
	struct evbuffer *buf;

	if (!conf_ids_allow(&dc->metrics_allow_users, &dc->metrics_allow_groups, conn->uid,
			    conn->gids, conn->ngids)) {
		api_errorf(req, 403, "forbidden", "uid %u may not read metrics (see metrics_allow)",
			   (unsigned)conn->uid);
		return;
	}
	buf = evbuffer_new();
	if (buf == NULL)
		fatal("out of memory");
	api_metrics_snapshot(conn->api, buf);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void
api_request_cb(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct evkeyvalq query = { 0 };
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *qs = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	char name[CONF_NAME_MAX + 1];
	struct api_conn *conn;
	bool path_known = false;

	evhttp_request_set_on_complete_cb(req, api_complete_cb, api);
	if ((conn = api_conn_get(api, req)) == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		api_error(req, 503, "too_many_clients", "connection not admitted", 0, NULL, 1);
		return;
	}
	if (api->stopping) {
		api_error(req, 503, "stopping", "tokenbrokerd is stopping", 0, NULL, 1);
		return;
	}
	log_debug("uid %u: %s %s", (unsigned)conn->uid, api_method_name(method),
		  path != NULL ? path : "?");
	if (path == NULL) {
		api_error(req, 400, "bad_request", "malformed request line", 0, NULL, 0);
		return;
	}
	if (qs != NULL && api_query_parse(req, qs, &query) < 0)
		return;
	for (size_t i = 0; i < ELEMENTSOF(api_routes); i++) {
		if (!api_route_match(api_routes[i].pattern, path, name))
			continue;
		path_known = true;
		if (api_routes[i].method != method)
			continue;
		api_routes[i].handler(conn, req, name, &query);
		evhttp_clear_headers(&query);
		return;
	}
	evhttp_clear_headers(&query);
	if (path_known)
		api_errorf(req, 405, "method_not_allowed", "%s is not allowed here",
			   api_method_name(method));
	else
		api_error(req, 404, "not_found", "no such resource", 0, NULL, 0);
}

static void
api_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api *api = arg;

	api->paused = false;
	api_listen_update(api);
}

/*
 * The servers in this process.  evhttp_bind_listener makes the listener's
 * user data its struct evhttp, so the accept error callback gets that, not
 * our struct api: it finds its server here.
 */
static struct api *api_servers;

/* accept() failed: out of descriptors pauses accepting instead of spinning. */
static void
api_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct api *api;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = time_ms_to_tv(API_ACCEPT_PAUSE_MS);

	for (api = api_servers; api != NULL && api->listener != lev; api = api->next)
		;
	log_warn("cannot accept a client: %s; pausing for %dms", strerror(err),
		 API_ACCEPT_PAUSE_MS);
	if (api == NULL) {
		evconnlistener_disable(lev);
		return;
	}
	api->paused = true;
	api_listen_update(api);
	evtimer_add(api->resume, &tv);
}

/* Whether something answers on the socket at path. */
static bool
api_socket_live(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	return connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
}

/*
 * Creates the listening socket at the configured path: owner-only while it
 * is bound (umask), then the configured group and mode.
 */
static int
api_socket_create(const struct daemon_conf *dc, char **cause)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	int r;

	if (strlen(dc->socket) >= sizeof(sa.sun_path)) {
		*cause = xasprintf("socket path %s is too long", dc->socket);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, dc->socket);
	if (lstat(dc->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*cause = xasprintf("%s exists and is not a socket", dc->socket);
			return -EEXIST;
		}
		if (api_socket_live(&sa)) {
			*cause = xasprintf("another daemon is listening on %s", dc->socket);
			return -EADDRINUSE;
		}
		if (unlink(dc->socket) < 0 && errno != ENOENT) {
			*cause = xasprintf("cannot remove stale socket %s: %s", dc->socket,
					   strerror(errno));
			return -errno;
		}
		log_info("replaced stale socket %s", dc->socket);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = xasprintf("cannot create socket: %s", strerror(errno));
		return -errno;
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		r = -errno;
		*cause = xasprintf("cannot bind %s: %s", dc->socket, strerror(errno));
		return r;
	}
	if ((dc->socket_group_set && chown(dc->socket, (uid_t)-1, dc->socket_group) < 0) ||
	    chmod(dc->socket, dc->socket_mode) < 0) {
		r = -errno;
		*cause = xasprintf("cannot set owner or mode of %s: %s", dc->socket,
				   strerror(errno));
		unlink(dc->socket);
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		*cause = xasprintf("cannot listen on %s: %s", dc->socket, strerror(errno));
		unlink(dc->socket);
		return r;
	}
	return TAKE_FD(fd);
}

/* Slow or idle clients: evhttp closes a connection quiet for client_timeout. */
static void
api_set_timeout(struct api *api)
{
	struct timeval tv = time_ms_to_tv(api->conf->daemon.client_timeout_ms);

	evhttp_set_timeout_tv(api->http, &tv);
}

struct api *
api_new(struct event_base *base, const struct conf *conf, struct credential_ctx *creds,
	struct metrics *metrics, int listen_fd, char **cause)
{
	struct api *api = xcalloc(1, sizeof(*api));
	int fd = listen_fd;

	api->base = base;
	api->metrics = metrics;
	api->conf = conf;
	api->creds = creds;
	if (fd < 0) {
		if ((fd = api_socket_create(&conf->daemon, cause)) < 0) {
			free(api);
			return NULL;
		}
		api->path = xstrdup(conf->daemon.socket);
	} else {
		evutil_make_socket_nonblocking(fd);
	}
	api->fd_cap = api_fd_cap(&conf->daemon);
	/*
	 * Backlog 0: the socket listens already (SOMAXCONN, or the .socket
	 * unit's Backlog=); -1 would make it listen again with 128, which a
	 * burst of connections fills, failing other clients' connect().
	 */
	api->listener = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
					   LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	api->listening = true;
	api->http = evhttp_new(base);
	api->resume = evtimer_new(base, api_resume_cb, api);
	api->admit = event_new(base, -1, 0, api_admit_cb, api);
	for (size_t i = 0; i < API_LINGER_MAX; i++)
		api->linger[i].fd = -1;
	if (api->listener == NULL || api->http == NULL || api->resume == NULL ||
	    api->admit == NULL || evhttp_bind_listener(api->http, api->listener) == NULL) {
		*cause = xstrdup("cannot set up the HTTP server");
		if (api->listener == NULL)
			close(fd);
		return api_free(api);
	}
	evconnlistener_set_error_cb(api->listener, api_accept_error_cb);
	api->next = api_servers;
	api_servers = api;
	evhttp_set_bevcb(api->http, api_bev_cb, api);
	evhttp_set_max_headers_size(api->http, API_MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(api->http, API_MAX_BODY_SIZE);
	api_set_timeout(api);
	/* Every method reaches the router, which answers 405 in JSON. */
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						      EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(api->http, api_request_cb, api);
	return api;
}

int
api_set_conf(struct api *api, const struct conf *conf)
{
	const struct daemon_conf *old = &api->conf->daemon, *dc = &conf->daemon;
	int r = 0;

	if (api->path != NULL) {
		if (strcmp(old->socket, dc->socket) != 0) {
			log_warn("socket: %s -> %s needs a restart; still listening on %s",
				 old->socket, dc->socket, api->path);
			r = 1;
		}
		if ((dc->socket_group_set && chown(api->path, (uid_t)-1, dc->socket_group) < 0) ||
		    chmod(api->path, dc->socket_mode) < 0)
			log_warn("cannot set owner or mode of %s: %s", api->path, strerror(errno));
	} else if (strcmp(old->socket, dc->socket) != 0 || old->socket_mode != dc->socket_mode ||
		   old->socket_group_set != dc->socket_group_set ||
		   old->socket_group != dc->socket_group) {
		log_notice("socket settings are ignored under socket activation: the .socket "
			   "unit sets them");
	}
	api->conf = conf;
	api->fd_cap = api_fd_cap(dc);
	api_set_timeout(api);
	api_listen_update(api);
	return r;
}

void
api_shutdown(struct api *api)
{
	api->stopping = true;
	api_listen_update(api);
	for (size_t fd = 0; fd < api->nconns_slots; fd++) {
		struct api_conn *conn = api->conns[fd];
		struct api_req *ar;

		if (conn == NULL || (ar = conn->pending) == NULL)
			continue;
		credential_waiter_cancel(ar->waiter);
		ar->waiter = NULL;
		evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Connection", "close");
		api_error(ar->req, 503, "stopping", "tokenbrokerd is stopping", 0, NULL, 1);
		api_req_free(ar);
	}
}

struct api *
api_free(struct api *api)
{
	if (api == NULL)
		return NULL;
	for (struct api **p = &api_servers; *p != NULL; p = &(*p)->next) {
		if (*p == api) {
			*p = api->next;
			break;
		}
	}
	api->stopping = true;
	/* Fresh connections are evhttp's; only our references go. */
	for (size_t i = 0; i < api->nfresh; i++)
		bufferevent_decref(api->fresh[i]);
	api->nfresh = 0;
	free(api->fresh);
	for (size_t i = 0; i < API_LINGER_MAX; i++)
		api_linger_end(&api->linger[i]);
	if (api->http != NULL) {
		api->listener = NULL; /* evhttp's now, freed with it */
		evhttp_free(api->http); /* closes connections: close callbacks free them */
	}
	else if (api->listener != NULL)
		evconnlistener_free(api->listener);
	if (api->resume != NULL)
		event_free(api->resume);
	if (api->admit != NULL)
		event_free(api->admit);
	if (api->path != NULL) {
		unlink(api->path);
		free(api->path);
	}
	free(api->conns);
	free(api->uids);
	free(api);
	return NULL;
}
