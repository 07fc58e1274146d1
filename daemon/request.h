/*
 * Builds the HTTP request that asks a credential's token endpoint for a
 * token.  No I/O: the result is handed to http.c.  Everything that may
 * carry a secret (the body, the Authorization header) is a struct secret
 * and is wiped when the request is freed.
 */
#ifndef TB_REQUEST_H
#define TB_REQUEST_H

#include <stddef.h>

#include "conf.h"
#include "secret.h"

struct token_request {
	char *url;		     /* token_url plus query.* (and requested lifetime) */
	char **headers;		     /* "Name: value", no secrets */
	size_t nheaders;
	struct secret *authorization; /* "Authorization: Basic ..." or NULL */
	struct secret *body;	     /* form body (may be empty, never NULL) */
	const char *auth_desc;	     /* how the client authenticated, for diagnostics */
};

/*
 * Builds the request for cc.  current_token, when not NULL and the
 * credential re-authenticates with its token, is sent in the body.
 * Returns 0 and *ret, or -EINVAL with *cause set (caller frees).
 */
int request_build(const struct cred_conf *cc, const struct secret *current_token,
		  struct token_request **ret, char **cause);
struct token_request *request_free(struct token_request *req);

/* application/x-www-form-urlencoded encoding of s; caller frees. */
char *request_form_encode(const char *s, size_t len);

#endif
