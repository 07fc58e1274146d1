/*
 * Counters for GET /metrics and the Prometheus text rendering of them and
 * of a snapshot the caller hands in (credentials, proxies and their
 * counters); reads no other module's state.
 */
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "xmalloc.h"

/* Upper bounds of the upstream duration buckets, in ms; +Inf is implied. */
static const int64_t metrics_buckets_ms[] = { 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 };
#define METRICS_NBUCKETS (sizeof(metrics_buckets_ms) / sizeof(metrics_buckets_ms[0]))

/*
 * Upper bounds of a proxy's upstream buckets, in µs: a round trip to a
 * nearby service takes milliseconds, not the seconds a token request may.
 */
static const int64_t metrics_proxy_buckets_us[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};
_Static_assert(sizeof(metrics_proxy_buckets_us) / sizeof(metrics_proxy_buckets_us[0]) ==
		       METRICS_PROXY_NBUCKETS,
	       "one bound per bucket of struct metrics_proxy_stats");

/* HTTP status codes counted: [METRICS_STATUS_MIN, METRICS_STATUS_END). */
#define METRICS_STATUS_MIN 100

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

void
metrics_proxy_count(struct metrics_proxy_stats *s, int code)
{
	if (s != NULL && code >= METRICS_STATUS_MIN && code < METRICS_STATUS_END)
		s->requests[code]++;
}

void
metrics_proxy_upstream(struct metrics_proxy_stats *s, int64_t us)
{
	if (s == NULL)
		return;
	if (us < 0)
		us = 0;
	for (size_t i = 0; i < METRICS_PROXY_NBUCKETS; i++)
		if (us <= metrics_proxy_buckets_us[i])
			s->upstream_buckets[i]++;
	s->upstream_count++;
	s->upstream_sum_us += us;
}

static void
metrics_header(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The series of one histogram: NAME_bucket for each of the n bounds (in
 * units, units a second; counts cumulative) and +Inf, NAME_sum (sum in
 * units) and NAME_count.  label is one 'key="value"' pair, or NULL.
 */
static void
metrics_histogram(struct evbuffer *out, const char *name, const char *label,
		  const int64_t *bounds, const uint64_t *counts, size_t n, int64_t units,
		  uint64_t count, int64_t sum)
{
	const char *sep = label != NULL ? "," : "";
	char braced[96] = "";
	int decimals = 0;

	if (label == NULL)
		label = "";
	else
		snprintf(braced, sizeof(braced), "{%s}", label);
	/* As many decimals as units has zeros: the sum is shown exactly. */
	for (int64_t u = units; u > 1; u /= 10)
		decimals++;
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep,
				    (double)bounds[i] / (double)units, (unsigned long long)counts[i]);
	evbuffer_add_printf(out,
			    "%s_bucket{%s%sle=\"+Inf\"} %llu\n"
			    "%s_sum%s %.*f\n"
			    "%s_count%s %llu\n",
			    name, label, sep, (unsigned long long)count, name, braced, decimals,
			    (double)sum / (double)units, name, braced, (unsigned long long)count);
}

/* The proxies' families, each with its HELP and TYPE even when there is no proxy. */
static void
metrics_render_proxies(const struct metrics_snapshot *s, struct evbuffer *out)
{
	char label[96];

	metrics_header(out, "tokenbroker_proxy_requests_total", "counter",
		       "Answers to the proxies' clients, by proxy and HTTP status code.");
	for (size_t i = 0; i < s->nproxies; i++)
		for (int code = METRICS_STATUS_MIN; code < METRICS_STATUS_END; code++)
			if (s->proxies[i].stats->requests[code] > 0)
				evbuffer_add_printf(
					out,
					"tokenbroker_proxy_requests_total{proxy=\"%s\",code=\"%d\"} %llu\n",
					s->proxies[i].name, code,
					(unsigned long long)s->proxies[i].stats->requests[code]);
	metrics_header(out, "tokenbroker_proxy_retries_total", "counter",
		       "Requests a proxy sent again with a new token after the upstream rejected one.");
	for (size_t i = 0; i < s->nproxies; i++)
		evbuffer_add_printf(out, "tokenbroker_proxy_retries_total{proxy=\"%s\"} %llu\n",
				    s->proxies[i].name,
				    (unsigned long long)s->proxies[i].stats->retries);
	metrics_header(out, "tokenbroker_proxy_upstream_seconds", "histogram",
		       "Time from sending a proxied request upstream until its response headers.");
	for (size_t i = 0; i < s->nproxies; i++) {
		const struct metrics_proxy_stats *st = s->proxies[i].stats;

		snprintf(label, sizeof(label), "proxy=\"%s\"", s->proxies[i].name);
		metrics_histogram(out, "tokenbroker_proxy_upstream_seconds", label,
				  metrics_proxy_buckets_us, st->upstream_buckets,
				  METRICS_PROXY_NBUCKETS, 1000000, st->upstream_count,
				  st->upstream_sum_us);
	}
	metrics_header(out, "tokenbroker_proxy_active", "gauge", "Proxied requests in flight.");
	for (size_t i = 0; i < s->nproxies; i++)
		evbuffer_add_printf(out, "tokenbroker_proxy_active{proxy=\"%s\"} %u\n",
				    s->proxies[i].name, s->proxies[i].active);
}

/*
 * The labels of c's series: credential="NAME", and for a variant
 * ,variant="KEY" with a backslash, a double quote and a newline escaped
 * as the text format wants.  The caller frees.
 */
static char *
metrics_cred_labels(const struct metrics_cred *c)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *labels;

	if (b == NULL)
		abort();
	evbuffer_add_printf(b, "credential=\"%s\"", c->name);
	if (c->variant != NULL) {
		evbuffer_add_printf(b, ",variant=\"");
		for (const char *p = c->variant; *p != '\0'; p++) {
			if (*p == '\\' || *p == '"')
				evbuffer_add_printf(b, "\\%c", *p);
			else if (*p == '\n')
				evbuffer_add_printf(b, "\\n");
			else
				evbuffer_add(b, p, 1);
		}
		evbuffer_add(b, "\"", 1);
	}
	len = evbuffer_get_length(b);
	labels = xmalloc(len + 1);
	evbuffer_remove(b, labels, len);
	labels[len] = '\0';
	evbuffer_free(b);
	return labels;
}

void
metrics_render(const struct metrics *m, const struct metrics_snapshot *s, struct evbuffer *out)
{
	char **labels = xcalloc(s->ncreds > 0 ? s->ncreds : 1, sizeof(*labels));

	for (size_t i = 0; i < s->ncreds; i++)
		labels[i] = metrics_cred_labels(&s->creds[i]);
	metrics_header(out, "tokenbroker_renewals_total", "counter",
		       "Token requests to the upstream, by credential (and variant) and result.");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out,
				    "tokenbroker_renewals_total{%s,result=\"success\"} %llu\n"
				    "tokenbroker_renewals_total{%s,result=\"failure\"} %llu\n",
				    labels[i], (unsigned long long)s->creds[i].renewals, labels[i],
				    (unsigned long long)s->creds[i].failures);
	metrics_header(out, "tokenbroker_late_renewals_total", "counter",
		       "Tokens that reached expiry less min_valid before their renewal had started "
		       "(a missed schedule; renewals that failed are not counted).");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out, "tokenbroker_late_renewals_total{%s} %llu\n", labels[i],
				    (unsigned long long)s->creds[i].late_renewals);
	metrics_header(out, "tokenbroker_token_expiry_seconds", "gauge",
		       "Seconds until the current token expires (0 when there is none).");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out, "tokenbroker_token_expiry_seconds{%s} %lld\n", labels[i],
				    (long long)(s->creds[i].up && s->creds[i].expiry_s > 0 ?
							s->creds[i].expiry_s :
							0));
	metrics_header(out, "tokenbroker_credential_up", "gauge",
		       "1 when the credential has a token to hand out, else 0.");
	for (size_t i = 0; i < s->ncreds; i++)
		evbuffer_add_printf(out, "tokenbroker_credential_up{%s} %d\n", labels[i],
				    s->creds[i].up);
	for (size_t i = 0; i < s->ncreds; i++)
		free(labels[i]);
	free(labels);
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
	metrics_histogram(out, "tokenbroker_upstream_duration_seconds", NULL, metrics_buckets_ms,
			  m->upstream_buckets, METRICS_NBUCKETS, 1000, m->upstream_count,
			  m->upstream_sum_ms);
	metrics_render_proxies(s, out);
}
