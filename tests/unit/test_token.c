/*
 * The token type: placing a token on both clocks, from a relative lifetime
 * (counted from when its request was sent) or from an absolute expiry (the
 * upstream's word), and the time left on the stricter clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "token.h"

#define WALL 1800000000000LL

static void
test_new_and_free(void **state)
{
	struct token *t = token_new(secret_from_str("abc"), NULL, NULL);

	assert_string_equal(t->token_type, "Bearer");
	assert_null(t->scope);
	assert_int_equal(strlen(t->fingerprint), 6);
	assert_null(token_free(t));
	t = token_new(secret_from_str("abc"), "DPoP", "read write");
	assert_string_equal(t->token_type, "DPoP");
	assert_string_equal(t->scope, "read write");
	assert_null(token_free(t));
	assert_null(token_free(NULL));
}

static void
test_place_relative(void **state)
{
	struct token *t = token_new(secret_from_str("abc"), "", NULL);

	assert_string_equal(t->token_type, "Bearer");
	t->lifetime_ms = 60000;
	/* Sent at mono 1000, answered 400 ms later: the lifetime counts from the send. */
	token_place(t, 1000, 1400, WALL);
	assert_int_equal(t->expires_mono_ms, 61000);
	assert_int_equal(t->obtained_mono_ms, 1000);
	assert_int_equal(t->expires_wall_ms, WALL - 400 + 60000);
	assert_int_equal(token_left(t, 1400, WALL), 59600);
	/* The wall clock jumped ahead by 10 s: it is the stricter one. */
	assert_int_equal(token_left(t, 1400, WALL + 10000), 49600);
	token_free(t);
}

static void
test_place_absolute(void **state)
{
	struct token *t = token_new(secret_from_str("abc"), "Bearer", NULL);

	t->lifetime_ms = 3600000;
	t->expires_wall_ms = WALL + 1800000; /* half of it left */
	token_place(t, 1000, 5000, WALL);
	assert_int_equal(t->expires_wall_ms, WALL + 1800000);
	assert_int_equal(t->expires_mono_ms, 5000 + 1800000);
	assert_int_equal(t->obtained_mono_ms, 5000 + 1800000 - 3600000);
	/* The monotonic clock ran on (a suspend the wall clock did not see). */
	assert_int_equal(token_left(t, 5000 + 1800000, WALL), 0);
	token_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_free),
		cmocka_unit_test(test_place_relative),
		cmocka_unit_test(test_place_absolute),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
