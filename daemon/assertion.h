/*
 * Client assertions for the token request: the JWT that private_key_jwt
 * signs afresh for every request (RFC 7523 section 2.2, RFC 7521), the
 * private key and certificate thumbprint it is made with, and the
 * ready-made assertion that client_assertion reads from a file at every
 * request.  Every buffer that holds an assertion is wiped.
 */
#ifndef TB_ASSERTION_H
#define TB_ASSERTION_H

#include <stdint.h>

#include <openssl/types.h>

#include "secret.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ASSERTION_LIFETIME_DEFAULT_MS (60 * 1000)
#define ASSERTION_LIFETIME_MAX_MS (3600 * 1000)
#define ASSERTION_SKEW_S 5	/* iat is this far in the past */
/* A shorter one would have expired (exp = iat + lifetime) when it is made. */
#define ASSERTION_LIFETIME_MIN_MS ((ASSERTION_SKEW_S + 1) * 1000)
#define ASSERTION_FILE_MAX (64 * 1024)

enum assertion_alg {
	ASSERTION_ALG_AUTO, /* by the key's type */
	ASSERTION_ALG_RS256,
	ASSERTION_ALG_PS256,
	ASSERTION_ALG_ES256,
};

/* What an assertion is made of; all borrowed. */
struct assertion_opts {
	EVP_PKEY *key;
	enum assertion_alg alg; /* AUTO: by the key's type */
	const char *kid;	/* or NULL */
	const char *x5t_s256;	/* or NULL; sent as "x5t#S256" */
	const char *client_id;	/* iss and sub */
	const char *audience;
	int64_t lifetime_ms;
};

/* The claims of one signed assertion that vary, for diagnostics. */
struct assertion_claims {
	char jti[33]; /* 32 hex digits: 128 random bits */
	int64_t iat;
	int64_t exp;
};

/*
 * Starts libcrypto's random generators now.  They keep their state in the
 * secure heap (the secret arena) until the process exits, so main takes
 * the arena's baseline after this: what is left above it at exit is a
 * secret that was not freed.
 */
void assertion_init(void);

/*
 * Signs a new assertion at now_s (unix seconds) with a new random jti.
 * Returns 0, *ret (the compact JWS, caller frees) and, when claims is not
 * NULL, what varied in it; or -errno and *cause (caller frees).
 */
int assertion_sign(const struct assertion_opts *o, int64_t now_s, struct secret **ret,
		   struct assertion_claims *claims, char **cause);

/* The names by enum assertion_alg ("auto" first), NULL-terminated. */
extern const char *const assertion_alg_names[];

/* "RS256", "PS256", "ES256"; "auto" for ASSERTION_ALG_AUTO. */
const char *assertion_alg_name(enum assertion_alg alg);

/*
 * Parses a PEM private key: RSA of at least 2048 bits, or EC P-256; not
 * encrypted.  Returns 0 and *ret (EVP_PKEY_free it), or -EINVAL and *cause.
 */
int assertion_key_parse(const char *pem, size_t len, EVP_PKEY **ret, char **cause);

/*
 * The algorithm to sign with key: want, or by the key's type when want is
 * AUTO.  Returns 0 and *ret, or -EINVAL and *cause when they do not match.
 */
int assertion_key_alg(EVP_PKEY *key, enum assertion_alg want, enum assertion_alg *ret,
		      char **cause);

/*
 * The "x5t#S256" of the first certificate in a PEM file: base64url of the
 * SHA-256 of its DER.  Returns 0 and *ret (caller frees), or -errno and
 * *cause.
 */
int assertion_cert_x5t(const char *path, char **ret, char **cause);

/*
 * Reads a ready-made assertion or token from path: a regular file of at
 * most ASSERTION_FILE_MAX bytes, not readable by group or others, one
 * trailing newline dropped, not empty.  Returns 0, *ret and *ret_mtime_ms
 * (the file's modification time, unix milliseconds), or -errno and *cause
 * naming the key (key, e.g. "client_assertion_file") and the file.
 */
int assertion_read_file(const char *key, const char *path, struct secret **ret,
			int64_t *ret_mtime_ms, char **cause);

#endif
