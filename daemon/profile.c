/*
 * The profile table.  Each preset is one entry: a name, the path that turns
 * base_url into token_url, an optional default base_url, the query key that
 * carries requested_lifetime, and key = value defaults that go through the
 * configuration's own key setter (so they are validated like user input).
 */
#include <stddef.h>
#include <string.h>

#include "cleanup.h"
#include "profile.h"

/* A defaults list for one table entry, terminated for the reader. */
#define PROFILE_DEFAULTS(...) \
	((const struct profile_default[]){ __VA_ARGS__ { NULL, NULL } })

static const struct profile profile_table[] = {
	/* RFC 6749 section 4.4: the user gives token_url. */
	{ "oauth2", NULL, NULL, NULL, PROFILE_DEFAULTS() },
};

const struct profile *
profile_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(profile_table); i++)
		if (strcmp(profile_table[i].name, name) == 0)
			return &profile_table[i];
	return NULL;
}

/*
 * The names joined by spaces into a static buffer built on first use; the
 * table is constant, so the result is too.
 */
const char *
profile_names(void)
{
	static char names[512];
	size_t off = 0;

	if (names[0] != '\0')
		return names;
	for (size_t i = 0; i < ELEMENTSOF(profile_table); i++) {
		size_t len = strlen(profile_table[i].name);

		if (off + len + 2 > sizeof(names))
			break;
		if (i > 0)
			names[off++] = ' ';
		memcpy(names + off, profile_table[i].name, len);
		off += len;
	}
	names[off] = '\0';
	return names;
}
