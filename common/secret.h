/*
 * Secrets and tokens: heap memory that is wiped before it is released and
 * that no formatting function ever sees.  Compare with secret_equal (constant
 * time); print only a fingerprint (digest.h).
 */
#ifndef TB_SECRET_H
#define TB_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"

struct secret {
	size_t len;
	char *data; /* NUL-terminated, len bytes before the NUL */
};

/*
 * The arena for secrets (OpenSSL's secure heap, in secret_arena.c, the only
 * part that needs libcrypto): size bytes, a power of two, made once before
 * the first secret.  0; 1 when it could not be
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

/*
 * Where secret bytes go before the ordinary heap.  alloc returns size
 * bytes, or NULL when it has no room (the heap is used then); release wipes
 * and frees p when it is its own and says whether it was.  The arena sets
 * this; NULL puts everything back on the ordinary heap.
 */
struct secret_heap {
	void *(*alloc)(size_t size);
	bool (*release)(void *p, size_t size);
};
void secret_heap_set(const struct secret_heap *heap);

/* Copies len bytes of data; the copy is NUL-terminated. */
struct secret *secret_new(const void *data, size_t len);
struct secret *secret_from_str(const char *s);
struct secret *secret_dup(const struct secret *s);
/* Wipes and frees; takes NULL; returns NULL. */
struct secret *secret_free(struct secret *s);
bool secret_equal(const struct secret *a, const struct secret *b);

/* First 6 hex digits of SHA-256 of the secret: safe to log. */
static inline void
secret_fingerprint(const struct secret *s, char out[7])
{
	digest_fingerprint(s->data, s->len, out);
}

/* Wipes and frees a NUL-terminated heap string; takes NULL. */
void secret_free_str(char *s);
/* Wipes len bytes then frees: for buffers that held a secret; takes NULL. */
void secret_free_buf(void *p, size_t len);
/*
 * For blocks whose size the caller does not track (a parser's own): wipes
 * the whole heap block, as malloc sized it, then frees; takes NULL.
 */
void secret_wipe_free(void *p);
/*
 * realloc that never leaves the old contents behind: a fresh block, a copy,
 * and the old block wiped (secret_wipe_free).  size 0 gives a 1-byte block;
 * dies on exhaustion like xmalloc.
 */
void *secret_wipe_realloc(void *p, size_t size);

/*
 * Reads all of fd, at most max bytes, into a buffer of *ret_size bytes that
 * the caller releases with secret_free_buf.  0; -EFBIG when fd holds more
 * than max bytes; -errno when reading fails (nothing to free then).
 */
int secret_read_fd(int fd, size_t max, char **ret, size_t *ret_len, size_t *ret_size);


/* Process-wide hardening: no core dumps, no ptrace by non-root peers. */
void secret_harden_process(void);

#endif
