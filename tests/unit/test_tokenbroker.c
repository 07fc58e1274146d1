/*
 * tokenbroker.c: which credential names the client (and the daemon) accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tokenbroker.h"

#define NAME64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void
test_name_valid(void **state)
{
	static const char *const names[] = {
		"a", "Prod_api-2.v1", NAME64, "", "a/b", "a b", NAME64 "a", "caf\xc3\xa9", "..", "a\n",
	};
	static const bool valid[] = { true, true, true, false, false, false, false, false, true, false };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(tokenbroker_name_valid(names[i]), valid[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
