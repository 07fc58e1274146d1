/*
 * Turns a token endpoint's answer (status, Content-Type, body) into a token
 * and its lifetime, or into an error with a cause a person can act on.
 */
#ifndef TB_RESPONSE_H
#define TB_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"
#include "token.h"

#define RESPONSE_TEXT_MAX 256 /* cap for untrusted text kept from a body */
#define RESPONSE_TOKEN_TYPE_MAX 64

enum response_format {
	RESPONSE_FORMAT_AUTO,
	RESPONSE_FORMAT_JSON,
	RESPONSE_FORMAT_XML,
};

/* How a credential's answers are read (paths borrowed; filled by conf). */
struct response_opts {
	enum response_format format;
	const char *token_path;	     /* JSON Pointer or XPath; NULL: the default */
	const char *expires_in_path;
	const char *token_type_path;
	const char *expires_at_path; /* NULL: none */
	int64_t default_lifetime_ms;
	enum scope_separator scope_separator;
};

enum lifetime_source {
	LIFETIME_EXPIRES_IN,
	LIFETIME_EXPIRES_AT,
	LIFETIME_JWT_EXP,
	LIFETIME_DEFAULT,
};

/*
 * A parsed answer: the token (its scope the granted one or NULL; its
 * expires_wall_ms the upstream's absolute expiry when it gave one, else 0;
 * not yet placed on the monotonic clock) and how it was found.
 */
struct token_response {
	struct token *token;
	enum lifetime_source lifetime_source;
	const char *format;  /* "json" or "xml" */
	/* A JSON answer's refresh_token (RFC 6749 5.1), printable; or NULL. */
	struct secret *refresh_token;
	/* diagnostics: which field was found where (paths) */
	char *found;	     /* e.g. "access_token at /access_token, expires_in at /expires_in" */
};

struct response_error {
	long http_status;   /* 0 when no HTTP answer */
	char *error;	    /* upstream error code (RFC 6749 "error", Xvid error_code), sanitized; or NULL */
	char *description;  /* upstream text, sanitized and capped; or NULL */
	/*
	 * The upstream's own words, code and text as a person reads them
	 * ("invalid_scope: scope not allowed", Xvid's "Scopes requested are
	 * not allowed (0x0220002)"), sanitized; NULL when the body had none.
	 */
	char *text;
	char *message;	    /* the whole cause for last_error and logs: "HTTP 401: invalid_client: ..." */
	bool auth_failed;   /* 401, invalid_client, unauthorized_client, invalid_grant */
	/*
	 * Retrying the same request cannot help: the authentication failed, or
	 * the upstream refused the request itself (a 4xx other than 408, 425
	 * and 429, or an RFC 6749 code such as invalid_scope).
	 */
	bool permanent;
};

/*
 * Parses an answer.  now_wall_ms is the wall clock used to turn absolute
 * expiries into lifetimes.  Returns 0 with *ret_tok, or -EINVAL with
 * *ret_err filled (caller calls response_error_clear).
 */
int response_parse(const struct response_opts *o, long status, const char *content_type,
		   const char *body, size_t len, int64_t now_wall_ms,
		   struct token_response **ret_tok, struct response_error *ret_err);
struct token_response *response_free(struct token_response *tok);
void response_error_clear(struct response_error *err);

/* A JWT's exp claim (unix seconds) without verifying it; -1 if none. */
int64_t response_jwt_exp(const struct secret *token);

#endif
