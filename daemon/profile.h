/*
 * Profiles: presets for the token endpoints tokenbroker knows by name.  A
 * profile is data only: the path that turns base_url into token_url and a
 * list of key = value defaults, applied as if they stood at the top of the
 * credential's section (so the user's keys override them and they go
 * through the same validation).
 */
#ifndef TB_PROFILE_H
#define TB_PROFILE_H

struct profile_default {
	const char *key;
	const char *value;
};

struct profile {
	const char *name;
	/*
	 * Appended to base_url to form token_url; "{api_version}" is replaced
	 * by the credential's api_version.  NULL: token_url must be given.
	 */
	const char *token_path;
	const char *default_base_url;	  /* NULL: base_url must be given */
	const char *requested_lifetime_query; /* query key for requested_lifetime, or NULL */
	const struct profile_default *defaults; /* terminated by { NULL, NULL } */
};

/* NULL if there is no such profile. */
const struct profile *profile_find(const char *name);
/* Space-separated list of names, for error messages. */
const char *profile_names(void);

#endif
