/*
 * The JSON layer (common/json.c): the input is a document.
 *
 * Properties: json_parse accepts what yajl's own tree parser accepts,
 * except nesting deeper than 64, a NUL in a key and comments (yajl_tree
 * allows them), and builds the same
 * tree; a tree written out again (yajl_gen) parses to the same tree; every
 * value is found again by the JSON Pointer of its place (RFC 6901 escapes,
 * array indices; the last of duplicate keys); json_int64 is the number
 * rounded toward zero or -ERANGE beyond 63 bits; json_get_string hides a
 * string with a NUL.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "fuzz.h"
#include "json.h"
#include "secbuf.h"
#include "xmalloc.h"

#define DEPTH_MAX 64
#define POINTER_NODES_MAX 512 /* values looked up again per input */
#define TREE_INPUT_MAX 8192   /* yajl_tree frees recursively: keep it shallow */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether a and b are the same tree: types, values, keys and their order. */
static bool
same_tree(const struct json *a, const struct json *b)
{
	if (a->type != b->type || a->n != b->n)
		return false;
	switch (a->type) {
	case JSON_NULL:
		return true;
	case JSON_BOOL:
		return a->boolean == b->boolean;
	case JSON_NUMBER:
	case JSON_STRING:
		return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		for (size_t i = 0; i < a->n; i++) {
			if (a->type == JSON_OBJECT && strcmp(a->keys[i], b->keys[i]) != 0)
				return false;
			if (!same_tree(a->values[i], b->values[i]))
				return false;
		}
		return true;
	}
	return false;
}

/* Whether ours is yajl_tree's y; a string is compared up to a NUL, as yajl_tree keeps it. */
static bool
same_as_yajl(const struct json *j, yajl_val y)
{
	switch (j->type) {
	case JSON_NULL:
		return YAJL_IS_NULL(y);
	case JSON_BOOL:
		return j->boolean ? YAJL_IS_TRUE(y) : YAJL_IS_FALSE(y);
	case JSON_NUMBER:
		return YAJL_IS_NUMBER(y) && strlen(y->u.number.r) == j->len &&
		       memcmp(y->u.number.r, j->text, j->len) == 0;
	case JSON_STRING:
		return YAJL_IS_STRING(y) && strcmp(y->u.string, j->text) == 0;
	case JSON_OBJECT:
		if (!YAJL_IS_OBJECT(y) || y->u.object.len != j->n)
			return false;
		for (size_t i = 0; i < j->n; i++)
			if (strcmp(y->u.object.keys[i], j->keys[i]) != 0 ||
			    !same_as_yajl(j->values[i], y->u.object.values[i]))
				return false;
		return true;
	case JSON_ARRAY:
		if (!YAJL_IS_ARRAY(y) || y->u.array.len != j->n)
			return false;
		for (size_t i = 0; i < j->n; i++)
			if (!same_as_yajl(j->values[i], y->u.array.values[i]))
				return false;
		return true;
	}
	return false;
}

static size_t
yajl_depth(yajl_val y)
{
	size_t d = 0, n = 0;
	yajl_val *v = NULL;

	if (YAJL_IS_OBJECT(y)) {
		n = y->u.object.len;
		v = y->u.object.values;
	} else if (YAJL_IS_ARRAY(y)) {
		n = y->u.array.len;
		v = y->u.array.values;
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t c = yajl_depth(v[i]);

		if (c > d)
			d = c;
	}
	return d + 1;
}

static void
gen_tree(yajl_gen g, const struct json *j)
{
	switch (j->type) {
	case JSON_NULL:
		yajl_gen_null(g);
		break;
	case JSON_BOOL:
		yajl_gen_bool(g, j->boolean);
		break;
	case JSON_NUMBER:
		yajl_gen_number(g, j->text, j->len);
		break;
	case JSON_STRING:
		yajl_gen_string(g, (const unsigned char *)j->text, j->len);
		break;
	case JSON_OBJECT:
		yajl_gen_map_open(g);
		for (size_t i = 0; i < j->n; i++) {
			yajl_gen_string(g, (const unsigned char *)j->keys[i], strlen(j->keys[i]));
			gen_tree(g, j->values[i]);
		}
		yajl_gen_map_close(g);
		break;
	case JSON_ARRAY:
		yajl_gen_array_open(g);
		for (size_t i = 0; i < j->n; i++)
			gen_tree(g, j->values[i]);
		yajl_gen_array_close(g);
		break;
	}
}

/* The tree written out and parsed again is the same tree. */
static void
check_round_trip(const struct json *root)
{
	struct secbuf b = { NULL, 0, 0 };
	struct json *again = NULL;
	char *cause = NULL;
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_config(g, yajl_gen_print_callback, secbuf_yajl_cb, &b);
	gen_tree(g, root);
	yajl_gen_free(g);
	FUZZ_CHECK(json_parse(b.data, b.len, &again, &cause) == 0,
		   "the tree written out does not parse: %s", cause);
	FUZZ_CHECK(same_tree(root, again), "the tree written out parses to another tree");
	json_free(again);
	secbuf_clear(&b);
}

/*
 * A number's whole value, as json_int64 must give it: an integer literal
 * exactly, another within a double's precision of it rounded toward zero.
 */
static void
check_int64(const struct json *v)
{
	long double x = strtold(v->text, NULL);
	bool exact = strcspn(v->text, ".eE") == v->len;
	long double slack = exact ? 0.0L : 1.0L + fabsl(x) * 0x1p-52L;
	int64_t n = 0;
	int r = json_int64(v, &n);

	if (r == 0)
		FUZZ_CHECK(fabsl((long double)n - x) < (exact ? 0.5L : slack),
			   "json_int64 %lld for %.*s", (long long)n, (int)v->len, v->text);
	else
		FUZZ_CHECK(r == -ERANGE && fabsl(x) >= 9.2233720368547e18L,
			   "json_int64 %d for %.*s", r, (int)v->len, v->text);
}

struct walk {
	const struct json *root;
	size_t seen;
	char pointer[8192];
};

/*
 * Looks up j again by its pointer, which is the len bytes of w->pointer;
 * then its members, each by its own.  expect is what json_pointer must
 * find there (for an object member, the last of its key).
 */
static void
walk(struct walk *w, size_t len, const struct json *j, const struct json *expect)
{
	const struct json *found;

	if (w->seen++ >= POINTER_NODES_MAX)
		return;
	w->pointer[len] = '\0';
	FUZZ_CHECK(json_pointer_valid(w->pointer), "the pointer of a value is not valid");
	found = json_pointer(w->root, w->pointer);
	FUZZ_CHECK(found == expect, "the pointer of a value finds another");
	if (j->type == JSON_NUMBER)
		check_int64(j);
	if (expect != j)
		return; /* a duplicate key's earlier value: no pointer reaches into it */
	for (size_t i = 0; i < j->n; i++) {
		char *p = w->pointer + len, *end = w->pointer + sizeof(w->pointer) - 12;
		const struct json *member = j->values[i];

		*p++ = '/';
		if (j->type == JSON_ARRAY) {
			p += snprintf(p, 12, "%zu", i);
		} else {
			for (const char *k = j->keys[i]; *k != '\0' && p < end; k++) {
				if (*k == '~' || *k == '/') {
					*p++ = '~';
					*p++ = *k == '~' ? '0' : '1';
				} else {
					*p++ = *k;
				}
			}
			if (p >= end)
				continue; /* too long to look up here */
			member = json_get(j, j->keys[i]);
			FUZZ_CHECK(
				json_get_string(j, j->keys[i]) ==
					(member->type == JSON_STRING && memchr(member->text, '\0',
									       member->len) == NULL
						 ? member->text
						 : NULL),
				"json_get_string disagrees with json_get");
		}
		walk(w, (size_t)(p - w->pointer), j->values[i], member);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json *root = NULL;
	char *cause = NULL, *text, err[128];
	struct walk *w;
	yajl_val y = NULL;
	bool has_nul = memchr(data, '\0', size) != NULL;
	int r;

	r = json_parse((const char *)data, size, &root, &cause);
	if (r == 0) {
		FUZZ_CHECK(cause == NULL && root != NULL, "a tree and a cause");
	} else {
		FUZZ_CHECK(r == -EINVAL && root == NULL, "json_parse returned %d", r);
		FUZZ_CHECK(cause != NULL && strncmp(cause, "invalid JSON", 12) == 0,
			   "the cause does not say invalid JSON");
		free(cause);
	}

	/* yajl's tree parser as the reference (it wants a C string). */
	if (!has_nul && size <= TREE_INPUT_MAX) {
		text = xmalloc(size + 1);
		memcpy(text, data, size);
		text[size] = '\0';
		y = yajl_tree_parse(text, err, sizeof(err));
		free(text);
		if (r == 0) {
			FUZZ_CHECK(y != NULL, "accepted what yajl_tree refuses");
			FUZZ_CHECK(same_as_yajl(root, y), "not the tree yajl_tree builds");
		} else if (y != NULL) {
			/* yajl_tree also allows comments; json_parse does not */
			FUZZ_CHECK(yajl_depth(y) > DEPTH_MAX ||
					   memmem(data, size, "\\u0000", 6) != NULL ||
					   memmem(data, size, "//", 2) != NULL ||
					   memmem(data, size, "/*", 2) != NULL,
				   "refused what yajl_tree accepts");
		}
		yajl_tree_free(y);
	}
	if (r < 0)
		return 0;

	check_round_trip(root);
	w = xcalloc(1, sizeof(*w));
	w->root = root;
	walk(w, 0, root, root);
	free(w);
	json_free(root);
	return 0;
}
