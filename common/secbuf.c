/*
 * A growing byte buffer for secret material: every block it leaves behind,
 * on growth or when cleared, is wiped first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secbuf.h"
#include "secret.h"
#include "xmalloc.h"

#define SECBUF_MIN 256

void
secbuf_reserve(struct secbuf *b, size_t n)
{
	size_t need, cap;
	char *data;

	if (b->data != NULL && b->cap - b->len > n)
		return;
	if (n > SIZE_MAX - b->len - 1)
		abort(); /* no buffer is that large */
	need = b->len + n + 1;
	cap = b->cap > 0 ? b->cap : SECBUF_MIN;
	while (cap < need)
		cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
	data = xmalloc(cap);
	if (b->len > 0)
		memcpy(data, b->data, b->len);
	data[b->len] = '\0';
	secret_free_buf(b->data, b->cap);
	b->data = data;
	b->cap = cap;
}

void
secbuf_add(struct secbuf *b, const void *p, size_t len)
{
	secbuf_reserve(b, len);
	if (len > 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
secbuf_str(struct secbuf *b, const char *s)
{
	secbuf_add(b, s, strlen(s));
}

void
secbuf_yajl_cb(void *ctx, const char *s, size_t len)
{
	secbuf_add(ctx, s, len);
}

void
secbuf_clear(struct secbuf *b)
{
	secret_free_buf(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
secbuf_take(struct secbuf *b)
{
	char *data = b->data;

	if (data != NULL && b->cap > b->len + 1)
		explicit_bzero(data + b->len + 1, b->cap - b->len - 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return data;
}
