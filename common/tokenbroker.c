/*
 * The rules the daemon and the client share about the protocol between
 * them; for now, what a credential's name may be.
 */
#include <string.h>

#include "tokenbroker.h"

bool
tokenbroker_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > TOKENBROKER_NAME_MAX)
		return false;
	/* Spelled out rather than isalnum(): no locale may widen the set. */
	for (const char *p = name; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
		    *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}
