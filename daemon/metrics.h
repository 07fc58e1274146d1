/*
 * Counters for GET /metrics and their rendering in the Prometheus text
 * format: renewals and failures per credential (and token variant),
 * seconds to expiry, API
 * answers by status code, waiting and connected clients, and a histogram
 * of upstream request durations.  A leaf: it counts what it is told and
 * renders a snapshot it is handed, and reads no other module's state.
 */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct metrics;

struct metrics *metrics_new(void);
struct metrics *metrics_free(struct metrics *m);

/* An API answer with HTTP status code. */
void metrics_count_request(struct metrics *m, int code);
/* An upstream token request that took ms (answered or not). */
void metrics_count_upstream(struct metrics *m, int64_t ms);

/*
 * One credential's token as the exposition shows it: a main token's series
 * are labelled credential="NAME", a variant's also variant="KEY" (its
 * key's text, escaped as the text format wants).
 */
struct metrics_cred {
	const char *name;    /* [A-Za-z0-9._-]: nothing to escape in a label */
	const char *variant; /* the variant's key text; NULL: the main token */
	uint64_t renewals;
	uint64_t failures;
	uint64_t late_renewals; /* tokens that expired before a renewal had started */
	bool up;	  /* it has a token to hand out */
	int64_t expiry_s; /* seconds until that token expires; 0 without one */
};

/* HTTP status codes counted are below this. */
#define METRICS_STATUS_END 600
/* Buckets of the proxy's upstream histogram (+Inf not included). */
#define METRICS_PROXY_NBUCKETS 12

/*
 * One proxy's counters: the proxy keeps them (they live as long as the
 * proxy does) and counts with the functions below.
 */
struct metrics_proxy_stats {
	uint64_t requests[METRICS_STATUS_END]; /* answers to its clients by code */
	uint64_t retries;		       /* requests sent again after a rejected token */
	uint64_t upstream_buckets[METRICS_PROXY_NBUCKETS];
	uint64_t upstream_count;
	int64_t upstream_sum_us;
};

/* An answer with code to a proxy's client. */
void metrics_proxy_count(struct metrics_proxy_stats *s, int code);
/* An upstream exchange: from sending until the response headers, in µs. */
void metrics_proxy_upstream(struct metrics_proxy_stats *s, int64_t us);

/* One proxy as the exposition shows it. */
struct metrics_proxy {
	const char *name; /* [A-Za-z0-9._-] */
	const struct metrics_proxy_stats *stats;
	unsigned active; /* requests in flight */
};

/* What the caller saw at one moment: the state metrics does not own. */
struct metrics_snapshot {
	const struct metrics_cred *creds;
	size_t ncreds;
	const struct metrics_proxy *proxies;
	size_t nproxies;
	size_t waiting;	  /* clients waiting for a token */
	unsigned clients; /* connections open */
};

/* Appends the whole exposition of m and s to out. */
void metrics_render(const struct metrics *m, const struct metrics_snapshot *s,
		    struct evbuffer *out);

#endif
