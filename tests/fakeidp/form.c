/*
 * form.c: application/x-www-form-urlencoded text (bodies and queries):
 * decoding, parsing into a struct form, and the raw value of a field; and
 * a JSON body (body_format = json) read into the same struct form.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "secret.h"
#include "xmalloc.h"
#include "fakeidp.h"

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of form-urlencoding ("+" is a space) into a new string. */
char *
form_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

void
form_clear(struct form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->name[i]);
		secret_free_str(f->value[i]);
	}
	f->n = 0;
}

/*
 * Parses len bytes of application/x-www-form-urlencoded text into *ret.
 * 0 on success; -EINVAL when it is not form data (a field without "=", an
 * empty name, a NUL byte), -E2BIG beyond FORM_MAX fields.  Empty fields
 * ("a=1&&b=2") are skipped; an empty text has no fields.
 */
int
form_parse(const char *s, size_t len, struct form *ret)
{
	struct form f = { 0 };
	const char *p = s, *end = s + len;

	if (len > 0 && memchr(s, '\0', len) != NULL)
		return -EINVAL;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(seg_end - p));

		if (seg_end > p) {
			if (eq == NULL || eq == p) {
				form_clear(&f);
				return -EINVAL;
			}
			if (f.n == FORM_MAX) {
				form_clear(&f);
				return -E2BIG;
			}
			f.name[f.n] = form_decode(p, (size_t)(eq - p));
			f.value[f.n] = form_decode(eq + 1, (size_t)(seg_end - eq - 1));
			f.n++;
		}
		p = amp != NULL ? amp + 1 : end;
	}
	*ret = f;
	return 0;
}

/* The first value of a field, or NULL. */
const char *
form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

/*
 * The first value of field name in len bytes of form data, as it was on
 * the wire (not decoded), in a new string; NULL when there is none.
 */
char *
form_raw_get(const char *s, size_t len, const char *name)
{
	const char *p = s, *end = s + len;
	size_t n = strlen(name);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp != NULL ? amp : end;

		if ((size_t)(seg_end - p) > n && memcmp(p, name, n) == 0 && p[n] == '=')
			return xstrndup(p + n + 1, (size_t)(seg_end - p - n - 1));
		p = amp != NULL ? amp + 1 : end;
	}
	return NULL;
}

/* Adds name = value (copied) to f; -E2BIG beyond FORM_MAX fields. */
static int
form_add(struct form *f, const char *name, const char *value)
{
	if (f->n == FORM_MAX)
		return -E2BIG;
	f->name[f->n] = xstrdup(name);
	f->value[f->n] = xstrdup(value);
	f->n++;
	return 0;
}

/*
 * Parses a JSON object whose members are strings, or arrays of strings
 * (a field repeated), into *ret, as form_parse does a form.  -EINVAL when
 * it is not such an object.
 */
int
form_parse_json(const char *s, struct form *ret)
{
	struct form f = { 0 };
	yajl_val root = yajl_tree_parse(s, NULL, 0);
	int r = 0;

	if (root == NULL || !YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < root->u.object.len && r == 0; i++) {
		const char *name = root->u.object.keys[i];
		yajl_val v = root->u.object.values[i];

		if (YAJL_IS_STRING(v)) {
			r = form_add(&f, name, YAJL_GET_STRING(v));
		} else if (YAJL_IS_ARRAY(v)) {
			for (size_t k = 0; k < v->u.array.len && r == 0; k++)
				r = YAJL_IS_STRING(v->u.array.values[k]) ?
					    form_add(&f, name, YAJL_GET_STRING(v->u.array.values[k])) :
					    -EINVAL;
		} else {
			r = -EINVAL;
		}
	}
	yajl_tree_free(root);
	if (r < 0) {
		form_clear(&f);
		return r;
	}
	*ret = f;
	return 0;
}
