/*
 * Spelling: the known name a mistyped one was probably meant to be, for
 * "did you mean ...?" in messages.  The measure is the optimal string
 * alignment distance (Levenshtein's, plus a swap of two neighbours as one
 * edit), without regard to ASCII case.
 */
#ifndef TB_SPELL_H
#define TB_SPELL_H

#include <stddef.h>

/* The edits between a and b, or SIZE_MAX when either is over SPELL_MAX bytes. */
#define SPELL_MAX 64
size_t spell_distance(const char *a, const char *b);

/*
 * The one of n names (NULL entries skipped) nearest to word, when it is
 * near enough to be a slip: at most one edit in four characters of word
 * (at least one, at most three), and word is not itself one of them.
 * The first of equally near names wins.  Returns an element of names, or
 * NULL.
 */
const char *spell_nearest(const char *word, const char *const *names, size_t n);

#endif
