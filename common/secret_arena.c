/*
 * The arena for secrets: OpenSSL's secure heap, a single mapping made at
 * start, locked in memory where the limit allows, fenced by guard pages and
 * excluded from core dumps.  One mapping whatever the number of secrets:
 * page-sized allocations of their own would each split the address space
 * under an allocator that does not merge them (ASan's does not) until the
 * kernel's limit on mappings is reached.
 *
 * secret.c knows nothing of it: secret_arena_init hands it a struct
 * secret_heap, so that only a program that makes an arena links libcrypto.
 */
#include <errno.h>
#include <stdbool.h>

#include <openssl/crypto.h>

#include "log.h"
#include "secret.h"

static bool secret_arena_full_told;

/* size bytes of the arena, or NULL when it is full. */
static void *
secret_arena_alloc(size_t size)
{
	void *p;

	if (!CRYPTO_secure_malloc_initialized())
		return NULL;
	/* No file and line: a full arena must not leave an OpenSSL error queued. */
	p = CRYPTO_secure_malloc(size, NULL, 0);
	if (p == NULL && !secret_arena_full_told) {
		secret_arena_full_told = true;
		log_warn("the memory kept for secrets is full: more go to the ordinary heap");
	}
	return p;
}

/* Wipes and frees p when the arena holds it; false when it does not. */
static bool
secret_arena_release(void *p, size_t size)
{
	if (!CRYPTO_secure_malloc_initialized() || !CRYPTO_secure_allocated(p))
		return false;
	CRYPTO_secure_clear_free(p, size, NULL, 0);
	return true;
}

static const struct secret_heap secret_arena_heap = {
	.alloc = secret_arena_alloc,
	.release = secret_arena_release,
};

int
secret_arena_init(size_t size)
{
	int r;

	if (CRYPTO_secure_malloc_initialized())
		return 0;
	r = CRYPTO_secure_malloc_init(size, SECRET_ARENA_MIN);
	if (r == 0)
		return -ENOMEM;
	secret_heap_set(&secret_arena_heap);
	return r == 2 ? 1 : 0;
}

void
secret_arena_done(void)
{
	if (CRYPTO_secure_malloc_initialized() && CRYPTO_secure_malloc_done() == 1)
		secret_heap_set(NULL);
}

size_t
secret_arena_used(void)
{
	return CRYPTO_secure_malloc_initialized() ? CRYPTO_secure_used() : 0;
}
