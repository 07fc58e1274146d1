/*
 * The proxies.  Each [proxy "NAME"] is a listener (listen.c: caps, peer
 * identity) with an evhttp of its own; a request on it becomes a struct
 * proxy_req that goes through these steps:
 *
 *   checks (Host, method, who asks)  ->  a token (now, or after a wait)
 *   ->  the upstream transfer (http.c, streamed)  ->  the response headers:
 *   a rejected token is renewed and the request sent once more, else the
 *   answer starts  ->  body chunks, pausing the transfer while the client's
 *   output is full  ->  the end, or an abort.
 *
 * A request holds its connection with listen_watch: when the connection
 * goes first (the client left, a write failed, the proxy was removed), the
 * transfer and any wait are cancelled and the request is freed once evhttp
 * is done with it.  Nothing here keeps a pointer into the configuration or
 * a credential across turns of the loop: a reload may free them, so each
 * step looks them up anew by the proxy's current settings.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "proxy.h"
#include "reply.h"
#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"

/* How long a request waits for a token when there is none (as ?wait). */
#define PROXY_TOKEN_WAIT_MS 5000
/* Pause the upstream transfer while the client's output holds more. */
#define PROXY_OUT_HIGH (512 * 1024)
/* An aborted answer's queued bytes have this long to go out. */
#define PROXY_FLUSH_MS 5000
#define PROXY_HEADERS_MAX 128
#define PROXY_MAX_HEADERS_SIZE (64 * 1024)
/* Concurrent upstream transfers of all proxies. */
#define PROXY_TRANSFERS_MAX 4096

struct proxy_req;

struct proxy {
	struct proxy_ctx *ctx;
	const struct proxy_conf *pc; /* the current settings */
	char *name;
	char *what; /* "proxy NAME", for messages */
	char listen_digest[65];
	struct evhttp *evh;
	struct listen *ls;
	LIST_HEAD(, proxy_req) reqs;
	unsigned active;
	int last_status;
	int64_t last_forced_ms; /* the last renewal it asked for (monotonic) */
	struct metrics_proxy_stats stats;
};

struct proxy_adopted {
	char *name;
	int fd;
};

struct proxy_ctx {
	struct event_base *base;
	struct http *http;
	struct credential_ctx *creds;
	const struct conf *conf;
	struct proxy **v;
	size_t n;
	struct proxy_adopted *fds;
	size_t nfds;
	bool stopping;
	void (*drained)(void *arg);
	void *drained_arg;
	/* Requests whose connection went, freed on the next turn (or at the end). */
	struct evhttp_request **gone;
	size_t ngone, gone_slots;
	struct event *gone_ev;
};

struct proxy_req {
	struct proxy *p;
	LIST_ENTRY(proxy_req) entry;
	struct evhttp_request *req;
	const struct listen_peer *peer; /* valid while watched */
	struct credential_waiter *waiter;
	struct http_transfer *xfer;
	struct event *defer; /* the next step, out of curl's callbacks */
	void (*next)(struct proxy_req *pr);
	struct evbuffer *chunk;

	char *method;
	char *url;
	char *path; /* without the query, for the access log */
	char **headers; /* the client's, forwarded */
	size_t nheaders;
	const void *body;
	size_t body_len;
	bool has_body;

	uint64_t seen;	    /* the token generation sent */
	int64_t start_us;   /* monotonic, for the access log */
	int64_t sent_us;    /* the current transfer's start */
	int status;	    /* the upstream's, once its headers came */
	bool retried;
	bool replying;	    /* the answer's status line went out */
	bool paused;
	bool gone;	    /* the connection went: freed soon */
};

static void proxy_req_start(struct proxy_req *pr);
static void proxy_req_send(struct proxy_req *pr);
static void proxy_req_free(struct proxy_req *pr);

static int64_t
proxy_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct credential *
proxy_credential(const struct proxy *p)
{
	return credential_lookup(p->ctx->creds, p->pc->credential);
}

/*
 * The access log line of one request (log_access): who asked, what, and
 * the status; never the query or a header.
 */
static void
proxy_log_access(const struct proxy *p, const struct listen_peer *peer, const char *method,
		 const char *path, int status, int64_t start_us)
{
	char uid[16], pid[16], *unit = NULL;
	struct log_field f[5] = {
		{ "PROXY", p->name },
		{ "CREDENTIAL", p->pc->credential },
		{ "CALLER_UID", uid },
		{ "CALLER_PID", peer->pid > 0 ? pid : NULL },
		{ "CALLER_UNIT", NULL },
	};

	snprintf(uid, sizeof(uid), "%u", (unsigned)peer->uid);
	snprintf(pid, sizeof(pid), "%d", (int)peer->pid);
	if (listen_peer_unit(peer, &unit) == 0)
		f[4].value = unit;
	log_fields(LOG_INFO, f, ELEMENTSOF(f), "proxy %s: uid %s%s%s%s%s: %s %s -> %d in %lld ms",
		   p->name, uid, peer->pid > 0 ? " pid " : "", peer->pid > 0 ? pid : "",
		   unit != NULL ? " unit " : "", unit != NULL ? unit : "",
		   method != NULL ? method : "?", path != NULL ? path : "?", status,
		   (long long)((proxy_now_us() - start_us) / 1000));
	free(unit);
}

/* An answer with status went to a client of p (or was cut off). */
static void
proxy_count_answer(struct proxy *p, int status)
{
	p->last_status = status;
	metrics_proxy_count(&p->stats, status);
}

/* Counts an answer that went out (or was cut off) and logs it if asked. */
static void
proxy_account(struct proxy_req *pr, int status)
{
	struct proxy *p = pr->p;
	const struct conf *conf = p->ctx->conf;

	proxy_count_answer(p, status);
	if (conf != NULL && conf->daemon.log_access && pr->peer != NULL)
		proxy_log_access(p, pr->peer, pr->method, pr->path, status, pr->start_us);
}

/* Calls the drained callback once nothing is in flight while stopping. */
static void
proxy_ctx_check_drained(struct proxy_ctx *ctx)
{
	void (*cb)(void *) = ctx->drained;

	if (!ctx->stopping || cb == NULL || proxy_ctx_active(ctx) > 0)
		return;
	ctx->drained = NULL;
	cb(ctx->drained_arg);
}

/* Every answer that went out whole, counted once it is written. */
static void
proxy_complete_cb(struct evhttp_request *req, void *arg)
{
	struct proxy_req *pr = arg;
	struct proxy_ctx *ctx = pr->p->ctx;

	proxy_account(pr, evhttp_request_get_response_code(req));
	listen_release(pr->peer);
	listen_request_done(pr->p->ls, req);
	pr->req = NULL; /* evhttp frees it */
	proxy_req_free(pr);
	proxy_ctx_check_drained(ctx);
}

/* A refusal the proxy made itself went out: the next request is due. */
static void
proxy_refused_cb(struct evhttp_request *req, void *arg)
{
	struct proxy *p = arg;

	listen_request_done(p->ls, req);
}

/* Connections went; evhttp is done with their requests: ours to free. */
static void
proxy_gone_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_ctx *ctx = arg;

	for (size_t i = 0; i < ctx->ngone; i++)
		evhttp_request_free(ctx->gone[i]);
	ctx->ngone = 0;
}

/*
 * The connection closes under a request (the client left, a write failed,
 * an abort, the proxy's removal).  Called from evhttp's close callback,
 * before evhttp lets go of the request: it is made ours (so evhttp does not
 * free it) and freed on the next turn of the loop.
 */
static void
proxy_gone_cb(void *arg)
{
	struct proxy_req *pr = arg;
	struct proxy_ctx *ctx = pr->p->ctx;
	struct evhttp_request *req = pr->req;

	log_debug("proxy %s: client gone", pr->p->name);
	if (pr->replying)
		proxy_account(pr, evhttp_request_get_response_code(req));
	if (req != NULL) {
		evhttp_request_own(req);
		if (ctx->ngone == ctx->gone_slots) {
			ctx->gone_slots = ctx->gone_slots * 2 + 8;
			ctx->gone = xreallocarray(ctx->gone, ctx->gone_slots, sizeof(*ctx->gone));
		}
		ctx->gone[ctx->ngone++] = req;
		event_active(ctx->gone_ev, EV_TIMEOUT, 1);
	}
	pr->req = NULL;
	pr->peer = NULL;
	pr->gone = true;
	proxy_req_free(pr);
	proxy_ctx_check_drained(ctx);
}

static void
proxy_req_free(struct proxy_req *pr)
{
	struct proxy *p = pr->p;

	if (pr->waiter != NULL)
		credential_waiter_cancel(pr->waiter);
	if (pr->xfer != NULL)
		http_cancel(pr->xfer);
	if (pr->defer != NULL)
		event_free(pr->defer);
	if (pr->chunk != NULL)
		evbuffer_free(pr->chunk);
	for (size_t i = 0; i < pr->nheaders; i++)
		free(pr->headers[i]);
	free(pr->headers);
	free(pr->method);
	free(pr->url);
	free(pr->path);
	LIST_REMOVE(pr, entry);
	p->active--;
	free(pr);
}

/*
 * An answer of the proxy's own (an error): JSON as the socket API's, with
 * the upstream's status where it is the cause.
 */
static void
proxy_error(struct proxy_req *pr, int status, const char *code, const char *msg,
	    int64_t retry_after_s)
{
	reply_error(pr->req, status, code, msg, 0, NULL, retry_after_s);
}

/*
 * An error before a request record exists: counted (and logged, when the
 * caller is known) as it is sent.
 */
static void
proxy_reject(struct proxy *p, struct evhttp_request *req, const struct listen_peer *peer,
	     int status, const char *code, const char *msg)
{
	proxy_count_answer(p, status);
	if (peer != NULL && p->ctx->conf->daemon.log_access) {
		const char *uri = evhttp_request_get_uri(req);
		char *path = uri != NULL ? xstrndup(uri, strcspn(uri, "?")) : NULL;

		proxy_log_access(p, peer, reply_method_name(evhttp_request_get_command(req)), path,
				 status, proxy_now_us());
		free(path);
	}
	reply_error(req, status, code, msg, 0, NULL, status == 503 ? 1 : 0);
}

/* 503 for a credential without a token to give, saying why. */
static void
proxy_unavailable(struct proxy_req *pr, const char *why, int64_t retry_after_s)
{
	struct credential *c = proxy_credential(pr->p);
	struct credential_info info = { 0 };
	char *msg;

	if (c != NULL)
		credential_info(c, &info);
	if (info.last_error != NULL)
		msg = xasprintf("credential %s: %s; last error: %s", pr->p->pc->credential, why,
				info.last_error);
	else
		msg = xasprintf("credential %s: %s", pr->p->pc->credential, why);
	if (retry_after_s <= 0)
		retry_after_s = info.retry_after_s > 0 ? info.retry_after_s : 1;
	reply_error(pr->req, 503, "unavailable", msg, info.upstream_status, info.upstream_error,
		    retry_after_s);
	free(msg);
}

/* Runs fn on the next turn of the loop (out of curl's and evhttp's callbacks). */
static void
proxy_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_req *pr = arg;

	pr->next(pr);
}

static void
proxy_defer(struct proxy_req *pr, void (*fn)(struct proxy_req *pr))
{
	if (pr->defer == NULL && (pr->defer = event_new(pr->p->ctx->base, -1, 0, proxy_defer_cb,
							pr)) == NULL)
		log_fatal("out of memory");
	pr->next = fn;
	event_active(pr->defer, EV_TIMEOUT, 1);
}

/* Whether the token's header is to be added, and if so writes it to *ret. */
static bool
proxy_auth_line(const struct proxy_req *pr, const struct token *t, struct secbuf *ret)
{
	const struct proxy_conf *pc = pr->p->pc;

	if (pc->inject == PROXY_INJECT_IF_ABSENT &&
	    evhttp_find_header(evhttp_request_get_input_headers(pr->req), pc->header) != NULL)
		return false;
	secbuf_add(ret, pc->header, strlen(pc->header));
	secbuf_add(ret, ": ", 2);
	if (pc->header_prefix != NULL) {
		secbuf_add(ret, pc->header_prefix, strlen(pc->header_prefix));
	} else {
		secbuf_add(ret, t->token_type, strlen(t->token_type));
		secbuf_add(ret, " ", 1);
	}
	secbuf_add(ret, t->access_token->data, t->access_token->len);
	secbuf_add(ret, "", 1);
	return true;
}

static bool
proxy_retry_status(const struct proxy_conf *pc, long status)
{
	for (size_t i = 0; i < pc->nretry_statuses; i++)
		if (pc->retry_statuses[i] == status)
			return true;
	return false;
}

/*
 * Hop-by-hop headers (RFC 9110 7.6.1), which are the connection's and do
 * not pass a proxy: the fixed ones, and any the Connection header names.
 */
static bool
proxy_hop_by_hop(const char *name, const char *connection)
{
	static const char *const fixed[] = { "Connection", "Keep-Alive", "TE", "Trailer",
					     "Transfer-Encoding", "Upgrade" };
	size_t len = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		if (strcasecmp(name, fixed[i]) == 0)
			return true;
	if (strncasecmp(name, "Proxy-", 6) == 0)
		return true;
	for (const char *s = connection; s != NULL && *s != '\0';) {
		size_t n;

		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		n = strcspn(s, ", \t");
		if (n == len && strncasecmp(s, name, n) == 0)
			return true;
		s += n;
	}
	return false;
}

/*
 * list and value joined by ", " (a new list when list is NULL; taken):
 * the values of a header given more than once are one list (RFC 9110 5.3).
 */
static char *
proxy_list_add(char *list, const char *value)
{
	char *joined;

	if (list == NULL)
		return xstrdup(value);
	joined = xasprintf("%s, %s", list, value);
	free(list);
	return joined;
}

void
proxy_response_headers(const struct http_header *h, size_t n, struct evkeyvalq *out)
{
	char *connection = NULL;

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, "Connection") == 0)
			connection = proxy_list_add(connection, h[i].value);
	for (size_t i = 0; i < n; i++) {
		if (proxy_hop_by_hop(h[i].name, connection))
			continue;
		evhttp_add_header(out, h[i].name, h[i].value);
	}
	free(connection);
}

/* The response's status and headers: a rejected token, or the answer starts. */
static int
proxy_headers_cb(void *arg, long status, const struct http_header *h, size_t n)
{
	struct proxy_req *pr = arg;
	struct proxy *p = pr->p;
	struct evkeyvalq *out = evhttp_request_get_output_headers(pr->req);

	metrics_proxy_upstream(&p->stats, proxy_now_us() - pr->sent_us);
	pr->status = (int)status;
	if (proxy_retry_status(p->pc, status) && !pr->retried) {
		struct credential *c = proxy_credential(p);
		bool replayable = !pr->has_body || (int64_t)pr->body_len <= p->pc->retry_body_max;
		bool newer = c != NULL && credential_generation(c) != pr->seen;
		bool renewing = c != NULL && credential_state(c) == CREDENTIAL_RENEWING;
		bool may_force = c != NULL &&
				 timeutil_mono_ms() - p->last_forced_ms >=
					 credential_conf(c)->backoff_min_ms;

		log_info("proxy %s: the upstream answered %ld to token %s", p->name, status,
			 newer ? "(an older one)" : "(the current one)");
		if (replayable && (newer || renewing || may_force)) {
			pr->xfer = NULL; /* http.c frees it */
			proxy_defer(pr, proxy_req_start);
			pr->retried = true;
			return -1;
		}
		if (!newer && !renewing && may_force) {
			struct credential_waiter *w = NULL;
			int64_t ra;

			/* Not replayed, but the next request gets a new token. */
			p->last_forced_ms = timeutil_mono_ms();
			if (credential_renew(c, pr->seen, 0, NULL, NULL, &w, &ra) == 1)
				credential_waiter_cancel(w);
		}
	}
	proxy_response_headers(h, n, out);
	pr->replying = true;
	evhttp_send_reply_start(pr->req, (int)status, NULL);
	return 0;
}

/* The client's output drained: the transfer goes on. */
static void
proxy_drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct proxy_req *pr = arg;

	if (!pr->paused || pr->xfer == NULL)
		return;
	pr->paused = false;
	http_stream_resume(pr->xfer);
}

/* Body bytes: to the client, pausing while its output is full. */
static int
proxy_data_cb(void *arg, const void *data, size_t len)
{
	struct proxy_req *pr = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(pr->req);
	struct evbuffer *out;

	if (evcon == NULL)
		return 1; /* the connection is going: its close callback comes */
	out = bufferevent_get_output(evhttp_connection_get_bufferevent(evcon));
	if (pr->chunk == NULL && (pr->chunk = evbuffer_new()) == NULL)
		log_fatal("out of memory");
	if (evbuffer_add(pr->chunk, data, len) < 0)
		log_fatal("out of memory");
	if (evbuffer_get_length(out) + len < PROXY_OUT_HIGH) {
		evhttp_send_reply_chunk(pr->req, pr->chunk);
		return 0;
	}
	pr->paused = true;
	evhttp_send_reply_chunk_with_cb(pr->req, pr->chunk, proxy_drained_cb, pr);
	return 1;
}

/* What an aborted answer had queued is out, or cannot go: the connection goes. */
static void
proxy_flushed_cb(struct bufferevent *bev, void *arg)
{
	evhttp_connection_free(arg); /* proxy_gone_cb frees pr */
}

static void
proxy_flush_failed_cb(struct bufferevent *bev, short what, void *arg)
{
	evhttp_connection_free(arg);
}

/*
 * Drops the client's connection: an answer already started cannot be
 * fixed.  What was queued for the client still goes out first (the most
 * it can be told), but never the end of the answer (no last chunk), so it
 * cannot be taken for whole.  evhttp hears nothing more of the connection:
 * its callbacks are set aside until the close, within PROXY_FLUSH_MS.
 */
static void
proxy_abort(struct proxy_req *pr)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(pr->req);
	struct bufferevent *bev;
	struct timeval tv = timeutil_ms_to_tv(PROXY_FLUSH_MS);

	if (evcon == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(evcon);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		evhttp_connection_free(evcon); /* proxy_gone_cb frees pr */
		return;
	}
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, proxy_flushed_cb, proxy_flush_failed_cb, evcon);
	bufferevent_set_timeouts(bev, NULL, &tv);
	bufferevent_enable(bev, EV_WRITE);
}

static void
proxy_end_cb(void *arg, enum http_stream_end how, const char *error)
{
	struct proxy_req *pr = arg;
	struct proxy *p = pr->p;
	char *msg;

	pr->xfer = NULL; /* http.c frees it after this */
	if (how == HTTP_STREAM_DONE) {
		evhttp_send_reply_end(pr->req); /* proxy_complete_cb when it is out */
		return;
	}
	log_info("proxy %s: %s %s: %s", p->name, pr->method, pr->path, error);
	if (pr->replying) {
		proxy_abort(pr);
		return;
	}
	msg = xasprintf("upstream %s: %s", p->pc->upstream_host, error);
	proxy_error(pr, how == HTTP_STREAM_TIMEOUT ? 504 : 502,
		    how == HTTP_STREAM_TIMEOUT ? "upstream_timeout" : "upstream_unreachable", msg, 0);
	free(msg);
}

/* Sends the request upstream with the token served now. */
static void
proxy_req_send(struct proxy_req *pr)
{
	static const struct http_stream_cbs cbs = { proxy_headers_cb, proxy_data_cb, proxy_end_cb };
	struct proxy *p = pr->p;
	struct credential *c = proxy_credential(p);
	const struct token *t = c != NULL ? credential_token(c, 0) : NULL;
	const char **lines = xcalloc(pr->nheaders + 1, sizeof(*lines));
	struct secbuf auth = { 0 };
	struct http_stream_req r = {
		.method = pr->method,
		.url = pr->url,
		.headers = lines,
		.body = pr->body,
		.body_len = pr->body_len,
		.has_body = pr->has_body,
	};
	struct http_opts o;
	char *cause = NULL;

	if (t == NULL) {
		free(lines);
		proxy_unavailable(pr, "no valid token", 0);
		return;
	}
	for (size_t i = 0; i < pr->nheaders; i++)
		lines[r.nheaders++] = pr->headers[i];
	if (proxy_auth_line(pr, t, &auth))
		lines[r.nheaders++] = auth.data;
	if (pr->retried)
		p->stats.retries++;
	pr->seen = t->generation;
	pr->sent_us = proxy_now_us();
	conf_proxy_http_opts(p->pc, &o);
	pr->xfer = http_stream_start(p->ctx->http, &o, &r, &cbs, pr, &cause);
	secbuf_clear(&auth);
	free(lines);
	if (pr->xfer == NULL) {
		char *msg = xasprintf("upstream %s: %s", p->pc->upstream_host, cause);

		proxy_error(pr, 502, "upstream_unreachable", msg, 0);
		free(msg);
		free(cause);
	}
}

static void
proxy_wait_cb(struct credential *c, enum credential_result result, void *arg)
{
	struct proxy_req *pr = arg;

	pr->waiter = NULL;
	switch (result) {
	case CREDENTIAL_OK:
		if (pr->retried && credential_generation(c) == pr->seen)
			proxy_unavailable(pr, "the upstream rejected the token and no new one came",
					  0);
		else
			proxy_req_send(pr);
		break;
	case CREDENTIAL_GONE:
		proxy_error(pr, 503, "unavailable", "the credential was removed", 1);
		break;
	default:
		proxy_unavailable(pr, result == CREDENTIAL_TIMEOUT ? "no token within 5 s" :
								     "the token request failed",
				  0);
		break;
	}
}

/*
 * Gets a token and sends: the first time any valid one, after a rejection
 * a newer one than the token rejected (one renewal for all who saw it).
 */
static void
proxy_req_start(struct proxy_req *pr)
{
	struct proxy *p = pr->p;
	struct credential *c = proxy_credential(p);
	int64_t retry_after_s = 0;
	int r;

	if (c == NULL) {
		proxy_error(pr, 503, "unavailable", "the proxy's credential is not configured", 1);
		return;
	}
	if (!pr->retried) {
		r = credential_get(c, 0, PROXY_TOKEN_WAIT_MS, proxy_wait_cb, pr, &pr->waiter,
				   &retry_after_s);
	} else {
		if (credential_generation(c) == pr->seen &&
		    credential_state(c) != CREDENTIAL_RENEWING)
			p->last_forced_ms = timeutil_mono_ms();
		r = credential_renew(c, pr->seen, PROXY_TOKEN_WAIT_MS, proxy_wait_cb, pr,
				     &pr->waiter, &retry_after_s);
		if (r == 0 && credential_generation(c) == pr->seen) {
			proxy_unavailable(pr, "the upstream rejected the token; no new one before "
					      "the token endpoint's Retry-After",
					  retry_after_s);
			return;
		}
	}
	if (r == 0)
		proxy_req_send(pr);
	else if (r < 0)
		proxy_unavailable(pr, "no valid token", retry_after_s);
}

bool
proxy_host_ok(const struct proxy_conf *pc, const char *host)
{
	const char *names[] = { "localhost", "127.0.0.1", "[::1]", pc->listen_host };
	char port[8], bracketed[64];

	snprintf(port, sizeof(port), "%u", (unsigned)pc->listen_port);
	if (pc->listen_host != NULL && strchr(pc->listen_host, ':') != NULL) {
		snprintf(bracketed, sizeof(bracketed), "[%s]", pc->listen_host);
		names[3] = bracketed;
	}
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		size_t n = names[i] != NULL ? strlen(names[i]) : 0;

		if (n == 0 || strncasecmp(host, names[i], n) != 0)
			continue;
		if (host[n] == '\0' || (host[n] == ':' && strcmp(host + n + 1, port) == 0))
			return true;
	}
	return false;
}

/* A path segment "." or "..", written plainly or percent-encoded. */
static bool
proxy_dot_segment(const char *s, size_t n)
{
	size_t dots = 0;

	for (size_t i = 0; i < n; dots++) {
		if (s[i] == '.')
			i++;
		else if (i + 2 < n + 1 && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e')
			i += 3;
		else
			return false;
	}
	return dots == 1 || dots == 2;
}

const char *
proxy_target_problem(const char *uri)
{
	size_t plen;

	if (uri == NULL || uri[0] != '/')
		return "the request target must be a path (this is not a forward proxy)";
	plen = strcspn(uri, "?#");
	for (const char *s = uri; s < uri + plen;) {
		size_t n;

		s++; /* the '/' */
		n = strcspn(s, "/?#");
		if (s + n > uri + plen)
			n = (size_t)(uri + plen - s);
		if (proxy_dot_segment(s, n))
			return "the path has a \".\" or \"..\" segment";
		s += n;
	}
	for (const char *s = uri; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '#')
			return "the request target has a space, control character or fragment";
	return NULL;
}

/* The peer's groups (TCP peers come without them): from the user database. */
static size_t
proxy_peer_groups(uid_t uid, gid_t *gids, size_t max)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = (int)max;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return 0;
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &n) < 0)
		n = (int)max; /* truncated: the first max */
	return (size_t)n;
}

/*
 * Whether peer may use p: its lists and its credential's.  Root may
 * always.  Returns NULL, or why not (static text).
 */
static const char *
proxy_refusal(const struct proxy *p, const struct listen_peer *peer, const struct cred_conf *cc)
{
	const struct proxy_conf *pc = p->pc;
	gid_t tcp_gids[LISTEN_MAX_GROUPS];
	const gid_t *gids = peer->gids;
	size_t ngids = peer->ngids;

	if (peer->uid == 0)
		return NULL;
	if (peer->tcp && (!pc->allow_groups.any || !cc->allow_groups.any)) {
		ngids = proxy_peer_groups(peer->uid, tcp_gids, LISTEN_MAX_GROUPS);
		gids = tcp_gids;
	}
	if (!conf_ids_allow(&pc->allow_users, &pc->allow_groups, peer->uid, gids, ngids))
		return "not in the proxy's allow_users or allow_groups";
	if (!conf_ids_allow(&cc->allow_users, &cc->allow_groups, peer->uid, gids, ngids))
		return "not in the credential's allow_users or allow_groups";
	if (!listen_peer_in_units(peer, pc->allow_units))
		return "not in one of the proxy's allow_units";
	if (!listen_peer_in_units(peer, cc->allow_units))
		return "not in one of the credential's allow_units";
	return NULL;
}

char *
proxy_upstream_url(const struct proxy_conf *pc, const char *uri)
{
	return xasprintf("%s%s", pc->upstream, uri);
}

char **
proxy_upstream_headers(const struct proxy_conf *pc, const struct evkeyvalq *in, size_t *ret_n)
{
	char **lines, *connection = NULL;
	size_t n = 0;

	for (struct evkeyval *kv = TAILQ_FIRST(in); kv != NULL; kv = TAILQ_NEXT(kv, next)) {
		if (strcasecmp(kv->key, "Connection") == 0)
			connection = proxy_list_add(connection, kv->value);
		n++;
	}
	lines = xcalloc(n > 0 ? n : 1, sizeof(*lines));
	n = 0;
	for (struct evkeyval *kv = TAILQ_FIRST(in); kv != NULL; kv = TAILQ_NEXT(kv, next)) {
		if (proxy_hop_by_hop(kv->key, connection) || strcasecmp(kv->key, "Host") == 0 ||
		    strcasecmp(kv->key, "Content-Length") == 0 ||
		    strcasecmp(kv->key, "Expect") == 0)
			continue;
		if (pc->inject == PROXY_INJECT_REPLACE && strcasecmp(kv->key, pc->header) == 0)
			continue;
		/* "Name;" is how curl sends a header with an empty value */
		lines[n++] = kv->value[0] != '\0' ? xasprintf("%s: %s", kv->key, kv->value) :
						    xasprintf("%s;", kv->key);
	}
	free(connection);
	*ret_n = n;
	return lines;
}

static void
proxy_request_cb(struct evhttp_request *req, void *arg)
{
	struct proxy *p = arg;
	const struct proxy_conf *pc = p->pc;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *host = evhttp_find_header(in, "Host");
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *method = reply_method_name(cmd), *why;
	const struct listen_peer *peer;
	const struct cred_conf *cc;
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct proxy_req *pr;
	char *msg;

	/* A request that is proxied sets its own (proxy_complete_cb). */
	evhttp_request_set_on_complete_cb(req, proxy_refused_cb, p);
	if (!pc->listen_unix && host != NULL && !proxy_host_ok(pc, host)) {
		proxy_reject(p, req, NULL, 421, "misdirected_request",
			     "Host must be localhost, 127.0.0.1 or [::1]: this proxy answers "
			     "local programs only");
		return;
	}
	if (cmd == EVHTTP_REQ_CONNECT || evhttp_find_header(in, "Upgrade") != NULL) {
		proxy_reject(p, req, NULL, 501, "not_implemented",
			     "CONNECT and Upgrade (WebSocket) are not proxied");
		return;
	}
	if ((peer = listen_conn_of(p->ls, req)) == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		proxy_reject(p, req, NULL, 503, "too_many_clients", "connection not admitted");
		return;
	}
	if (p->ctx->stopping) {
		proxy_reject(p, req, peer, 503, "stopping", "tokenbrokerd is stopping");
		return;
	}
	if (method == NULL || (why = proxy_target_problem(uri)) != NULL) {
		proxy_reject(p, req, peer, 400, "bad_request",
			     method == NULL ? "unsupported method" : why);
		return;
	}
	if ((cc = conf_find(p->ctx->conf, pc->credential)) == NULL) {
		proxy_reject(p, req, peer, 503, "unavailable", "the proxy's credential is not configured");
		return;
	}
	if ((why = proxy_refusal(p, peer, cc)) != NULL) {
		msg = xasprintf("uid %u may not use proxy %s: %s", (unsigned)peer->uid, p->name,
				why);
		proxy_reject(p, req, peer, 403, "forbidden", msg);
		free(msg);
		return;
	}

	pr = xcalloc(1, sizeof(*pr));
	pr->p = p;
	pr->req = req;
	pr->peer = peer;
	pr->start_us = proxy_now_us();
	pr->method = xstrdup(method);
	pr->url = proxy_upstream_url(pc, uri);
	pr->path = xstrndup(uri, strcspn(uri, "?"));
	pr->body_len = evbuffer_get_length(body);
	pr->has_body = pr->body_len > 0 || evhttp_find_header(in, "Content-Length") != NULL ||
		       evhttp_find_header(in, "Transfer-Encoding") != NULL;
	pr->body = pr->body_len > 0 ? evbuffer_pullup(body, -1) : NULL;
	pr->headers = proxy_upstream_headers(pc, in, &pr->nheaders);
	LIST_INSERT_HEAD(&p->reqs, pr, entry);
	p->active++;
	listen_watch(peer, proxy_gone_cb, pr);
	evhttp_request_set_on_complete_cb(req, proxy_complete_cb, pr);
	proxy_req_start(pr);
}

static struct proxy *
proxy_free(struct proxy *p)
{
	if (p == NULL)
		return NULL;
	/* Closing the connections frees their requests (proxy_gone_cb). */
	p->ls = listen_free(p->ls);
	if (p->evh != NULL)
		evhttp_free(p->evh);
	free(p->name);
	free(p->what);
	free(p);
	return NULL;
}

/* A socket passed for name, duplicated (the original stays for reloads); or -1. */
static int
proxy_adopted_fd(struct proxy_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nfds; i++)
		if (strcmp(ctx->fds[i].name, name) == 0)
			return fcntl(ctx->fds[i].fd, F_DUPFD_CLOEXEC, 3);
	return -1;
}

static void
proxy_count_refused(void *arg)
{
	proxy_count_answer(arg, 503);
}

/*
 * p's listener settings: its own, with [daemon]'s idle limit and per-uid
 * cap (never above its max_clients); o->what points into p (listen copies
 * it).
 */
static void
proxy_apply_opts(struct proxy *p, const struct daemon_conf *dc, struct listen_opts *o)
{
	const struct proxy_conf *pc = p->pc;

	*o = (struct listen_opts){
		.what = p->what,
		.path = pc->listen_unix ? pc->listen : NULL,
		.tcp_host = pc->listen_host,
		.tcp_port = pc->listen_port,
		.mode = pc->socket_mode,
		.group_set = pc->socket_group_set,
		.group = pc->socket_group,
		.max_clients = pc->max_clients,
		.max_clients_per_uid = dc->max_clients_per_uid < pc->max_clients ?
					       dc->max_clients_per_uid :
					       pc->max_clients,
		.fd_cap = listen_fd_cap(dc),
		.fds_per_client = 2, /* and its upstream connection */
		.client_timeout_ms = dc->client_timeout_ms,
		.refused = proxy_count_refused,
		.refused_arg = p,
	};
}

/* A new proxy for pc, listening; NULL (logged) when it cannot listen. */
static struct proxy *
proxy_new(struct proxy_ctx *ctx, const struct proxy_conf *pc, const struct daemon_conf *dc)
{
	struct proxy *p = xcalloc(1, sizeof(*p));
	struct listen_opts o;
	char *cause = NULL;
	int fd;

	p->ctx = ctx;
	p->pc = pc;
	p->name = xstrdup(pc->name);
	p->what = xasprintf("proxy %s", pc->name);
	memcpy(p->listen_digest, pc->listen_digest, sizeof(p->listen_digest));
	LIST_INIT(&p->reqs);
	p->evh = evhttp_new(ctx->base);
	if (p->evh == NULL)
		log_fatal("out of memory");
	proxy_apply_opts(p, dc, &o);
	fd = proxy_adopted_fd(ctx, pc->name);
	p->ls = listen_new_opts(ctx->base, &o, p->evh, fd, &cause);
	if (p->ls == NULL) {
		log_err("%s:%u: proxy %s: %s", pc->file, pc->line, pc->name, cause);
		free(cause);
		return proxy_free(p);
	}
	evhttp_set_max_headers_size(p->evh, PROXY_MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(p->evh, (ev_ssize_t)pc->max_request_body);
	evhttp_set_default_content_type(p->evh, NULL);
	evhttp_set_allowed_methods(p->evh, REPLY_ALL_METHODS);
	evhttp_set_gencb(p->evh, proxy_request_cb, p);
	if (pc->allow_users.any && pc->allow_groups.any && pc->allow_units == NULL)
		log_notice("proxy %s: no allow_users, allow_groups or allow_units: every local "
			   "user who can connect to %s uses credential %s",
			   pc->name, pc->listen, pc->credential);
	log_info("proxy %s: listening on %s%s for %s", pc->name, pc->listen,
		 fd >= 0 ? " (passed by the service manager)" : "", pc->upstream);
	return p;
}

struct proxy_ctx *
proxy_ctx_new(struct event_base *base, struct http *http, struct credential_ctx *creds)
{
	struct proxy_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->base = base;
	ctx->creds = creds;
	ctx->http = http;
	if ((ctx->gone_ev = event_new(base, -1, 0, proxy_gone_free_cb, ctx)) == NULL)
		log_fatal("out of memory");
	return ctx;
}

void
proxy_ctx_adopt_fd(struct proxy_ctx *ctx, const char *name, int fd)
{
	ctx->fds = xreallocarray(ctx->fds, ctx->nfds + 1, sizeof(*ctx->fds));
	ctx->fds[ctx->nfds++] = (struct proxy_adopted){ xstrdup(name), fd };
}

unsigned
proxy_ctx_load(struct proxy_ctx *ctx, const struct conf *conf)
{
	unsigned failed = 0;

	ctx->conf = conf;
	ctx->v = xcalloc(conf->nproxies > 0 ? conf->nproxies : 1, sizeof(*ctx->v));
	for (size_t i = 0; i < conf->nproxies; i++) {
		struct proxy *p = proxy_new(ctx, conf->proxies[i], &conf->daemon);

		if (p == NULL)
			failed++;
		else
			ctx->v[ctx->n++] = p;
	}
	return failed;
}

unsigned
proxy_ctx_reload(struct proxy_ctx *ctx, const struct conf *conf)
{
	struct proxy **old = ctx->v;
	size_t nold = ctx->n;
	unsigned failed = 0;

	ctx->conf = conf;
	ctx->v = xcalloc(conf->nproxies > 0 ? conf->nproxies : 1, sizeof(*ctx->v));
	ctx->n = 0;
	/* The old set stays findable by name while the new one is built. */
	for (size_t i = 0; i < conf->nproxies; i++) {
		const struct proxy_conf *pc = conf->proxies[i];
		struct proxy *p = NULL;

		for (size_t k = 0; k < nold && p == NULL; k++) {
			if (old[k] != NULL && strcmp(old[k]->name, pc->name) == 0) {
				p = old[k];
				old[k] = NULL;
			}
		}
		if (p != NULL && strcmp(p->listen_digest, pc->listen_digest) == 0) {
			struct listen_opts o;

			p->pc = pc;
			proxy_apply_opts(p, &conf->daemon, &o);
			listen_set_opts(p->ls, &o);
			evhttp_set_max_body_size(p->evh, (ev_ssize_t)pc->max_request_body);
			ctx->v[ctx->n++] = p;
			continue;
		}
		if (p != NULL) {
			log_notice("proxy %s: listener changed to %s", pc->name, pc->listen);
			proxy_free(p);
		} else {
			log_notice("proxy %s: added", pc->name);
		}
		if ((p = proxy_new(ctx, pc, &conf->daemon)) == NULL)
			failed++;
		else
			ctx->v[ctx->n++] = p;
	}
	for (size_t k = 0; k < nold; k++) {
		if (old[k] != NULL) {
			log_notice("proxy %s: removed", old[k]->name);
			proxy_free(old[k]);
		}
	}
	free(old);
	return failed;
}

void
proxy_ctx_shutdown(struct proxy_ctx *ctx, void (*drained)(void *arg), void *arg)
{
	ctx->stopping = true;
	ctx->drained = drained;
	ctx->drained_arg = arg;
	for (size_t i = 0; i < ctx->n; i++)
		listen_shutdown(ctx->v[i]->ls);
	proxy_ctx_check_drained(ctx);
}

struct proxy_ctx *
proxy_ctx_free(struct proxy_ctx *ctx)
{
	if (ctx == NULL)
		return NULL;
	ctx->drained = NULL;
	for (size_t i = 0; i < ctx->n; i++)
		proxy_free(ctx->v[i]);
	free(ctx->v);
	proxy_gone_free_cb(-1, 0, ctx);
	free(ctx->gone);
	event_free(ctx->gone_ev);
	for (size_t i = 0; i < ctx->nfds; i++) {
		close(ctx->fds[i].fd);
		free(ctx->fds[i].name);
	}
	free(ctx->fds);
	free(ctx);
	return NULL;
}

size_t
proxy_count(const struct proxy_ctx *ctx)
{
	return ctx != NULL ? ctx->n : 0;
}

struct proxy *
proxy_at(struct proxy_ctx *ctx, size_t i)
{
	return ctx->v[i];
}

unsigned
proxy_ctx_active(const struct proxy_ctx *ctx)
{
	unsigned n = 0;

	for (size_t i = 0; ctx != NULL && i < ctx->n; i++)
		n += ctx->v[i]->active;
	return n;
}

void
proxy_info(const struct proxy *p, struct proxy_info *ret)
{
	uint64_t requests = 0;

	for (size_t i = 0; i < METRICS_STATUS_END; i++)
		requests += p->stats.requests[i];
	*ret = (struct proxy_info){
		.conf = p->pc,
		.requests = requests,
		.retries = p->stats.retries,
		.last_status = p->last_status,
		.active = p->active,
		.stats = &p->stats,
	};
}
