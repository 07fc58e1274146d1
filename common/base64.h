/*
 * Base64 (RFC 4648 section 4) and base64url (section 5): decoding into
 * wiped memory, since what is decoded is often a credential or a token's
 * payload, and base64url encoding without padding (JWT parts).
 */
#ifndef TB_BASE64_H
#define TB_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decodes len bytes of in, base64url when url is true, else standard
 * base64; '=' padding may follow the data and nothing else may.  0 with a
 * NUL-terminated buffer in *ret of *ret_len bytes that the caller releases
 * with secret_free_buf(*ret, *ret_len + 1) (the bytes past it were
 * never written); -EINVAL on a character outside
 * the alphabet or a length no encoding produces.
 */
int base64_decode(const char *in, size_t len, bool url, char **ret, size_t *ret_len);

/* base64url of len bytes, without padding, as a new string. */
char *base64url_encode(const void *data, size_t len);

#endif
