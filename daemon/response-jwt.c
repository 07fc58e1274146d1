/*
 * A JWT's exp claim, read without verifying the signature: the payload
 * (base64url, RFC 7515 2) decoded into wiped memory and parsed as JSON.
 * It only guesses a lifetime when the answer gave none; nothing trusts it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base64.h"
#include "json.h"
#include "response-int.h"
#include "secret.h"
#include "xmalloc.h"

int64_t
response_jwt_exp(const struct secret *token)
{
	const char *p, *dot1, *dot2;
	struct json *j = NULL;
	const struct json *exp;
	char *payload, *cause = NULL;
	size_t n;
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
	if (base64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), true, &payload, &n) < 0)
		return -1;
	if (json_parse(payload, n, &j, &cause) == 0) {
		exp = json_get(j, "exp");
		if (exp != NULL && exp->type == JSON_NUMBER &&
		    response_number(exp->text, exp->len, &v) && v > 0 && v < 1e12)
			r = (int64_t)v;
		json_free(j);
	}
	free(cause);
	secret_free_buf(payload, n + 1);
	return r;
}
