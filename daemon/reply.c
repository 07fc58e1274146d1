/*
 * The daemon's own answers: see reply.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "log.h"
#include "reply.h"
#include "secret.h"
#include "xmalloc.h"

/* evbuffer's cleanup for a sent body: responses carry tokens. */
static void
reply_out_cleanup_cb(const void *data, size_t len, void *arg)
{
	struct secbuf *o = arg;

	secbuf_clear(o);
	free(o);
}

yajl_gen
reply_gen_new(struct secbuf *o)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL)
		log_fatal("out of memory");
	yajl_gen_config(g, yajl_gen_print_callback, secbuf_yajl_cb, o);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	return g;
}

void
reply_gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void
reply_gen_kv_str(yajl_gen g, const char *k, const char *v)
{
	reply_gen_str(g, k);
	if (v == NULL)
		yajl_gen_null(g);
	else if (yajl_gen_string(g, (const unsigned char *)v, strlen(v)) != yajl_gen_status_ok)
		reply_gen_str(g, "?"); /* not UTF-8: cannot happen for sanitized text */
}

void
reply_gen_kv_int(yajl_gen g, const char *k, long long v)
{
	reply_gen_str(g, k);
	yajl_gen_integer(g, v);
}

struct reply_body {
	unsigned refs;
	struct secret *data; /* kept: with the secrets, not on the heap */
};

struct reply_body *
reply_body_new(struct secbuf *o)
{
	struct reply_body *b = xcalloc(1, sizeof(*b));

	b->refs = 1;
	b->data = secret_new(o->data != NULL ? o->data : "", o->len);
	secbuf_clear(o);
	free(o);
	return b;
}

void
reply_body_unref(struct reply_body *b)
{
	if (b == NULL || --b->refs > 0)
		return;
	secret_free(b->data);
	free(b);
}

static void
reply_body_cleanup_cb(const void *data, size_t len, void *arg)
{
	reply_body_unref(arg);
}

/* The status line's reason phrase of the codes the daemon sends. */
static const char *
reply_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 421: return "Misdirected Request";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Sends data as the body; cleanup(arg) once it is out (or dropped). */
static void
reply_send_ref(struct evhttp_request *req, int code, const char *content_type, const char *data,
	       size_t len, evbuffer_ref_cleanup_cb cleanup, void *arg)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (buf == NULL || evbuffer_add_reference(buf, data, len, cleanup, arg) < 0)
		log_fatal("out of memory");
	evhttp_send_reply(req, code, reply_reason(code), buf);
	evbuffer_free(buf);
}

void
reply_send_body(struct evhttp_request *req, int code, const char *content_type,
		struct reply_body *b)
{
	b->refs++;
	reply_send_ref(req, code, content_type, b->data->data, b->data->len, reply_body_cleanup_cb,
		       b);
}

/* Sends o as the body with status code; takes o (wiped when sent). */
void
reply_send(struct evhttp_request *req, int code, const char *content_type, struct secbuf *o)
{
	reply_send_ref(req, code, content_type, o->data, o->len, reply_out_cleanup_cb, o);
}

void
reply_send_json(struct evhttp_request *req, int code, yajl_gen g, struct secbuf *o)
{
	yajl_gen_free(g);
	secbuf_add(o, "\n", 1);
	reply_send(req, code, "application/json", o);
}

/*
 * An error answer: {"error": code, "message": text} plus the upstream's
 * status and error code when an upstream failure is the cause.
 */
void
reply_error(struct evhttp_request *req, int status, const char *code, const char *message,
	  long upstream_status, const char *upstream_error, int64_t retry_after_s)
{
	struct secbuf *o = xcalloc(1, sizeof(*o));
	yajl_gen g = reply_gen_new(o);

	yajl_gen_map_open(g);
	reply_gen_kv_str(g, "error", code);
	reply_gen_kv_str(g, "message", message);
	if (upstream_status > 0)
		reply_gen_kv_int(g, "upstream_status", upstream_status);
	if (upstream_error != NULL)
		reply_gen_kv_str(g, "upstream_error", upstream_error);
	yajl_gen_map_close(g);
	if (retry_after_s > 0) {
		char ra[24];

		snprintf(ra, sizeof(ra), "%lld", (long long)retry_after_s);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
	}
	reply_send_json(req, status, g, o);
}

void
reply_errorf(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	reply_error(req, status, code, msg, 0, NULL, 0);
	free(msg);
}


const char *
reply_method_name(enum evhttp_cmd_type m)
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
	default: return NULL;
	}
}
