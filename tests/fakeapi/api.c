/*
 * api.c: the endpoints under /api/ that a request reaches once auth.c let
 * it through, and the answers that take a while: delays (a timer) and
 * streams of bytes (one chunk queued at a time, the next when the kernel
 * took it), each freed with its connection when the client goes away.
 */

#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "digest.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "fakeapi.h"

/*
 * The pattern /api/bytes sends: byte i is (i * 7 + 3) mod 256, so it
 * repeats every 256 bytes.  Kept API_CHUNK + 256 long, a chunk starting at
 * offset off is the slice from off mod 256.
 */
static unsigned char pattern[API_CHUNK + 256];
static bool pattern_made;

static const unsigned char *
api_pattern(void)
{
	if (!pattern_made) {
		for (size_t i = 0; i < sizeof(pattern); i++)
			pattern[i] = (unsigned char)((i * 7 + 3) & 0xff);
		pattern_made = true;
	}
	return pattern;
}

/* Parses the query of req; 0, or -EINVAL (and the caller answers 400). */
static int
api_query(struct evhttp_request *req, struct form *ret)
{
	const char *q = http_query(req);

	memset(ret, 0, sizeof(*ret));
	return q == NULL ? 0 : form_parse(q, strlen(q), ret);
}

/* --- answers in progress ---------------------------------------------- */

static void
api_pending_free(struct pending *p)
{
	struct fakeapi *fa = p->fa;

	TAILQ_REMOVE(&fa->pending, p, entry);
	fa->n_pending--;
	if (p->evcon != NULL)
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}

/*
 * The connection under an answer in progress goes away (the client hung
 * up).  A request libevent detached from it first is ours to free.
 */
static void
api_pending_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct pending *p = arg;
	struct evhttp_request *req = p->req;

	p->fa->c.aborted++;
	log_info("client went away after %llu bytes of an answer in progress",
	    (unsigned long long)p->off);
	p->evcon = NULL;
	api_pending_free(p);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

static struct pending *
api_pending_new(struct fakeapi *fa, struct evhttp_request *req)
{
	struct pending *p = xcalloc(1, sizeof(*p));

	p->fa = fa;
	p->req = req;
	p->evcon = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(p->evcon, api_pending_close_cb, p);
	TAILQ_INSERT_TAIL(&fa->pending, p, entry);
	fa->n_pending++;
	if (fa->n_pending > fa->c.max_active)
		fa->c.max_active = fa->n_pending;
	return p;
}

/* At exit: forgets every answer in progress; evhttp frees the requests. */
void
api_pending_free_all(struct fakeapi *fa)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&fa->pending)) != NULL)
		api_pending_free(p);
}

/* --- /api/echo ---------------------------------------------------------- */

/* The credentials of an Authorization value (after the scheme), as FP_LEN hex. */
static void
api_auth_fp(const char *value, char out[FP_LEN + 1])
{
	const char *sp = strchr(value, ' ');
	char hex[65];

	if (sp != NULL)
		while (*sp == ' ')
			sp++;
	value = sp != NULL ? sp : value;
	digest_sha256_hex(value, strlen(value), hex);
	memcpy(out, hex, FP_LEN);
	out[FP_LEN] = '\0';
}

void
api_echo(struct fakeapi *fa, struct evhttp_request *req)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const unsigned char *body = evbuffer_pullup(in, -1);
	const struct evkeyval *kv;
	long long n_auth = 0;
	char sha[65], fp[FP_LEN + 1];
	yajl_gen g = json_new();

	digest_sha256_hex(body != NULL ? (const void *)body : "", len, sha);
	json_str(g, "method", http_method(req));
	json_str(g, "path", http_path(req));
	json_str(g, "query", http_query(req));
	json_string(g, "headers");
	yajl_gen_map_open(g);
	TAILQ_FOREACH(kv, h, next) {
		if (strcasecmp(kv->key, "Authorization") == 0) {
			n_auth++;
			api_auth_fp(kv->value, fp);
			json_str(g, "authorization_sha", fp);
		} else if (strcasecmp(kv->key, "Proxy-Authorization") == 0) {
			json_str(g, kv->key, REDACTED);
		} else {
			json_str(g, kv->key, kv->value);
		}
	}
	yajl_gen_map_close(g);
	json_int(g, "authorizations", n_auth);
	json_int(g, "body_len", (long long)len);
	json_str(g, "body_sha256", sha);
	http_json(req, 200, json_finish(g));
}

/* --- /api/bytes --------------------------------------------------------- */

static void api_stream_next(struct pending *p);

static void
api_stream_cb(struct evhttp_connection *evcon, void *arg)
{
	api_stream_next(arg);
}

/* Queues the next chunk of a stream, or ends it when all is sent. */
static void
api_stream_next(struct pending *p)
{
	struct evhttp_request *req = p->req;
	struct evbuffer *chunk;
	size_t len;

	if (p->left == 0) {
		api_pending_free(p);
		evhttp_send_reply_end(req);
		return;
	}
	len = p->left < API_CHUNK ? (size_t)p->left : API_CHUNK;
	chunk = http_buffer_new();
	if (evbuffer_add_reference(chunk, api_pattern() + (p->off & 0xff), len, NULL, NULL) < 0)
		log_fatal("out of memory");
	p->off += len;
	p->left -= len;
	p->fa->c.bytes_sent += len;
	evhttp_send_reply_chunk_with_cb(req, chunk, api_stream_cb, p);
	evbuffer_free(chunk);
}

void
api_bytes(struct fakeapi *fa, struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct form q;
	long long n = -1;
	bool chunked = false;
	const char *v;
	struct pending *p;
	char path[81];

	if (api_query(req, &q) < 0 || (v = form_get(&q, "n")) == NULL ||
	    util_parse_ll(v, 0, API_BYTES_MAX, &n) < 0 ||
	    ((v = form_get(&q, "chunked")) != NULL && util_parse_bool(v, &chunked) < 0)) {
		form_clear(&q);
		http_error(req, 400, "invalid_request", "use ?n=BYTES[&chunked=1]");
		return;
	}
	form_clear(&q);
	evhttp_add_header(out, "Content-Type", "application/octet-stream");
	if (!chunked || n == 0) {
		_cleanup_free_ char *cl = xasprintf("%lld", n);

		evhttp_add_header(out, "Content-Length", cl);
	}
	if (n == 0 || evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		http_send(req, 200, NULL);
		return;
	}
	util_log_safe(http_path(req), path);
	log_info("%s %s: 200, %lld bytes%s", http_method(req), path, n, chunked ? " chunked" : "");
	evhttp_send_reply_start(req, 200, "OK");
	fa->c.streams++;
	p = api_pending_new(fa, req);
	p->left = (uint64_t)n;
	api_stream_next(p);
}

/* --- /api/delay, /api/status, the rest ------------------------------------ */

static void
api_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct evhttp_request *req = p->req;
	long long ms = p->delay_ms;
	yajl_gen g;

	api_pending_free(p);
	g = json_new();
	json_int(g, "delayed_ms", ms);
	http_json(req, 200, json_finish(g));
}

void
api_delay(struct fakeapi *fa, struct evhttp_request *req)
{
	struct form q;
	long long ms = -1;
	const char *v;
	struct pending *p;
	struct timeval tv;

	if (api_query(req, &q) < 0 || (v = form_get(&q, "ms")) == NULL ||
	    util_parse_ll(v, 0, API_DELAY_MAX_MS, &ms) < 0) {
		form_clear(&q);
		http_error(req, 400, "invalid_request", "use ?ms=MILLISECONDS");
		return;
	}
	form_clear(&q);
	p = api_pending_new(fa, req);
	p->delay_ms = ms;
	p->timer = evtimer_new(fa->base, api_delay_cb, p);
	if (p->timer == NULL)
		log_fatal("out of memory");
	tv = timeutil_ms_to_tv(ms);
	evtimer_add(p->timer, &tv);
}

void
api_status(struct fakeapi *fa, struct evhttp_request *req)
{
	struct form q;
	long long code = -1;
	const char *v;
	yajl_gen g;

	if (api_query(req, &q) < 0 || (v = form_get(&q, "code")) == NULL ||
	    util_parse_ll(v, 200, 599, &code) < 0) {
		form_clear(&q);
		http_error(req, 400, "invalid_request", "use ?code=STATUS (200-599)");
		return;
	}
	form_clear(&q);
	g = json_new();
	json_int(g, "status", code);
	http_json(req, (int)code, json_finish(g));
}

void
api_not_found(struct fakeapi *fa, struct evhttp_request *req)
{
	http_error(req, 404, "not_found", "no such endpoint under /api/");
}

static void
api_drop_cb(evutil_socket_t fd, short what, void *arg)
{
	evhttp_connection_free(arg);
}

/*
 * Closes req's connection without an answer.  The socket is shut down at
 * once (the client sees the close now); the connection is freed from the
 * loop, not from inside libevent's request callback.  Nothing else frees
 * it meanwhile: libevent does not read while a request is being handled.
 */
void
api_drop(struct fakeapi *fa, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct timeval now = { 0, 0 };

	fa->c.dropped++;
	(void)shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)), SHUT_RDWR);
	if (event_base_once(fa->base, -1, EV_TIMEOUT, api_drop_cb, evcon, &now) < 0)
		log_fatal("out of memory");
}
