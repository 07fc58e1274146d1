/*
 * What variant.c needs of a credential's insides; nothing else includes
 * it (the public API is credential.h).  A variant's token is a struct
 * credential of its own, made and freed here, that shares its main
 * credential's settings, loop and schedule; the main one holds the set.
 */
#ifndef TB_CREDENTIAL_INT_H
#define TB_CREDENTIAL_INT_H

#include <stdbool.h>

#include "credential.h"
#include "renew.h"

struct variant;
struct variant_set;

/*
 * A new credential for variant v of main (v's key set): idle until asked
 * (credential_get fetches its first token), or with its persisted token
 * when main persists and one is stored.
 */
struct credential *credential_variant_new(struct credential *main, struct variant *v);
/*
 * Frees a variant's credential: its attempt cancelled, its waiters told
 * CREDENTIAL_GONE; with drop, its token forgotten and its persisted copy
 * removed first.  Returns NULL.
 */
struct credential *credential_variant_free(struct credential *vc, bool drop);
/*
 * A variant's credential takes the settings cc of a reload that kept its
 * main credential: its persisted copy removed when cc no longer persists,
 * written when its token is valid.
 */
void credential_variant_reconf(struct credential *vc, const struct cred_conf *cc);

/* The variant vc is the token of; NULL for a main credential. */
struct variant *credential_variant(const struct credential *vc);
/* A main credential's variants (NULL: none yet), and setting them. */
struct variant_set *credential_variant_set(const struct credential *c);
void credential_set_variant_set(struct credential *c, struct variant_set *s);
/* The schedule c's entries are on. */
struct renew *credential_renew_queue(const struct credential *c);
/* Whether clients wait for c's token. */
bool credential_has_waiters(const struct credential *c);

#endif
