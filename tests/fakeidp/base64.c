/*
 * base64.c: standard base64 decoding (HTTP Basic credentials) and base64url
 * encoding without padding (the parts of a JWT).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "xmalloc.h"
#include "fakeidp.h"

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes standard base64 (padding optional) into a new NUL-terminated
 * buffer of *ret_len bytes that the caller wipes and frees.  -EINVAL on a
 * bad character.
 */
int
base64_decode(const char *in, char **ret, size_t *ret_len)
{
	size_t n = strlen(in), o = 0, i;
	char *out = xmalloc(n + 1);
	unsigned int acc = 0;
	int bits = 0;

	for (i = 0; i < n && in[i] != '='; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			goto bad;
		acc = (acc << 6 | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	for (; i < n; i++)
		if (in[i] != '=')
			goto bad;
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
bad:
	secret_free_buf(out, n + 1);
	return -EINVAL;
}

/* Base64url without padding (RFC 7515 section 2) into a new string. */
char *
base64url_encode(const void *data, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16 | (unsigned int)in[i + 1] << 8 |
		    in[i + 2];

		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
		*o++ = abc[v & 63];
	}
	if (len - i == 1) {
		*o++ = abc[in[i] >> 2];
		*o++ = abc[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		unsigned int v = (unsigned int)in[i] << 8 | in[i + 1];

		*o++ = abc[v >> 10 & 63];
		*o++ = abc[v >> 4 & 63];
		*o++ = abc[(v & 15) << 2];
	}
	*o = '\0';
	return out;
}
