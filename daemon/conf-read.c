/*
 * Reading the files: the main file and the *.conf files in conf.d/, line
 * by line, into sections of raw key = value entries, each with its
 * FILE:LINE.  Nothing is interpreted here beyond which keys a section
 * knows; conf-daemon.c, conf-cred.c and conf-proxy.c turn the entries into
 * values once every file is read.
 *
 * Why not libinih: letting it do the lexing (ini_parse_stream or
 * ini_parse_string) cannot keep our messages, for the library as
 * distributions build it (Debian 12: libinih 55) has INI_HANDLER_LINENO
 * off, so a handler never learns its line; cuts a line at INI_MAX_LINE
 * (200) without a word and reads the rest as a line of its own; truncates
 * section names at 50 bytes; never calls the handler for a section without
 * keys; and returns the line of the first syntax error only.  Those are
 * compile-time options we cannot set in a shared library.  Used behind a
 * reader of our own that handled lines, comments, section headers, the BOM
 * and line length, it was left only the split at "=", which is a dozen
 * lines here.  So this reader does it all, to libinih's rules wherever a
 * file could tell the difference: "#" and ";" start a comment line, ";"
 * after white space starts an inline comment, the first "=" or ":" splits
 * a key line, and a line may be 199 characters long (what libinih's buffer
 * held), so every file that loaded still loads, with the same messages.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "conf-int.h"
#include "log.h"
#include "secret.h"
#include "spell.h"
#include "xmalloc.h"

#define CONF_LINE_BUF 4096 /* getline's first buffer: see conf_next_line */
#define CONF_LINE_MAX 199  /* characters in a line, as libinih allowed */

/*
 * A kind of section: [NAME] (all of them merge into one) or [NAME "LABEL"]
 * (one section each, the label unique).  key_known says which keys it
 * takes; the values are checked when conf.c builds the section.  A new kind
 * is an entry here and an id in conf-int.h; the messages that list the
 * kinds ("use [daemon] or ...") are made from this table.
 */
struct conf_read_sect {
	const char *name;
	enum conf_sect_id id;
	bool labelled;
	bool (*key_known)(const char *key);
	const char *(*key_name)(size_t i); /* NULL past the last: for "did you mean" */
};

static const char *
conf_read_cred_key_name(size_t i)
{
	return i < CK_COUNT ? conf_cred_keys[i].name : NULL;
}

static const struct conf_read_sect conf_read_sects[] = {
	{ "daemon", CONF_SECT_DAEMON, false, conf_daemon_key_known, conf_daemon_key_name },
	{ "credential", CONF_SECT_CRED, true, conf_cred_key_known, conf_read_cred_key_name },
	{ "proxy", CONF_SECT_PROXY, true, conf_proxy_key_known, conf_proxy_key_name },
};

#define CONF_KEYS_MAX 128 /* keys of one kind of section, for suggestions */

/* "[daemon], [credential "NAME"] or [proxy "NAME"]", for messages; the caller frees. */
static char *
conf_sect_list(void)
{
	char *list = xstrdup("");

	for (size_t i = 0; i < ELEMENTSOF(conf_read_sects); i++) {
		const struct conf_read_sect *t = &conf_read_sects[i];
		const char *sep = i == 0				 ? "" :
				  i + 1 == ELEMENTSOF(conf_read_sects) ? " or " :
									 ", ";
		char *l = xasprintf("%s%s[%s%s]", list, sep, t->name,
				    t->labelled ? " \"NAME\"" : "");

		free(list);
		list = l;
	}
	return list;
}

static void
conf_section_clear(struct conf_section *sect)
{
	for (size_t i = 0; i < sect->n; i++) {
		free(sect->v[i].key);
		secret_free_str(sect->v[i].value);
	}
	free(sect->v);
	free(sect->name);
	for (size_t i = 0; i < sect->nmeant; i++)
		free(sect->meant[i]);
	free(sect->meant);
	memset(sect, 0, sizeof(*sect));
}

static unsigned
conf_add_file(struct conf_loader *ld, const char *path, mode_t mode)
{
	ld->files = xreallocarray(ld->files, ld->nfiles + 1, sizeof(*ld->files));
	ld->files[ld->nfiles].path = xstrdup(path);
	ld->files[ld->nfiles].mode = mode;
	return (unsigned)ld->nfiles++;
}

static int
conf_section_cmp(const void *a, const void *b)
{
	const struct conf_section *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* A new section of kind t at the current line, where keys now go. */
static void
conf_section_add(struct conf_loader *ld, const struct conf_read_sect *t, const char *name)
{
	struct conf_sections *l = &ld->sects[t->id];

	if (l->n == l->cap) {
		l->cap = l->cap * 2 + 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	ld->sect = xcalloc(1, sizeof(*ld->sect));
	ld->sect->name = name != NULL ? xstrdup(name) : NULL;
	ld->sect->file = ld->file;
	ld->sect->line = ld->lineno;
	l->v[l->n++] = ld->sect;
	if (name != NULL && tsearch(ld->sect, &l->by_name, conf_section_cmp) == NULL)
		log_fatal("out of memory");
	ld->kind = t;
}

/* [NAME "LABEL"]: label is what follows NAME, the quotes still on. */
static void
conf_section_labelled(struct conf_loader *ld, const struct conf_read_sect *t, char *label)
{
	const struct conf_sections *l = &ld->sects[t->id];
	size_t len;

	while (isspace((unsigned char)*label))
		label++;
	len = strlen(label);
	if (len >= 2 && label[0] == '"' && label[len - 1] == '"') {
		label[len - 1] = '\0';
		label++;
	}
	if (*label == '\0') {
		conf_error(ld, ld->file, ld->lineno, "%s: a name is required: [%s \"NAME\"]",
			   t->name, t->name);
		return;
	}
	if (!conf_value_name_ok(label)) {
		conf_error(ld, ld->file, ld->lineno,
			   "%s \"%s\": invalid name (use 1 to %d of A-Z a-z 0-9 . _ -)", t->name,
			   label, CONF_NAME_MAX);
		return;
	}
	{
		struct conf_section key = { .name = label }, *const *found;

		found = tfind(&key, &l->by_name, conf_section_cmp);
		if (found != NULL) {
			_cleanup_free_ char *where =
				conf_place(ld, (*found)->file, (*found)->line, ld->file);

			conf_error(ld, ld->file, ld->lineno, "%s \"%s\": already defined at %s",
				   t->name, label, where);
			return;
		}
	}
	conf_section_add(ld, t, label);
}

/*
 * "; did you mean [credential "x"]?" when the first word of a section
 * header's inside is a slip of a kind's name, else ""; the caller frees.
 */
static char *
conf_sect_nearest(const char *inner)
{
	const char *names[ELEMENTSOF(conf_read_sects)], *best;
	size_t n = strcspn(inner, " \t\"");
	_cleanup_free_ char *word = xstrndup(inner, n);

	for (size_t i = 0; i < ELEMENTSOF(conf_read_sects); i++)
		names[i] = conf_read_sects[i].name;
	best = spell_nearest(word, names, ELEMENTSOF(names));
	if (best == NULL)
		return xstrdup("");
	return xasprintf("; did you mean [%s%s]?", best, inner + n);
}

/*
 * The known key of kind t that name is probably a slip of, else NULL; the
 * caller frees.  A NAME after a prefix ("parm.x") stays as it is
 * ("param.x").
 */
static char *
conf_key_nearest(const struct conf_read_sect *t, const char *name)
{
	const char *names[CONF_KEYS_MAX], *k, *best;
	const char *dot = strchr(name, '.');
	_cleanup_free_ char *head = dot != NULL ? xstrndup(name, (size_t)(dot - name) + 1) : NULL;
	size_t n = 0;

	for (size_t i = 0; n < CONF_KEYS_MAX && (k = t->key_name(i)) != NULL; i++) {
		bool prefix = k[0] != '\0' && k[strlen(k) - 1] == '.';

		if (prefix == (dot != NULL))
			names[n++] = k;
	}
	best = spell_nearest(dot != NULL ? head : name, names, n);
	if (best == NULL)
		return NULL;
	return dot != NULL ? xasprintf("%s%s", best, dot + 1) : xstrdup(best);
}

/*
 * s is a whole trimmed "[...]" line; sets the section keys now go to, or
 * none after a bad header (its keys are skipped, not reported again).
 */
static void
conf_section_line(struct conf_loader *ld, char *s)
{
	char *end = strchr(s, ']'), *rest, *inner;
	_cleanup_free_ char *list = NULL;
	size_t len;

	ld->kind = NULL;
	ld->header_seen = true;
	ld->sect = NULL;
	if (end == NULL) {
		conf_error(ld, ld->file, ld->lineno, "syntax error");
		return;
	}
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		conf_error(ld, ld->file, ld->lineno, "syntax error");
		return;
	}
	*end = '\0';
	for (inner = s + 1; isspace((unsigned char)*inner); inner++)
		;
	len = strlen(inner);
	while (len > 0 && isspace((unsigned char)inner[len - 1]))
		inner[--len] = '\0';

	for (size_t i = 0; i < ELEMENTSOF(conf_read_sects); i++) {
		const struct conf_read_sect *t = &conf_read_sects[i];
		size_t n = strlen(t->name);
		char c = inner[n];

		if (strncmp(inner, t->name, n) != 0)
			continue;
		if (t->labelled && (c == '\0' || c == '"' || isspace((unsigned char)c))) {
			conf_section_labelled(ld, t, inner + n);
			return;
		}
		if (!t->labelled && c == '\0') {
			if (ld->sects[t->id].n == 0)
				conf_section_add(ld, t, NULL);
			ld->sect = ld->sects[t->id].v[0];
			ld->kind = t;
			return;
		}
	}
	list = conf_sect_list();
	{
		_cleanup_free_ char *mean = conf_sect_nearest(inner);

		conf_error(ld, ld->file, ld->lineno, "unknown section [%s] (use %s)%s", inner, list,
			   mean);
	}
}

/* Header keys compare without case (HTTP does); all others exactly. */
static bool
conf_same_key(const char *a, const char *b)
{
	if (strncmp(a, "header.", 7) == 0 && strncmp(b, "header.", 7) == 0)
		return strcasecmp(a, b) == 0;
	return strcmp(a, b) == 0;
}

/*
 * Where an inline comment or (with chars) one of chars starts in s, else
 * its end: ';' starts a comment only after white space.
 */
static char *
conf_find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	for (; *s != '\0' && (chars == NULL || strchr(chars, *s) == NULL) &&
	       !(was_space && *s == ';');
	     s++)
		was_space = isspace((unsigned char)*s);
	return s;
}

static void
conf_rstrip(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
}

/* A line that could not be read leaves its section incomplete. */
static void
conf_line_broken(struct conf_loader *ld)
{
	if (ld->sect != NULL)
		ld->sect->broken = true;
}

/*
 * s is a whole trimmed line that is not a comment or a header: "name =
 * value" (or "name: value") is checked against its section's keys and
 * kept.
 */
static void
conf_key_line(struct conf_loader *ld, char *s)
{
	const struct conf_read_sect *t = ld->kind;
	struct conf_section *sect = ld->sect;
	char *eq = conf_find_chars_or_comment(s, "=:"), *name = s, *value;
	_cleanup_free_ char *list = NULL;
	struct conf_entry *e;

	if ((*eq != '=' && *eq != ':') || eq == s) {
		conf_error(ld, ld->file, ld->lineno, "syntax error");
		conf_line_broken(ld);
		return;
	}
	*eq = '\0';
	conf_rstrip(name);
	value = eq + 1;
	*conf_find_chars_or_comment(value, NULL) = '\0';
	while (isspace((unsigned char)*value))
		value++;
	conf_rstrip(value);

	if (t == NULL) {
		if (ld->header_seen)
			return;
		list = conf_sect_list();
		conf_error(ld, ld->file, ld->lineno, "%s: not in a section (start with %s)", name,
			   list);
		return;
	}
	if (!t->key_known(name)) {
		_cleanup_free_ char *here = NULL, *hint = xstrdup("");

		for (size_t i = 0; i < ELEMENTSOF(conf_read_sects); i++) {
			const struct conf_read_sect *o = &conf_read_sects[i];

			if (o == t || !o->key_known(name))
				continue;
			free(hint);
			hint = xasprintf(" (it belongs in %s[%s])", o->labelled ? "a " : "",
					 o->name);
			break;
		}
		if (*hint == '\0') {
			char *mean = conf_key_nearest(t, name);

			if (mean != NULL) {
				free(hint);
				hint = xasprintf("; did you mean %s?", mean);
				sect->meant = xreallocarray(sect->meant, sect->nmeant + 1,
							    sizeof(*sect->meant));
				sect->meant[sect->nmeant++] = mean;
			}
		}
		here = t->labelled ? xasprintf("[%s \"%s\"]", t->name, sect->name) :
				     xasprintf("[%s]", t->name);
		conf_error(ld, ld->file, ld->lineno, "%s: unknown key in %s%s", name, here, hint);
		return;
	}
	for (size_t i = 0; i < sect->n; i++) {
		if (conf_same_key(sect->v[i].key, name)) {
			_cleanup_free_ char *where =
				conf_place(ld, sect->v[i].file, sect->v[i].line, ld->file);

			conf_error(ld, ld->file, ld->lineno, "%s: already set at %s", name, where);
			return;
		}
	}
	sect->v = xreallocarray(sect->v, sect->n + 1, sizeof(*sect->v));
	e = &sect->v[sect->n++];
	e->key = xstrdup(name);
	e->value = xstrdup(value);
	e->file = ld->file;
	e->line = ld->lineno;
}

static void
conf_buf_reserve(struct conf_loader *ld, size_t size)
{
	char *n;

	if (size <= ld->bufsize)
		return;
	n = xmalloc(size);
	secret_free_buf(ld->buf, ld->bufsize);
	ld->buf = n;
	ld->bufsize = size;
}

/*
 * The next line into ld->buf, without its line ending.  Returns 1, 0 at
 * the end or -errno.  getline() reuses ld->buf, which is big enough for
 * any valid line; only an over-long line makes it grow (and leave its old,
 * unwiped buffer behind).
 */
static int
conf_next_line(struct conf_loader *ld, size_t *ret_len)
{
	size_t len;

	if (ld->fp != NULL) {
		ssize_t n;

		errno = 0;
		n = getline(&ld->buf, &ld->bufsize, ld->fp);
		if (n < 0)
			return ferror(ld->fp) ? -(errno != 0 ? errno : EIO) : 0;
		len = (size_t)n;
	} else {
		const char *p, *nl;

		if (ld->text_off >= ld->text_len)
			return 0;
		p = ld->text + ld->text_off;
		nl = memchr(p, '\n', ld->text_len - ld->text_off);
		len = nl != NULL ? (size_t)(nl - p) + 1 : ld->text_len - ld->text_off;
		conf_buf_reserve(ld, len + 1);
		memcpy(ld->buf, p, len);
		ld->buf[len] = '\0';
		ld->text_off += len;
	}
	if (len > 0 && ld->buf[len - 1] == '\n')
		len--;
	if (len > 0 && ld->buf[len - 1] == '\r')
		len--;
	ld->buf[len] = '\0';
	ld->lineno++;
	*ret_len = len;
	return 1;
}

/* The line in ld->buf, len bytes: a comment, a header or a key line. */
static void
conf_line(struct conf_loader *ld, size_t len)
{
	char *s = ld->buf;

	if (memchr(s, '\0', len) != NULL) {
		conf_error(ld, ld->file, ld->lineno, "line contains a NUL byte");
		conf_line_broken(ld);
		return;
	}
	if (ld->lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		len -= 3;
	}
	if (len > CONF_LINE_MAX) {
		conf_error(ld, ld->file, ld->lineno, "line too long (at most %d characters)",
			   CONF_LINE_MAX);
		conf_line_broken(ld);
		return;
	}
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	conf_rstrip(s);
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (*s == '[')
		conf_section_line(ld, s);
	else
		conf_key_line(ld, s);
}

/* Reads the source set up in ld (a stream or a string) as file. */
static void
conf_parse(struct conf_loader *ld, unsigned file)
{
	size_t len = 0;
	int r;

	ld->file = file;
	ld->lineno = 0;
	ld->kind = NULL;
	ld->header_seen = false;
	ld->sect = NULL;
	while ((r = conf_next_line(ld, &len)) > 0)
		conf_line(ld, len);
	if (r < 0)
		conf_error(ld, file, 0, "cannot read: %s", strerror(-r));
}

/* Reads one file; a problem with it is reported as FILE: message. */
void
conf_read_file(struct conf_loader *ld, const char *path)
{
	unsigned file = conf_add_file(ld, path, 0);
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		_cleanup_free_ char *hint = conf_value_denied_hint(e, path, CONF_DENIED_FILE);

		conf_error(ld, file, 0, "cannot open: %s%s", strerror(e), hint);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		conf_error(ld, file, 0, "not a regular file");
		close(fd);
		return;
	}
	ld->files[file].mode = st.st_mode & 07777;
	ld->fp = fdopen(fd, "r");
	if (ld->fp == NULL) {
		conf_error(ld, file, 0, "cannot open: %s", strerror(errno));
		close(fd);
		return;
	}
	conf_parse(ld, file);
	fclose(ld->fp);
	ld->fp = NULL;
}

/* Reads text as a file called name, mode 0600 (for tests). */
void
conf_read_string(struct conf_loader *ld, const char *name, const char *text)
{
	ld->text = text;
	ld->text_len = strlen(text);
	ld->text_off = 0;
	conf_parse(ld, conf_add_file(ld, name, 0600));
	ld->text = NULL;
}

static int
conf_dirent_filter_cb(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".conf") == 0;
}

/* Lexical order is byte order, whatever the locale says. */
static int
conf_dirent_cmp_cb(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every *.conf in the conf.d/ beside path; no such directory is fine. */
void
conf_read_dir(struct conf_loader *ld, const char *path)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = NULL;
	struct dirent **list;
	int n;

	if (slash != NULL)
		dir = xasprintf("%.*s/conf.d", (int)(slash - path), path);
	else
		dir = xstrdup("conf.d");
	n = scandir(dir, &list, conf_dirent_filter_cb, conf_dirent_cmp_cb);
	if (n < 0) {
		if (errno != ENOENT) {
			int e = errno;
			_cleanup_free_ char *hint = conf_value_denied_hint(e, dir, CONF_DENIED_DIR);

			conf_error(ld, conf_add_file(ld, dir, 0), 0, "cannot open: %s%s",
				   strerror(e), hint);
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *file = xasprintf("%s/%s", dir, list[i]->d_name);

		conf_read_file(ld, file);
		free(list[i]);
	}
	free(list);
}

void
conf_read_init(struct conf_loader *ld)
{
	memset(ld, 0, sizeof(*ld));
	ld->bufsize = CONF_LINE_BUF;
	ld->buf = xmalloc(ld->bufsize);
}

/* The tree only points to sections: they are freed on their own. */
static void
conf_section_forget(void *sect)
{
}

void
conf_read_parsed(struct conf_loader *ld)
{
	for (size_t k = 0; k < CONF_SECT_COUNT; k++) {
		if (ld->sects[k].by_name != NULL)
			tdestroy(ld->sects[k].by_name, conf_section_forget);
		ld->sects[k].by_name = NULL;
	}
}

void
conf_section_free(struct conf_section *sect)
{
	if (sect == NULL)
		return;
	conf_section_clear(sect);
	free(sect);
}

/* Frees what ld holds, wiping the values and the line buffer. */
void
conf_read_clear(struct conf_loader *ld)
{
	for (size_t i = 0; i < ld->nfiles; i++)
		free(ld->files[i].path);
	free(ld->files);
	conf_read_parsed(ld);
	for (size_t k = 0; k < CONF_SECT_COUNT; k++) {
		for (size_t i = 0; i < ld->sects[k].n; i++)
			conf_section_free(ld->sects[k].v[i]);
		free(ld->sects[k].v);
	}
	secret_free_buf(ld->buf, ld->bufsize);
	conf_msgs_move(&ld->errs, NULL);
	conf_msgs_move(&ld->warns, NULL);
}
