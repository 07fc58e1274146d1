/* The renewal schedule: when tokens are renewed, how failures back off, the
 * Retry-After parser, and the time-sorted queue on its one timer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "renew.h"
#include "timeutil.h"

#define S(x) ((int64_t)(x) * 1000)
#define RND_MAX UINT32_MAX

static void
test_min_valid_capped_at_quarter(void **state)
{
	assert_int_equal(renew_min_valid(S(30), S(3600)), S(30));
	assert_int_equal(renew_min_valid(S(30), S(4)), S(1));
	assert_int_equal(renew_min_valid(S(30), S(100)), S(25));
}

static void
test_refresh_share_without_jitter(void **state)
{
	struct span sp = { .share = true, .permille = 330 };

	/* 3600s, 33% left: renew at 2412s; min_valid+timeout (45s) is less. */
	assert_int_equal(renew_refresh_after(S(3600), &sp, S(30), S(15), 0), S(2412));
}

static void
test_refresh_jitter_only_earlier(void **state)
{
	struct span sp = { .share = true, .permille = 330 };
	int64_t base = renew_refresh_after(S(3600), &sp, S(30), S(15), 0);
	int64_t most = renew_refresh_after(S(3600), &sp, S(30), S(15), RND_MAX);
	int64_t mid = renew_refresh_after(S(3600), &sp, S(30), S(15), RND_MAX / 2);

	assert_true(most < base);
	assert_true(base - most <= S(360)); /* at most a tenth of the lifetime */
	assert_true(base - most > S(350));
	assert_true(mid < base && mid > most);
}

static void
test_refresh_spreads_many(void **state)
{
	struct span sp = { .share = true, .permille = 330 };
	int64_t seen[1000];
	size_t distinct_seconds = 0;

	/* A thousand credentials loaded at once do not renew in the same second. */
	for (uint32_t i = 0; i < 1000; i++) {
		uint32_t rnd = i * 4294967u;
		bool dup = false;

		seen[i] = renew_refresh_after(S(3600), &sp, S(30), S(15), rnd) / 1000;
		for (uint32_t j = 0; j < i && !dup; j++)
			dup = seen[j] == seen[i];
		distinct_seconds += !dup;
	}
	assert_true(distinct_seconds > 300);
}

static void
test_refresh_leaves_min_valid_plus_timeout(void **state)
{
	struct span sp = { .share = true, .permille = 100 };

	/* 10% of 600s is 60s, but min_valid 30s + timeout 45s needs 75s. */
	assert_int_equal(renew_refresh_after(S(600), &sp, S(30), S(45), 0), S(525));
}

static void
test_refresh_never_before_half(void **state)
{
	struct span sp = { .share = true, .permille = 330 };
	struct span dur = { .share = false, .ms = S(3000) };

	/* 4s tokens with a 15s timeout: half the lifetime, whatever the jitter. */
	assert_int_equal(renew_refresh_after(S(4), &sp, S(30), S(15), 0), S(2));
	assert_int_equal(renew_refresh_after(S(4), &sp, S(30), S(15), RND_MAX), S(2));
	/* refresh_before as a duration longer than the lifetime. */
	assert_int_equal(renew_refresh_after(S(3600), &dur, S(30), S(15), 0), S(1800));
}

static void
test_refresh_jitter_within_room(void **state)
{
	struct span sp = { .share = true, .permille = 330 };

	/*
	 * 60s with min_valid 15s and timeout 13s: renew at 32s, 2s above half.
	 * The jitter spreads over those 2s, none piles up on half itself.
	 */
	assert_int_equal(renew_refresh_after(S(60), &sp, S(30), S(13), 0), S(32));
	assert_in_range(renew_refresh_after(S(60), &sp, S(30), S(13), RND_MAX / 2), S(31) - 2,
			S(31) + 2);
	assert_in_range(renew_refresh_after(S(60), &sp, S(30), S(13), RND_MAX), S(30), S(30) + 2);
	assert_in_range(renew_refresh_after(S(60), &sp, S(30), S(13), RND_MAX / 4), S(31) + 400,
			S(31) + 600);
}

static void
test_refresh_duration(void **state)
{
	struct span sp = { .share = false, .ms = S(300) };

	assert_int_equal(renew_refresh_after(S(3600), &sp, S(30), S(15), 0), S(3300));
}

static void
test_backoff_doubles_with_cap(void **state)
{
	/* Without jitter (rnd 0) the delay is backoff_min; with the most, the cap. */
	assert_int_equal(renew_retry_delay(1, S(1), S(60), false, -1, -1, 0), S(1));
	assert_int_equal(renew_retry_delay(1, S(1), S(60), false, -1, -1, RND_MAX), S(1));
	assert_in_range(renew_retry_delay(2, S(1), S(60), false, -1, -1, RND_MAX), S(2) - 2, S(2));
	assert_in_range(renew_retry_delay(4, S(1), S(60), false, -1, -1, RND_MAX), S(8) - 10, S(8));
	assert_in_range(renew_retry_delay(7, S(1), S(60), false, -1, -1, RND_MAX), S(60) - 100, S(60));
	assert_in_range(renew_retry_delay(60, S(1), S(60), false, -1, -1, RND_MAX), S(60) - 100, S(60));
	assert_int_equal(renew_retry_delay(60, S(1), S(60), false, -1, -1, 0), S(1));
}

static void
test_backoff_full_jitter_spread(void **state)
{
	int64_t lo = INT64_MAX, hi = 0;

	for (uint32_t i = 0; i < 100; i++) {
		int64_t d = renew_retry_delay(10, S(1), S(60), false, -1, -1, i * 42949672u);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		assert_in_range(d, S(1), S(60));
	}
	assert_true(lo < S(5));
	assert_true(hi > S(50));
}

static void
test_backoff_auth_failure_slow_end(void **state)
{
	/* A rejected client keeps retrying, but at the slow end from the start. */
	assert_in_range(renew_retry_delay(1, S(1), S(60), true, -1, -1, 0), S(30), S(60));
	assert_in_range(renew_retry_delay(1, S(1), S(60), true, -1, -1, RND_MAX), S(30), S(60));
}

static void
test_backoff_capped_by_validity(void **state)
{
	/* With 20s of usable token left, no wait longer than 10s... */
	assert_int_equal(renew_retry_delay(10, S(1), S(60), false, S(20), -1, RND_MAX), S(10));
	/* ...but never shorter than backoff_min. */
	assert_int_equal(renew_retry_delay(10, S(1), S(60), false, S(1), -1, RND_MAX), S(1));
}

static void
test_backoff_retry_after_floor(void **state)
{
	assert_int_equal(renew_retry_delay(1, S(1), S(60), false, -1, S(120), 0), S(120));
	/* Retry-After wins over the validity cap: the upstream asked for it. */
	assert_int_equal(renew_retry_delay(1, S(1), S(60), false, S(10), S(30), 0), S(30));
	assert_int_equal(renew_retry_delay(1, S(1), S(60), false, -1, 0, 0), S(1));
}

static void
test_retry_after_parse(void **state)
{
	int64_t d = -1, now;

	assert_int_equal(renew_parse_retry_after("120", 0, &d), 0);
	assert_int_equal(d, S(120));
	assert_int_equal(renew_parse_retry_after(" 5 ", 0, &d), 0);
	assert_int_equal(d, S(5));
	assert_int_equal(renew_parse_retry_after("99999999999999999999", 0, &d), 0);
	assert_int_equal(d, RENEW_RETRY_AFTER_MAX_MS);
	assert_int_equal(renew_parse_retry_after("1e3", 0, &d), -EINVAL);
	assert_int_equal(renew_parse_retry_after("-5", 0, &d), -EINVAL);
	assert_int_equal(renew_parse_retry_after("soon", 0, &d), -EINVAL);
	assert_int_equal(timeutil_parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT", &now), 0);
	assert_int_equal(renew_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now, &d), 0);
	assert_int_equal(d, S(30));
	assert_int_equal(renew_parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(renew_parse_retry_after("Wed, 21 Oct 2025 07:28:00 GMT", now, &d), 0);
	assert_int_equal(d, RENEW_RETRY_AFTER_MAX_MS);
}

struct fired {
	struct renew_entry e;
	int order;
};

static int fire_count;
static struct renew *fire_queue;
static struct fired *fire_again;

static void
fire_cb(struct renew_entry *e)
{
	struct fired *f = (struct fired *)e;

	f->order = ++fire_count;
	if (f == fire_again) {
		fire_again = NULL;
		renew_set(fire_queue, e, timeutil_mono_ms()); /* re-queues itself for now */
	}
}

static void
test_queue_fires_in_time_order(void **state)
{
	struct event_base *base = event_base_new();
	struct renew *r = renew_new(base);
	struct fired f[5] = { 0 };
	int64_t now = timeutil_mono_ms();
	const int64_t due[5] = { 80, 20, 60, 40, 10000 };

	fire_count = 0;
	for (int i = 0; i < 5; i++) {
		f[i].e.fire = fire_cb;
		renew_set(r, &f[i].e, now + due[i]);
	}
	assert_int_equal(renew_queued(r), 5);
	assert_int_equal(renew_next_due(r), now + 20);
	renew_set(r, &f[2].e, now + 5); /* moved to the front */
	renew_cancel(r, &f[3].e);
	assert_int_equal(renew_queued(r), 4);
	assert_int_equal(renew_next_due(r), now + 5);
	while (fire_count < 3)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(f[2].order, 1);
	assert_int_equal(f[1].order, 2);
	assert_int_equal(f[0].order, 3);
	assert_int_equal(f[3].order, 0);
	assert_int_equal(f[4].order, 0);
	assert_true(timeutil_mono_ms() - now >= 80);
	assert_int_equal(renew_queued(r), 1);
	renew_free(r);
	event_base_free(base);
}

static void
test_queue_requeue_in_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct renew *r = renew_new(base);
	struct fired f = { 0 };

	fire_count = 0;
	fire_queue = r;
	fire_again = &f;
	f.e.fire = fire_cb;
	renew_set(r, &f.e, timeutil_mono_ms());
	event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(fire_count, 1); /* did not spin within one round */
	assert_int_equal(renew_queued(r), 1);
	event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(fire_count, 2);
	assert_int_equal(renew_queued(r), 0);
	renew_free(r);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_min_valid_capped_at_quarter),
		cmocka_unit_test(test_refresh_share_without_jitter),
		cmocka_unit_test(test_refresh_jitter_only_earlier),
		cmocka_unit_test(test_refresh_spreads_many),
		cmocka_unit_test(test_refresh_leaves_min_valid_plus_timeout),
		cmocka_unit_test(test_refresh_never_before_half),
		cmocka_unit_test(test_refresh_jitter_within_room),
		cmocka_unit_test(test_refresh_duration),
		cmocka_unit_test(test_backoff_doubles_with_cap),
		cmocka_unit_test(test_backoff_full_jitter_spread),
		cmocka_unit_test(test_backoff_auth_failure_slow_end),
		cmocka_unit_test(test_backoff_capped_by_validity),
		cmocka_unit_test(test_backoff_retry_after_floor),
		cmocka_unit_test(test_retry_after_parse),
		cmocka_unit_test(test_queue_fires_in_time_order),
		cmocka_unit_test(test_queue_requeue_in_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
