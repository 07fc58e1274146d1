/*
 * File sinks.  Every write goes to a temporary file in the sink's own
 * directory, gets its owner and mode there, is synced and then renamed over
 * the sink (atomicfile_replace), so a reader opening the path finds the
 * complete old content or the complete new one, never a mix and never a
 * half-written file.  The directory is opened first by a walk from / that
 * refuses any directory on the way another user could change (safedir.h;
 * the configuration checked that at load, it is checked again at every
 * write because it may have changed).  Every buffer that held the token is
 * wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "text.h"
#include "atomicfile.h"
#include "cleanup.h"
#include "safedir.h"
#include "secbuf.h"
#include "secret.h"
#include "sink.h"
#include "xmalloc.h"


/* Safe unquoted in a shell and in systemd's EnvironmentFile=. */
static bool
sink_env_plain(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    strchr("-._~+/=:@%,", c) == NULL)
			return false;
	}
	return len > 0;
}

/*
 * NAME=VALUE and a newline.  A value with characters other than the safe
 * ones goes in double quotes with " \ ` $ escaped by a backslash, which
 * both a POSIX shell and systemd's EnvironmentFile= read back verbatim.
 */
static void
sink_env_line(struct secbuf *b, const char *name, const char *v, size_t len)
{
	secbuf_str(b, name);
	secbuf_add(b, "=", 1);
	if (sink_env_plain(v, len)) {
		secbuf_add(b, v, len);
	} else {
		secbuf_add(b, "\"", 1);
		for (size_t i = 0; i < len; i++) {
			if (strchr("\"\\`$", v[i]) != NULL)
				secbuf_add(b, "\\", 1);
			secbuf_add(b, &v[i], 1);
		}
		secbuf_add(b, "\"", 1);
	}
	secbuf_add(b, "\n", 1);
}

static int
sink_gen_str(yajl_gen g, const char *s, size_t len)
{
	return yajl_gen_string(g, (const unsigned char *)s, len) == yajl_gen_status_ok ? 0 :
											 -EINVAL;
}

/* As the API's GET: one JSON object and a newline. */
static int
sink_format_json(struct secbuf *b, const struct sink_opts *o, const struct secret *token,
		 const char *type, const char *scope, int64_t expires_wall_ms, int64_t now_wall_ms)
{
	int64_t left = expires_wall_ms - now_wall_ms;
	yajl_gen g;
	int r = 0;

	g = yajl_gen_alloc(NULL);
	if (g == NULL)
		abort(); /* only out of memory gets here */
	yajl_gen_config(g, yajl_gen_print_callback, secbuf_yajl_cb, b);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	r = r < 0 ? r : sink_gen_str(g, "name", 4);
	r = r < 0 ? r : sink_gen_str(g, o->name, strlen(o->name));
	r = r < 0 ? r : sink_gen_str(g, "access_token", 12);
	r = r < 0 ? r : sink_gen_str(g, token->data, token->len);
	r = r < 0 ? r : sink_gen_str(g, "token_type", 10);
	r = r < 0 ? r : sink_gen_str(g, type, strlen(type));
	r = r < 0 ? r : sink_gen_str(g, "expires_at", 10);
	if (r == 0)
		yajl_gen_integer(g, expires_wall_ms / 1000);
	r = r < 0 ? r : sink_gen_str(g, "expires_in", 10);
	if (r == 0)
		yajl_gen_integer(g, left > 0 ? left / 1000 : 0);
	if (scope != NULL) {
		r = r < 0 ? r : sink_gen_str(g, "scope", 5);
		r = r < 0 ? r : sink_gen_str(g, scope, strlen(scope));
	}
	if (r == 0 && yajl_gen_map_close(g) != yajl_gen_status_ok)
		r = -EINVAL;
	yajl_gen_free(g);
	if (r == 0)
		secbuf_add(b, "\n", 1);
	return r;
}

/*
 * The sink's content in o->format.  env: ACCESS_TOKEN, EXPIRES_AT
 * (unix seconds) and TOKEN_TYPE lines, in that order.
 */
static int
sink_format(struct secbuf *b, const struct sink_opts *o, const struct secret *token,
	    const char *type, const char *scope, int64_t expires_wall_ms, int64_t now_wall_ms)
{
	char num[32];

	switch (o->format) {
	case SINK_FORMAT_RAW:
		secbuf_add(b, token->data, token->len);
		secbuf_add(b, "\n", 1);
		return 0;
	case SINK_FORMAT_HEADER:
		secbuf_str(b, "Authorization: ");
		secbuf_str(b, type);
		secbuf_add(b, " ", 1);
		secbuf_add(b, token->data, token->len);
		secbuf_add(b, "\n", 1);
		return 0;
	case SINK_FORMAT_JSON:
		return sink_format_json(b, o, token, type, scope, expires_wall_ms, now_wall_ms);
	case SINK_FORMAT_ENV:
		snprintf(num, sizeof(num), "%lld", (long long)(expires_wall_ms / 1000));
		sink_env_line(b, "ACCESS_TOKEN", token->data, token->len);
		sink_env_line(b, "EXPIRES_AT", num, strlen(num));
		sink_env_line(b, "TOKEN_TYPE", type, strlen(type));
		return 0;
	}
	return -EINVAL;
}

/*
 * Replaces o->path with len bytes of data: its directory is opened by the
 * safe walk (safedir_open), and everything after that happens relative to
 * it, so no one can redirect the write by swapping a directory on the way.
 */
static int
sink_replace(const struct sink_opts *o, const char *data, size_t len, char **cause)
{
	struct atomicfile_owner owner = { o->uid, o->gid };
	const char *base;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;

	if (o->path == NULL || o->path[0] != '/') {
		*cause = xasprintf("credential %s has no sink", o->name);
		return -EINVAL;
	}
	base = strrchr(o->path, '/') + 1;
	dir = base - o->path > 1 ? xstrndup(o->path, (size_t)(base - o->path - 1)) :
				    xstrdup("/");
	dfd = safedir_open(dir, 0, cause);
	if (dfd < 0)
		return dfd;
	return atomicfile_replace(dfd, dir, base, data, len, o->mode,
				  o->owner_set ? &owner : NULL, cause);
}

int
sink_write(const struct sink_opts *o, const struct token *t, int64_t now_wall_ms, char **cause)
{
	struct secbuf b = { NULL, 0, 0 };
	const struct secret *token = t->access_token;
	const char *type = t->token_type, *scope = t->scope;
	int64_t expires_wall_ms = t->expires_wall_ms;
	int r;

	if (o->path == NULL) {
		*cause = xasprintf("credential %s has no sink", o->name);
		return -EINVAL;
	}
	if (token == NULL || token->len == 0 || !text_printable(token->data, token->len)) {
		*cause = xasprintf("not writing sink %s: the token is %s", o->path,
				   token == NULL || token->len == 0 ? "empty" :
								      "not printable text");
		return -EINVAL;
	}
	if (type == NULL || strcasecmp(type, "bearer") == 0)
		type = "Bearer";
	if (!text_token(type, strlen(type))) {
		*cause = xasprintf("not writing sink %s: invalid token type", o->path);
		return -EINVAL;
	}
	r = sink_format(&b, o, token, type, scope, expires_wall_ms, now_wall_ms);
	if (r < 0)
		*cause = xasprintf("not writing sink %s: the token or scope is not valid UTF-8",
				   o->path);
	else
		r = sink_replace(o, b.data, b.len, cause);
	secbuf_clear(&b);
	return r;
}

int
sink_clear(const struct sink_opts *o, char **cause)
{
	return sink_replace(o, "", 0, cause);
}
