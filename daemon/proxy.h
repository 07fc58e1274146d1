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

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

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

#endif
