/*
 * One credential at run time: its settings (borrowed from the loaded
 * configuration), its current token, its place in the renewal schedule, the
 * attempt in flight and the clients waiting for it.  The data's way:
 * schedule -> request -> http -> response -> here (token and state) -> api.
 */
#ifndef TB_CREDENTIAL_H
#define TB_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "renew.h"
#include "secret.h"
#include "token.h"

enum credential_state {
	CREDENTIAL_PENDING,  /* no token yet, no attempt has failed */
	CREDENTIAL_VALID,
	CREDENTIAL_RENEWING, /* valid, attempt in flight */
	CREDENTIAL_FAILING,  /* valid, the last attempt failed */
	CREDENTIAL_EXPIRED,  /* no valid token */
};

/* What a waiting client is told. */
enum credential_result {
	CREDENTIAL_OK,	      /* a token good for the waiter is there now */
	CREDENTIAL_FAILED,    /* the attempt failed: see last_error */
	CREDENTIAL_TIMEOUT,   /* no token within the wait */
	CREDENTIAL_TOO_SHORT, /* tokens live shorter than the wanted min_valid */
	CREDENTIAL_GONE,      /* removed, or the daemon stops */
};

struct credential;
struct credential_ctx;
struct credential_waiter;
struct http;
struct metrics;

typedef void (*credential_wait_cb)(struct credential *c, enum credential_result result,
				   void *arg);

/* The set of credentials: the loop, the upstream client, the schedule. */
struct credential_ctx *credential_ctx_new(struct event_base *base, struct http *http,
					  struct renew *renew, struct metrics *metrics);
/* Frees every credential; waiters are told CREDENTIAL_GONE. Takes NULL. */
struct credential_ctx *credential_ctx_free(struct credential_ctx *ctx);
/* Creates the credentials of conf (borrowed: it must outlive them) and starts them. */
void credential_ctx_load(struct credential_ctx *ctx, const struct conf *conf);
/*
 * Swaps in a newly loaded conf (borrowed like the first): credentials whose
 * request-shaping settings (the digest) are unchanged keep their token,
 * schedule and waiters; changed ones drop their token and renew at once;
 * removed ones are freed (their waiters are told CREDENTIAL_GONE); new
 * ones start.  Logs what changed.  The old conf may be freed afterwards.
 */
void credential_ctx_reload(struct credential_ctx *ctx, const struct conf *conf);
/*
 * The daemon stops: no attempt starts any more, and drained(arg) is called
 * once no refresh_token grant is in flight (at once when none is): the
 * rotated refresh token such an answer carries must not be lost.  Other
 * attempts are cancelled when the set is freed.
 */
void credential_ctx_shutdown(struct credential_ctx *ctx, void (*drained)(void *arg), void *arg);
/* refresh_token grants in flight. */
size_t credential_ctx_refreshing(const struct credential_ctx *ctx);
struct credential *credential_lookup(struct credential_ctx *ctx, const char *name);
size_t credential_count(const struct credential_ctx *ctx);
struct credential *credential_at(struct credential_ctx *ctx, size_t i);
/* Waiting clients across all credentials. */
size_t credential_ctx_waiters(const struct credential_ctx *ctx);

const struct cred_conf *credential_conf(const struct credential *c);
const char *credential_name(const struct credential *c);
enum credential_state credential_state(const struct credential *c);
const char *credential_state_name(enum credential_state s);

/*
 * The current token if it has more than max(min_valid, the credential's
 * min_valid) left on both clocks; NULL otherwise.  Changes nothing: an
 * expired token is dropped by the expiry timer or the next hand-out.
 */
const struct token *credential_token(const struct credential *c, int64_t min_valid_ms);

/*
 * Asks for a token with at least min_valid_ms left.  *ret_waiter is NULL
 * unless the result is 1.  Returns 0 when
 * credential_token() has one now; 1 when the caller waits (*ret_waiter set;
 * cb is called once, unless the waiter is cancelled); -EAGAIN when none can
 * be had within wait_ms (*ret_retry_after_s says when to ask again);
 * -ERANGE when the tokens live shorter than min_valid_ms.
 */
int credential_get(struct credential *c, int64_t min_valid_ms, int64_t wait_ms,
		   credential_wait_cb cb, void *arg, struct credential_waiter **ret_waiter,
		   int64_t *ret_retry_after_s);

/*
 * The generation of the token served now (struct token), 0 when there is
 * none: what a caller that is about to use the token remembers, so that a
 * later credential_renew() can tell whether it was replaced meanwhile.
 */
uint64_t credential_generation(const struct credential *c);

/*
 * Replaces the token of generation seen (the one the caller found
 * rejected), ignoring backoff but not an upstream Retry-After in force.
 * Renewals coalesce by token, not by time: when an attempt is in flight the
 * caller joins it, and when a newer token than seen is already served it
 * is the answer and nothing is sent upstream.  Returns 0 when that newer
 * token is there now (or, under Retry-After, the current one still valid),
 * 1 when the caller waits up to wait_ms (as credential_get), -EAGAIN with
 * *ret_retry_after_s when no attempt can be made now.
 */
int credential_renew(struct credential *c, uint64_t seen, int64_t wait_ms, credential_wait_cb cb,
		     void *arg, struct credential_waiter **ret_waiter, int64_t *ret_retry_after_s);

/* Drops a waiter without calling it (its client went away). */
void credential_waiter_cancel(struct credential_waiter *w);

/* Status for the API, times in unix seconds (0: none). */
struct credential_info {
	enum credential_state state;
	int64_t expires_at;
	int64_t next_renewal;
	int64_t last_renewal;
	uint64_t renewals;
	uint64_t failures;
	uint64_t late_renewals;	     /* tokens that expired before a renewal had started */
	const char *last_error;	     /* or NULL */
	long upstream_status;	     /* of the last failure, 0 if none */
	const char *upstream_error;  /* upstream's error code of the last failure, or NULL */
	int64_t retry_after_s;	     /* seconds until the next attempt, 0 if none queued */
};
void credential_info(const struct credential *c, struct credential_info *ret);

#endif
