/*
 * A small JSON document tree built with yajl's event parser.  Every byte it
 * allocates (strings, keys, and yajl's own buffers) is wiped when freed,
 * since a token response holds the token.  Values are looked up with JSON
 * Pointer (RFC 6901).
 */
#ifndef TB_JSON_H
#define TB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

struct json {
	enum json_type type;
	bool boolean;
	char *text; /* JSON_NUMBER: its literal text; JSON_STRING: the string */
	size_t len; /* of text */
	/* JSON_OBJECT and JSON_ARRAY */
	char **keys; /* objects only */
	struct json **values;
	size_t n;
};

/*
 * Parses len bytes of text (need not be NUL-terminated).  Returns 0 and
 * *ret, or -EINVAL with *cause ("invalid JSON: ..." without quoting the
 * input), caller frees.  Nesting deeper than 64 is refused.
 */
int json_parse(const char *text, size_t len, struct json **ret, char **cause);
struct json *json_free(struct json *j);

/* The value at an RFC 6901 pointer ("" is the root), or NULL. */
const struct json *json_pointer(const struct json *root, const char *pointer);
/* Member of an object by key, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* Whether pointer is syntactically an RFC 6901 pointer. */
bool json_pointer_valid(const char *pointer);

/*
 * The string member key of obj as a C string pointing into the tree, or
 * NULL when it is absent, not a string, or holds a NUL (which would cut a
 * C string short and let one value pose as another).
 */
const char *json_get_string(const struct json *obj, const char *key);
/*
 * A number as a whole number into *ret: an integer literal exactly, one
 * with a fraction or an exponent rounded toward zero.  0; -EINVAL when v is
 * NULL or not a number; -ERANGE when it does not fit in an int64_t.
 */
int json_int64(const struct json *v, int64_t *ret);

#endif
