/*
 * Upstream HTTP: libcurl's multi interface driven by the daemon's libevent
 * loop, after curl's hiperfifo.c.  curl tells us which sockets to watch
 * (http_curl_socket_cb) and when to wake it (http_curl_timer_cb); libevent
 * calls back into curl (http_event_cb, http_timer_cb), and after every such
 * call the finished transfers are collected (http_drain).  User callbacks
 * therefore only ever run from a libevent callback.  A done callback may
 * start and cancel transfers but must not free the struct http.
 *
 * At most max_concurrency transfers are in the multi handle; later ones wait
 * in a FIFO.  A token request is configured once when it is started, so
 * that a bad option is reported by http_start, but one that must wait
 * gives its easy handle back and keeps only its options: thousands of
 * credentials due at once then hold thousands of small records, not of
 * curl handles.  It is configured again when its turn comes.
 *
 * A transfer is a token request (http_start: the body collected, up to
 * TOKEN_BODY_MAX, for the response parser) or a stream (http_stream_start:
 * the proxy's, any method, the response handed over as it arrives, with
 * pausing for backpressure and a timer of its own for the headers).
 */
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "duration.h"
#include "http.h"
#include "token.h"
#include "secbuf.h"
#include "text.h"
#include "timeutil.h"
#include "xmalloc.h"

#define HTTP_USER_AGENT "tokenbroker/0.1"
#define HTTP_RETRY_AFTER_MAX 256 /* longer values are not a Retry-After */
/* A stream's response headers: at most this many, of this many bytes in all. */
#define HTTP_STREAM_HEADERS_MAX 128
#define HTTP_STREAM_HEADER_BYTES (64 * 1024)
/* Easy handles kept for reuse: creating one costs more than a request. */
#define HTTP_IDLE_HANDLES 64
/* What curl reads from an upstream at once, for a stream. */
#define HTTP_STREAM_BUFFER (64 * 1024)

/* One socket curl wants watched; owned by curl via curl_multi_assign. */
struct http_sock {
	struct http *h;
	curl_socket_t fd;
	struct event *ev;
	LIST_ENTRY(http_sock) entry;
};

struct http_transfer {
	struct http *h;
	TAILQ_ENTRY(http_transfer) entry; /* in h->running or h->waiting */
	bool running;

	CURL *easy;
	struct curl_slist *headers; /* holds the Authorization header: wiped */
	struct token_request *req;  /* owned; body is what curl posts */
	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	int64_t started_ms;
	http_done_cb cb;
	void *arg;
	/* A token request waiting without a handle: its options, strings owned. */
	struct http_opts parked;

	char errbuf[CURL_ERROR_SIZE];
	struct secbuf body; /* as it arrives, at most TOKEN_BODY_MAX bytes */
	bool body_too_large;
	char *retry_after;
	struct peercert cert; /* with http_opts.diagnose */

	struct http_stream *stream; /* NULL for a token request */
};

/* What a streaming transfer has beyond a token request's. */
struct http_stream {
	struct http_stream_cbs cbs;
	void *arg;
	char *url;
	struct event *timer;	 /* the response headers' deadline */
	long status;		 /* of the header block being read */
	char *lines[HTTP_STREAM_HEADERS_MAX]; /* its header lines, trimmed */
	size_t nlines;
	size_t line_bytes;
	bool headers_done;	 /* the final response's headers were handed over */
	bool stopped;		 /* the headers callback said stop: free quietly */
	bool timed_out;
	bool too_many_headers;
};

TAILQ_HEAD(http_transfers, http_transfer);

struct http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer; /* curl's own timeout */
	struct event *kick;  /* starts waiting transfers outside http_cancel */
	unsigned max_concurrency;
	unsigned nrunning;
	unsigned nwaiting;
	struct http_transfers running;
	struct http_transfers waiting;
	LIST_HEAD(http_socks, http_sock) socks;
	/* Easy handles of finished streams, reset, for the next ones. */
	CURL *idle[HTTP_IDLE_HANDLES];
	unsigned nidle;
};

/* curl_global_init is not thread-safe and costly: once per process user. */
static unsigned http_global_refs;

static void http_drain(struct http *h);
static void http_pump(struct http *h);

static void
http_slist_free(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* An easy handle with no options set: one kept for reuse, or a new one. */
static CURL *
http_handle_get(struct http *h)
{
	return h->nidle > 0 ? h->idle[--h->nidle] : curl_easy_init();
}

/* Resets easy (it forgets every option) and keeps it for reuse, or frees it. */
static void
http_handle_put(struct http *h, CURL *easy)
{
	if (easy == NULL)
		return;
	if (h->nidle < HTTP_IDLE_HANDLES) {
		curl_easy_reset(easy);
		h->idle[h->nidle++] = easy;
	} else {
		curl_easy_cleanup(easy);
	}
}

static void
http_opts_clear(struct http_opts *o)
{
	free((char *)o->proxy);
	free((char *)o->ca_file);
	free((char *)o->client_cert);
	free((char *)o->client_key);
	memset(o, 0, sizeof(*o));
}

static char *
http_strdup0(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Frees a transfer that is no longer in the multi handle nor in a queue. */
static void
http_stream_lines_clear(struct http_stream *st)
{
	for (size_t i = 0; i < st->nlines; i++)
		free(st->lines[i]);
	st->nlines = 0;
	st->line_bytes = 0;
}

static void
http_stream_free(struct http_stream *st)
{
	if (st == NULL)
		return;
	if (st->timer != NULL)
		event_free(st->timer);
	http_stream_lines_clear(st);
	free(st->url);
	free(st);
}

static void
http_transfer_free(struct http_transfer *t)
{
	struct http *h = t->h;

	/* before what it points to: reset forgets every option */
	http_handle_put(h, t->easy);
	http_opts_clear(&t->parked);
	http_stream_free(t->stream);
	http_slist_free(t->headers);
	request_free(t->req);
	secbuf_clear(&t->body);
	free(t->retry_after);
	peercert_clear(&t->cert);
	explicit_bzero(t, sizeof(*t));
	free(t);
}

/* Takes t out of the multi handle or the queue; it stays allocated. */
static void
http_detach(struct http_transfer *t)
{
	struct http *h = t->h;

	if (t->running) {
		curl_multi_remove_handle(h->multi, t->easy);
		TAILQ_REMOVE(&h->running, t, entry);
		h->nrunning--;
		t->running = false;
	} else {
		TAILQ_REMOVE(&h->waiting, t, entry);
		h->nwaiting--;
	}
}

/* The human text for a failed transfer; caller frees. */
static char *
http_error_text(struct http_transfer *t, CURLcode code)
{
	char d[32];
	size_t n;

	if (t->body_too_large)
		return xasprintf("response body larger than %d bytes", TOKEN_BODY_MAX);
	if (code == CURLE_OPERATION_TIMEDOUT) {
		curl_off_t connect_us = 0;
		int64_t limit = t->timeout_ms;

		(void)curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &connect_us);
		if (connect_us == 0) {
			if (t->connect_timeout_ms > 0 && t->connect_timeout_ms < limit)
				limit = t->connect_timeout_ms;
			return xasprintf("no connection within %s",
					 duration_format(limit, d, sizeof(d)));
		}
		return xasprintf("no answer within %s", duration_format(limit, d, sizeof(d)));
	}
	n = strnlen(t->errbuf, sizeof(t->errbuf));
	while (n > 0 && isspace((unsigned char)t->errbuf[n - 1]))
		n--;
	/*
	 * curl says "Couldn't connect to server" alike for a refused
	 * connection, an unreachable network or host: the system's word tells.
	 */
	if (n > 0 && code == CURLE_COULDNT_CONNECT) {
		long os_errno = 0;

		if (curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
		    os_errno > 0)
			return xasprintf("%.*s (%s)", (int)n, t->errbuf, strerror((int)os_errno));
	}
	if (n > 0)
		return xstrndup(t->errbuf, n);
	return xstrdup(curl_easy_strerror(code));
}

/*
 * Which kind of failure a transfer's code and curl's words are.  TLS
 * failures are told apart by OpenSSL's reason text, which libcurl passes
 * on: it keeps no other account of them.
 */
static enum http_failure
http_failure_of(const struct http_transfer *t, CURLcode code, const char *text)
{
	if (code != CURLE_OK && strstr(text, "CONNECT tunnel failed") != NULL)
		return HTTP_FAIL_PROXY;
	switch (code) {
	case CURLE_OK:
		return HTTP_FAIL_NONE;
	case CURLE_COULDNT_RESOLVE_HOST:
		return HTTP_FAIL_RESOLVE;
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_FAIL_RESOLVE_PROXY;
	case CURLE_COULDNT_CONNECT:
		return HTTP_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return strncmp(text, "no connection", 13) == 0 ? HTTP_FAIL_CONNECT_TIMEOUT :
								HTTP_FAIL_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		if (strstr(text, "name") != NULL && t->cert.problem == PEERCERT_OK)
			return HTTP_FAIL_TLS_NAME;
		return HTTP_FAIL_TLS_CERT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		if (strstr(text, "wrong version number") != NULL)
			return HTTP_FAIL_TLS_PLAIN;
		if (strstr(text, "alert") != NULL)
			return HTTP_FAIL_TLS_ALERT;
		if (t->cert.problem != PEERCERT_OK)
			return HTTP_FAIL_TLS_CERT;
		if (code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CERTPROBLEM)
			return HTTP_FAIL_TLS;
		return HTTP_FAIL_OTHER;
	case CURLE_SSL_CACERT_BADFILE:
		return HTTP_FAIL_TLS;
	default:
		return HTTP_FAIL_OTHER;
	}
}

/*
 * Completes t: builds the result, takes t out of the multi handle or queue,
 * calls the callback, then frees the transfer and the result.  failure, when
 * not NULL, replaces curl's account of what went wrong.
 */
static void http_stream_finish(struct http_transfer *t, CURLcode code);

static void
http_finish(struct http_transfer *t, CURLcode code, const char *failure)
{
	struct http_result res;
	struct secret *body;
	char *ct = NULL;

	if (t->stream != NULL) {
		http_stream_finish(t, code);
		return;
	}
	memset(&res, 0, sizeof(res));
	if (t->running) {
		(void)curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &res.status);
		(void)curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
		res.duration_ms = timeutil_mono_ms() - t->started_ms;
	}
	/* What the server says goes to logs and terminals: as text. */
	if (ct != NULL)
		res.content_type = text_sanitize(ct, strlen(ct), 200);
	res.retry_after = t->retry_after;
	t->retry_after = NULL;

	/* The buffer becomes the secret as it is: no second copy of the body. */
	body = xmalloc(sizeof(*body));
	body->len = t->body.len;
	body->data = secbuf_take(&t->body);
	if (body->data == NULL)
		body->data = xstrdup("");
	res.body = body;
	if (code == CURLE_FILESIZE_EXCEEDED) /* Content-Length said so */
		t->body_too_large = true;
	res.body_too_large = t->body_too_large;
	if (failure != NULL)
		res.error = xstrdup(failure);
	else if (code != CURLE_OK || t->body_too_large)
		res.error = http_error_text(t, code);
	if (res.error != NULL && !t->body_too_large)
		res.failure = http_failure_of(t, code, res.error);
	if (res.status >= 300 && res.status < 400) {
		char *loc = NULL;

		(void)curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &loc);
		res.redirect_url = loc != NULL ? text_sanitize(loc, strlen(loc), 200) : NULL;
	}
	peercert_move(&res.cert, &t->cert);
	res.url = t->req->url;

	http_detach(t);
	t->cb(&res, t->arg);

	free(res.content_type);
	free(res.retry_after);
	secret_free(res.body);
	free(res.error);
	free(res.redirect_url);
	peercert_clear(&res.cert);
	http_transfer_free(t);
}

/* Puts t into the multi handle; curl's timer callback then gets it going. */
static int
http_run(struct http_transfer *t)
{
	struct http *h = t->h;
	CURLMcode mc;

	mc = curl_multi_add_handle(h->multi, t->easy);
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	t->running = true;
	t->started_ms = timeutil_mono_ms();
	TAILQ_INSERT_TAIL(&h->running, t, entry);
	h->nrunning++;
	if (t->stream != NULL && t->timeout_ms > 0) {
		struct timeval tv = timeutil_ms_to_tv(t->timeout_ms);

		evtimer_add(t->stream->timer, &tv);
	}
	return 0;
}

static int http_setup(struct http_transfer *t, const struct http_opts *o, char **cause);

/*
 * A token request that must wait: its options are kept and its handle goes
 * back (headers after the reset: the handle points to them until then).
 */
static void
http_park(struct http_transfer *t, const struct http_opts *o)
{
	t->parked = *o;
	t->parked.proxy = http_strdup0(o->proxy);
	t->parked.ca_file = http_strdup0(o->ca_file);
	t->parked.client_cert = http_strdup0(o->client_cert);
	t->parked.client_key = http_strdup0(o->client_key);
	http_handle_put(t->h, t->easy);
	t->easy = NULL;
	http_slist_free(t->headers);
	t->headers = NULL;
}

/* Its turn: a handle, configured again as when it was started. */
static int
http_unpark(struct http_transfer *t, char **cause)
{
	int r;

	if (t->easy != NULL)
		return 0;
	if ((t->easy = http_handle_get(t->h)) == NULL) {
		*cause = xstrdup("cannot create a curl handle");
		return -ENOMEM;
	}
	r = http_setup(t, &t->parked, cause);
	http_opts_clear(&t->parked);
	return r;
}

/*
 * Starts waiting transfers while slots are free.  Runs only from libevent
 * callbacks, since a transfer that cannot start is completed here.
 */
static void
http_pump(struct http *h)
{
	struct http_transfer *t;

	while (h->nrunning < h->max_concurrency && (t = TAILQ_FIRST(&h->waiting)) != NULL) {
		char *cause = NULL;

		TAILQ_REMOVE(&h->waiting, t, entry);
		h->nwaiting--;
		if (http_unpark(t, &cause) < 0 || http_run(t) < 0) {
			/* http_finish takes it out of a queue: put it back */
			TAILQ_INSERT_HEAD(&h->waiting, t, entry);
			h->nwaiting++;
			http_finish(t, CURLE_FAILED_INIT,
				    cause != NULL ? cause : "cannot start the request");
		}
		free(cause);
	}
}

/* Collects finished transfers after curl did some work. */
static void
http_drain(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_transfer *t = NULL;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result; /* msg dies with remove_handle */
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (t != NULL)
			http_finish(t, code, NULL);
	}
	http_pump(h);
}

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sock *hs = arg;
	struct http *h = hs->h; /* hs may be gone after socket_action */
	int action = 0, still;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(h->multi, fd, action, &still);
	http_drain(h);
}

static void
http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int still;

	(void)curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	http_drain(h);
}

static void
http_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	http_pump(arg);
}

static void
http_sock_free(struct http_sock *hs)
{
	if (hs->ev != NULL)
		event_free(hs->ev);
	LIST_REMOVE(hs, entry);
	free(hs);
}

/* CURLMOPT_SOCKETFUNCTION: watch, re-watch or forget one socket. */
static int
http_curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *hs = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL)
			http_sock_free(hs);
		return 0;
	}
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		hs->h = h;
		hs->fd = fd;
		LIST_INSERT_HEAD(&h->socks, hs, entry);
		if (curl_multi_assign(h->multi, fd, hs) != CURLM_OK) {
			http_sock_free(hs);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (hs->ev == NULL) {
		hs->ev = event_new(h->base, fd, kind, http_event_cb, hs);
	} else {
		/* the same event, watching for something else now */
		event_del(hs->ev);
		event_assign(hs->ev, h->base, fd, kind, http_event_cb, hs);
	}
	if (hs->ev == NULL || event_add(hs->ev, NULL) < 0)
		return -1;
	return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: only arms or disarms our timer; calling curl
 * from here can re-enter the multi handle and loop forever.
 */
static int
http_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(h->timer) < 0 ? -1 : 0;
	if (timeout_ms == 0) {
		/* "at once": in this turn of the loop, not after another poll */
		evtimer_del(h->timer);
		event_active(h->timer, EV_TIMEOUT, 1);
		return 0;
	}
	tv = timeutil_ms_to_tv(timeout_ms);
	return evtimer_add(h->timer, &tv) < 0 ? -1 : 0;
}

/*
 * CURLOPT_WRITEFUNCTION: appends to the body until TOKEN_BODY_MAX; past
 * it, keeps what fits and aborts the transfer.
 */
static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_transfer *t = arg;
	size_t n = size * nmemb, fit = n;

	if (n > TOKEN_BODY_MAX - t->body.len) {
		t->body_too_large = true;
		fit = TOKEN_BODY_MAX - t->body.len;
	}
	secbuf_add(&t->body, data, fit);
	return t->body_too_large ? 0 : n;
}

/*
 * CURLOPT_HEADERFUNCTION: keeps Retry-After, trimmed, from the last
 * response (a status line starts over, as after a proxy's CONNECT answer).
 */
static size_t
http_header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	static const char name[] = "retry-after:";
	struct http_transfer *t = arg;
	size_t n = size * nitems, start = sizeof(name) - 1;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		free(t->retry_after);
		t->retry_after = NULL;
		return n;
	}
	if (n < start || strncasecmp(line, name, start) != 0)
		return n;
	while (start < n && isspace((unsigned char)line[start]))
		start++;
	while (n > start && isspace((unsigned char)line[n - 1]))
		n--;
	free(t->retry_after);
	t->retry_after = NULL;
	if (n > start && n - start <= HTTP_RETRY_AFTER_MAX &&
	    memchr(line + start, '\0', n - start) == NULL)
		t->retry_after = text_sanitize(line + start, n - start, HTTP_RETRY_AFTER_MAX);
	return size * nitems;
}

static bool
http_header_is(const char *header, const char *name)
{
	size_t len = strlen(name);

	return strncasecmp(header, name, len) == 0 && (header[len] == ':' || header[len] == ' ');
}

/* Builds the header list; -EINVAL with *cause for a header curl would split. */
static int
http_build_headers(struct http_transfer *t, char **cause)
{
	const struct token_request *req = t->req;
	bool has_ct = false;
	struct curl_slist *l;

	for (size_t i = 0; i < req->nheaders; i++) {
		if (strpbrk(req->headers[i], "\r\n") != NULL) {
			*cause = xstrdup("request header contains a line break");
			return -EINVAL;
		}
		if (http_header_is(req->headers[i], "Content-Type"))
			has_ct = true;
		if ((l = curl_slist_append(t->headers, req->headers[i])) == NULL)
			goto oom;
		t->headers = l;
	}
	if (!has_ct && !req->get) {
		l = curl_slist_append(t->headers,
				      "Content-Type: application/x-www-form-urlencoded");
		if (l == NULL)
			goto oom;
		t->headers = l;
	}
	if (req->authorization != NULL) {
		if (memchr(req->authorization->data, '\r', req->authorization->len) != NULL ||
		    memchr(req->authorization->data, '\n', req->authorization->len) != NULL) {
			*cause = xstrdup("authorization header contains a line break");
			return -EINVAL;
		}
		if ((l = curl_slist_append(t->headers, req->authorization->data)) == NULL)
			goto oom;
		t->headers = l;
	}
	if ((l = curl_slist_append(t->headers, "Expect:")) == NULL)
		goto oom;
	t->headers = l;
	return 0;
oom:
	*cause = xstrdup("out of memory");
	return -ENOMEM;
}

#define HTTP_SETOPT(t, opt, val)                                             \
	do {                                                                 \
		CURLcode c_ = curl_easy_setopt((t)->easy, (opt), (val));     \
		if (c_ != CURLE_OK) {                                        \
			*cause = xasprintf("cannot set %s: %s", #opt,        \
					   curl_easy_strerror(c_));          \
			return c_ == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL; \
		}                                                            \
	} while (0)

/* CURLOPT_SSL_CTX_FUNCTION, for --test: the server's certificate is recorded. */
static CURLcode
http_ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *arg)
{
	struct http_transfer *t = arg;

	return peercert_watch(ssl_ctx, &t->cert) == 0 ? CURLE_OK : CURLE_OUT_OF_MEMORY;
}

/* How the upstream is reached: connecting, the proxy, TLS. */
static int
http_setup_peer(struct http_transfer *t, const struct http_opts *o, char **cause)
{
	HTTP_SETOPT(t, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	/* "" rather than unset: curl would otherwise obey http_proxy & co */
	HTTP_SETOPT(t, CURLOPT_PROXY, o->proxy != NULL ? o->proxy : "");
	if (o->ca_file != NULL)
		HTTP_SETOPT(t, CURLOPT_CAINFO, o->ca_file);
	if (!o->tls_verify) {
		HTTP_SETOPT(t, CURLOPT_SSL_VERIFYPEER, 0L);
		HTTP_SETOPT(t, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->client_cert != NULL)
		HTTP_SETOPT(t, CURLOPT_SSLCERT, o->client_cert);
	if (o->client_key != NULL)
		HTTP_SETOPT(t, CURLOPT_SSLKEY, o->client_key);
	if (o->diagnose) {
		HTTP_SETOPT(t, CURLOPT_SSL_CTX_FUNCTION, http_ssl_ctx_cb);
		HTTP_SETOPT(t, CURLOPT_SSL_CTX_DATA, t);
		/*
		 * A connection of its own: the context of a kept one would still
		 * point at a transfer that is gone (a renegotiation would write
		 * there), and each request's certificate is recorded.
		 */
		HTTP_SETOPT(t, CURLOPT_FRESH_CONNECT, 1L);
		HTTP_SETOPT(t, CURLOPT_FORBID_REUSE, 1L);
	}
	return 0;
}

/* Configures t's easy handle from o and the request. */
static int
http_setup(struct http_transfer *t, const struct http_opts *o, char **cause)
{
	const struct token_request *req = t->req;
	int r;

	if ((r = http_build_headers(t, cause)) < 0)
		return r;
	HTTP_SETOPT(t, CURLOPT_PRIVATE, t);
	HTTP_SETOPT(t, CURLOPT_ERRORBUFFER, t->errbuf);
	HTTP_SETOPT(t, CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(t, CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(t, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(t, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(t, CURLOPT_URL, req->url);
	if (req->get) {
		HTTP_SETOPT(t, CURLOPT_HTTPGET, 1L);
	} else {
		/* not COPYPOSTFIELDS: the request's wiped body stays the only copy */
		HTTP_SETOPT(t, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body->len);
		HTTP_SETOPT(t, CURLOPT_POSTFIELDS, req->body->data);
	}
	HTTP_SETOPT(t, CURLOPT_HTTPHEADER, t->headers);
	HTTP_SETOPT(t, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	HTTP_SETOPT(t, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	if ((r = http_setup_peer(t, o, cause)) < 0)
		return r;
	HTTP_SETOPT(t, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TOKEN_BODY_MAX);
	HTTP_SETOPT(t, CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(t, CURLOPT_WRITEDATA, t);
	HTTP_SETOPT(t, CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(t, CURLOPT_HEADERDATA, t);
	return 0;
}

struct http *
http_new(struct event_base *base, unsigned max_concurrency)
{
	struct http *h;

	if (http_global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	http_global_refs++;

	h = xcalloc(1, sizeof(*h));
	h->base = base;
	h->max_concurrency = max_concurrency > 0 ? max_concurrency : 1;
	TAILQ_INIT(&h->running);
	TAILQ_INIT(&h->waiting);
	LIST_INIT(&h->socks);
	h->timer = evtimer_new(base, http_timer_cb, h);
	h->kick = event_new(base, -1, 0, http_kick_cb, h);
	h->multi = curl_multi_init();
	if (h->timer == NULL || h->kick == NULL || h->multi == NULL) {
		http_free(h);
		return NULL;
	}
	/*
	 * Idle connections kept for reuse: no more than transfers at once, so
	 * the descriptors upstream requests take stay within what the API
	 * keeps back from clients for them (listen_fd_reserve()).
	 */
	if (curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_curl_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_curl_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK ||
	    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->max_concurrency) !=
		    CURLM_OK) {
		http_free(h);
		return NULL;
	}
	return h;
}

int
http_set_max_idle(struct http *h, unsigned n)
{
	return curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)n) == CURLM_OK ? 0 : -EINVAL;
}

struct http *
http_free(struct http *h)
{
	struct http_transfer *t;
	struct http_sock *hs;

	if (h == NULL)
		return NULL;
	while ((t = TAILQ_FIRST(&h->waiting)) != NULL) {
		http_detach(t);
		http_transfer_free(t);
	}
	while ((t = TAILQ_FIRST(&h->running)) != NULL) {
		http_detach(t);
		http_transfer_free(t);
	}
	while (h->nidle > 0)
		curl_easy_cleanup(h->idle[--h->nidle]);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi); /* may still call our callbacks */
	while ((hs = LIST_FIRST(&h->socks)) != NULL)
		http_sock_free(hs);
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->kick != NULL)
		event_free(h->kick);
	free(h);
	if (--http_global_refs == 0)
		curl_global_cleanup();
	return NULL;
}

/*
 * Runs configured t at once when a slot is free and nobody waits, else
 * queues it, parked when o is given (its options).  Returns t, or NULL
 * with *cause (t freed).
 */
static struct http_transfer *
http_enqueue(struct http_transfer *t, const struct http_opts *o, char **cause)
{
	struct http *h = t->h;

	if (h->nrunning < h->max_concurrency && TAILQ_EMPTY(&h->waiting)) {
		if (http_run(t) < 0) {
			*cause = xstrdup("cannot start the request");
			http_transfer_free(t);
			return NULL;
		}
	} else {
		if (o != NULL)
			http_park(t, o);
		TAILQ_INSERT_TAIL(&h->waiting, t, entry);
		h->nwaiting++;
	}
	return t;
}

/*
 * The transfer is configured now, so every option error surfaces here; it
 * runs at once when a slot is free and nobody waits, else it queues.  o is
 * not needed after this returns (curl copies the strings).  On failure req
 * is freed as well: ownership passes in either case.
 */
struct http_transfer *
http_start(struct http *h, const struct http_opts *o, struct token_request *req,
	   http_done_cb cb, void *arg, char **cause)
{
	struct http_transfer *t;

	t = xcalloc(1, sizeof(*t));
	t->h = h;
	t->req = req;
	t->cb = cb;
	t->arg = arg;
	t->timeout_ms = o->timeout_ms;
	t->connect_timeout_ms = o->connect_timeout_ms;
	if ((t->easy = http_handle_get(h)) == NULL) {
		*cause = xstrdup("cannot create a curl handle");
		http_transfer_free(t);
		return NULL;
	}
	if (http_setup(t, o, cause) < 0) {
		http_transfer_free(t);
		return NULL;
	}
	return http_enqueue(t, o, cause);
}

/* Frees t without calling its callback; a freed slot goes to the next one. */
void
http_cancel(struct http_transfer *t)
{
	struct http *h;
	bool was_running;

	if (t == NULL)
		return;
	h = t->h;
	was_running = t->running;
	http_detach(t);
	http_transfer_free(t);
	if (was_running && !TAILQ_EMPTY(&h->waiting))
		event_active(h->kick, EV_TIMEOUT, 0);
}

unsigned
http_waiting(const struct http *h)
{
	return h->nwaiting;
}

unsigned
http_active(const struct http *h)
{
	return h->nrunning + h->nwaiting;
}

/*
 * Completes a stream: out of the multi handle, the end callback (unless
 * its headers callback stopped it), freed.
 */
static void
http_stream_finish(struct http_transfer *t, CURLcode code)
{
	struct http_stream *st = t->stream;
	enum http_stream_end how = HTTP_STREAM_DONE;
	char *error = NULL, d[32];

	http_detach(t);
	if (st->stopped) {
		http_transfer_free(t);
		return;
	}
	if (st->timed_out) {
		how = HTTP_STREAM_TIMEOUT;
		error = xasprintf("no response headers within %s",
				  duration_format(t->timeout_ms, d, sizeof(d)));
	} else if (st->too_many_headers) {
		how = HTTP_STREAM_FAILED;
		error = xasprintf("response headers longer than %d bytes or %d lines",
				  HTTP_STREAM_HEADER_BYTES, HTTP_STREAM_HEADERS_MAX);
	} else if (code != CURLE_OK) {
		how = HTTP_STREAM_FAILED;
		error = http_error_text(t, code);
	} else if (!st->headers_done) {
		how = HTTP_STREAM_FAILED;
		error = xstrdup("the connection closed before a response");
	}
	st->cbs.end(st->arg, how, error);
	free(error);
	http_transfer_free(t);
}

/* The response headers did not come in time: the transfer ends here. */
static void
http_stream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_transfer *t = arg;

	t->stream->timed_out = true;
	http_finish(t, CURLE_OPERATION_TIMEDOUT, NULL);
}

/* The status of a status line ("HTTP/1.1 200 OK", "HTTP/2 200"), or 0. */
static long
http_status_of(const char *line, size_t n)
{
	size_t i = 5;
	long status = 0;

	while (i < n && line[i] != ' ')
		i++;
	while (i < n && line[i] == ' ')
		i++;
	for (int k = 0; k < 3; k++, i++) {
		if (i >= n || line[i] < '0' || line[i] > '9')
			return 0;
		status = status * 10 + (line[i] - '0');
	}
	return status;
}

/*
 * Hands the final response's headers over: name and value of each line,
 * split at its colon.  Returns what the callback returned.
 */
static int
http_stream_deliver(struct http_stream *st)
{
	struct http_header h[HTTP_STREAM_HEADERS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < st->nlines; i++) {
		char *line = st->lines[i], *colon = strchr(line, ':');
		char *v;

		if (colon == NULL || colon == line)
			continue; /* not a header: dropped, as a proxy must */
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		h[n++] = (struct http_header){ line, v };
	}
	st->headers_done = true;
	evtimer_del(st->timer);
	return st->cbs.headers(st->arg, st->status, h, n);
}

/*
 * CURLOPT_HEADERFUNCTION of a stream: collects one header block per
 * response; the blank line after a final (not 1xx) status hands it over.
 * Trailers after the body are ignored.
 */
static size_t
http_stream_header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct http_transfer *t = arg;
	struct http_stream *st = t->stream;
	size_t n = size * nitems, len = n;

	if (st->headers_done)
		return n;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		http_stream_lines_clear(st);
		st->status = http_status_of(line, len);
		return n;
	}
	if (len == 0) {
		if (st->status < 200)
			return n; /* 1xx: the real answer follows */
		if (http_stream_deliver(st) < 0) {
			st->stopped = true;
			return 0;
		}
		return n;
	}
	if (st->nlines == HTTP_STREAM_HEADERS_MAX ||
	    st->line_bytes + len > HTTP_STREAM_HEADER_BYTES || memchr(line, '\0', len) != NULL) {
		st->too_many_headers = true;
		return 0;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		/* obsolete line folding (RFC 7230 3.2.4): refused, as there */
		st->too_many_headers = true;
		return 0;
	}
	st->lines[st->nlines++] = xstrndup(line, len);
	st->line_bytes += len;
	return n;
}

/* CURLOPT_WRITEFUNCTION of a stream: the body, as it comes. */
static size_t
http_stream_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_transfer *t = arg;
	struct http_stream *st = t->stream;
	size_t n = size * nmemb;

	if (!st->headers_done) /* cannot happen: curl reads headers first */
		return 0;
	/*
	 * Taken either way: pausing from inside the callback with the data
	 * consumed, rather than CURL_WRITEFUNC_PAUSE, which hands the same
	 * bytes over again on resume.
	 */
	if (st->cbs.data(st->arg, data, n) > 0)
		(void)curl_easy_pause(t->easy, CURLPAUSE_RECV);
	return n;
}

static bool
http_stream_has(const struct http_stream_req *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (http_header_is(r->headers[i], name))
			return true;
	return false;
}

static int
http_stream_append(struct http_transfer *t, const char *line, char **cause)
{
	struct curl_slist *l;

	if (strpbrk(line, "\r\n") != NULL) {
		*cause = xstrdup("request header contains a line break");
		return -EINVAL;
	}
	if ((l = curl_slist_append(t->headers, line)) == NULL) {
		*cause = xstrdup("out of memory");
		return -ENOMEM;
	}
	t->headers = l;
	return 0;
}

/*
 * The header list of a stream: the caller's, and empty entries that keep
 * curl from adding its own (Accept, a form Content-Type, Expect).
 */
static int
http_stream_headers(struct http_transfer *t, const struct http_stream_req *r, char **cause)
{
	int rc;

	for (size_t i = 0; i < r->nheaders; i++)
		if ((rc = http_stream_append(t, r->headers[i], cause)) < 0)
			return rc;
	if (!http_stream_has(r, "Accept") && (rc = http_stream_append(t, "Accept:", cause)) < 0)
		return rc;
	if (r->has_body && !http_stream_has(r, "Content-Type") &&
	    (rc = http_stream_append(t, "Content-Type:", cause)) < 0)
		return rc;
	return http_stream_append(t, "Expect:", cause);
}

static int
http_stream_setup(struct http_transfer *t, const struct http_opts *o,
		  const struct http_stream_req *r, char **cause)
{
	int rc;

	if ((rc = http_stream_headers(t, r, cause)) < 0)
		return rc;
	HTTP_SETOPT(t, CURLOPT_PRIVATE, t);
	HTTP_SETOPT(t, CURLOPT_ERRORBUFFER, t->errbuf);
	HTTP_SETOPT(t, CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(t, CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(t, CURLOPT_FOLLOWLOCATION, 0L);
	/* the path as the client sent it (dot segments are refused before) */
	HTTP_SETOPT(t, CURLOPT_PATH_AS_IS, 1L);
	HTTP_SETOPT(t, CURLOPT_URL, t->stream->url);
	HTTP_SETOPT(t, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (strcmp(r->method, "HEAD") == 0) {
		HTTP_SETOPT(t, CURLOPT_NOBODY, 1L);
	} else {
		if (r->has_body) {
			HTTP_SETOPT(t, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
			HTTP_SETOPT(t, CURLOPT_POSTFIELDS, r->body != NULL ? r->body : "");
		}
		if (strcmp(r->method, "GET") != 0 || r->has_body)
			HTTP_SETOPT(t, CURLOPT_CUSTOMREQUEST, r->method);
	}
	HTTP_SETOPT(t, CURLOPT_HTTPHEADER, t->headers);
	if ((rc = http_setup_peer(t, o, cause)) < 0)
		return rc;
	/*
	 * Best effort: a reused handle that still has its buffer (as after an
	 * HTTP/2 transfer) refuses a new size and reads with the one it has.
	 */
	(void)curl_easy_setopt(t->easy, CURLOPT_BUFFERSIZE, (long)HTTP_STREAM_BUFFER);
	HTTP_SETOPT(t, CURLOPT_WRITEFUNCTION, http_stream_write_cb);
	HTTP_SETOPT(t, CURLOPT_WRITEDATA, t);
	HTTP_SETOPT(t, CURLOPT_HEADERFUNCTION, http_stream_header_cb);
	HTTP_SETOPT(t, CURLOPT_HEADERDATA, t);
	return 0;
}

struct http_transfer *
http_stream_start(struct http *h, const struct http_opts *o, const struct http_stream_req *r,
		  const struct http_stream_cbs *cbs, void *arg, char **cause)
{
	struct http_transfer *t = xcalloc(1, sizeof(*t));
	struct http_stream *st = xcalloc(1, sizeof(*st));

	t->h = h;
	t->stream = st;
	t->timeout_ms = o->timeout_ms;
	t->connect_timeout_ms = o->connect_timeout_ms;
	st->cbs = *cbs;
	st->arg = arg;
	st->url = xstrdup(r->url);
	st->timer = evtimer_new(h->base, http_stream_timer_cb, t);
	t->easy = http_handle_get(h);
	if (st->timer == NULL || t->easy == NULL) {
		*cause = xstrdup("cannot create a curl handle");
		http_transfer_free(t);
		return NULL;
	}
	if (http_stream_setup(t, o, r, cause) < 0) {
		http_transfer_free(t);
		return NULL;
	}
	return http_enqueue(t, NULL, cause);
}

void
http_stream_resume(struct http_transfer *t)
{
	if (t != NULL && t->running)
		(void)curl_easy_pause(t->easy, CURLPAUSE_CONT);
}
