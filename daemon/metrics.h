/*
 * Counters for GET /metrics and their rendering in the Prometheus text
 * format: renewals and failures per credential, seconds to expiry, API
 * answers by status code, waiting and connected clients, and a histogram
 * of upstream request durations.
 */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stdint.h>

#include <event2/buffer.h>

#include "credential.h"

struct metrics;

struct metrics *metrics_new(void);
struct metrics *metrics_free(struct metrics *m);

/* An API answer with HTTP status code. */
void metrics_count_request(struct metrics *m, int code);
/* An upstream token request that took ms (answered or not). */
void metrics_count_upstream(struct metrics *m, int64_t ms);

/* Appends the whole exposition to out. */
void metrics_render(const struct metrics *m, struct credential_ctx *creds, unsigned clients,
		    struct evbuffer *out);

#endif
