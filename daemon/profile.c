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
	/* Xibo CMS 1.8 and later; errors in RFC 6749 or Xibo 2.x form. */
	{ "xibo", "/api/authorize/access_token", NULL, NULL,
	  PROFILE_DEFAULTS({ "auth_method", "client_secret_post" }, ) },
	/*
	 * Oracle SBC REST API: HTTP Basic, XML, ten-minute tokens without an
	 * expiry, renewed by sending the current token (the configuration
	 * lock belongs to the token's lineage, hence kept across a restart).
	 */
	{ "oracle-sbc", "/rest/{api_version}/auth/token", NULL, NULL,
	  PROFILE_DEFAULTS({ "auth_method", "basic" }, { "response_format", "xml" },
			   { "token_path", "/response/data/accessToken" },
			   { "default_lifetime", "10m" }, { "reauth_with_token", "yes" },
			   { "persist", "yes" }, ) },
	/* Xvid MediaHub: a singular grant_type, comma-separated scopes. */
	{ "xvid-mediahub", "/oauth2/token/", "https://api.xvid.com/v1", "expires_in",
	  PROFILE_DEFAULTS({ "auth_method", "client_secret_post" },
			   { "grant_type", "client_credential" }, { "scope_separator", "comma" },
			   { "query.format", "json" }, ) },
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
