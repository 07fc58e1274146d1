/*
 * Two clocks.  Schedules run on a monotonic clock (immune to clock steps;
 * CLOCK_BOOTTIME, so that time asleep counts);
 * expiry as the upstream states it is wall-clock time, and every hand-out of
 * a token checks both.  All values are milliseconds in int64_t.
 */
#ifndef TB_TIMEUTIL_H
#define TB_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

int64_t timeutil_mono_ms(void);
int64_t timeutil_wall_ms(void);

/* ms to a struct timeval for libevent; negative values become zero. */
struct timeval timeutil_ms_to_tv(int64_t ms);

/*
 * Parses an HTTP-date (RFC 7231 IMF-fixdate, also RFC 850 and asctime
 * forms) into unix milliseconds.  0 on success, -EINVAL otherwise.
 */
int timeutil_parse_http_date(const char *s, int64_t *ret_ms);

/*
 * Parses an ISO 8601 / RFC 3339 timestamp ("2026-11-24T10:00:00Z",
 * "...+01:00", fractional seconds allowed) into unix milliseconds.
 */
int timeutil_parse_iso8601(const char *s, int64_t *ret_ms);

#endif
