/*
 * Spelling suggestions.  The distance is computed in three rows of a
 * dynamic programme over at most SPELL_MAX bytes a word: names in a
 * configuration are short, and a longer word is no slip of a known one.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "spell.h"

static size_t
spell_min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

static int
spell_fold(char c)
{
	return tolower((unsigned char)c);
}

size_t
spell_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][SPELL_MAX + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > SPELL_MAX || lb > SPELL_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = spell_fold(a[i - 1]) == spell_fold(b[j - 1]) ? 0 : 1;

			cur[j] = spell_min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && spell_fold(a[i - 1]) == spell_fold(b[j - 2]) &&
			    spell_fold(a[i - 2]) == spell_fold(b[j - 1]) && prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *
spell_nearest(const char *word, const char *const *names, size_t n)
{
	size_t len = strlen(word), limit = len / 4, best_d = SIZE_MAX;
	const char *best = NULL;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (names[i] == NULL)
			continue;
		if (strcmp(word, names[i]) == 0)
			return NULL;
		d = spell_distance(word, names[i]);
		if (d <= limit && d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}
