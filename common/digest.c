/*
 * Hashing for the rest of the tree: SHA-256 (libcrypto's EVP) rendered as
 * hex, and the 6-digit fingerprint that stands in for a token in logs.
 * Kept apart from secret.c so that a program that only wipes memory (the
 * client) does not need libcrypto.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

void
digest_hex(const void *in, size_t len, char *out)
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
digest_sha256_hex(const void *p, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort(); /* only out of memory gets here */
	digest_hex(md, 32, out);
	explicit_bzero(md, sizeof(md));
}

void
digest_fingerprint(const void *p, size_t len, char out[7])
{
	char hex[65];

	digest_sha256_hex(p, len, hex);
	memcpy(out, hex, 6);
	out[6] = '\0';
	explicit_bzero(hex, sizeof(hex));
}
