/*
 * Durations and shares as written in the configuration: "90" and "90s"
 * (seconds), "500ms", "15m", "1h", "2d", or several run together ("1h30m");
 * a share of a token's lifetime is "33%".
 */
#ifndef TB_DURATION_H
#define TB_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound for any duration: 30 days. */
#define DURATION_MAX_MS ((int64_t)30 * 24 * 3600 * 1000)

/* 0 and *ret_ms on success; -EINVAL (bad syntax) or -ERANGE (too large). */
int duration_parse(const char *s, int64_t *ret_ms);

/* A duration or a share: exactly one of ms and permille is meaningful. */
struct span {
	bool share;
	int64_t ms;	   /* when !share */
	unsigned permille; /* when share: 0..1000 */
};

/* Parses "33%", "12.5%" or any duration; -EINVAL / -ERANGE as above. */
int duration_span_parse(const char *s, struct span *ret);

/* The span's length for a token of the given lifetime. */
int64_t duration_span_resolve(const struct span *sp, int64_t lifetime_ms);

/* Formats ms as "1h2m3s" / "450ms" into buf. */
const char *duration_format(int64_t ms, char *buf, size_t size);

#endif
