/*
 * The only file that touches libcurl: transfers through the multi interface
 * on the daemon's libevent loop, in the manner of curl's hiperfifo example.
 * At most upstream_concurrency transfers run at once; the rest wait in order.
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "request.h"
#include "secret.h"

struct http;
struct http_transfer;

/* How an upstream is reached: limits, proxy and TLS (strings borrowed). */
struct http_opts {
	int64_t timeout_ms;	    /* the whole transfer */
	int64_t connect_timeout_ms;
	const char *proxy;	    /* NULL: none (the environment's is never used) */
	const char *ca_file;	    /* NULL: the system's trust */
	const char *client_cert;    /* NULL: no client certificate */
	const char *client_key;
	bool tls_verify;
};

struct http_result {
	long status;	      /* 0 when no HTTP answer came */
	char *content_type;   /* or NULL */
	char *retry_after;    /* the raw Retry-After header, or NULL */
	struct secret *body;  /* never NULL; wiped on free */
	char *error;	      /* transport failure ("connection refused ..."), or NULL */
	bool body_too_large;  /* the body passed TOKEN_BODY_MAX and was cut */
	int64_t duration_ms;
	const char *url;      /* as requested, valid during the callback */
};

/* Called exactly once per started transfer, unless it was cancelled. */
typedef void (*http_done_cb)(struct http_result *res, void *arg);

struct http *http_new(struct event_base *base, unsigned max_concurrency);
/* Cancels every transfer (no callbacks) and frees; takes NULL. */
struct http *http_free(struct http *h);

/*
 * Starts a POST of req with o's limits and TLS settings.  Takes ownership
 * of req.  Returns the transfer (valid until its callback returns or it is
 * cancelled), or NULL with *cause set.
 */
struct http_transfer *http_start(struct http *h, const struct http_opts *o,
				 struct token_request *req, http_done_cb cb, void *arg,
				 char **cause);
void http_cancel(struct http_transfer *t);

/* Transfers running and waiting. */
unsigned http_active(const struct http *h);

#endif
