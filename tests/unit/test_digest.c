/*
 * digest.c: SHA-256 hex against the FIPS 180-2 examples, and the short
 * fingerprint that logs show in place of a token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "digest.h"
#include "secret.h"

static void
test_sha256_hex(void **state)
{
	char out[65];

	digest_sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_sha256_hex("", 0, out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_fingerprint(void **state)
{
	struct secret *s = secret_from_str("abc");
	char fp[7], via_secret[7];

	digest_fingerprint("abc", 3, fp);
	assert_string_equal(fp, "ba7816");
	secret_fingerprint(s, via_secret);
	assert_string_equal(via_secret, fp);
	secret_free(s);
}

static void
test_hex(void **state)
{
	const unsigned char in[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[9];

	digest_hex(in, sizeof(in), out);
	assert_string_equal(out, "000fa5ff");
	digest_hex(in, 0, out);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
