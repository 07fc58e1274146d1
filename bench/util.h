/*
 * What bench/loadgen.c and bench/abuse.c both use: the monotonic clock, a
 * timeval from seconds, and a cheap random number.  Header-only, like
 * http1.h.
 */
#ifndef TB_BENCH_UTIL_H
#define TB_BENCH_UTIL_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline uint64_t
util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct timeval
util_tv(double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* xorshift64* on *state (never 0): enough for reservoir slots and garbage. */
static inline uint64_t
util_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ull;
}

#endif
