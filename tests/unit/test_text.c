/*
 * text.c: what passes as a line, a header value, a token and UTF-8, and the
 * sanitized copy a terminal or a log sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

#define S(lit) lit, sizeof(lit) - 1

static void
test_printable(void **state)
{
	assert_true(text_printable(S("eyJhbGciOi.abc-_~+/=")));
	assert_true(text_printable(S("caf\xc3\xa9")));
	assert_true(text_printable(S("")));
	assert_false(text_printable(S("two\nlines")));
	assert_false(text_printable(S("cr\r")));
	assert_false(text_printable(S("tab\t")));
	assert_false(text_printable(S("del\x7f")));
	assert_false(text_printable(S("nul\0byte")));
}

static void
test_field_value(void **state)
{
	assert_true(text_field_value(S("Bearer abc")));
	assert_true(text_field_value(S("a\tb")));
	assert_false(text_field_value(S("a\r\nX-Injected: 1")));
	assert_false(text_field_value(S("del\x7f")));
}

static void
test_token(void **state)
{
	assert_true(text_token(S("Bearer")));
	assert_true(text_token(S("DPoP")));
	assert_true(text_token(S("X-Api-Key")));
	assert_true(text_token(S("!#$%&'*+-.^_`|~09azAZ")));
	assert_false(text_token(S("")));
	assert_false(text_token(S("Bearer x")));
	assert_false(text_token(S("a\tb")));
	assert_false(text_token(S("a:b")));
	assert_false(text_token(S("a\"b")));
	assert_false(text_token(S("caf\xc3\xa9")));
	assert_false(text_token(S("a\0b")));
	assert_true(text_tchar('~'));
	assert_false(text_tchar('\0'));
	assert_false(text_tchar('('));
}

static void
test_utf8(void **state)
{
	uint32_t cp = 0;

	assert_true(text_utf8_valid(S("plain")));
	assert_true(text_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91")));
	assert_true(text_utf8_valid(S("")));
	assert_false(text_utf8_valid(S("\xff")));
	assert_false(text_utf8_valid(S("cut \xc3")));
	assert_false(text_utf8_valid(S("overlong \xc0\xaf")));
	assert_false(text_utf8_valid(S("overlong \xe0\x80\xaf")));
	assert_false(text_utf8_valid(S("surrogate \xed\xa0\x80")));
	assert_false(text_utf8_valid(S("beyond \xf4\x90\x80\x80")));
	assert_int_equal(text_utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(text_utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
}

static void
test_sanitize(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		const char *out;
	} cases[] = {
		{ "plain text", 256, "plain text" },
		{ "tab\there\nnl\x7f\x1b[31m", 256, "tab?here?nl??[31m" },
		{ "caf\xc3\xa9 \xe2\x82\xac", 256, "caf\xc3\xa9 \xe2\x82\xac" },
		{ "bad \xff\xfe utf8 \xc3", 256, "bad ?? utf8 ?" },
		{ "overlong \xc0\xaf", 256, "overlong ??" },
		{ "surrogate \xed\xa0\x80", 256, "surrogate ???" },
		{ "c1 \xc2\x85 bidi \xe2\x80\xae!", 256, "c1 ? bidi ?!" },
		{ "0123456789", 10, "0123456789" },
		{ "01234567890", 10, "0123456..." },
		/* a cut never splits a character */
		{ "abcde\xc3\xa9\xc3\xa9\xc3\xa9", 10, "abcde\xc3\xa9..." },
		{ "ab\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 8, "ab\xe2\x82\xac..." },
		{ "abcdef", 3, "abc" },
		{ "", 10, "" },
	};
	char *s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = text_sanitize(cases[i].in, strlen(cases[i].in), cases[i].max);
		assert_string_equal(s, cases[i].out);
		assert_true(strlen(s) <= cases[i].max);
		free(s);
	}
	s = text_sanitize("a\0b", 3, 10);
	assert_string_equal(s, "a?b");
	free(s);
	s = text_sanitize(NULL, 5, 10);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_field_value),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
