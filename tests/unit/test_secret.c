/*
 * Memory for secrets: any number of them costs a fixed number of mappings
 * (one arena, not a mapping split per secret), a full arena falls back to
 * the heap without losing a byte, and every byte is given back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "secret.h"

/* Lines of /proc/self/maps: the process's mappings. */
static size_t
count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	size_t n = 0;
	int ch;

	assert_non_null(f);
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static struct secret *
make(size_t i)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "secret-%zu-abcdefghijklmnopqrstuvwxyz", i);

	return secret_new(buf, (size_t)n);
}

static void
check(const struct secret *s, size_t i)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "secret-%zu-abcdefghijklmnopqrstuvwxyz", i);

	assert_int_equal(s->len, (size_t)n);
	assert_memory_equal(s->data, buf, (size_t)n);
	assert_int_equal(s->data[n], '\0');
}

/* 60,000 live secrets: the number of mappings stays where it was. */
static void
test_many_secrets_fixed_mappings(void **state)
{
	enum { N = 60000 };
	static struct secret *s[N];
	size_t before, after;

	assert_true(secret_arena_init(SECRET_ARENA_SIZE) >= 0);
	assert_int_equal(secret_arena_used(), 0);
	before = count_mappings();
	for (size_t i = 0; i < N; i++)
		s[i] = make(i);
	after = count_mappings();
	if (after > before + 8)
		fail_msg("%zu secrets took %zu mappings (from %zu to %zu)", (size_t)N,
			 after - before, before, after);
	assert_true(secret_arena_used() >= (size_t)N * 48);
	for (size_t i = 0; i < N; i++)
		check(s[i], i);
	for (size_t i = 0; i < N; i++)
		s[i] = secret_free(s[i]);
	assert_int_equal(secret_arena_used(), 0);
	secret_arena_done();
}

/* A small arena overflows into the heap; both kinds free cleanly. */
static void
test_full_arena_falls_back(void **state)
{
	enum { N = 3000 };
	static struct secret *s[N];

	assert_true(secret_arena_init(64 * 1024) >= 0);
	for (size_t i = 0; i < N; i++)
		s[i] = make(i);
	/* 64 KiB hold at most 1,024 secrets of 64 bytes: the rest are on the heap. */
	assert_true(secret_arena_used() <= 64 * 1024);
	assert_true(secret_arena_used() >= 32 * 1024);
	for (size_t i = 0; i < N; i++)
		check(s[i], i);
	/* Free in an order that mixes arena and heap secrets. */
	for (size_t i = 0; i < N; i += 2)
		s[i] = secret_free(s[i]);
	for (size_t i = 1; i < N; i += 2)
		s[i] = secret_free(s[i]);
	assert_int_equal(secret_arena_used(), 0);
	/* Once freed, the arena has room again. */
	s[0] = make(7);
	assert_true(secret_arena_used() > 0);
	s[0] = secret_free(s[0]);
	secret_arena_done();
}

/* Without an arena (tools, tests) secrets still work, on the heap. */
static void
test_no_arena(void **state)
{
	struct secret *a = secret_from_str("abc"), *b = secret_dup(a), *c = secret_new("", 0);

	assert_int_equal(secret_arena_used(), 0);
	assert_true(secret_equal(a, b));
	assert_int_equal(c->len, 0);
	assert_int_equal(c->data[0], '\0');
	assert_null(secret_free(a));
	assert_null(secret_free(b));
	assert_null(secret_free(c));
	assert_null(secret_free(NULL));
}

/* Growing and shrinking keep the bytes that fit; NULL and 0 are taken. */
static void
test_wipe_realloc(void **state)
{
	char *p = secret_wipe_realloc(NULL, 4);

	memcpy(p, "abcd", 4);
	p = secret_wipe_realloc(p, 4096);
	assert_memory_equal(p, "abcd", 4);
	p = secret_wipe_realloc(p, 2);
	assert_memory_equal(p, "ab", 2);
	p = secret_wipe_realloc(p, 0);
	assert_non_null(p);
	secret_wipe_free(p);
	secret_wipe_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_arena),
		cmocka_unit_test(test_wipe_realloc),
		cmocka_unit_test(test_many_secrets_fixed_mappings),
		cmocka_unit_test(test_full_arena_falls_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
