/*
 * File sinks for programs that cannot speak to the socket: the current
 * token written to a file at every renewal, atomically (a reader never sees
 * a partial file), with the configured mode and owner; emptied when the
 * token expires without a replacement.
 */
#ifndef TB_SINK_H
#define TB_SINK_H

#include <stdint.h>

#include "conf.h"
#include "secret.h"
#include "token.h"

/*
 * Writes token t (its value, type, scope and expiry) to cc->sink in
 * cc->sink_format: raw (the token and a newline), header ("Authorization: <type> <token>"), json (the API's GET
 * answer: name, access_token, token_type, expires_at, expires_in, scope),
 * env (ACCESS_TOKEN=..., EXPIRES_AT=... lines).  0, or -errno with *cause.
 */
int sink_write(const struct cred_conf *cc, const struct token *t, int64_t now_wall_ms,
	       char **cause);

/* Replaces the sink with an empty file (same mode and owner). */
int sink_clear(const struct cred_conf *cc, char **cause);

#endif
