#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "secret.h"
#include "xmalloc.h"

/*
 * Secret bytes live in one arena, OpenSSL's secure heap: a single mapping
 * made at start, locked in memory where the limit allows, fenced by guard
 * pages and excluded from core dumps.  One mapping whatever the number of
 * secrets: page-sized allocations of their own would each split the
 * address space under an allocator that does not merge them (ASan's does
 * not) until the kernel's limit on mappings is reached.  When the arena is
 * full, or was never made (tests, tools), the ordinary heap is used: the
 * process is not dumpable either way, and every byte is wiped on free.
 */
static bool secret_arena_full_told;

int
secret_arena_init(size_t size)
{
	int r;

	if (CRYPTO_secure_malloc_initialized())
		return 0;
	r = CRYPTO_secure_malloc_init(size, SECRET_ARENA_MIN);
	if (r == 0)
		return -ENOMEM;
	return r == 2 ? 1 : 0;
}

void
secret_arena_done(void)
{
	if (CRYPTO_secure_malloc_initialized())
		(void)CRYPTO_secure_malloc_done();
}

size_t
secret_arena_used(void)
{
	return CRYPTO_secure_malloc_initialized() ? CRYPTO_secure_used() : 0;
}

static char *
secret_alloc(size_t len)
{
	void *p;

	if (CRYPTO_secure_malloc_initialized()) {
		/* No file and line: a full arena must not leave an OpenSSL error queued. */
		p = CRYPTO_secure_malloc(len + 1, NULL, 0);
		if (p != NULL)
			return p;
		if (!secret_arena_full_told) {
			secret_arena_full_told = true;
			log_warn("the memory kept for secrets is full: more go to the ordinary heap");
		}
	}
	return xmalloc(len + 1);
}

/* Wipes and frees what secret_alloc gave for len bytes. */
static void
secret_release(char *p, size_t len)
{
	if (CRYPTO_secure_malloc_initialized() && CRYPTO_secure_allocated(p)) {
		CRYPTO_secure_clear_free(p, len + 1, NULL, 0);
		return;
	}
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
secret_hex(const void *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void
secret_sha256_hex(const void *p, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort(); /* only out of memory gets here */
	secret_hex(md, 32, out);
	explicit_bzero(md, sizeof(md));
}

void
secret_fingerprint(const struct secret *s, char out[7])
{
	char hex[65];

	secret_sha256_hex(s->data, s->len, hex);
	memcpy(out, hex, 6);
	out[6] = '\0';
	explicit_bzero(hex, sizeof(hex));
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

bool
secret_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}
