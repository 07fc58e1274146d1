/*
 * Secrets: copies that are wiped before release, compared in constant
 * time, read from descriptors into wiped buffers.  The bytes come from
 * whatever secret_heap_set installed (the arena) or the ordinary heap;
 * nothing here needs libcrypto, so the client can link it.
 */
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "secret.h"
#include "xmalloc.h"

/* The arena, once there is one (secret_arena.c); else the ordinary heap. */
static const struct secret_heap *secret_heap_cur;

void
secret_heap_set(const struct secret_heap *heap)
{
	secret_heap_cur = heap;
}

/* len bytes and a NUL, from the arena when it has room. */
static char *
secret_alloc(size_t len)
{
	void *p;

	if (secret_heap_cur != NULL && (p = secret_heap_cur->alloc(len + 1)) != NULL)
		return p;
	return xmalloc(len + 1);
}

/* Wipes and frees what secret_alloc gave for len bytes. */
static void
secret_release(char *p, size_t len)
{
	if (secret_heap_cur != NULL && secret_heap_cur->release(p, len + 1))
		return;
	explicit_bzero(p, len + 1);
	free(p);
}

struct secret *
secret_new(const void *data, size_t len)
{
	struct secret *s = xmalloc(sizeof(*s));

	s->len = len;
	s->data = secret_alloc(len);
	if (len > 0)
		memcpy(s->data, data, len);
	s->data[len] = '\0';
	return s;
}

struct secret *
secret_from_str(const char *str)
{
	return secret_new(str, strlen(str));
}

struct secret *
secret_dup(const struct secret *s)
{
	return s == NULL ? NULL : secret_new(s->data, s->len);
}

struct secret *
secret_free(struct secret *s)
{
	if (s == NULL)
		return NULL;
	secret_release(s->data, s->len);
	explicit_bzero(s, sizeof(*s));
	free(s);
	return NULL;
}

bool
secret_equal(const struct secret *a, const struct secret *b)
{
	unsigned char diff = 0;

	if (a == NULL || b == NULL)
		return a == b;
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++)
		diff |= (unsigned char)(a->data[i] ^ b->data[i]);
	return diff == 0;
}

void
secret_free_str(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
secret_free_buf(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void
secret_wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void *
secret_wipe_realloc(void *p, size_t size)
{
	size_t old;
	void *n;

	if (size == 0)
		size = 1;
	n = xmalloc(size);
	if (p != NULL) {
		old = malloc_usable_size(p);
		memcpy(n, p, old < size ? old : size);
		secret_wipe_free(p);
	}
	return n;
}

void
secret_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
secret_read_fd(int fd, size_t max, char **ret, size_t *ret_len, size_t *ret_size)
{
	size_t size = max + 1, len = 0;
	char *buf = xmalloc(size);

	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			secret_free_buf(buf, size);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		secret_free_buf(buf, size);
		return -EFBIG;
	}
	*ret = buf;
	*ret_len = len;
	*ret_size = size;
	return 0;
}
