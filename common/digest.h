/*
 * SHA-256 as hex, and the short fingerprint that may be logged in place of
 * a secret.  The one module of common/ besides secret_arena.c that needs
 * libcrypto: what does not hash does not link it.
 */
#ifndef TB_DIGEST_H
#define TB_DIGEST_H

#include <stddef.h>

/* Lowercase hex SHA-256 of len bytes of p, NUL-terminated. */
void digest_sha256_hex(const void *p, size_t len, char out[65]);
/* First 6 hex digits of SHA-256 of len bytes of p: safe to log. */
void digest_fingerprint(const void *p, size_t len, char out[7]);
/* len bytes of in as lowercase hex into out (2 * len + 1 bytes, with NUL). */
void digest_hex(const void *in, size_t len, char *out);

#endif
