/*
 * File sinks for programs that cannot speak to the socket: the current
 * token written to a file at every renewal, atomically (a reader never sees
 * a partial file), with the configured mode and owner; emptied when the
 * token expires without a replacement.
 */
#ifndef TB_SINK_H
#define TB_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "secret.h"
#include "token.h"

enum sink_format {
	SINK_FORMAT_RAW,
	SINK_FORMAT_HEADER,
	SINK_FORMAT_JSON,
	SINK_FORMAT_ENV,
};

/* Where and how a credential's token is written (strings borrowed). */
struct sink_opts {
	const char *name; /* the credential's: in the json format and in messages */
	const char *path; /* absolute; NULL: no sink */
	enum sink_format format;
	mode_t mode;
	bool owner_set;
	uid_t uid; /* (uid_t)-1: unchanged */
	gid_t gid; /* (gid_t)-1: unchanged */
};

/*
 * Writes token t (its value, type, scope and expiry) to o->path in
 * o->format: raw (the token and a newline), header ("Authorization: <type> <token>"), json (the API's GET
 * answer: name, access_token, token_type, expires_at, expires_in, scope),
 * env (ACCESS_TOKEN=..., EXPIRES_AT=... lines).  0, or -errno with *cause.
 */
int sink_write(const struct sink_opts *o, const struct token *t, int64_t now_wall_ms,
	       char **cause);

/* Replaces the sink with an empty file (same mode and owner). */
int sink_clear(const struct sink_opts *o, char **cause);

#endif
