/*
 * json.c: the tree, the limits a hostile body runs into, and RFC 6901
 * pointers (the examples of RFC 6901 section 5).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "xmalloc.h"

static struct json *
parse_ok(const char *text)
{
	struct json *j = NULL;
	char *cause = NULL;
	int r = json_parse(text, strlen(text), &j, &cause);

	if (r != 0)
		fail_msg("parse failed: %s", cause);
	assert_null(cause);
	assert_non_null(j);
	return j;
}

/* Parses text expecting failure; returns the cause (caller frees). */
static char *
parse_bad(const char *text, size_t len)
{
	struct json *j = NULL;
	char *cause = NULL;

	assert_int_equal(json_parse(text, len, &j, &cause), -EINVAL);
	assert_null(j);
	assert_non_null(cause);
	assert_true(strncmp(cause, "invalid JSON", 12) == 0);
	return cause;
}

static void
test_types(void **state)
{
	struct json *j = parse_ok("{\"s\":\"a\\\"b\\u00e9\\n\",\"n\":1.50,\"i\":-0,\"e\":1e3,"
				  "\"t\":true,\"f\":false,\"z\":null,\"a\":[1,\"x\",{}],\"o\":{}}");
	const struct json *v;

	assert_int_equal(j->type, JSON_OBJECT);
	assert_int_equal(j->n, 9);

	v = json_get(j, "s");
	assert_int_equal(v->type, JSON_STRING);
	assert_string_equal(v->text, "a\"b\xc3\xa9\n");
	assert_int_equal(v->len, 6);

	/* numbers keep their literal text */
	assert_string_equal(json_get(j, "n")->text, "1.50");
	assert_int_equal(json_get(j, "n")->type, JSON_NUMBER);
	assert_string_equal(json_get(j, "i")->text, "-0");
	assert_string_equal(json_get(j, "e")->text, "1e3");

	assert_int_equal(json_get(j, "t")->type, JSON_BOOL);
	assert_true(json_get(j, "t")->boolean);
	assert_false(json_get(j, "f")->boolean);
	assert_int_equal(json_get(j, "z")->type, JSON_NULL);

	v = json_get(j, "a");
	assert_int_equal(v->type, JSON_ARRAY);
	assert_int_equal(v->n, 3);
	assert_null(v->keys);
	assert_string_equal(v->values[1]->text, "x");
	assert_int_equal(v->values[2]->type, JSON_OBJECT);
	assert_int_equal(v->values[2]->n, 0);

	assert_null(json_get(j, "missing"));
	assert_null(json_get(v, "0")); /* not an object */
	assert_null(json_free(j));
	assert_null(json_free(NULL));
}

static void
test_scalar_root_and_whitespace(void **state)
{
	struct json *j = parse_ok("  \"tok\"\r\n\t ");

	assert_int_equal(j->type, JSON_STRING);
	assert_string_equal(j->text, "tok");
	assert_ptr_equal(json_pointer(j, ""), j);
	json_free(j);

	j = parse_ok("42");
	assert_int_equal(j->type, JSON_NUMBER);
	json_free(j);
}

static void
test_nul_bytes(void **state)
{
	static const char text[] = "{\"k\":\"a\\u0000b\"}";
	struct json *j = parse_ok(text);
	const struct json *v = json_get(j, "k");
	char *cause;

	/* a NUL inside a string is kept, with the length telling the truth */
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->text, "a\0b", 3);
	json_free(j);

	/* a key with a NUL could pose as a shorter key: refused */
	cause = parse_bad("{\"access_token\\u0000x\":\"t\"}", 27);
	assert_non_null(strstr(cause, "NUL"));
	free(cause);
}

static char *
nested(const char *open, const char *close, int depth)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = xmalloc((size_t)depth * (lo + lc) + 2), *p = s;

	for (int i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	*p++ = '1';
	for (int i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void
test_nesting_limit(void **state)
{
	struct json *j;
	char *s, *cause;

	s = nested("[", "]", 64);
	j = parse_ok(s);
	assert_string_equal(json_pointer(j, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0"
					"/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0"
					"/0/0/0/0/0/0/0/0")
				->text,
			    "1");
	json_free(j);
	free(s);

	s = nested("[", "]", 65);
	cause = parse_bad(s, strlen(s));
	assert_non_null(strstr(cause, "nested deeper than 64"));
	free(cause);
	free(s);

	s = nested("{\"a\":", "}", 64);
	j = parse_ok(s);
	json_free(j);
	free(s);

	/* objects count the same as arrays; and a huge depth fails fast */
	s = nested("{\"a\":[", "]}", 40);
	cause = parse_bad(s, strlen(s));
	assert_non_null(strstr(cause, "nested deeper than 64"));
	free(cause);
	free(s);

	s = nested("[", "]", 100000);
	cause = parse_bad(s, strlen(s));
	free(cause);
	free(s);
}

static void
test_trailing_garbage(void **state)
{
	static const char *const bad[] = {
		"{} x",
		"{}{}",
		"[1] [2]",
		"{\"a\":1}\n<br />",
		"\"a\" \"b\"",
		"1 2",
	};
	char *cause;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cause = parse_bad(bad[i], strlen(bad[i]));
		free(cause);
	}
	json_free(parse_ok("{}  \n"));
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"{\"a\":",
		"{\"a\" 1}",
		"{'a':1}",
		"/* c */ {}",
		"{\"a\":1,}",
		"[NaN]",
		"{\"a\":\"\xff\"}",
		"{\"a\":01}",
		"{\"a\":tru}",
	};
	static const char secretish[] = "{\"access_token\":\"VERYSECRETVALUE\",\"x\":";
	char *cause;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cause = parse_bad(bad[i], strlen(bad[i]));
		free(cause);
	}

	/* the cause never quotes the input */
	cause = parse_bad(secretish, strlen(secretish));
	assert_null(strstr(cause, "VERYSECRET"));
	assert_null(strchr(cause, '\n'));
	free(cause);
	cause = parse_bad("{\"VERYSECRETVALUE\" x}", 21);
	assert_null(strstr(cause, "VERYSECRET"));
	free(cause);

	/* length is honoured: the text need not be NUL-terminated */
	{
		struct json *j = NULL;
		char *c = NULL;

		assert_int_equal(json_parse("{}garbage", 2, &j, &c), 0);
		assert_int_equal(j->type, JSON_OBJECT);
		json_free(j);
	}
}

static void
test_duplicate_keys(void **state)
{
	struct json *j = parse_ok("{\"access_token\":\"first\",\"access_token\":\"second\"}");

	assert_string_equal(json_get(j, "access_token")->text, "second");
	assert_string_equal(json_pointer(j, "/access_token")->text, "second");
	json_free(j);
}

static void
test_large_array(void **state)
{
	size_t n = 1000, len = 0;
	char *s = xmalloc(n * 8 + 3);
	struct json *j;

	s[len++] = '[';
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%s%zu", i ? "," : "", i);
	s[len++] = ']';
	s[len] = '\0';
	j = parse_ok(s);
	assert_int_equal(j->n, n);
	assert_string_equal(json_pointer(j, "/999")->text, "999");
	assert_string_equal(json_pointer(j, "/4")->text, "4");
	assert_null(json_pointer(j, "/1000"));
	json_free(j);
	free(s);
}

/* RFC 6901 section 5 */
static void
test_pointer_rfc6901(void **state)
{
	struct json *j = parse_ok("{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2,"
				  " \"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6,"
				  " \" \": 7, \"m~n\": 8}");
	static const struct {
		const char *ptr;
		const char *num;
	} cases[] = {
		{ "/", "0" },	  { "/a~1b", "1" }, { "/c%d", "2" },   { "/e^f", "3" },
		{ "/g|h", "4" },  { "/i\\j", "5" }, { "/k\"l", "6" }, { "/ ", "7" },
		{ "/m~0n", "8" },
	};
	const struct json *v;

	assert_ptr_equal(json_pointer(j, ""), j);
	v = json_pointer(j, "/foo");
	assert_int_equal(v->type, JSON_ARRAY);
	assert_string_equal(json_pointer(j, "/foo/0")->text, "bar");
	assert_string_equal(json_pointer(j, "/foo/1")->text, "baz");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = json_pointer(j, cases[i].ptr);
		if (v == NULL)
			fail_msg("no value at %s", cases[i].ptr);
		assert_string_equal(v->text, cases[i].num);
	}
	json_free(j);
}

static void
test_pointer_misses(void **state)
{
	struct json *j = parse_ok("{\"foo\":[\"bar\",\"baz\"],\"a\":{\"b\":[{\"c\":\"deep\"}]},"
				  "\"~1\":\"tilde-one\",\"01\":\"key\"}");

	assert_string_equal(json_pointer(j, "/a/b/0/c")->text, "deep");
	/* "~01" is "~1" as a key, not "/" followed by "1" */
	assert_string_equal(json_pointer(j, "/~01")->text, "tilde-one");
	/* object keys that look like indexes are plain keys */
	assert_string_equal(json_pointer(j, "/01")->text, "key");

	assert_null(json_pointer(j, "/foo/01"));  /* leading zero */
	assert_null(json_pointer(j, "/foo/-"));	  /* past the end */
	assert_null(json_pointer(j, "/foo/2"));
	assert_null(json_pointer(j, "/foo/1x"));
	assert_null(json_pointer(j, "/foo/"));
	assert_null(json_pointer(j, "/foo/-1"));
	assert_null(json_pointer(j, "/foo/99999999999999999999999"));
	assert_null(json_pointer(j, "/foo/0/x")); /* into a string */
	assert_null(json_pointer(j, "/a/b/0/c/d"));
	assert_null(json_pointer(j, "/nope"));
	assert_null(json_pointer(j, "foo"));	  /* no leading slash */
	assert_null(json_pointer(j, "/~2"));	  /* bad escape */
	assert_null(json_pointer(j, "/a~"));
	assert_null(json_pointer(NULL, "/foo"));
	assert_null(json_pointer(j, NULL));
	json_free(j);
}

static void
test_pointer_valid(void **state)
{
	assert_true(json_pointer_valid(""));
	assert_true(json_pointer_valid("/"));
	assert_true(json_pointer_valid("/access_token"));
	assert_true(json_pointer_valid("/data/0/token"));
	assert_true(json_pointer_valid("/a~0b~1c"));
	assert_false(json_pointer_valid("access_token"));
	assert_false(json_pointer_valid("/a~"));
	assert_false(json_pointer_valid("/a~2"));
	assert_false(json_pointer_valid(NULL));
}

/* A string with an escaped NUL is not handed out as a shorter C string. */
static void
test_get_string(void **state)
{
	struct json *j = parse_ok("{\"a\":\"x\",\"b\":\"ab\\u0000cd\",\"c\":1,\"d\":null}");

	assert_string_equal(json_get_string(j, "a"), "x");
	assert_null(json_get_string(j, "b"));
	assert_null(json_get_string(j, "c"));
	assert_null(json_get_string(j, "d"));
	assert_null(json_get_string(j, "e"));
	assert_null(json_get_string(NULL, "a"));
	json_free(j);
}

static void
test_int64(void **state)
{
	struct json *j = parse_ok("{\"i\":1700000000,\"n\":-5,\"f\":3.9,\"e\":1.5e3,"
				  "\"max\":9223372036854775807,\"big\":9223372036854775808,"
				  "\"huge\":1e300,\"s\":\"12\",\"t\":true}");
	int64_t v = 0;

	assert_int_equal(json_int64(json_get(j, "i"), &v), 0);
	assert_int_equal(v, 1700000000);
	assert_int_equal(json_int64(json_get(j, "n"), &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(json_int64(json_get(j, "f"), &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(json_int64(json_get(j, "e"), &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(json_int64(json_get(j, "max"), &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(json_int64(json_get(j, "big"), &v), -ERANGE);
	assert_int_equal(json_int64(json_get(j, "huge"), &v), -ERANGE);
	assert_int_equal(json_int64(json_get(j, "s"), &v), -EINVAL);
	assert_int_equal(json_int64(json_get(j, "t"), &v), -EINVAL);
	assert_int_equal(json_int64(json_get(j, "none"), &v), -EINVAL);
	json_free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_scalar_root_and_whitespace),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_trailing_garbage),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_large_array),
		cmocka_unit_test(test_pointer_rfc6901),
		cmocka_unit_test(test_pointer_misses),
		cmocka_unit_test(test_pointer_valid),
		cmocka_unit_test(test_get_string),
		cmocka_unit_test(test_int64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
