/*
 * A growing byte buffer for bytes that may be secret: a request body, a
 * token file, an answer.  It grows by copying into a fresh block and wiping
 * the old one, never by realloc(), so no copy is left behind unwiped.  Start
 * from { NULL, 0, 0 }; secbuf_clear wipes and frees.
 */
#ifndef TB_SECBUF_H
#define TB_SECBUF_H

#include <stddef.h>

struct secbuf {
	char *data; /* NULL until the first add or reserve; then data[len] == '\0' */
	size_t len;
	size_t cap; /* bytes allocated at data */
};

/*
 * Makes room for at least n more bytes and the NUL after them: afterwards
 * cap - len > n and data is not NULL.  A caller may write into the room
 * directly, then adds what it wrote to len and puts the NUL back.
 */
void secbuf_reserve(struct secbuf *b, size_t n);
/* Appends len bytes of p (p may be NULL when len is 0). */
void secbuf_add(struct secbuf *b, const void *p, size_t len);
void secbuf_str(struct secbuf *b, const char *s);
/* yajl_gen's print callback: ctx is the struct secbuf. */
void secbuf_yajl_cb(void *ctx, const char *s, size_t len);
/* Wipes and frees the data; b is empty again, ready for reuse. */
void secbuf_clear(struct secbuf *b);
/*
 * Hands the data over (NUL-terminated, len bytes before the NUL; NULL if
 * nothing was ever added) and leaves b empty.  The bytes past the NUL are
 * wiped, so wiping len + 1 bytes before freeing is enough.
 */
char *secbuf_take(struct secbuf *b);

#endif
