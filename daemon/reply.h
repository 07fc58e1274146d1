/*
 * The answers the daemon makes itself, on the socket API and on a proxy's
 * listener: a JSON body (yajl into wiped memory, for it may carry a
 * token) sent with Cache-Control: no-store, and the error shape of both,
 * {"error": CODE, "message": TEXT} plus the upstream's status and error
 * code where an upstream failure is the cause.
 */
#ifndef TB_REPLY_H
#define TB_REPLY_H

#include <stdint.h>

#include <event2/http.h>
#include <yajl/yajl_gen.h>

#include "secbuf.h"

/* A generator writing into o, validating UTF-8. */
yajl_gen reply_gen_new(struct secbuf *o);
void reply_gen_str(yajl_gen g, const char *s);
/* "k": v, or "k": null when v is NULL. */
void reply_gen_kv_str(yajl_gen g, const char *k, const char *v);
void reply_gen_kv_int(yajl_gen g, const char *k, long long v);

/* Sends o (taken: wiped and freed once sent) as the body with code. */
void reply_send(struct evhttp_request *req, int code, const char *content_type, struct secbuf *o);

/*
 * A rendered body that several answers send: each holds a reference until
 * it is out, and the last one wipes it.  reply_body_new takes o's bytes
 * (and frees o) and holds the first reference.
 */
struct reply_body;
struct reply_body *reply_body_new(struct secbuf *o);
void reply_body_unref(struct reply_body *b); /* takes NULL */
void reply_send_body(struct evhttp_request *req, int code, const char *content_type,
		     struct reply_body *b);
/* Frees g, ends o with a newline and sends it as JSON. */
void reply_send_json(struct evhttp_request *req, int code, yajl_gen g, struct secbuf *o);

/* The error answer; Retry-After when retry_after_s > 0. */
void reply_error(struct evhttp_request *req, int status, const char *code, const char *message,
		 long upstream_status, const char *upstream_error, int64_t retry_after_s);
void reply_errorf(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Every method evhttp knows: the daemon's servers take them all and answer
 * the ones they do not serve themselves (405, 501).
 */
#define REPLY_ALL_METHODS                                                              \
	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |           \
	 EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
	 EVHTTP_REQ_PATCH)

/* "GET", "POST", ... for m; NULL for a method evhttp has no name for. */
const char *reply_method_name(enum evhttp_cmd_type m);

#endif
