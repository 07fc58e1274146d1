/*
 * Counters for GET /metrics and the Prometheus text rendering of them and
 * of a snapshot the caller hands in; reads no other module's state.
 */
#include <stdlib.h>

#include "metrics.h"
#include "xmalloc.h"

/* Upper bounds of the upstream duration buckets, in ms; +Inf is implied. */
static const int64_t metrics_buckets_ms[] = { 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 };
#define METRICS_NBUCKETS (sizeof(metrics_buckets_ms) / sizeof(metrics_buckets_ms[0]))

/* HTTP status codes counted: [METRICS_STATUS_MIN, METRICS_STATUS_END). */
#define METRICS_STATUS_MIN 100
#define METRICS_STATUS_END 600

struct metrics {
	uint64_t requests[METRICS_STATUS_END]; /* by HTTP status code, 100..599 */
	uint64_t upstream_buckets[METRICS_NBUCKETS];
	uint64_t upstream_count;
	int64_t upstream_sum_ms;
};

struct metrics *
metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

struct metrics *
metrics_free(struct metrics *m)
{
	free(m);
	return NULL;
}

void
metrics_count_request(struct metrics *m, int code)
{
	if (m != NULL && code >= METRICS_STATUS_MIN && code < METRICS_STATUS_END)
		m->requests[code]++;
}

void
metrics_count_upstream(struct metrics *m, int64_t ms)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < METRICS_NBUCKETS; i++)
		if (ms <= metrics_buckets_ms[i])
			m->upstream_buckets[i]++;
	m->upstream_count++;
	m->upstream_sum_ms += ms;
}

static void
metrics_header(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_render(const struct metrics *m, const struct metrics_snapshot *s, struct evbuffer *out)
{
	metrics_header(out, "tokenbroker_renewals_total", "counter",
		       "Token requests to the upstream, by credential and result.");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out,
				    "tokenbroker_renewals_total{credential=\"%s\",result=\"success\"} %llu\n"
				    "tokenbroker_renewals_total{credential=\"%s\",result=\"failure\"} %llu\n",
				    s->creds[i].name, (unsigned long long)s->creds[i].renewals,
				    s->creds[i].name, (unsigned long long)s->creds[i].failures);
	metrics_header(out, "tokenbroker_token_expiry_seconds", "gauge",
		       "Seconds until the current token expires (0 when there is none).");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out, "tokenbroker_token_expiry_seconds{credential=\"%s\"} %lld\n",
				    s->creds[i].name,
				    (long long)(s->creds[i].up && s->creds[i].expiry_s > 0 ?
							s->creds[i].expiry_s :
							0));
	metrics_header(out, "tokenbroker_credential_up", "gauge",
		       "1 when the credential has a token to hand out, else 0.");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out, "tokenbroker_credential_up{credential=\"%s\"} %d\n",
				    s->creds[i].name, s->creds[i].up);
	metrics_header(out, "tokenbroker_requests_total", "counter",
		       "Requests answered on the socket, by HTTP status code.");
	for (int code = METRICS_STATUS_MIN; code < METRICS_STATUS_END; code++)
		if (m->requests[code] > 0)
			evbuffer_add_printf(out, "tokenbroker_requests_total{code=\"%d\"} %llu\n", code,
					    (unsigned long long)m->requests[code]);
	metrics_header(out, "tokenbroker_waiting_clients", "gauge",
		       "Clients waiting for a token.");
	evbuffer_add_printf(out, "tokenbroker_waiting_clients %zu\n", s->waiting);
	metrics_header(out, "tokenbroker_clients", "gauge", "Client connections open.");
	evbuffer_add_printf(out, "tokenbroker_clients %u\n", s->clients);
	metrics_header(out, "tokenbroker_upstream_duration_seconds", "histogram",
		       "Duration of token requests to the upstream.");
	for (size_t i = 0; i < METRICS_NBUCKETS; i++)
		evbuffer_add_printf(out, "tokenbroker_upstream_duration_seconds_bucket{le=\"%g\"} %llu\n",
				    (double)metrics_buckets_ms[i] / 1000.0,
				    (unsigned long long)m->upstream_buckets[i]);
	evbuffer_add_printf(out,
			    "tokenbroker_upstream_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			    "tokenbroker_upstream_duration_seconds_sum %.3f\n"
			    "tokenbroker_upstream_duration_seconds_count %llu\n",
			    (unsigned long long)m->upstream_count, (double)m->upstream_sum_ms / 1000.0,
			    (unsigned long long)m->upstream_count);
}
