/*
 * A JSON document tree built from yajl's event callbacks.  yajl_tree is not
 * used because its allocations are released without being wiped: here yajl
 * gets allocator functions that wipe every block before releasing it, and
 * the tree's own strings and arrays are wiped the same way.  A token
 * response holds the token, so nothing of it may linger in freed memory.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <yajl/yajl_parse.h>

#include "json.h"
#include "secret.h"
#include "xmalloc.h"

#define JSON_DEPTH_MAX 64

struct json_builder {
	struct json *root;
	struct json *stack[JSON_DEPTH_MAX];
	size_t depth;
	char *key; /* the object key awaiting its value */
	const char *error; /* why a callback cancelled the parse */
};

static void *
json_yajl_malloc_cb(void *ctx, size_t size)
{
	return xmalloc(size == 0 ? 1 : size);
}

static void *
json_yajl_realloc_cb(void *ctx, void *p, size_t size)
{
	return secret_wipe_realloc(p, size);
}

static void
json_yajl_free_cb(void *ctx, void *p)
{
	secret_wipe_free(p);
}

static char *
json_strndup(const unsigned char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

struct json *
json_free(struct json *j)
{
	if (j == NULL)
		return NULL;
	for (size_t i = 0; i < j->n; i++) {
		if (j->keys != NULL)
			secret_wipe_free(j->keys[i]);
		json_free(j->values[i]);
	}
	secret_wipe_free(j->keys);
	secret_wipe_free(j->values);
	secret_wipe_free(j->text);
	explicit_bzero(j, sizeof(*j));
	free(j);
	return NULL;
}

/* Whether a container holding n members needs room for one more. */
static bool
json_full(size_t n)
{
	return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

/*
 * Hangs v under the innermost open container (taking the pending key for
 * an object) or makes it the root; the tree owns v from then on.  Returns
 * 0, or -EINVAL (v freed, b->error set) when v has no place to go.
 */
static int
json_attach(struct json_builder *b, struct json *v)
{
	struct json *parent;
	size_t cap;

	if (b->depth == 0) {
		if (b->root != NULL) {
			b->error = "more than one value";
			json_free(v);
			return -EINVAL;
		}
		b->root = v;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	if (parent->type == JSON_OBJECT && b->key == NULL) {
		b->error = "value without a key";
		json_free(v);
		return -EINVAL;
	}
	if (json_full(parent->n)) {
		cap = parent->n < 4 ? 4 : parent->n * 2;
		parent->values = secret_wipe_realloc(parent->values, cap * sizeof(*parent->values));
		if (parent->type == JSON_OBJECT)
			parent->keys = secret_wipe_realloc(parent->keys, cap * sizeof(*parent->keys));
	}
	if (parent->type == JSON_OBJECT) {
		parent->keys[parent->n] = b->key;
		b->key = NULL;
	}
	parent->values[parent->n++] = v;
	return 0;
}

static struct json *
json_node(enum json_type type)
{
	struct json *v = xcalloc(1, sizeof(*v));

	v->type = type;
	return v;
}

static int
json_scalar(struct json_builder *b, enum json_type type, const unsigned char *s, size_t len)
{
	struct json *v = json_node(type);

	if (s != NULL) {
		v->text = json_strndup(s, len);
		v->len = len;
	}
	return json_attach(b, v) == 0;
}

static int
json_null_cb(void *ctx)
{
	return json_scalar(ctx, JSON_NULL, NULL, 0);
}

static int
json_boolean_cb(void *ctx, int value)
{
	struct json_builder *b = ctx;
	struct json *v = json_node(JSON_BOOL);

	v->boolean = value != 0;
	return json_attach(b, v) == 0;
}

static int
json_number_cb(void *ctx, const char *s, size_t len)
{
	return json_scalar(ctx, JSON_NUMBER, (const unsigned char *)s, len);
}

static int
json_string_cb(void *ctx, const unsigned char *s, size_t len)
{
	return json_scalar(ctx, JSON_STRING, s, len);
}

static int
json_open(struct json_builder *b, enum json_type type)
{
	struct json *v;

	if (b->depth >= JSON_DEPTH_MAX) {
		b->error = "nested deeper than 64";
		return 0;
	}
	v = json_node(type);
	if (json_attach(b, v) != 0)
		return 0;
	b->stack[b->depth++] = v;
	return 1;
}

static int
json_start_map_cb(void *ctx)
{
	return json_open(ctx, JSON_OBJECT);
}

static int
json_start_array_cb(void *ctx)
{
	return json_open(ctx, JSON_ARRAY);
}

static int
json_close_cb(void *ctx)
{
	struct json_builder *b = ctx;

	if (b->depth == 0)
		return 0;
	b->depth--;
	return 1;
}

static int
json_map_key_cb(void *ctx, const unsigned char *s, size_t len)
{
	struct json_builder *b = ctx;

	/* Keys are C strings here: one with a NUL could pose as another. */
	if (memchr(s, '\0', len) != NULL) {
		b->error = "NUL character in an object key";
		return 0;
	}
	secret_wipe_free(b->key);
	b->key = json_strndup(s, len);
	return 1;
}

static const yajl_callbacks json_callbacks = {
	.yajl_null = json_null_cb,
	.yajl_boolean = json_boolean_cb,
	.yajl_number = json_number_cb,
	.yajl_string = json_string_cb,
	.yajl_start_map = json_start_map_cb,
	.yajl_map_key = json_map_key_cb,
	.yajl_end_map = json_close_cb,
	.yajl_start_array = json_start_array_cb,
	.yajl_end_array = json_close_cb,
};

static yajl_alloc_funcs json_alloc_funcs = {
	.malloc = json_yajl_malloc_cb,
	.realloc = json_yajl_realloc_cb,
	.free = json_yajl_free_cb,
	.ctx = NULL,
};

/*
 * yajl's own description of the failure, without the verbose form (which
 * quotes the input) and without its trailing newline.
 */
static char *
json_yajl_error(yajl_handle h, const char *text, size_t len, size_t offset)
{
	unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)text, len);
	char *cause;
	size_t n;

	if (e == NULL)
		return xasprintf("invalid JSON at byte %zu", offset);
	n = strcspn((char *)e, "\n");
	cause = xasprintf("invalid JSON at byte %zu: %.*s", offset, (int)n, (char *)e);
	yajl_free_error(h, e);
	return cause;
}

int
json_parse(const char *text, size_t len, struct json **ret, char **cause)
{
	struct json_builder b = { 0 };
	yajl_handle h;
	yajl_status st;
	size_t offset;

	h = yajl_alloc(&json_callbacks, &json_alloc_funcs, &b);
	if (h == NULL) {
		*cause = xstrdup("invalid JSON: cannot allocate a parser");
		return -ENOMEM;
	}
	/* The defaults already refuse comments, trailing garbage, bad UTF-8. */
	st = yajl_parse(h, (const unsigned char *)text, len);
	offset = yajl_get_bytes_consumed(h);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		offset = len;
	}
	if (st != yajl_status_ok || b.root == NULL || b.depth != 0) {
		if (b.error != NULL)
			*cause = xasprintf("invalid JSON at byte %zu: %s", offset, b.error);
		else if (st != yajl_status_ok)
			*cause = json_yajl_error(h, text, len, offset);
		else
			*cause = xstrdup("invalid JSON: no value");
		yajl_free(h);
		secret_wipe_free(b.key);
		json_free(b.root);
		return -EINVAL;
	}
	yajl_free(h);
	secret_wipe_free(b.key);
	*ret = b.root;
	return 0;
}

const struct json *
json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT || key == NULL)
		return NULL;
	/* The last of duplicate keys wins, as in most parsers. */
	for (size_t i = obj->n; i > 0; i--) {
		if (strcmp(obj->keys[i - 1], key) == 0)
			return obj->values[i - 1];
	}
	return NULL;
}

/*
 * Decodes one reference token (up to the next '/' or the end) into out,
 * which has room for its length plus one.  Returns the bytes consumed from
 * s, or -1 for a '~' not followed by '0' or '1'.
 */
static ssize_t
json_pointer_token(const char *s, char *out)
{
	const char *p = s;
	size_t n = 0;

	for (; *p != '\0' && *p != '/'; p++) {
		if (*p != '~') {
			out[n++] = *p;
			continue;
		}
		if (p[1] == '0')
			out[n++] = '~';
		else if (p[1] == '1')
			out[n++] = '/';
		else
			return -1;
		p++;
	}
	out[n] = '\0';
	return p - s;
}

/* An RFC 6901 array index: "0" or digits without a leading zero. */
static bool
json_pointer_index(const char *tok, size_t *ret)
{
	size_t v = 0;

	if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		return false;
	for (const char *p = tok; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*p - '0');
	}
	*ret = v;
	return true;
}

bool
json_pointer_valid(const char *pointer)
{
	if (pointer == NULL)
		return false;
	if (*pointer == '\0')
		return true;
	if (*pointer != '/')
		return false;
	for (const char *p = pointer; *p != '\0'; p++) {
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return false;
	}
	return true;
}

const struct json *
json_pointer(const struct json *root, const char *pointer)
{
	const struct json *cur = root;
	const char *p = pointer;
	char *tok;
	ssize_t used;
	size_t idx;

	if (root == NULL || !json_pointer_valid(pointer))
		return NULL;
	tok = xmalloc(strlen(pointer) + 1);
	while (cur != NULL && *p == '/') {
		used = json_pointer_token(p + 1, tok);
		if (used < 0) {
			cur = NULL;
			break;
		}
		p += 1 + used;
		if (cur->type == JSON_OBJECT)
			cur = json_get(cur, tok);
		else if (cur->type == JSON_ARRAY && json_pointer_index(tok, &idx) && idx < cur->n)
			cur = cur->values[idx];
		else
			cur = NULL;
	}
	free(tok);
	return cur;
}

const char *
json_get_string(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	if (v == NULL || v->type != JSON_STRING || memchr(v->text, '\0', v->len) != NULL)
		return NULL;
	return v->text;
}

int
json_int64(const struct json *v, int64_t *ret)
{
	long long n;
	double d;
	char *end;

	if (v == NULL || v->type != JSON_NUMBER)
		return -EINVAL;
	/* yajl has checked the syntax: digits with an optional minus sign, or not. */
	if (strcspn(v->text, ".eE") == v->len) {
		errno = 0;
		n = strtoll(v->text, &end, 10);
		if (errno == ERANGE)
			return -ERANGE;
		if (*end != '\0')
			return -EINVAL;
		*ret = n;
		return 0;
	}
	errno = 0;
	d = strtod(v->text, &end);
	if (*end != '\0')
		return -EINVAL;
	/* 2^63 is exact in a double; anything below it converts safely. */
	if (!isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
		return -ERANGE;
	*ret = (int64_t)d;
	return 0;
}
