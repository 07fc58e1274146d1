/*
 * Base64 and base64url: the RFC 4648 test vectors both ways, the url
 * alphabet kept apart from the standard one, padding only at the end, and
 * lengths no encoder produces refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "secret.h"

static void
decodes(const char *in, bool url, const char *want, size_t want_len)
{
	char *out = NULL;
	size_t len = 0;

	if (base64_decode(in, strlen(in), url, &out, &len) != 0)
		fail_msg("\"%s\" refused", in);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(out[len], '\0');
	secret_free_buf(out, len + 1);
}

static void
refused(const char *in, bool url)
{
	char *out = NULL;
	size_t len = 0;

	if (base64_decode(in, strlen(in), url, &out, &len) != -EINVAL)
		fail_msg("\"%s\" accepted", in);
	assert_null(out);
}

static void
test_rfc4648_vectors(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const padded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					       "Zm9vYmFy" };
	static const char *const bare[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
					     "Zm9vYmFy" };

	for (size_t i = 0; i < 7; i++) {
		char *enc = base64url_encode(plain[i], strlen(plain[i]));

		assert_string_equal(enc, bare[i]);
		free(enc);
		decodes(padded[i], false, plain[i], strlen(plain[i]));
		decodes(bare[i], true, plain[i], strlen(plain[i]));
	}
}

static void
test_alphabets(void **state)
{
	/* 0xfb 0xff: "+/8" in base64, "-_8" in base64url. */
	decodes("+/8=", false, "\xfb\xff", 2);
	decodes("-_8", true, "\xfb\xff", 2);
	refused("-_8=", false);
	refused("+/8", true);
	decodes("dXNlcjpzM2NyZXQ=", false, "user:s3cret", 11);
}

static void
test_refusals(void **state)
{
	refused("Zm9v=Zg", false);   /* data after padding */
	refused("Z", false);	     /* one character: no byte */
	refused("Zm9vY", true);	     /* five: neither */
	refused("Zm 9v", false);     /* a space */
	refused("Zm9v\n", false);    /* a line break */
	refused("Zm9v\x80", true);   /* not ASCII */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_alphabets),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
