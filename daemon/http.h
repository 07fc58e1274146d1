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

#include "peercert.h"
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
	bool diagnose;		    /* record the server's certificate (--test) */
};

/* How a transfer that got no HTTP answer failed, for hints. */
enum http_failure {
	HTTP_FAIL_NONE,		/* an answer came (or the body was too large) */
	HTTP_FAIL_RESOLVE,	/* the host name does not resolve */
	HTTP_FAIL_RESOLVE_PROXY,/* the proxy's host name does not resolve */
	HTTP_FAIL_CONNECT,	/* refused, or no route (to the proxy, when one is set) */
	HTTP_FAIL_CONNECT_TIMEOUT,
	HTTP_FAIL_TIMEOUT,	/* connected, no answer in time */
	HTTP_FAIL_PROXY,	/* the proxy would not open a tunnel */
	HTTP_FAIL_TLS_PLAIN,	/* TLS asked, the server spoke plain HTTP */
	HTTP_FAIL_TLS_ALERT,	/* the server ended the handshake with an alert */
	HTTP_FAIL_TLS_NAME,	/* the certificate is not for the host asked */
	HTTP_FAIL_TLS_CERT,	/* the certificate failed verification (see cert) */
	HTTP_FAIL_TLS,		/* another TLS failure */
	HTTP_FAIL_OTHER,
};

struct http_result {
	long status;	      /* 0 when no HTTP answer came */
	char *content_type;   /* or NULL */
	char *retry_after;    /* the raw Retry-After header, or NULL */
	struct secret *body;  /* never NULL; wiped on free */
	char *error;	      /* transport failure ("connection refused ..."), or NULL */
	enum http_failure failure;
	char *redirect_url;   /* a 3xx's Location, made absolute, or NULL */
	struct peercert cert; /* with http_opts.diagnose: the server's certificate */
	bool body_too_large;  /* the body passed TOKEN_BODY_MAX and was cut */
	int64_t duration_ms;
	const char *url;      /* as requested, valid during the callback */
};

/* Called exactly once per started transfer, unless it was cancelled. */
typedef void (*http_done_cb)(struct http_result *res, void *arg);

struct http *http_new(struct event_base *base, unsigned max_concurrency);
/*
 * Idle upstream connections kept for reuse (max_concurrency unless set):
 * past it, libcurl closes the oldest once a transfer ends.
 */
int http_set_max_idle(struct http *h, unsigned n);
/* Transfers started and waiting for a slot (max_concurrency are running). */
unsigned http_waiting(const struct http *h);
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

/*
 * Streaming transfers, for the proxy: any method, the caller's headers and
 * body, the response handed over as it arrives.  They do not wait in the
 * upstream_concurrency queue (that is for token requests), and share
 * connections to an upstream with each other (HTTP/2 where it offers it).
 */
struct http_stream_req {
	const char *method; /* "GET", "POST", ...; "HEAD" expects no body */
	const char *url;
	/* "Name: value" lines as they go out; Host, Content-Length and the
	 * transfer's own headers are set by http.c */
	const char *const *headers;
	size_t nheaders;
	const void *body; /* borrowed until done; NULL: none */
	size_t body_len;
	bool has_body;	   /* send body (even when empty) */
};

/* A response header, as received (name without the colon, value trimmed). */
struct http_header {
	const char *name;
	const char *value;
};

enum http_stream_end {
	HTTP_STREAM_DONE,      /* the whole response arrived */
	HTTP_STREAM_FAILED,    /* connect, TLS, reset, a broken response */
	HTTP_STREAM_TIMEOUT,   /* no response headers within timeout_ms */
};

struct http_stream_cbs {
	/*
	 * The final response's status and headers (valid during the call).
	 * Return 0 to go on, or -1 to stop here: the transfer is then
	 * cancelled and no other callback comes.
	 */
	int (*headers)(void *arg, long status, const struct http_header *h, size_t n);
	/*
	 * Body bytes, taken by the callback; return 0 to go on, 1 to have no
	 * more until http_stream_resume.
	 */
	int (*data)(void *arg, const void *p, size_t len);
	/* Once, last (unless cancelled): error names the cause unless DONE. */
	void (*end)(void *arg, enum http_stream_end how, const char *error);
};

/*
 * Starts r with o's connect timeout and TLS settings; o->timeout_ms bounds
 * the wait for the response headers only (a body may take any time).
 * r's strings are copied, its body is not.  Returns the transfer (valid
 * until its end callback returns or it is cancelled), or NULL with *cause.
 */
struct http_transfer *http_stream_start(struct http *h, const struct http_opts *o,
					const struct http_stream_req *r,
					const struct http_stream_cbs *cbs, void *arg, char **cause);
/* Resumes a transfer paused by its data callback. */
void http_stream_resume(struct http_transfer *t);

/* Transfers running and waiting. */
unsigned http_active(const struct http *h);

#endif
