#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* A client connection, known from its first request until it closes. */
struct api_conn {
	struct api *api;
	struct evhttp_connection *evcon;
	int fd;
	uid_t uid;
	gid_t gids[API_MAX_GROUPS]; /* primary first, then supplementary */
	size_t ngids;
	pid_t pid;
	unsigned uid_conns; /* connections of this uid when this one came */
	struct api_req *pending; /* a request waiting for a token */
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
	uint64_t renewals; /* the credential's count when a renew was asked for */
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
	bool stopping;
	struct api *next; /* in api_servers */
};

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

/* The token answer: JSON, or the bare token for Accept: text/plain. */
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
		yajl_gen_bool(g, info.renewals > ar->renewals);
		if (info.renewals <= ar->renewals)
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
	if (renew) {
		struct credential_info info;

		credential_info(c, &info);
		/* A token a moment old is the answer to a renew: it counts as renewed. */
		ar->renewals = info.renewals - (info.fresh && info.renewals > 0 ? 1 : 0);
	}
	if (renew)
		r = credential_renew(c, wait_s * 1000, api_wait_cb, ar, &ar->waiter, &retry_after_s);
	else
		r = credential_get(c, min_valid_s * 1000, wait_s * 1000, api_wait_cb, ar,
				   &ar->waiter, &retry_after_s);
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

static void
api_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct api_conn *conn = arg;
	struct api *api = conn->api;

	api_uid_count(api, conn->uid, -1);
	if (conn->pending != NULL) {
		credential_waiter_cancel(conn->pending->waiter);
		api_req_free(conn->pending);
	}
	if ((size_t)conn->fd < api->nconns_slots && api->conns[conn->fd] == conn)
		api->conns[conn->fd] = NULL;
	api->clients--;
	free(conn);
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

/* The record of req's connection, made at its first request. NULL: refused. */
static struct api_conn *
api_conn_get(struct api *api, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	struct api_conn *conn;

	if (fd < 0)
		return NULL;
	if ((size_t)fd < api->nconns_slots && api->conns[fd] != NULL &&
	    api->conns[fd]->evcon == evcon)
		return api->conns[fd];
	if ((size_t)fd >= api->nconns_slots) {
		size_t n = (size_t)fd + 64;

		api->conns = xreallocarray(api->conns, n, sizeof(*api->conns));
		memset(api->conns + api->nconns_slots, 0,
		       (n - api->nconns_slots) * sizeof(*api->conns));
		api->nconns_slots = n;
	}
	conn = xcalloc(1, sizeof(*conn));
	conn->api = api;
	conn->evcon = evcon;
	conn->fd = fd;
	if (api_conn_peer(conn) < 0) {
		free(conn);
		return NULL;
	}
	api->conns[fd] = conn;
	api->clients++;
	conn->uid_conns = api_uid_count(api, conn->uid, 1);
	evhttp_connection_set_closecb(evcon, api_conn_close_cb, conn);
	return conn;
}

/* Every answer, whoever sent it, counted by status code once it is out. */
static void
api_complete_cb(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;

	metrics_count_request(api->metrics, evhttp_request_get_response_code(req));
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
	metrics_render(conn->api->metrics, conn->api->creds, conn->api->clients, buf);
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
		evhttp_send_error(req, 500, "cannot read peer credentials");
		return;
	}
	if (api->clients > api->conf->daemon.max_clients) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		api_error(req, 503, "too_many_clients", "too many clients", 0, NULL, 1);
		return;
	}
	if (api->conf->daemon.max_clients_per_uid > 0 && conn->uid != 0 &&
	    conn->uid_conns > api->conf->daemon.max_clients_per_uid) {
		log_notice("uid %u has more than %u connections; refusing one", (unsigned)conn->uid,
			   api->conf->daemon.max_clients_per_uid);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		api_error(req, 503, "too_many_clients", "too many connections from this uid", 0,
			  NULL, 1);
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

	if (!api->stopping)
		evconnlistener_enable(api->listener);
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
	evconnlistener_disable(lev);
	if (api != NULL)
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
	api->listener = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
					   LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	api->http = evhttp_new(base);
	api->resume = evtimer_new(base, api_resume_cb, api);
	if (api->listener == NULL || api->http == NULL || api->resume == NULL ||
	    evhttp_bind_listener(api->http, api->listener) == NULL) {
		*cause = xstrdup("cannot set up the HTTP server");
		if (api->listener == NULL)
			close(fd);
		return api_free(api);
	}
	evconnlistener_set_error_cb(api->listener, api_accept_error_cb);
	api->next = api_servers;
	api_servers = api;
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
	api_set_timeout(api);
	return r;
}

void
api_shutdown(struct api *api)
{
	api->stopping = true;
	if (api->listener != NULL)
		evconnlistener_disable(api->listener);
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
	if (api->http != NULL)
		evhttp_free(api->http); /* closes connections: close callbacks free them */
	else if (api->listener != NULL)
		evconnlistener_free(api->listener);
	if (api->resume != NULL)
		event_free(api->resume);
	if (api->path != NULL) {
		unlink(api->path);
		free(api->path);
	}
	free(api->conns);
	free(api->uids);
	free(api);
	return NULL;
}

unsigned
api_clients(const struct api *api)
{
	return api->clients;
}
