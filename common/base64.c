/*
 * Base64 and base64url, both directions as the project needs them: see
 * base64.h.
 */
#include <errno.h>
#include <stdint.h>

#include "base64.h"
#include "secret.h"
#include "xmalloc.h"

/* The value of c in the alphabet, or -1. */
static int
base64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t len, bool url, char **ret, size_t *ret_len)
{
	size_t data = 0, o = 0;
	uint32_t acc = 0;
	int bits = 0;
	char *out;

	while (data < len && in[data] != '=')
		data++;
	for (size_t i = data; i < len; i++)
		if (in[i] != '=')
			return -EINVAL;
	if (data % 4 == 1)
		return -EINVAL;
	out = xmalloc(data * 3 / 4 + 1);
	for (size_t i = 0; i < data; i++) {
		int v = base64_value((unsigned char)in[i], url);

		if (v < 0) {
			secret_free_buf(out, data * 3 / 4 + 1);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

char *
base64url_encode(const void *data, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
		*o++ = abc[v & 63];
	}
	if (len - i == 1) {
		*o++ = abc[in[i] >> 2];
		*o++ = abc[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		*o++ = abc[v >> 10 & 63];
		*o++ = abc[v >> 4 & 63];
		*o++ = abc[(v & 15) << 2];
	}
	*o = '\0';
	return out;
}
