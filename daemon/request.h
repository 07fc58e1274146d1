/*
 * Builds the HTTP request that asks a credential's token endpoint for a
 * token.  No I/O: the result is handed to http.c.  Everything that may
 * carry a secret (the body, the Authorization header) is a struct secret
 * and is wiped when the request is freed.
 */
#ifndef TB_REQUEST_H
#define TB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assertion.h"
#include "secret.h"
#include "token.h"

enum auth_method {
	AUTH_CLIENT_SECRET_BASIC,
	AUTH_CLIENT_SECRET_POST,
	AUTH_BASIC,
	AUTH_NONE,
	AUTH_PRIVATE_KEY_JWT,	/* a JWT signed with client_key, RFC 7523 2.2 */
	AUTH_CLIENT_ASSERTION,	/* a ready-made assertion from a file */
	AUTH_TLS_CLIENT_AUTH,	/* the TLS client certificate, RFC 8705 */
};

#define REQUEST_GRANT_REFRESH_TOKEN "refresh_token"
#define REQUEST_GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define REQUEST_GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define REQUEST_TOKEN_TYPE_JWT "urn:ietf:params:oauth:token-type:jwt"

/* How the fields of a token request are written in its body. */
enum body_format {
	BODY_FORM, /* application/x-www-form-urlencoded */
	BODY_JSON, /* application/json: an object, a repeated field an array */
};

struct request_pair {
	char *name;
	char *value;
};

/* Ordered name/value list (param.*, query.*, header.*). */
struct request_pairs {
	struct request_pair *v;
	size_t n;
};

/* What a token request is made of (all borrowed; filled by conf). */
struct request_opts {
	const char *token_url;
	enum auth_method auth_method;
	const char *grant_type;
	const char *client_id;
	const struct secret *client_secret; /* or NULL */
	const char *username;
	const struct secret *password;	    /* or NULL */
	const char *scope;		    /* space-separated, as configured; or NULL */
	const char *audience;		    /* space-separated; each a field; or NULL */
	const char *resource;		    /* space-separated; each a field; or NULL */
	enum body_format body_format;
	const char *assertion_file;	    /* jwt-bearer: read at every request */
	const struct secret *refresh_token; /* refresh_token grant: the one to spend */
	const char *subject_token_file;	    /* token exchange: read at every request */
	const char *subject_token_type;	    /* NULL: a JWT */
	const char *actor_token_file;	    /* or NULL */
	const char *actor_token_type;	    /* NULL: a JWT */
	const char *requested_token_type;   /* or NULL */
	enum scope_separator scope_separator;
	struct request_pairs params;
	struct request_pairs query;
	struct request_pairs headers;
	bool accept_xml;		    /* Accept: application/xml, not JSON */
	bool reauth_with_token;
	const char *reauth_token_param;	    /* "": the raw token is the body */
	const char *requested_lifetime_query; /* the query parameter that asks for one, or NULL */
	int64_t requested_lifetime_ms;	    /* 0: none */
	struct assertion_opts assertion;    /* private_key_jwt */
	const char *client_assertion_file;  /* client_assertion */
};

/* The client assertion a request carries, for diagnostics; never the assertion. */
struct request_assertion {
	bool signed_here;		/* private_key_jwt: claims is what was sent */
	struct assertion_claims claims;
	const char *file;		/* client_assertion: what was read (borrowed) */
	int64_t file_mtime_ms;
};

struct token_request {
	bool get;		     /* a GET (discovery.c's), not the token request's POST */
	char *url;		     /* token_url plus query.* (and requested lifetime) */
	char **headers;		     /* "Name: value", no secrets */
	size_t nheaders;
	struct secret *authorization; /* "Authorization: Basic ..." or NULL */
	struct secret *body;	     /* form body (may be empty, never NULL) */
	const char *auth_desc;	     /* how the client authenticated, for diagnostics */
	struct request_assertion assertion;
};

/*
 * Builds the request o describes.  current_token, when not NULL and the
 * credential re-authenticates with its token, is sent in the body.  The
 * one I/O it does: client_assertion reads client_assertion_file, as it must
 * at every request (the file is rotated under the daemon); private_key_jwt
 * signs a new assertion with a new jti every time.
 * Returns 0 and *ret, or -EINVAL with *cause set (caller frees).
 */
int request_build(const struct request_opts *o, const struct secret *current_token,
		  struct token_request **ret, char **cause);
struct token_request *request_free(struct token_request *req);

/* application/x-www-form-urlencoded encoding of s; caller frees. */
char *request_form_encode(const char *s, size_t len);

#endif
