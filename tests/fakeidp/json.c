/*
 * json.c: JSON answers, built with yajl_gen: a map opened by json_new,
 * filled by the json_* setters, closed into an evbuffer by json_finish;
 * and the RFC 6749 error object.
 */

#include <string.h>

#include "log.h"
#include "fakeidp.h"

/* A generator with an open map; json_finish closes and hands it out. */
yajl_gen
json_new(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL)
		log_fatal("out of memory");
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	return g;
}

/* A string value; a peer's bytes that are not UTF-8 are replaced. */
void
json_string(yajl_gen g, const char *v)
{
	static const char bad[] = "(invalid utf-8)";

	if (v == NULL) {
		yajl_gen_null(g);
		return;
	}
	if (yajl_gen_string(g, (const unsigned char *)v, strlen(v)) == yajl_gen_invalid_string)
		yajl_gen_string(g, (const unsigned char *)bad, sizeof(bad) - 1);
}

void
json_str(yajl_gen g, const char *key, const char *v)
{
	json_string(g, key);
	json_string(g, v);
}

void
json_int(yajl_gen g, const char *key, long long v)
{
	json_string(g, key);
	yajl_gen_integer(g, v);
}

void
json_bool(yajl_gen g, const char *key, bool v)
{
	json_string(g, key);
	yajl_gen_bool(g, v);
}

void
json_kvlist(yajl_gen g, const char *key, const struct kvlist *l, bool seen)
{
	json_string(g, key);
	if (!seen) {
		yajl_gen_null(g);
		return;
	}
	yajl_gen_map_open(g);
	for (size_t i = 0; i < l->n; i++)
		json_str(g, l->name[i], l->value[i]);
	yajl_gen_map_close(g);
}

/* Closes the map; the text moves into a new evbuffer; g is freed. */
struct evbuffer *
json_finish(yajl_gen g)
{
	struct evbuffer *b = evbuffer_new();
	const unsigned char *text;
	size_t len;

	if (b == NULL)
		log_fatal("out of memory");
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &text, &len);
	evbuffer_add(b, text, len);
	yajl_gen_free(g);
	return b;
}

struct evbuffer *
json_error(const char *error, const char *description)
{
	yajl_gen g = json_new();

	json_str(g, "error", error);
	if (description != NULL)
		json_str(g, "error_description", description);
	return json_finish(g);
}
