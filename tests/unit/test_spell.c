/*
 * Spelling suggestions: the distance between names, and which known name a
 * slip is taken for (or none, when nothing is near enough).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "spell.h"

static void
test_distance(void **state)
{
	static const struct {
		const char *a, *b;
		size_t d;
	} cases[] = {
		{ "", "", 0 },
		{ "scope", "scope", 0 },
		{ "", "abc", 3 },
		{ "abc", "", 3 },
		/* one of each edit */
		{ "scop", "scope", 1 },
		{ "scopes", "scope", 1 },
		{ "scape", "scope", 1 },
		/* a swap of neighbours is one edit, not two */
		{ "client_secert_file", "client_secret_file", 1 },
		{ "ab", "ba", 1 },
		/* case does not count */
		{ "Client_ID", "client_id", 0 },
		{ "kitten", "sitting", 3 },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		assert_int_equal(spell_distance(cases[i].a, cases[i].b), cases[i].d);
		/* and it is symmetric */
		assert_int_equal(spell_distance(cases[i].b, cases[i].a), cases[i].d);
	}
}

static void
test_distance_too_long(void **state)
{
	char longword[SPELL_MAX + 2];

	memset(longword, 'a', sizeof(longword) - 1);
	longword[sizeof(longword) - 1] = '\0';
	assert_true(spell_distance(longword, "a") == SIZE_MAX);
	assert_true(spell_distance("a", longword) == SIZE_MAX);
	longword[SPELL_MAX] = '\0'; /* exactly SPELL_MAX: still measured */
	assert_int_equal(spell_distance(longword, ""), SPELL_MAX);
}

static const char *const keys[] = {
	"token_url", "client_id", "client_secret", "client_secret_file", "scope", "timeout",
	"connect_timeout", "ca_file", NULL, "tls_verify",
};

static void
test_nearest(void **state)
{
	size_t n = ELEMENTSOF(keys);

	assert_string_equal(spell_nearest("client_secert_file", keys, n), "client_secret_file");
	assert_string_equal(spell_nearest("clientsecret", keys, n), "client_secret");
	assert_string_equal(spell_nearest("token_ur", keys, n), "token_url");
	assert_string_equal(spell_nearest("TIMEOUT", keys, n), "timeout");
	assert_string_equal(spell_nearest("cafile", keys, n), "ca_file");
	/* the NULL entry is skipped, the one after it still found */
	assert_string_equal(spell_nearest("tls_verfy", keys, n), "tls_verify");
	/* the nearer of two wins: "client_secret_fil" is 1 from the file key */
	assert_string_equal(spell_nearest("client_secret_fil", keys, n), "client_secret_file");
}

static void
test_nearest_none(void **state)
{
	size_t n = ELEMENTSOF(keys);

	/* nothing near */
	assert_null(spell_nearest("colour", keys, n));
	assert_null(spell_nearest("", keys, n));
	/* a short word allows one edit only: "sco" is two from "scope" */
	assert_null(spell_nearest("sco", keys, n));
	/* a known name is no slip */
	assert_null(spell_nearest("scope", keys, n));
	assert_null(spell_nearest("scope", keys, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_distance_too_long),
		cmocka_unit_test(test_nearest),
		cmocka_unit_test(test_nearest_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
