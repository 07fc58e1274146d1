/*
 * The schedule: a binary heap of entries by their due time on the monotonic
 * clock, one libevent timer for the earliest, re-armed only when the head
 * changes; and the arithmetic of when to renew (refresh_before, min_valid,
 * jitter) and how long to back off (full jitter, Retry-After).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "renew.h"
#include "timeutil.h"
#include "xmalloc.h"

#define RENEW_TICK_MS ((int64_t)10 * 1000)

struct renew {
	struct event *timer;
	struct renew_entry **heap;
	size_t n;
	size_t cap;
	int64_t armed_for; /* due time the timer is set for, -1 if none */
	bool (*gate)(void *arg);
	void *gate_arg;
	bool held; /* entries are due but the gate was closed: renew_open */
};

static void renew_timer_cb(evutil_socket_t fd, short what, void *arg);

struct renew *
renew_new(struct event_base *base)
{
	struct renew *r = xcalloc(1, sizeof(*r));

	r->timer = evtimer_new(base, renew_timer_cb, r);
	if (r->timer == NULL) {
		free(r);
		return NULL;
	}
	r->armed_for = -1;
	return r;
}

struct renew *
renew_free(struct renew *r)
{
	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		r->heap[i]->queued = false;
	event_free(r->timer);
	free(r->heap);
	free(r);
	return NULL;
}

static void
renew_swap(struct renew *r, size_t a, size_t b)
{
	struct renew_entry *t = r->heap[a];

	r->heap[a] = r->heap[b];
	r->heap[b] = t;
	r->heap[a]->index = a;
	r->heap[b]->index = b;
}

static void
renew_sift_up(struct renew *r, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (r->heap[parent]->due_mono_ms <= r->heap[i]->due_mono_ms)
			break;
		renew_swap(r, i, parent);
		i = parent;
	}
}

static void
renew_sift_down(struct renew *r, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, rr = l + 1, m = i;

		if (l < r->n && r->heap[l]->due_mono_ms < r->heap[m]->due_mono_ms)
			m = l;
		if (rr < r->n && r->heap[rr]->due_mono_ms < r->heap[m]->due_mono_ms)
			m = rr;
		if (m == i)
			return;
		renew_swap(r, i, m);
		i = m;
	}
}

/* Arms the timer for the head, unless it is already armed for that time. */
static void
renew_rearm(struct renew *r)
{
	int64_t due, delay;
	struct timeval tv;

	if (r->n == 0) {
		if (r->armed_for >= 0)
			evtimer_del(r->timer);
		r->armed_for = -1;
		return;
	}
	due = r->heap[0]->due_mono_ms;
	if (due == r->armed_for)
		return;
	/*
	 * libevent's timers stand still while the machine sleeps, the queue's
	 * clock does not: wake at least every RENEW_TICK_MS to catch up.  Held
	 * by the gate, what is due waits for renew_open (the tick only as a
	 * safety net).
	 */
	delay = r->held ? RENEW_TICK_MS : due - timeutil_mono_ms();
	tv = timeutil_ms_to_tv(delay < RENEW_TICK_MS ? delay : RENEW_TICK_MS);
	evtimer_add(r->timer, &tv);
	r->armed_for = due;
}

static void
renew_remove_at(struct renew *r, size_t i)
{
	struct renew_entry *e = r->heap[i];

	r->n--;
	if (i != r->n) {
		r->heap[i] = r->heap[r->n];
		r->heap[i]->index = i;
		renew_sift_down(r, i);
		renew_sift_up(r, i);
	}
	e->queued = false;
}

void
renew_set(struct renew *r, struct renew_entry *e, int64_t due_mono_ms)
{
	if (e->queued) {
		int64_t old = e->due_mono_ms;

		e->due_mono_ms = due_mono_ms;
		if (due_mono_ms < old)
			renew_sift_up(r, e->index);
		else
			renew_sift_down(r, e->index);
	} else {
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 16;
			r->heap = xreallocarray(r->heap, r->cap, sizeof(*r->heap));
		}
		e->due_mono_ms = due_mono_ms;
		e->index = r->n;
		e->queued = true;
		r->heap[r->n++] = e;
		renew_sift_up(r, e->index);
	}
	renew_rearm(r);
}

void
renew_cancel(struct renew *r, struct renew_entry *e)
{
	if (!e->queued)
		return;
	renew_remove_at(r, e->index);
	renew_rearm(r);
}

size_t
renew_queued(const struct renew *r)
{
	return r->n;
}

int64_t
renew_next_due(const struct renew *r)
{
	return r->n > 0 ? r->heap[0]->due_mono_ms : -1;
}

/*
 * Fires every entry that is due.  An entry's fire callback may queue it (or
 * others) again; those with a due time still in the past fire in this same
 * round only if they were due before the round started, so a callback that
 * re-queues itself for "now" cannot spin the loop.
 */
static void
renew_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct renew *r = arg;
	int64_t now = timeutil_mono_ms();
	size_t budget = r->n;

	r->armed_for = -1;
	r->held = false;
	while (r->n > 0 && budget-- > 0 && r->heap[0]->due_mono_ms <= now) {
		struct renew_entry *e = r->heap[0];

		if (r->gate != NULL && !r->gate(r->gate_arg)) {
			r->held = true;
			break;
		}
		renew_remove_at(r, 0);
		e->fire(e);
	}
	renew_rearm(r);
}

void
renew_set_gate(struct renew *r, bool (*gate)(void *arg), void *arg)
{
	r->gate = gate;
	r->gate_arg = arg;
}

void
renew_open(struct renew *r)
{
	struct timeval now = { 0, 0 };

	if (!r->held)
		return;
	r->held = false;
	evtimer_add(r->timer, &now);
	r->armed_for = -1;
}

int64_t
renew_min_valid(int64_t min_valid_ms, int64_t lifetime_ms)
{
	int64_t cap = lifetime_ms / 4;

	return min_valid_ms < cap ? min_valid_ms : cap;
}

int64_t
renew_refresh_after(int64_t lifetime_ms, const struct span *refresh_before, int64_t min_valid_ms,
		    int64_t timeout_ms, uint32_t rnd)
{
	int64_t left = duration_span_resolve(refresh_before, lifetime_ms);
	int64_t needed = renew_min_valid(min_valid_ms, lifetime_ms) + timeout_ms;
	int64_t half = lifetime_ms / 2, at, jitter;

	int64_t room;

	if (left < needed)
		left = needed;
	at = lifetime_ms - left;
	if (at < half)
		at = half;
	/*
	 * Within the room above half the lifetime: clamped afterwards, every
	 * jitter past it would land on half itself, and thousands of tokens
	 * of one lifetime, obtained together, would renew together forever.
	 */
	room = at - half < lifetime_ms / 10 ? at - half : lifetime_ms / 10;
	jitter = (int64_t)(((uint64_t)room * rnd) >> 32);
	return at - jitter;
}

int64_t
renew_retry_delay(unsigned failures, int64_t backoff_min_ms, int64_t backoff_max_ms,
		  bool permanent, int64_t usable_left_ms, int64_t retry_after_ms, uint32_t rnd)
{
	int64_t lo = backoff_min_ms, hi = backoff_min_ms, delay;

	if (permanent) {
		lo = backoff_max_ms / 2 > backoff_min_ms ? backoff_max_ms / 2 : backoff_min_ms;
		hi = backoff_max_ms;
	} else {
		for (unsigned i = 1; i < failures && hi < backoff_max_ms; i++)
			hi *= 2;
		if (hi > backoff_max_ms)
			hi = backoff_max_ms;
	}
	delay = lo + (int64_t)(((uint64_t)(hi - lo) * rnd) >> 32);
	if (usable_left_ms >= 0 && delay > usable_left_ms / 2)
		delay = usable_left_ms / 2 > backoff_min_ms ? usable_left_ms / 2 : backoff_min_ms;
	if (retry_after_ms >= 0 && delay < retry_after_ms)
		delay = retry_after_ms;
	return delay;
}

int
renew_parse_retry_after(const char *value, int64_t now_wall_ms, int64_t *ret_delay_ms)
{
	int64_t delay;
	char *end;

	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		unsigned long long secs;

		errno = 0;
		secs = strtoull(value, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0')
			return -EINVAL;
		if (errno == ERANGE || secs > (unsigned long long)RENEW_RETRY_AFTER_MAX_MS / 1000)
			delay = RENEW_RETRY_AFTER_MAX_MS;
		else
			delay = (int64_t)secs * 1000;
	} else {
		int64_t when;

		if (timeutil_parse_http_date(value, &when) < 0)
			return -EINVAL;
		delay = when - now_wall_ms;
		if (delay < 0)
			delay = 0;
		if (delay > RENEW_RETRY_AFTER_MAX_MS)
			delay = RENEW_RETRY_AFTER_MAX_MS;
	}
	*ret_delay_ms = delay;
	return 0;
}
