/*
 * Secrets and tokens: heap memory that is wiped before it is released and
 * that no formatting function ever sees.  Compare with secret_equal (constant
 * time); print only secret_fingerprint.
 */
#ifndef TB_SECRET_H
#define TB_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct secret {
	size_t len;
	char *data; /* NUL-terminated, len bytes before the NUL */
};

/*
 * The arena for secrets (OpenSSL's secure heap): size bytes, a power of
 * two, made once before the first secret.  0; 1 when it could not be
 * locked in memory (RLIMIT_MEMLOCK) but is usable; -ENOMEM.  Without it,
 * or once it is full, secrets use the ordinary heap (still wiped on free).
 */
#define SECRET_ARENA_SIZE ((size_t)8 << 20)
#define SECRET_ARENA_MIN 32
int secret_arena_init(size_t size);
/* Releases the arena; every secret must have been freed. */
void secret_arena_done(void);
/* Bytes of the arena in use: 0 once every secret is freed. */
size_t secret_arena_used(void);

/* Copies len bytes of data; the copy is NUL-terminated. */
struct secret *secret_new(const void *data, size_t len);
struct secret *secret_from_str(const char *s);
struct secret *secret_dup(const struct secret *s);
/* Wipes and frees; takes NULL; returns NULL. */
struct secret *secret_free(struct secret *s);
bool secret_equal(const struct secret *a, const struct secret *b);

/* First 6 hex digits of SHA-256 of the secret: safe to log. */
void secret_fingerprint(const struct secret *s, char out[7]);
/* Lowercase hex SHA-256 of len bytes of p, NUL-terminated. */
void secret_sha256_hex(const void *p, size_t len, char out[65]);
/* len bytes of in as lowercase hex into out (2 * len + 1 bytes, with NUL). */
void secret_hex(const void *in, size_t len, char *out);

/* Wipes and frees a NUL-terminated heap string; takes NULL. */
void secret_free_str(char *s);
/*
 * Wipes len bytes then frees: for buffers that held a secret; takes NULL.
 * Inline, so that what uses only this (secbuf, thus tokenctl) does not pull
 * in secret.o and with it libcrypto.
 */
static inline void
secret_free_buf(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

/*
 * Reads all of fd, at most max bytes, into a buffer of *ret_size bytes that
 * the caller releases with secret_free_buf.  0; -EFBIG when fd holds more
 * than max bytes; -errno when reading fails (nothing to free then).
 */
int secret_read_fd(int fd, size_t max, char **ret, size_t *ret_len, size_t *ret_size);

/* No byte below 0x20 and no DEL (UTF-8 passes): fit for a header or a line. */
bool secret_printable(const char *s, size_t len);

/* Process-wide hardening: no core dumps, no ptrace by non-root peers. */
void secret_harden_process(void);

#endif
