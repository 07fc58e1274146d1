/*
 * The proxies: for each [proxy "NAME"], a local listener (loopback TCP or
 * a Unix socket) whose requests are forwarded to the upstream with the
 * credential's current token added, streamed both ways with bounded
 * memory, sent once more with a new token when the upstream rejects it.
 * Connections and their caps are listen.c's, transfers http.c's, tokens
 * credential.c's.
 */
#ifndef TB_PROXY_H
#define TB_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "credential.h"
#include "metrics.h"

struct http;
struct proxy;
struct proxy_ctx;

struct proxy_ctx *proxy_ctx_new(struct event_base *base, struct http *http,
				struct credential_ctx *creds);
/*
 * A listening socket the service manager passed with FileDescriptorName=
 * name: the proxy of that name listens on it instead of creating its own
 * (taken: closed with the context).
 */
void proxy_ctx_adopt_fd(struct proxy_ctx *ctx, const char *name, int fd);
/*
 * Starts the proxies of conf (borrowed: it must outlive them, as for
 * credential_ctx_load).  A proxy whose listener cannot be set up is logged
 * and left out; returns how many were.
 */
unsigned proxy_ctx_load(struct proxy_ctx *ctx, const struct conf *conf);
/*
 * Swaps in a reloaded conf: a proxy whose listener is unchanged keeps it
 * and its connections and takes the new settings for its next requests;
 * one whose listener changed gets a new one; removed ones close; new ones
 * start.  Returns how many could not be set up (logged).
 */
unsigned proxy_ctx_reload(struct proxy_ctx *ctx, const struct conf *conf);
/*
 * Stops accepting; requests in flight go on.  drained(arg) is called once
 * none is left (at once when there is none).
 */
void proxy_ctx_shutdown(struct proxy_ctx *ctx, void (*drained)(void *arg), void *arg);
/* Closes every listener and connection, cancels transfers; takes NULL. */
struct proxy_ctx *proxy_ctx_free(struct proxy_ctx *ctx);

size_t proxy_count(const struct proxy_ctx *ctx);
struct proxy *proxy_at(struct proxy_ctx *ctx, size_t i);
/* Requests in flight over every proxy. */
unsigned proxy_ctx_active(const struct proxy_ctx *ctx);

/* A proxy as GET /v1/proxies and /metrics show it. */
struct proxy_info {
	const struct proxy_conf *conf; /* name, listen, upstream, credential, allow lists */
	uint64_t requests;	      /* answered */
	uint64_t retries;
	int last_status;	      /* of the last answer, 0 before the first */
	unsigned active;	      /* in flight */
	const struct metrics_proxy_stats *stats;
};
void proxy_info(const struct proxy *p, struct proxy_info *ret);

/*
 * What a request becomes on its way upstream; pure, no connection.
 * proxy_host_ok: whether a TCP listener takes the request's Host, a
 * loopback name (localhost, 127.0.0.1, [::1] or the listening address,
 * with or without the listener's port).  proxy_target_problem: NULL when
 * the request target is a path that stays under the upstream's (no "." or
 * ".." segment, also percent-encoded; no space, control character or
 * fragment), else why not (static text).  proxy_upstream_url: the URL it
 * goes to, the upstream's base URL and the target (caller frees).
 * proxy_upstream_headers: the client's headers that go with it, *ret_n
 * "Name: value" lines (the array and each line the caller's): the
 * hop-by-hop ones, Host (the upstream's comes from its URL),
 * Content-Length, Expect and, with inject = replace, the injected header
 * are left out.  proxy_response_headers: the upstream's n response headers
 * that go back to the client, added to out: all but the hop-by-hop ones.
 */
struct http_header;
bool proxy_host_ok(const struct proxy_conf *pc, const char *host);
const char *proxy_target_problem(const char *uri);
char *proxy_upstream_url(const struct proxy_conf *pc, const char *uri);
char **proxy_upstream_headers(const struct proxy_conf *pc, const struct evkeyvalq *in,
			      size_t *ret_n);
void proxy_response_headers(const struct http_header *h, size_t n, struct evkeyvalq *out);

#endif
