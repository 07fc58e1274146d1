/*
 * ctlout: what tokenctl prints.  Error lines on stderr; on stdout the raw
 * text of an answer (a token among them), the daemon's JSON re-encoded, and
 * the tables of credentials and proxies.
 *
 * Tokens are written with write(2) straight from the answer buffer, never
 * through stdio or a format string.  The JSON and table printers go through
 * stdio and are never handed a token.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "text.h"
#include "xmalloc.h"

/*
 * Prints "tokenctl: message" on stderr.  The log module would add a level
 * ("tokenctl: err: ..."); users and scripts read these lines, so they keep
 * the conventional form.  Never give it a token.
 */
void
ctlout_error(const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL, *shown = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* Nothing in it may drive the terminal. */
	shown = text_sanitize(msg, strlen(msg), SIZE_MAX);
	fprintf(stderr, "tokenctl: %s\n", shown);
}

/* Writes all iovecs, resuming after short writes; 0 or -errno. */
static int
ctlout_writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Writes all iovecs to stdout; 0, or EX_IOERR with the error printed. */
int
ctlout_writev(struct iovec *iov, int n)
{
	int rc = ctlout_writev_all(STDOUT_FILENO, iov, n);

	if (rc < 0) {
		ctlout_error("cannot write to standard output: %s", strerror(-rc));
		return EX_IOERR;
	}
	return 0;
}

/* Writes to stdout with a newline added unless text ends in one. */
int
ctlout_write(const char *text, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)text, .iov_len = len },
		{ .iov_base = (void *)(uintptr_t) "\n", .iov_len = 1 },
	};

	return ctlout_writev(iov, len > 0 && text[len - 1] == '\n' ? 1 : 2);
}

/* Re-encodes v, leaving out the top-level member named skip (or none). */
static yajl_gen_status
ctlout_json_gen(yajl_gen g, const struct json *v, const char *skip)
{
	yajl_gen_status st = yajl_gen_status_ok;

	switch (v->type) {
	case JSON_STRING:
		return yajl_gen_string(g, (const unsigned char *)v->text, v->len);
	case JSON_NUMBER:
		return yajl_gen_number(g, v->text, v->len);
	case JSON_BOOL:
		return yajl_gen_bool(g, v->boolean);
	case JSON_NULL:
		return yajl_gen_null(g);
	case JSON_OBJECT:
		if ((st = yajl_gen_map_open(g)) != yajl_gen_status_ok)
			return st;
		for (size_t i = 0; i < v->n && st == yajl_gen_status_ok; i++) {
			const char *key = v->keys[i];

			if (skip != NULL && strcmp(key, skip) == 0)
				continue;
			st = yajl_gen_string(g, (const unsigned char *)key, strlen(key));
			if (st == yajl_gen_status_ok)
				st = ctlout_json_gen(g, v->values[i], NULL);
		}
		return st != yajl_gen_status_ok ? st : yajl_gen_map_close(g);
	case JSON_ARRAY:
		if ((st = yajl_gen_array_open(g)) != yajl_gen_status_ok)
			return st;
		for (size_t i = 0; i < v->n && st == yajl_gen_status_ok; i++)
			st = ctlout_json_gen(g, v->values[i], NULL);
		return st != yajl_gen_status_ok ? st : yajl_gen_array_close(g);
	default:
		return yajl_gen_invalid_string;
	}
}

/* Prints v as JSON without its member skip; never used on a token. */
int
ctlout_json(const struct json *v, const char *skip)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int rc;

	if (g == NULL)
		log_fatal("out of memory");
	if (ctlout_json_gen(g, v, skip) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		ctlout_error("cannot encode the daemon's answer as JSON");
		return EX_SOFTWARE;
	}
	rc = ctlout_write((const char *)buf, len);
	yajl_gen_free(g);
	return rc;
}

/* "12s", "41m", "2h5m", "3d4h": one or two units, rounded down. */
const char *
ctlout_span(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 86400 && (s % 3600) / 60 != 0)
		snprintf(buf, size, "%lldh%lldm", (long long)(s / 3600), (long long)((s % 3600) / 60));
	else if (s < 86400)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else if ((s % 86400) / 3600 != 0)
		snprintf(buf, size, "%lldd%lldh", (long long)(s / 86400), (long long)((s % 86400) / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
	return buf;
}

static char *
ctlout_cell_string(const struct json *obj, const char *key)
{
	const char *s = json_get_string(obj, key);

	if (s == NULL || s[0] == '\0')
		return xstrdup("-");
	return text_sanitize(s, strlen(s), SIZE_MAX);
}

static char *
ctlout_cell_number(const struct json *obj, const char *key)
{
	int64_t n;

	if (json_int64(json_get(obj, key), &n) != 0)
		return xstrdup("-");
	return xasprintf("%lld", (long long)n);
}

/*
 * "in 41m"; once past, "expired 3s ago" for an expiry and "now" for a
 * renewal that is due.
 */
static char *
ctlout_cell_time(const struct json *cred, const char *key, int64_t now, bool expiry)
{
	char span[32];
	int64_t at;

	if (json_int64(json_get(cred, key), &at) != 0)
		return xstrdup("-");
	if (at > now)
		return xasprintf("in %s", ctlout_span(at - now, span, sizeof(span)));
	if (!expiry)
		return xstrdup("now");
	return xasprintf("expired %s ago", ctlout_span(now - at, span, sizeof(span)));
}

/*
 * Prints a table: the head line, then nrows rows of ncols cells (row-major,
 * every one printable; freed here), each column as wide as its widest
 * cell; the last one is not padded.
 */
static void
ctlout_grid(const char *const *heads, size_t ncols, char **cells, size_t nrows)
{
	size_t *width = xcalloc(ncols, sizeof(*width));

	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(heads[c]);
	for (size_t i = 0; i < nrows * ncols; i++)
		if (strlen(cells[i]) > width[i % ncols])
			width[i % ncols] = strlen(cells[i]);
	for (size_t c = 0; c + 1 < ncols; c++)
		printf("%-*s  ", (int)width[c], heads[c]);
	printf("%s\n", heads[ncols - 1]);
	for (size_t i = 0; i < nrows * ncols; i++) {
		if (i % ncols + 1 < ncols)
			printf("%-*s  ", (int)width[i % ncols], cells[i]);
		else
			printf("%s\n", cells[i]);
		free(cells[i]);
	}
	free(cells);
	free(width);
}

/* A credential's "variants" array, or NULL when it has none. */
static const struct json *
ctlout_variants(const struct json *cred)
{
	const struct json *v = json_get(cred, "variants");

	return v != NULL && v->type == JSON_ARRAY && v->n > 0 ? v : NULL;
}

/*
 * A variant's name cell: indented, its scope, audience and resource as
 * "scope=read+write audience=billing" (a field's values joined by "+", as
 * the daemon's logs and metrics show a variant), sanitized.
 */
static char *
ctlout_variant_name(const struct json *variant)
{
	static const char *const keys[] = { "scope", "audience", "resource" };
	char *text = xstrdup(" ");

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		const char *v = json_get_string(variant, keys[i]);
		_cleanup_free_ char *shown = NULL;
		char *t;

		if (v == NULL)
			continue;
		shown = text_sanitize(v, strlen(v), SIZE_MAX);
		for (char *p = shown; *p != '\0'; p++)
			if (*p == ' ')
				*p = '+';
		t = xasprintf("%s %s=%s", text, keys[i], shown);
		free(text);
		text = t;
	}
	return text;
}

/* The cells of a credential's or a variant's row, named name (taken). */
static void
ctlout_status_row(char **cell, const struct json *obj, char *name, int64_t now)
{
	cell[0] = name;
	cell[1] = ctlout_cell_string(obj, "state");
	cell[2] = ctlout_cell_time(obj, "expires_at", now, true);
	cell[3] = ctlout_cell_time(obj, "next_renewal", now, false);
	cell[4] = ctlout_cell_number(obj, "renewals");
	cell[5] = ctlout_cell_number(obj, "failures");
	cell[6] = ctlout_cell_string(obj, "last_error");
}

/*
 * The status table: a head line, then a row per credential, each followed
 * by an indented row per token variant.
 */
void
ctlout_status_table(struct json *const *creds, size_t n)
{
	static const char *const heads[] = {
		"NAME", "STATE", "EXPIRES", "NEXT", "RENEWALS", "FAILURES", "LAST-ERROR",
	};
	const size_t ncols = ELEMENTSOF(heads);
	int64_t now = (int64_t)time(NULL);
	size_t nrows = n, row = 0;
	char **cells;

	for (size_t i = 0; i < n; i++)
		nrows += ctlout_variants(creds[i]) != NULL ? ctlout_variants(creds[i])->n : 0;
	cells = xcalloc(nrows * ncols + 1, sizeof(*cells));
	for (size_t i = 0; i < n; i++) {
		const struct json *variants = ctlout_variants(creds[i]);

		ctlout_status_row(&cells[row++ * ncols], creds[i], ctlout_cell_string(creds[i], "name"),
		    now);
		for (size_t j = 0; variants != NULL && j < variants->n; j++)
			ctlout_status_row(&cells[row++ * ncols], variants->values[j],
			    ctlout_variant_name(variants->values[j]), now);
	}
	ctlout_grid(heads, ncols, cells, nrows);
}

/* The proxy table: a head line, then a row per proxy; LAST is "-" before its first answer. */
void
ctlout_proxy_table(struct json *const *proxies, size_t n)
{
	static const char *const heads[] = {
		"NAME", "LISTEN", "UPSTREAM", "CREDENTIAL", "REQUESTS", "RETRIES", "LAST",
	};
	const size_t ncols = ELEMENTSOF(heads);
	char **cells = xcalloc(n * ncols + 1, sizeof(*cells));

	for (size_t i = 0; i < n; i++) {
		char **cell = &cells[i * ncols];

		cell[0] = ctlout_cell_string(proxies[i], "name");
		cell[1] = ctlout_cell_string(proxies[i], "listen");
		cell[2] = ctlout_cell_string(proxies[i], "upstream");
		cell[3] = ctlout_cell_string(proxies[i], "credential");
		cell[4] = ctlout_cell_number(proxies[i], "requests");
		cell[5] = ctlout_cell_number(proxies[i], "retries");
		cell[6] = ctlout_cell_number(proxies[i], "last_status");
	}
	ctlout_grid(heads, ncols, cells, n);
}
