/*
 * Token variants: a credential's token asked for with another scope,
 * audience or resource than the configured ones (GET /v1/tokens/NAME?scope=
 * S&audience=A&resource=R), within what allow_scopes, allow_audiences and
 * allow_resources permit.  Each variant is a token of its own: a struct
 * credential beside its credential's main one, with its own renewals,
 * state, backoff and waiters, fetched when first asked for and renewed
 * while it is asked for.
 *
 * Two halves: the key (what a request asks for, checked and made
 * canonical; pure, no state) and the set of a credential's variants (kept
 * in a sorted array; the least recently asked one goes when max_variants
 * would be passed, and one not asked for during variant_idle goes too).
 */
#ifndef TB_VARIANT_H
#define TB_VARIANT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "request.h"
#include "store.h"

/* Bounds of what a caller may send, checked before anything is allocated. */
#define VARIANT_VALUE_MAX 1024 /* bytes of one parameter */
#define VARIANT_SCOPES_MAX 64  /* scopes in one request */

/*
 * What a variant is: the scope, audience and resource its token is asked
 * with (what the request gave, else the configured value).  Each field
 * holds its values space-separated, the scopes sorted and each once; NULL
 * when there is none.  text is the canonical form, one word a field with
 * its values joined by "+", e.g. "scope=read+write audience=billing": for
 * logs and the metrics' label, and what variants are told apart by.
 */
struct variant_key {
	char *scope;
	char *audience;
	char *resource;
	char *text;
};

/*
 * The key that scope, audience and resource (each NULL when not given)
 * ask of credential cc.  A scope is space- or "+"-separated, its scopes a
 * subset of allow_scopes; an audience one of allow_audiences; a resource
 * one of allow_resources; a value equal to the configured one is always
 * allowed (it is what omitting it asks for).  Returns 0 and *ret (free with
 * variant_key_free); 1 when that is the main token (the configured scope,
 * audience and resource, nothing given), *ret untouched; -EINVAL with
 * *cause (caller frees), a message for the caller that names what is not
 * allowed and the key that would allow it.
 */
int variant_key_new(const struct cred_conf *cc, const char *scope, const char *audience,
		    const char *resource, struct variant_key **ret, char **cause);
/* Frees k; takes NULL; returns NULL. */
struct variant_key *variant_key_free(struct variant_key *k);

/* Whether cc still allows k (after a reload): as variant_key_new checks. */
bool variant_key_allowed(const struct cred_conf *cc, const struct variant_key *k);

/*
 * k's id: STORE_VARIANT_ID_LEN lowercase hex digits of a SHA-256 of its
 * fields, which name its persisted record NAME@ID.
 */
void variant_key_id(const struct variant_key *k, char out[STORE_VARIANT_ID_LEN + 1]);

/*
 * The fingerprint k's persisted token carries: of conf_fp (the
 * credential's, conf_token_fingerprint) and of k, so that a variant's token
 * is never taken for another variant's or for the main token.
 */
void variant_key_fingerprint(const struct variant_key *k, const char conf_fp[65], char out[65]);

/* A variant: its key, its credential, when it was last asked for. */
struct variant;
/* The variants of one credential. */
struct variant_set;
struct credential;

/*
 * The token for scope, audience and resource (each NULL when not given)
 * of credential c: c itself for the main token, else its variant, made
 * (and its persisted token restored, when c persists) on first request.
 * Returns 0 and *ret (c's, or the variant's credential, valid until the
 * variant is dropped: a caller that waits for it holds it by its waiter);
 * -EINVAL with *cause (caller frees) when the request is not allowed;
 * -EBUSY with *cause when max_variants are kept and every one of them has
 * clients waiting for it.
 */
int variant_get(struct credential *c, const char *scope, const char *audience,
		const char *resource, struct credential **ret, char **cause);

/* How many variants c has, and the i-th in the order of their keys' text. */
size_t variant_count(const struct credential *c);
struct credential *variant_at(const struct credential *c, size_t i);
/* The key of the variant whose credential vc is; NULL for a main token. */
const struct variant_key *variant_key_of(const struct credential *vc);
/* Whether cc lets callers ask for variants at all. */
bool variant_conf_allows_any(const struct cred_conf *cc);

/*
 * For credential.c.  The request of variant v: qo (filled from the
 * credential's settings) with v's scope, audience and resource instead.
 */
void variant_request_opts(const struct variant *v, struct request_opts *qo);
const struct variant_key *variant_key(const struct variant *v);
/*
 * Frees set s and its variants (their waiters told CREDENTIAL_GONE); with
 * drop, their tokens are forgotten and their persisted copies removed
 * first (a removed or changed credential), else kept (the daemon stops).
 * Takes NULL; returns NULL.
 */
struct variant_set *variant_set_free(struct variant_set *s, bool drop);
/*
 * After a reload that kept c (its digest unchanged; c's conf is the new
 * one, was the old): variants the new allow_* no longer permit are
 * dropped, the others take the new settings, and the least recently asked
 * go until max_variants are left.
 */
void variant_set_reload(struct credential *c, const struct cred_conf *was);

#endif
