/*
 * A JWT's exp claim, read without verifying the signature: the payload
 * (base64url, RFC 7515 2) decoded into wiped memory and parsed as JSON.
 * It only guesses a lifetime when the answer gave none; nothing trusts it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "json.h"
#include "response-int.h"
#include "secret.h"
#include "xmalloc.h"

static int
response_jwt_b64url_digit(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * base64url without padding (RFC 7515 2) into a buffer the caller wipes
 * with secret_free_buf(*ret, len + 1).  Returns the length or -1.
 */
static ssize_t
response_jwt_b64url_decode(const char *s, size_t len, char **ret)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0, d;
	char *out;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	out = xmalloc(len * 3 / 4 + 1);
	for (size_t i = 0; i < len; i++) {
		d = response_jwt_b64url_digit((unsigned char)s[i]);
		if (d < 0) {
			secret_free_buf(out, len * 3 / 4 + 1);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*ret = out;
	return (ssize_t)o;
}

int64_t
response_jwt_exp(const struct secret *token)
{
	const char *p, *dot1, *dot2;
	struct json *j = NULL;
	const struct json *exp;
	char *payload, *cause = NULL;
	ssize_t n;
	double v;
	int64_t r = -1;

	if (token == NULL)
		return -1;
	p = token->data;
	dot1 = memchr(p, '.', token->len);
	if (dot1 == NULL)
		return -1;
	dot2 = memchr(dot1 + 1, '.', token->len - (size_t)(dot1 + 1 - p));
	/* A JWS has three parts; a JWE (five) has no readable payload. */
	if (dot2 == NULL || memchr(dot2 + 1, '.', token->len - (size_t)(dot2 + 1 - p)) != NULL)
		return -1;
	n = response_jwt_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload);
	if (n < 0)
		return -1;
	if (json_parse(payload, (size_t)n, &j, &cause) == 0) {
		exp = json_get(j, "exp");
		if (exp != NULL && exp->type == JSON_NUMBER &&
		    response_number(exp->text, exp->len, &v) && v > 0 && v < 1e12)
			r = (int64_t)v;
		json_free(j);
	}
	free(cause);
	secret_free_buf(payload, (size_t)n + 1);
	return r;
}
