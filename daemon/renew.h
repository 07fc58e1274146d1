/*
 * The renewal schedule: a time-sorted queue (a binary heap on the monotonic
 * clock) driven by one libevent timer, re-armed only when the head changes.
 * Plus the arithmetic that decides when a token is renewed and how long to
 * wait after a failure; those functions are pure and take their randomness
 * as an argument, so they can be tested.
 */
#ifndef TB_RENEW_H
#define TB_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "duration.h"

/* Embedded in whatever is scheduled. */
struct renew_entry {
	size_t index; /* in the heap, when queued */
	bool queued;
	int64_t due_mono_ms;
	void (*fire)(struct renew_entry *e); /* called when due */
};

struct renew;

struct renew *renew_new(struct event_base *base);
/* Frees the queue; entries still queued are dropped without firing. */
struct renew *renew_free(struct renew *r);

/* Queues e to fire at due (monotonic ms), or moves it there. */
void renew_set(struct renew *r, struct renew_entry *e, int64_t due_mono_ms);
void renew_cancel(struct renew *r, struct renew_entry *e);
size_t renew_queued(const struct renew *r);
/*
 * Due entries fire only while gate(arg) says yes: whatever they start
 * (upstream requests) then waits in the queue, in the order it is due,
 * rather than all at once downstream.  Once the gate has said no, nothing
 * due fires until renew_open (or a safety tick).
 */
void renew_set_gate(struct renew *r, bool (*gate)(void *arg), void *arg);
void renew_open(struct renew *r);
/* Monotonic time of the next due entry, or -1 when none is queued. */
int64_t renew_next_due(const struct renew *r);

/* min_valid as it applies to a token: capped at a quarter of its lifetime. */
int64_t renew_min_valid(int64_t min_valid_ms, int64_t lifetime_ms);

/*
 * When to renew a token of the given lifetime, as ms after it was obtained:
 * when refresh_before of the lifetime is left, or earlier if needed to leave
 * min_valid plus timeout, never before half the lifetime; jitter moves it
 * earlier by up to a tenth of the lifetime (rnd is uniform in 0..2^32-1).
 */
int64_t renew_refresh_after(int64_t lifetime_ms, const struct span *refresh_before,
			    int64_t min_valid_ms, int64_t timeout_ms, uint32_t rnd);

/*
 * Delay before the next attempt after `failures` consecutive failures
 * (>= 1): exponential from backoff_min, doubling, capped at backoff_max,
 * full jitter within [backoff_min, cap].  After a permanent failure (the
 * authentication failed, or the upstream refused the request itself) the
 * wait is drawn from the slow end, [backoff_max/2, backoff_max].
 * While a token is still usable (usable_left_ms >= 0) no wait exceeds half
 * of what is left, but never less than backoff_min.  A Retry-After
 * (retry_after_ms >= 0) is a floor the result never goes below.
 */
int64_t renew_retry_delay(unsigned failures, int64_t backoff_min_ms, int64_t backoff_max_ms,
			  bool permanent, int64_t usable_left_ms, int64_t retry_after_ms,
			  uint32_t rnd);

/* Cap on an upstream Retry-After, so a bogus date cannot park a credential. */
#define RENEW_RETRY_AFTER_MAX_MS ((int64_t)3600 * 1000)

/*
 * Parses a Retry-After value (delay-seconds or HTTP-date) into a delay from
 * now_wall_ms, capped at RENEW_RETRY_AFTER_MAX_MS.  0 or -EINVAL.
 */
int renew_parse_retry_after(const char *value, int64_t now_wall_ms, int64_t *ret_delay_ms);

#endif
