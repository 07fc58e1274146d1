/*
 * Loading the configuration.  Our own ini_reader hands libinih one line at
 * a time, so every handler call knows its line number, over-long lines are
 * reported instead of cut, and section headers (which libinih truncates at
 * 50 bytes) are parsed here.  libinih splits key = value; the pairs are kept
 * as raw entries per section.  Only when every file is read are the
 * sections turned into a struct conf: built-in defaults, then the profile's
 * defaults, then the user's keys in file order, then the checks that need
 * the whole section.  Every problem is collected as "FILE:LINE: message",
 * the key first; secrets never reach a message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/http.h>
#include <ini.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "conf.h"
#include "safedir.h"
#include "log.h"
#include "profile.h"
#include "secret.h"
#include "xmalloc.h"

#define CONF_SECRET_FILE_MAX (64 * 1024)
#define CONF_SERVICE_USER "tokenbroker" /* User= of the packaged unit */
#define CONF_LINE_BUF 4096 /* getline's first buffer: see conf_next_line */
#define CONF_API_VERSION_MAX 32
#define CONF_SINK_NAME_MAX 200	 /* a sink's file name, leaving room for a temporary's */
#define CONF_SINK_PATH_MAX 3800 /* and its path */

/* One "FILE:LINE: message", with what it sorts by. */
struct conf_msg {
	unsigned file; /* index into conf_loader.files */
	unsigned line; /* 0: about the file as a whole */
	size_t seq;
	char *text;
};

struct conf_msgs {
	struct conf_msg *v;
	size_t n;
};

struct conf_file {
	char *path;  /* as given or found */
	mode_t mode; /* permission bits, for the inline secret check */
};

/* A key = value as read; value may be a secret and is wiped on free. */
struct conf_entry {
	char *key;
	char *value;
	unsigned file;
	unsigned line;
};

/* [daemon] (name NULL; all [daemon] sections merge) or one credential. */
struct conf_section {
	char *name;
	unsigned file;
	unsigned line;
	struct conf_entry *v;
	size_t n;
	bool broken; /* a line in it could not be read: skip the checks across keys */
};

enum conf_sect_kind {
	SECT_NONE, /* before the first section header */
	SECT_DAEMON,
	SECT_CRED,
	SECT_SKIP, /* a bad header, already reported: ignore its keys */
};

struct conf_loader {
	struct conf_file *files;
	size_t nfiles;
	struct conf_section daemon;
	struct conf_section **creds;
	size_t ncreds;

	/* The file being read. */
	unsigned file;
	unsigned lineno;
	enum conf_sect_kind kind;
	struct conf_section *sect;
	FILE *fp;	  /* the source is either a stream ... */
	const char *text; /* ... or a string */
	size_t text_len;
	size_t text_off;
	char *buf; /* the current line; wiped at the end */
	size_t bufsize;
	int read_errno;
	int last_num;
	bool partial; /* the last line filled libinih's buffer exactly */

	struct conf_msgs errs;
	struct conf_msgs warns;
	size_t seq;
};

static void conf_msg_vadd(struct conf_loader *, struct conf_msgs *, unsigned, unsigned,
			  const char *, va_list) __attribute__((format(printf, 5, 0)));
static void conf_error(struct conf_loader *, unsigned, unsigned, const char *, ...)
	__attribute__((format(printf, 4, 5)));
static void conf_warning(struct conf_loader *, unsigned, unsigned, const char *, ...)
	__attribute__((format(printf, 4, 5)));

static void
conf_msg_vadd(struct conf_loader *ld, struct conf_msgs *m, unsigned file, unsigned line,
	      const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	struct conf_msg *cm;

	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	cm = &m->v[m->n++];
	cm->file = file;
	cm->line = line;
	cm->seq = ld->seq++;
	if (line > 0)
		cm->text = xasprintf("%s:%u: %s", ld->files[file].path, line, msg);
	else
		cm->text = xasprintf("%s: %s", ld->files[file].path, msg);
}

static void
conf_error(struct conf_loader *ld, unsigned file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_msg_vadd(ld, &ld->errs, file, line, fmt, ap);
	va_end(ap);
}

static void
conf_warning(struct conf_loader *ld, unsigned file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_msg_vadd(ld, &ld->warns, file, line, fmt, ap);
	va_end(ap);
}

static bool
conf_has_error_at(const struct conf_loader *ld, unsigned file, unsigned line)
{
	for (size_t i = 0; i < ld->errs.n; i++)
		if (ld->errs.v[i].file == file && ld->errs.v[i].line == line)
			return true;
	return false;
}

static int
conf_msg_cmp_cb(const void *a, const void *b)
{
	const struct conf_msg *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the messages, in file and line order, to out (or frees them). */
static void
conf_msgs_move(struct conf_msgs *m, struct conf_errors *out)
{
	if (m->n > 0)
		qsort(m->v, m->n, sizeof(*m->v), conf_msg_cmp_cb);
	for (size_t i = 0; i < m->n; i++) {
		if (out == NULL) {
			free(m->v[i].text);
			continue;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = m->v[i].text;
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* A "where" for messages that name an earlier place. */
static char *
conf_place(const struct conf_loader *ld, unsigned file, unsigned line, unsigned here)
{
	if (file == here)
		return xasprintf("line %u", line);
	return xasprintf("%s:%u", ld->files[file].path, line);
}

/*
 * Small parsers shared by the key setters: 0 and the value, or -EINVAL
 * with *cause (without the key: the caller puts it in front).
 */

static bool
conf_is_word_sep(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

/* The next word of a space or comma separated list, or NULL at the end. */
static char *
conf_next_word(const char **p)
{
	const char *s = *p, *e;

	while (*s != '\0' && conf_is_word_sep(*s))
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	for (e = s; *e != '\0' && !conf_is_word_sep(*e); e++)
		;
	*p = e;
	return xstrndup(s, (size_t)(e - s));
}

static bool
conf_all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int
conf_parse_bool(const char *v, bool *ret, char **cause)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	*cause = xasprintf("invalid boolean \"%s\" (use yes or no)", v);
	return -EINVAL;
}

/* names is NULL-terminated; the index found is the value. */
static int
conf_parse_enum(const char *v, const char *const *names, int *ret, char **cause)
{
	_cleanup_free_ char *list = NULL;

	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	}
	for (int i = 0; names[i] != NULL; i++) {
		char *l = xasprintf("%s%s%s", list != NULL ? list : "", i > 0 ? ", " : "",
				    names[i]);

		free(list);
		list = l;
	}
	*cause = xasprintf("unknown value \"%s\" (use %s)", v, list);
	return -EINVAL;
}

static int
conf_parse_uint(const char *v, unsigned long min, unsigned long max, unsigned *ret,
		char **cause)
{
	unsigned long n;

	if (!conf_all_digits(v) || strlen(v) > 9) {
		*cause = xasprintf("invalid number \"%s\" (use %lu to %lu)", v, min, max);
		return -EINVAL;
	}
	n = strtoul(v, NULL, 10);
	if (n < min || n > max) {
		*cause = xasprintf("%lu is out of range (use %lu to %lu)", n, min, max);
		return -EINVAL;
	}
	*ret = (unsigned)n;
	return 0;
}

/* Permission bits in octal, at most 0777; example goes into the message. */
static int
conf_parse_mode(const char *v, const char *example, mode_t *ret, char **cause)
{
	unsigned long mode;

	if (!conf_all_digits(v) || strlen(v) > 4 || strspn(v, "01234567") != strlen(v) ||
	    (mode = strtoul(v, NULL, 8)) > 0777) {
		*cause = xasprintf("invalid mode \"%s\" (use octal, at most 0777, e.g. %s)", v,
				   example);
		return -EINVAL;
	}
	*ret = (mode_t)mode;
	return 0;
}

/* min_ms 0: any; 1: greater than 0; otherwise at least min_ms. */
static int
conf_parse_duration(const char *v, int64_t min_ms, int64_t *ret, char **cause)
{
	int64_t ms;
	int r;

	r = duration_parse(v, &ms);
	if (r == -ERANGE) {
		*cause = xasprintf("duration \"%s\" is too large (at most 30d)", v);
		return -EINVAL;
	}
	if (r < 0) {
		*cause = xasprintf("invalid duration \"%s\" (use 90, 90s, 15m, 1h)", v);
		return -EINVAL;
	}
	if (ms < min_ms) {
		char buf[32];

		if (min_ms == 1)
			*cause = xstrdup("must be greater than 0");
		else
			*cause = xasprintf("must be at least %s",
					   duration_format(min_ms, buf, sizeof(buf)));
		return -EINVAL;
	}
	*ret = ms;
	return 0;
}

static int
conf_resolve_user(const char *w, uint32_t *ret, char **cause)
{
	const struct passwd *pw;

	if (conf_all_digits(w)) {
		unsigned long long n = strtoull(w, NULL, 10);

		if (strlen(w) > 10 || n >= UINT32_MAX) {
			*cause = xasprintf("invalid uid %s", w);
			return -EINVAL;
		}
		*ret = (uint32_t)n;
		return 0;
	}
	pw = getpwnam(w);
	if (pw == NULL) {
		*cause = xasprintf("unknown user \"%s\"", w);
		return -EINVAL;
	}
	*ret = (uint32_t)pw->pw_uid;
	return 0;
}

static int
conf_resolve_group(const char *w, uint32_t *ret, char **cause)
{
	const struct group *gr;

	if (conf_all_digits(w)) {
		unsigned long long n = strtoull(w, NULL, 10);

		if (strlen(w) > 10 || n >= UINT32_MAX) {
			*cause = xasprintf("invalid gid %s", w);
			return -EINVAL;
		}
		*ret = (uint32_t)n;
		return 0;
	}
	gr = getgrnam(w);
	if (gr == NULL) {
		*cause = xasprintf("unknown group \"%s\"", w);
		return -EINVAL;
	}
	*ret = (uint32_t)gr->gr_gid;
	return 0;
}

static void
conf_ids_add(struct conf_ids *ids, uint32_t id)
{
	for (size_t i = 0; i < ids->n; i++)
		if (ids->v[i] == id)
			return;
	ids->v = xreallocarray(ids->v, ids->n + 1, sizeof(*ids->v));
	ids->v[ids->n++] = id;
}

static void
conf_ids_clear(struct conf_ids *ids)
{
	free(ids->v);
	ids->v = NULL;
	ids->n = 0;
}

enum conf_ids_kind {
	IDS_USERS,
	IDS_GROUPS,
	IDS_MIXED, /* a user, or a group as @name or a name that is no user (metrics_allow) */
};

/*
 * Words of names or numeric ids, resolved now.  Replaces what users and
 * groups (either may be NULL when kind cannot fill it) held.
 */
static int
conf_parse_ids(const char *v, enum conf_ids_kind kind, struct conf_ids *users,
	       struct conf_ids *groups, char **cause)
{
	struct conf_ids u = { false, NULL, 0 }, g = { false, NULL, 0 };
	const char *p = v;
	char *w;

	while ((w = conf_next_word(&p)) != NULL) {
		bool at = kind == IDS_MIXED && w[0] == '@';
		bool group = kind == IDS_GROUPS || at;
		uint32_t id;
		int r;

		if (group) {
			r = conf_resolve_group(at ? w + 1 : w, &id, cause);
		} else {
			r = conf_resolve_user(w, &id, cause);
			/* metrics_allow: a name that is no user may be a group. */
			if (r < 0 && kind == IDS_MIXED) {
				char *gcause = NULL;

				if (conf_resolve_group(w, &id, &gcause) == 0) {
					free(*cause);
					*cause = NULL;
					group = true;
					r = 0;
				}
				free(gcause);
			}
		}
		free(w);
		if (r < 0) {
			conf_ids_clear(&u);
			conf_ids_clear(&g);
			return r;
		}
		conf_ids_add(group ? &g : &u, id);
	}
	if (users != NULL) {
		conf_ids_clear(users);
		*users = u;
	}
	if (groups != NULL) {
		conf_ids_clear(groups);
		*groups = g;
	}
	return 0;
}

static bool
conf_host_loopback(const char *host)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;
	struct in_addr a4;
	size_t len = strlen(host);

	if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

/*
 * An http(s) URL with a host and no user:password in it; with need_tls,
 * https unless the host is loopback.  URLs are not quoted back: one with
 * a password in it should not end up in a log.
 */
static int
conf_check_url(const char *url, bool need_tls, char **cause)
{
	struct evhttp_uri *u;
	const char *scheme, *host;
	int r = 0;

	u = evhttp_uri_parse(url);
	if (u == NULL) {
		*cause = xstrdup("invalid URL");
		return -EINVAL;
	}
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	if (scheme == NULL ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		*cause = xstrdup("must be an http:// or https:// URL");
		r = -EINVAL;
	} else if (host == NULL || *host == '\0') {
		*cause = xstrdup("the URL has no host");
		r = -EINVAL;
	} else if (evhttp_uri_get_userinfo(u) != NULL) {
		*cause = xstrdup("user:password in the URL is not allowed (use auth_method)");
		r = -EINVAL;
	} else if (need_tls && strcasecmp(scheme, "https") != 0 && !conf_host_loopback(host)) {
		*cause = xstrdup("https:// is required unless the host is loopback");
		r = -EINVAL;
	}
	evhttp_uri_free(u);
	return r;
}

/* "%d/NAME" is $CREDENTIALS_DIRECTORY/NAME; other paths must be absolute. */
static int
conf_expand_path(const char *v, char **ret, char **cause)
{
	const char *dir;

	if (strncmp(v, "%d/", 3) != 0) {
		if (v[0] != '/') {
			*cause = xasprintf("\"%s\" is not an absolute path (or %%d/NAME)", v);
			return -EINVAL;
		}
		*ret = xstrdup(v);
		return 0;
	}
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir == NULL || *dir == '\0') {
		*cause = xasprintf("%s: $CREDENTIALS_DIRECTORY is not set (%%d/ needs "
				   "systemd's LoadCredential=)",
				   v);
		return -EINVAL;
	}
	if (v[3] == '\0' || strchr(v + 3, '/') != NULL) {
		*cause = xasprintf("\"%s\" does not name a credential", v);
		return -EINVAL;
	}
	*ret = xasprintf("%s/%s", dir, v + 3);
	return 0;
}

enum conf_denied { CONF_DENIED_FILE, CONF_DENIED_DIR, CONF_DENIED_SECRET };

/*
 * What follows strerror() when the daemon may not open a file: who it runs
 * as and what to change, for "Permission denied" alone leaves the reader to
 * guess which user was denied.  A secret wants a file only the daemon's
 * user reads, or systemd's LoadCredential=; anything else (the
 * configuration, a CA file) may go to the daemon's group with mode 0640.
 * Returns "" for other errors; the caller frees.
 */
static char *
conf_denied_hint(int err, const char *path, enum conf_denied what)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct passwd *pw = getpwuid(uid);
	_cleanup_free_ char *user = NULL, *group = NULL;
	struct group *gr;

	if (err != EACCES && err != EPERM)
		return xstrdup("");
	user = pw != NULL ? xstrdup(pw->pw_name) : xasprintf("%u", (unsigned)uid);
	gr = getgrgid(gid);
	group = gr != NULL ? xstrdup(gr->gr_name) : xasprintf("%u", (unsigned)gid);
	if (what == CONF_DENIED_SECRET)
		return xasprintf("; tokenbrokerd runs as user %s (uid %u): chown %s %s and "
				 "chmod 600 it, or hand it over with LoadCredential=NAME:%s in "
				 "the unit and write %%d/NAME here",
				 user, (unsigned)uid, user, path, path);
	return xasprintf("; tokenbrokerd runs as user %s (uid %u), group %s: chgrp %s %s and "
			 "chmod %s it (and let the group search the directories above it)",
			 user, (unsigned)uid, group, group, path,
			 what == CONF_DENIED_DIR ? "0750" : "0640");
}

/*
 * Whether a secret file's owner is trusted: root or the daemon's user, and,
 * when root reads the configuration (--check-config as an administrator
 * runs it), also the account the packaged service runs as: its files are
 * the ones the service will read.  Others could change the secret under us.
 */
static bool
conf_trusted_owner(uid_t uid)
{
	struct passwd *pw;

	if (safedir_trusted_uid(uid))
		return true;
	if (geteuid() != 0)
		return false;
	pw = getpwnam(CONF_SERVICE_USER);
	return pw != NULL && pw->pw_uid == uid;
}

/*
 * Opens path for reading without blocking on a FIFO and checks it is a
 * regular file; with private, that group and others cannot read or write
 * it and that it is owned by root or the daemon's euid (another user could
 * put anything in it, or read it back).  The checks are made on the opened
 * file, so a symbolic link is judged by its target.  Returns the fd (caller
 * closes) or -errno with *cause.
 */
static int
conf_open_file(const char *path, bool private, struct stat *st, char **cause)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		_cleanup_free_ char *hint = NULL;

		r = -errno;
		hint = conf_denied_hint(-r, path, private ? CONF_DENIED_SECRET : CONF_DENIED_FILE);
		*cause = xasprintf("cannot open %s: %s%s", path, strerror(-r), hint);
		return r;
	}
	if (fstat(fd, st) < 0) {
		r = -errno;
		*cause = xasprintf("cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (!S_ISREG(st->st_mode)) {
		*cause = xasprintf("%s is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (private && (st->st_mode & 0066) != 0) {
		*cause = xasprintf("%s is %s by group or others (mode %04o); chmod 600 it", path,
				   (st->st_mode & 0044) != 0 ? "readable" : "writable",
				   (unsigned)(st->st_mode & 07777));
		close(fd);
		return -EACCES;
	}
	if (private && !conf_trusted_owner(st->st_uid)) {
		_cleanup_free_ char *owner = safedir_uid_text(st->st_uid);
		_cleanup_free_ char *allowed = safedir_trusted_text();

		*cause = xasprintf("%s is owned by %s, must be owned by %s%s: chown root %s", path,
				   owner, allowed,
				   geteuid() == 0 && getpwnam(CONF_SERVICE_USER) != NULL ?
					   " or " CONF_SERVICE_USER :
					   "",
				   path);
		close(fd);
		return -EACCES;
	}
	return fd;
}

/*
 * Reads a secret file: at most 64 KiB, trailing CR/LF removed, not empty.
 * Every buffer that held the bytes is wiped.
 */
static int
conf_read_secret_file(const char *path, struct secret **ret, char **cause)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0, size = 0;
	char *buf;
	int r;

	fd = conf_open_file(path, true, &st, cause);
	if (fd < 0)
		return fd;
	if (st.st_size > CONF_SECRET_FILE_MAX) {
		*cause = xasprintf("%s is larger than 64 KiB", path);
		return -EFBIG;
	}
	r = secret_read_fd(fd, CONF_SECRET_FILE_MAX, &buf, &len, &size);
	if (r == -EFBIG) {
		*cause = xasprintf("%s is larger than 64 KiB", path);
		return r;
	}
	if (r < 0) {
		*cause = xasprintf("cannot read %s: %s", path, strerror(-r));
		return r;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0) {
		*cause = xasprintf("%s is empty", path);
		secret_free_buf(buf, size);
		return -EINVAL;
	}
	*ret = secret_new(buf, len);
	secret_free_buf(buf, size);
	return 0;
}

/* A syntactic JSON Pointer (RFC 6901): empty, or "/" tokens with ~0 ~1. */
static bool
conf_json_pointer_ok(const char *p)
{
	if (*p == '\0')
		return true;
	if (*p != '/')
		return false;
	for (; *p != '\0'; p++)
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return false;
	return true;
}

/* RFC 7230 tchar. */
static bool
conf_header_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

static bool
conf_header_value_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

bool
conf_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CONF_NAME_MAX)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

/*
 * [daemon]
 */

struct daemon_key {
	const char *name;
	int (*set)(struct daemon_conf *dc, const char *v, char **cause);
};

static int
daemon_set_socket(struct daemon_conf *dc, const char *v, char **cause)
{
	struct sockaddr_un sun;

	if (v[0] != '/') {
		*cause = xasprintf("\"%s\" is not an absolute path", v);
		return -EINVAL;
	}
	if (strlen(v) >= sizeof(sun.sun_path)) {
		*cause = xasprintf("path is too long for a unix socket (at most %zu bytes)",
				   sizeof(sun.sun_path) - 1);
		return -EINVAL;
	}
	free(dc->socket);
	dc->socket = xstrdup(v);
	return 0;
}

static int
daemon_set_socket_mode(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_parse_mode(v, "0660", &dc->socket_mode, cause);
}

static int
daemon_set_socket_group(struct daemon_conf *dc, const char *v, char **cause)
{
	uint32_t gid;

	if (conf_resolve_group(v, &gid, cause) < 0)
		return -EINVAL;
	dc->socket_group = (gid_t)gid;
	dc->socket_group_set = true;
	return 0;
}

static int
daemon_set_state_dir(struct daemon_conf *dc, const char *v, char **cause)
{
	if (v[0] != '/') {
		*cause = xasprintf("\"%s\" is not an absolute path", v);
		return -EINVAL;
	}
	free(dc->state_dir);
	dc->state_dir = xstrdup(v);
	return 0;
}

static int
daemon_set_log_level(struct daemon_conf *dc, const char *v, char **cause)
{
	int level = log_level_from_string(v);

	if (level < 0) {
		*cause = xasprintf("unknown level \"%s\" (use debug, info, notice, warning, err)",
				   v);
		return -EINVAL;
	}
	dc->log_level = level;
	return 0;
}

static int
daemon_set_max_clients(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_parse_uint(v, 1, 1000000, &dc->max_clients, cause);
}

static int
daemon_set_max_clients_per_uid(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_parse_uint(v, 1, 1000000, &dc->max_clients_per_uid, cause);
}

static int
daemon_set_upstream_concurrency(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_parse_uint(v, 1, 1024, &dc->upstream_concurrency, cause);
}

static int
daemon_set_client_timeout(struct daemon_conf *dc, const char *v, char **cause)
{
	int64_t ms;
	int r = duration_parse(v, &ms);

	if (r < 0 || ms < 100 || ms > 3600 * 1000) {
		*cause = xasprintf("invalid duration \"%s\" (from 100ms to 1h, e.g. 30s)", v);
		return -EINVAL;
	}
	dc->client_timeout_ms = ms;
	return 0;
}

static int
daemon_set_metrics_allow(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_parse_ids(v, IDS_MIXED, &dc->metrics_allow_users, &dc->metrics_allow_groups,
			      cause);
}

static const struct daemon_key daemon_keys[] = {
	{ "socket", daemon_set_socket },
	{ "socket_mode", daemon_set_socket_mode },
	{ "socket_group", daemon_set_socket_group },
	{ "state_dir", daemon_set_state_dir },
	{ "log_level", daemon_set_log_level },
	{ "max_clients", daemon_set_max_clients },
	{ "max_clients_per_uid", daemon_set_max_clients_per_uid },
	{ "upstream_concurrency", daemon_set_upstream_concurrency },
	{ "client_timeout", daemon_set_client_timeout },
	{ "metrics_allow", daemon_set_metrics_allow },
};

static const struct daemon_key *
daemon_key_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(daemon_keys); i++)
		if (strcmp(daemon_keys[i].name, name) == 0)
			return &daemon_keys[i];
	return NULL;
}

static void
daemon_defaults(struct daemon_conf *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->socket = xstrdup("/run/tokenbroker/tokenbroker.sock");
	dc->socket_mode = 0660;
	dc->state_dir = xstrdup("/var/lib/tokenbroker");
	dc->log_level = LOG_INFO;
	dc->max_clients = 4096;
	dc->max_clients_per_uid = 256;
	dc->client_timeout_ms = 30 * 1000;
	dc->upstream_concurrency = 32;
	/* root only: both sets empty and not "any" */
}

static void
daemon_conf_clear(struct daemon_conf *dc)
{
	free(dc->socket);
	free(dc->state_dir);
	conf_ids_clear(&dc->metrics_allow_users);
	conf_ids_clear(&dc->metrics_allow_groups);
}

/*
 * [credential "NAME"]
 */

enum cred_key_id {
	CK_PROFILE,
	CK_TOKEN_URL,
	CK_BASE_URL,
	CK_AUTH_METHOD,
	CK_GRANT_TYPE,
	CK_CLIENT_ID,
	CK_CLIENT_SECRET,
	CK_CLIENT_SECRET_FILE,
	CK_USERNAME,
	CK_PASSWORD,
	CK_PASSWORD_FILE,
	CK_SCOPE,
	CK_SCOPE_SEPARATOR,
	CK_PARAM,
	CK_QUERY,
	CK_HEADER,
	CK_RESPONSE_FORMAT,
	CK_TOKEN_PATH,
	CK_EXPIRES_IN_PATH,
	CK_TOKEN_TYPE_PATH,
	CK_EXPIRES_AT_PATH,
	CK_DEFAULT_LIFETIME,
	CK_REFRESH_BEFORE,
	CK_MIN_VALID,
	CK_REAUTH_WITH_TOKEN,
	CK_REAUTH_TOKEN_PARAM,
	CK_API_VERSION,
	CK_REQUESTED_LIFETIME,
	CK_TIMEOUT,
	CK_CONNECT_TIMEOUT,
	CK_BACKOFF_MIN,
	CK_BACKOFF_MAX,
	CK_CA_FILE,
	CK_CLIENT_CERT,
	CK_CLIENT_KEY,
	CK_TLS_VERIFY,
	CK_PROXY,
	CK_ALLOW_USERS,
	CK_ALLOW_GROUPS,
	CK_PERSIST,
	CK_SINK,
	CK_SINK_MODE,
	CK_SINK_OWNER,
	CK_SINK_FORMAT,
	CK_LAZY,
	CK_COUNT
};

/* One credential being built from its section. */
struct cred_build {
	struct conf_loader *ld;
	struct conf_section *sect;
	struct cred_conf *cc;
	bool from_profile; /* the key being set is a profile default */
	unsigned file;	   /* where the key being set stands */
	unsigned line;
	/* Where the user set each key (line 0: not set); whether that failed. */
	unsigned key_file[CK_COUNT];
	unsigned key_line[CK_COUNT];
	bool key_failed[CK_COUNT];
};

struct cred_key {
	const char *name;
	bool prefix; /* name ends in "." and a NAME follows */
	int (*set)(struct cred_build *b, const struct cred_key *k, const char *key,
		   const char *v, char **cause);
	size_t off;		  /* of the field in struct cred_conf */
	int64_t min_ms;		  /* durations: see conf_parse_duration */
	enum cred_key_id other;	  /* secrets: the other way to give it */
	const char *const *names; /* enums */
	bool private;		  /* files: refused when group or others can read it */
};

static const char *const auth_method_names[] = {
	[AUTH_CLIENT_SECRET_BASIC] = "client_secret_basic",
	[AUTH_CLIENT_SECRET_POST] = "client_secret_post",
	[AUTH_BASIC] = "basic",
	[AUTH_NONE] = "none",
	NULL,
};

static const char *const scope_separator_names[] = {
	[SCOPE_SEP_SPACE] = "space",
	[SCOPE_SEP_COMMA] = "comma",
	NULL,
};

static const char *const response_format_names[] = {
	[RESPONSE_FORMAT_AUTO] = "auto",
	[RESPONSE_FORMAT_JSON] = "json",
	[RESPONSE_FORMAT_XML] = "xml",
	NULL,
};

static const char *const sink_format_names[] = {
	[SINK_FORMAT_RAW] = "raw",
	[SINK_FORMAT_HEADER] = "header",
	[SINK_FORMAT_JSON] = "json",
	[SINK_FORMAT_ENV] = "env",
	NULL,
};

#define CC_FIELD(b, k, type) ((type *)(void *)((char *)(b)->cc + (k)->off))

static int
cred_set_profile(struct cred_build *b, const struct cred_key *k, const char *key,
		 const char *v, char **cause)
{
	const struct profile *p = profile_find(v);

	if (p == NULL) {
		*cause = xasprintf("unknown profile \"%s\" (use one of: %s)", v, profile_names());
		return -EINVAL;
	}
	b->cc->profile = p;
	return 0;
}

static int
cred_set_token_url(struct cred_build *b, const struct cred_key *k, const char *key,
		   const char *v, char **cause)
{
	if (conf_check_url(v, true, cause) < 0)
		return -EINVAL;
	free(b->cc->token_url);
	b->cc->token_url = xstrdup(v);
	return 0;
}

static int
cred_set_base_url(struct cred_build *b, const struct cred_key *k, const char *key,
		  const char *v, char **cause)
{
	size_t len = strlen(v);

	if (conf_check_url(v, false, cause) < 0)
		return -EINVAL;
	while (len > 0 && v[len - 1] == '/')
		len--;
	free(b->cc->base_url);
	b->cc->base_url = xstrndup(v, len);
	return 0;
}

/* A non-empty string (client_id, username). */
static int
cred_set_string(struct cred_build *b, const struct cred_key *k, const char *key,
		const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);

	if (*v == '\0') {
		*cause = xstrdup("must not be empty");
		return -EINVAL;
	}
	free(*field);
	*field = xstrdup(v);
	return 0;
}

/* Any string, also empty (reauth_token_param). */
static int
cred_set_text(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);

	free(*field);
	*field = xstrdup(v);
	return 0;
}

/* A non-empty string without white space (grant_type). */
static int
cred_set_word(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	for (const char *p = v; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			*cause = xasprintf("\"%s\" must not contain white space", v);
			return -EINVAL;
		}
	}
	return cred_set_string(b, k, key, v, cause);
}

/* Empty means none. */
static int
cred_set_scope(struct cred_build *b, const struct cred_key *k, const char *key,
	       const char *v, char **cause)
{
	free(b->cc->scope);
	b->cc->scope = *v == '\0' ? NULL : xstrdup(v);
	return 0;
}

static int
cred_set_auth_method(struct cred_build *b, const struct cred_key *k, const char *key,
		     const char *v, char **cause)
{
	int i;

	if (conf_parse_enum(v, k->names, &i, cause) < 0)
		return -EINVAL;
	b->cc->auth_method = (enum auth_method)i;
	return 0;
}

static int
cred_set_scope_separator(struct cred_build *b, const struct cred_key *k, const char *key,
			 const char *v, char **cause)
{
	int i;

	if (conf_parse_enum(v, k->names, &i, cause) < 0)
		return -EINVAL;
	b->cc->scope_separator = (enum scope_separator)i;
	return 0;
}

static int
cred_set_response_format(struct cred_build *b, const struct cred_key *k, const char *key,
			 const char *v, char **cause)
{
	int i;

	if (conf_parse_enum(v, k->names, &i, cause) < 0)
		return -EINVAL;
	b->cc->response_format = (enum response_format)i;
	return 0;
}

/* A JSON Pointer or XPath: checked against response_format at the end. */
static int
cred_set_path(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);

	free(*field);
	*field = xstrdup(v);
	return 0;
}

/* As cred_set_path; "none" or empty: none. */
static int
cred_set_opt_path(struct cred_build *b, const struct cred_key *k, const char *key,
		  const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);

	free(*field);
	*field = *v == '\0' || strcmp(v, "none") == 0 ? NULL : xstrdup(v);
	return 0;
}

static int
cred_set_duration(struct cred_build *b, const struct cred_key *k, const char *key,
		  const char *v, char **cause)
{
	return conf_parse_duration(v, k->min_ms, CC_FIELD(b, k, int64_t), cause);
}

/* "none" (0) or a duration greater than 0. */
static int
cred_set_opt_duration(struct cred_build *b, const struct cred_key *k, const char *key,
		      const char *v, char **cause)
{
	if (strcmp(v, "none") == 0) {
		*CC_FIELD(b, k, int64_t) = 0;
		return 0;
	}
	return conf_parse_duration(v, 1, CC_FIELD(b, k, int64_t), cause);
}

static int
cred_set_span(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	struct span sp;
	int r;

	r = span_parse(v, &sp);
	if (r == -ERANGE && strchr(v, '%') != NULL) {
		*cause = xasprintf("share \"%s\" must be between 1%% and 90%%", v);
		return -EINVAL;
	}
	if (r == -ERANGE) {
		*cause = xasprintf("duration \"%s\" is too large (at most 30d)", v);
		return -EINVAL;
	}
	if (r < 0) {
		*cause = xasprintf("invalid value \"%s\" (use a share such as 33%% or a "
				   "duration such as 5m)",
				   v);
		return -EINVAL;
	}
	if (sp.share && (sp.permille < 10 || sp.permille > 900)) {
		*cause = xasprintf("share \"%s\" must be between 1%% and 90%%", v);
		return -EINVAL;
	}
	if (!sp.share && sp.ms <= 0) {
		*cause = xstrdup("must be greater than 0");
		return -EINVAL;
	}
	*CC_FIELD(b, k, struct span) = sp;
	return 0;
}

static int
cred_set_bool(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	return conf_parse_bool(v, CC_FIELD(b, k, bool), cause);
}

static int
cred_set_api_version(struct cred_build *b, const struct cred_key *k, const char *key,
		     const char *v, char **cause)
{
	size_t len = strlen(v);

	if (len == 0 || len > CONF_API_VERSION_MAX ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
		    len) {
		*cause = xasprintf("invalid version \"%s\" (use letters, digits, . _ -)", v);
		return -EINVAL;
	}
	free(b->cc->api_version);
	b->cc->api_version = xstrdup(v);
	return 0;
}

/* Whether the user gave the other form of the same secret too. */
static int cred_check_other_form(struct cred_build *b, const struct cred_key *k, char **cause);

/* An inline secret: refused in a file that group or others can read. */
static int
cred_set_secret(struct cred_build *b, const struct cred_key *k, const char *key,
		const char *v, char **cause)
{
	struct secret **field = CC_FIELD(b, k, struct secret *);
	const struct conf_file *f = &b->ld->files[b->file];

	if (cred_check_other_form(b, k, cause) < 0)
		return -EINVAL;
	if (*v == '\0') {
		*cause = xstrdup("must not be empty");
		return -EINVAL;
	}
	if (!b->from_profile && (f->mode & 0044) != 0) {
		*cause = xasprintf("%s is readable by group or others (mode %04o); chmod 600 it "
				   "or use %s_file",
				   f->path, (unsigned)f->mode, key);
		return -EACCES;
	}
	secret_free(*field);
	*field = secret_from_str(v);
	return 0;
}

/* A secret read from a file, now; its path is not kept. */
static int
cred_set_secret_file(struct cred_build *b, const struct cred_key *k, const char *key,
		     const char *v, char **cause)
{
	struct secret **field = CC_FIELD(b, k, struct secret *);
	_cleanup_free_ char *path = NULL;
	struct secret *s = NULL;

	if (cred_check_other_form(b, k, cause) < 0)
		return -EINVAL;
	if (conf_expand_path(v, &path, cause) < 0)
		return -EINVAL;
	if (conf_read_secret_file(path, &s, cause) < 0)
		return -EINVAL;
	secret_free(*field);
	*field = s;
	return 0;
}

/* ca_file, client_cert: readable regular files; client_key also private. */
static int
cred_set_file(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int fd;

	if (conf_expand_path(v, &path, cause) < 0)
		return -EINVAL;
	fd = conf_open_file(path, k->private, &st, cause);
	if (fd < 0)
		return -EINVAL;
	close(fd);
	free(*field);
	*field = TAKE_PTR(path);
	return 0;
}

/* "none" or a proxy URL as curl takes it. */
static int
cred_set_proxy(struct cred_build *b, const struct cred_key *k, const char *key,
	       const char *v, char **cause)
{
	if (*v == '\0') {
		*cause = xstrdup("must not be empty (use none)");
		return -EINVAL;
	}
	for (const char *p = v; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			*cause = xstrdup("must not contain white space");
			return -EINVAL;
		}
	}
	free(b->cc->proxy);
	b->cc->proxy = strcmp(v, "none") == 0 ? NULL : xstrdup(v);
	return 0;
}

static int
cred_set_ids(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
	     char **cause)
{
	struct conf_ids *field = CC_FIELD(b, k, struct conf_ids);
	bool groups = field == &b->cc->allow_groups;

	if (conf_parse_ids(v, groups ? IDS_GROUPS : IDS_USERS, groups ? NULL : field,
			   groups ? field : NULL, cause) < 0)
		return -EINVAL;
	field->any = false;
	return 0;
}

/* param.NAME, query.NAME, header.NAME: a user's key replaces a default. */
static int
cred_set_pair(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
	      char **cause)
{
	struct conf_pairs *pairs = CC_FIELD(b, k, struct conf_pairs);
	const char *name = key + strlen(k->name);
	bool header = pairs == &b->cc->headers;

	if (*name == '\0') {
		*cause = xasprintf("a name must follow \"%s\"", k->name);
		return -EINVAL;
	}
	if (header) {
		if (!conf_header_name_ok(name)) {
			*cause = xasprintf("\"%s\" is not a valid header name", name);
			return -EINVAL;
		}
		if (!conf_header_value_ok(v)) {
			*cause = xstrdup("the value must not contain control characters");
			return -EINVAL;
		}
		if (strcasecmp(name, "Content-Length") == 0 ||
		    strcasecmp(name, "Transfer-Encoding") == 0 || strcasecmp(name, "Host") == 0) {
			*cause = xasprintf("%s cannot be set", name);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < pairs->n; i++) {
		if (header ? strcasecmp(pairs->v[i].name, name) == 0 :
			     strcmp(pairs->v[i].name, name) == 0) {
			free(pairs->v[i].value);
			pairs->v[i].value = xstrdup(v);
			return 0;
		}
	}
	pairs->v = xreallocarray(pairs->v, pairs->n + 1, sizeof(*pairs->v));
	pairs->v[pairs->n].name = xstrdup(name);
	pairs->v[pairs->n].value = xstrdup(v);
	pairs->n++;
	return 0;
}

/*
 * sink: an absolute path in a directory that exists and that safedir_open
 * accepts (every directory on the way owned by root or us and writable by
 * no one else, or another user could redirect the write); the path itself
 * may exist, but as a file, not as a directory or a symbolic link.  Checked
 * again when it is written.  "none" or empty: no sink.
 */
static int
cred_set_sink(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
	      char **cause)
{
	_cleanup_free_ char *dir = NULL, *why = NULL;
	_cleanup_close_ int dfd = -1;
	const char *base;
	struct stat st;
	int r;

	if (*v == '\0' || strcmp(v, "none") == 0) {
		free(b->cc->sink);
		b->cc->sink = NULL;
		return 0;
	}
	if (v[0] != '/') {
		*cause = xasprintf("\"%s\" is not an absolute path", v);
		return -EINVAL;
	}
	base = strrchr(v, '/') + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		*cause = xasprintf("\"%s\" does not name a file", v);
		return -EINVAL;
	}
	/* Room for the temporary file's name beside it. */
	if (strlen(base) > CONF_SINK_NAME_MAX || strlen(v) > CONF_SINK_PATH_MAX) {
		*cause = xasprintf("\"%s\" is too long", v);
		return -EINVAL;
	}
	dir = base - v > 1 ? xstrndup(v, (size_t)(base - v - 1)) : xstrdup("/");
	dfd = safedir_open(dir, 0, &why);
	if (dfd < 0) {
		if (dfd == -ENOENT)
			*cause = xasprintf("directory %s", why);
		else
			*cause = TAKE_PTR(why);
		return -EINVAL;
	}
	r = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0 && errno != ENOENT) {
		*cause = xasprintf("cannot stat %s: %s", v, strerror(errno));
		return -EINVAL;
	}
	if (r == 0 && !S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s is %s", v,
				   S_ISLNK(st.st_mode) ? "a symbolic link (give the file itself)" :
				   S_ISDIR(st.st_mode) ? "a directory" :
							 "not a regular file");
		return -EINVAL;
	}
	free(b->cc->sink);
	b->cc->sink = xstrdup(v);
	return 0;
}

static int
cred_set_sink_mode(struct cred_build *b, const struct cred_key *k, const char *key,
		   const char *v, char **cause)
{
	return conf_parse_mode(v, "0640", &b->cc->sink_mode, cause);
}

/* "user:group", "user" or ":group"; names or ids, resolved now. */
static int
cred_set_sink_owner(struct cred_build *b, const struct cred_key *k, const char *key,
		    const char *v, char **cause)
{
	const char *colon = strchr(v, ':');
	_cleanup_free_ char *user = NULL;
	uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;

	user = colon != NULL ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
	if ((colon == NULL && *user == '\0') || (colon != NULL && colon[1] == '\0')) {
		*cause = xasprintf("invalid owner \"%s\" (use user:group, user or :group)", v);
		return -EINVAL;
	}
	if (*user != '\0' && conf_resolve_user(user, &uid, cause) < 0)
		return -EINVAL;
	if (colon != NULL && conf_resolve_group(colon + 1, &gid, cause) < 0)
		return -EINVAL;
	b->cc->sink_uid = (uid_t)uid;
	b->cc->sink_gid = (gid_t)gid;
	b->cc->sink_owner_set = true;
	return 0;
}

static int
cred_set_sink_format(struct cred_build *b, const struct cred_key *k, const char *key,
		     const char *v, char **cause)
{
	int i;

	if (conf_parse_enum(v, k->names, &i, cause) < 0)
		return -EINVAL;
	b->cc->sink_format = (enum sink_format)i;
	return 0;
}

#define CK_OFF(field) offsetof(struct cred_conf, field)

/* Indexed by enum cred_key_id. */
#define CK(id, n, fn, ...) [id] = { .name = (n), .set = (fn), __VA_ARGS__ }
static const struct cred_key cred_keys[CK_COUNT] = {
	CK(CK_PROFILE, "profile", cred_set_profile),
	CK(CK_TOKEN_URL, "token_url", cred_set_token_url),
	CK(CK_BASE_URL, "base_url", cred_set_base_url),
	CK(CK_AUTH_METHOD, "auth_method", cred_set_auth_method, .names = auth_method_names),
	CK(CK_GRANT_TYPE, "grant_type", cred_set_word, .off = CK_OFF(grant_type)),
	CK(CK_CLIENT_ID, "client_id", cred_set_string, .off = CK_OFF(client_id)),
	CK(CK_CLIENT_SECRET, "client_secret", cred_set_secret, .off = CK_OFF(client_secret),
	   .other = CK_CLIENT_SECRET_FILE),
	CK(CK_CLIENT_SECRET_FILE, "client_secret_file", cred_set_secret_file,
	   .off = CK_OFF(client_secret), .other = CK_CLIENT_SECRET),
	CK(CK_USERNAME, "username", cred_set_string, .off = CK_OFF(username)),
	CK(CK_PASSWORD, "password", cred_set_secret, .off = CK_OFF(password),
	   .other = CK_PASSWORD_FILE),
	CK(CK_PASSWORD_FILE, "password_file", cred_set_secret_file, .off = CK_OFF(password),
	   .other = CK_PASSWORD),
	CK(CK_SCOPE, "scope", cred_set_scope),
	CK(CK_SCOPE_SEPARATOR, "scope_separator", cred_set_scope_separator,
	   .names = scope_separator_names),
	CK(CK_PARAM, "param.", cred_set_pair, .prefix = true, .off = CK_OFF(params)),
	CK(CK_QUERY, "query.", cred_set_pair, .prefix = true, .off = CK_OFF(query)),
	CK(CK_HEADER, "header.", cred_set_pair, .prefix = true, .off = CK_OFF(headers)),
	CK(CK_RESPONSE_FORMAT, "response_format", cred_set_response_format,
	   .names = response_format_names),
	CK(CK_TOKEN_PATH, "token_path", cred_set_path, .off = CK_OFF(token_path)),
	CK(CK_EXPIRES_IN_PATH, "expires_in_path", cred_set_path, .off = CK_OFF(expires_in_path)),
	CK(CK_TOKEN_TYPE_PATH, "token_type_path", cred_set_path, .off = CK_OFF(token_type_path)),
	CK(CK_EXPIRES_AT_PATH, "expires_at_path", cred_set_opt_path,
	   .off = CK_OFF(expires_at_path)),
	CK(CK_DEFAULT_LIFETIME, "default_lifetime", cred_set_duration,
	   .off = CK_OFF(default_lifetime_ms), .min_ms = 1000),
	CK(CK_REFRESH_BEFORE, "refresh_before", cred_set_span, .off = CK_OFF(refresh_before)),
	CK(CK_MIN_VALID, "min_valid", cred_set_duration, .off = CK_OFF(min_valid_ms)),
	CK(CK_REAUTH_WITH_TOKEN, "reauth_with_token", cred_set_bool,
	   .off = CK_OFF(reauth_with_token)),
	CK(CK_REAUTH_TOKEN_PARAM, "reauth_token_param", cred_set_text,
	   .off = CK_OFF(reauth_token_param)),
	CK(CK_API_VERSION, "api_version", cred_set_api_version),
	CK(CK_REQUESTED_LIFETIME, "requested_lifetime", cred_set_opt_duration,
	   .off = CK_OFF(requested_lifetime_ms)),
	CK(CK_TIMEOUT, "timeout", cred_set_duration, .off = CK_OFF(timeout_ms), .min_ms = 1),
	CK(CK_CONNECT_TIMEOUT, "connect_timeout", cred_set_duration,
	   .off = CK_OFF(connect_timeout_ms), .min_ms = 1),
	CK(CK_BACKOFF_MIN, "backoff_min", cred_set_duration, .off = CK_OFF(backoff_min_ms),
	   .min_ms = 1),
	CK(CK_BACKOFF_MAX, "backoff_max", cred_set_duration, .off = CK_OFF(backoff_max_ms),
	   .min_ms = 1),
	CK(CK_CA_FILE, "ca_file", cred_set_file, .off = CK_OFF(ca_file)),
	CK(CK_CLIENT_CERT, "client_cert", cred_set_file, .off = CK_OFF(client_cert)),
	CK(CK_CLIENT_KEY, "client_key", cred_set_file, .off = CK_OFF(client_key), .private = true),
	CK(CK_TLS_VERIFY, "tls_verify", cred_set_bool, .off = CK_OFF(tls_verify)),
	CK(CK_PROXY, "proxy", cred_set_proxy),
	CK(CK_ALLOW_USERS, "allow_users", cred_set_ids, .off = CK_OFF(allow_users)),
	CK(CK_ALLOW_GROUPS, "allow_groups", cred_set_ids, .off = CK_OFF(allow_groups)),
	CK(CK_PERSIST, "persist", cred_set_bool, .off = CK_OFF(persist)),
	CK(CK_SINK, "sink", cred_set_sink),
	CK(CK_SINK_MODE, "sink_mode", cred_set_sink_mode),
	CK(CK_SINK_OWNER, "sink_owner", cred_set_sink_owner),
	CK(CK_SINK_FORMAT, "sink_format", cred_set_sink_format, .names = sink_format_names),
	CK(CK_LAZY, "lazy", cred_set_bool, .off = CK_OFF(lazy)),
};
#undef CK

static int
cred_check_other_form(struct cred_build *b, const struct cred_key *k, char **cause)
{
	_cleanup_free_ char *where = NULL;

	if (b->from_profile || b->key_line[k->other] == 0)
		return 0;
	where = conf_place(b->ld, b->key_file[k->other], b->key_line[k->other], b->file);
	*cause = xasprintf("%s is also given (at %s); use one of them", cred_keys[k->other].name,
			   where);
	return -EINVAL;
}

static int
cred_key_find(const char *name)
{
	for (int i = 0; i < CK_COUNT; i++) {
		const struct cred_key *k = &cred_keys[i];

		if (k->prefix ? strncmp(name, k->name, strlen(k->name)) == 0 :
				strcmp(name, k->name) == 0)
			return i;
	}
	return -1;
}

static void
cred_defaults(struct cred_conf *cc)
{
	cc->profile = profile_find("oauth2");
	cc->auth_method = AUTH_CLIENT_SECRET_BASIC;
	cc->grant_type = xstrdup("client_credentials");
	cc->scope_separator = SCOPE_SEP_SPACE;
	cc->response_format = RESPONSE_FORMAT_AUTO;
	cc->token_path = xstrdup("/access_token");
	cc->expires_in_path = xstrdup("/expires_in");
	cc->token_type_path = xstrdup("/token_type");
	cc->default_lifetime_ms = 10 * 60 * 1000;
	cc->refresh_before.share = true;
	cc->refresh_before.permille = 330;
	cc->min_valid_ms = 30 * 1000;
	cc->reauth_token_param = xstrdup("");
	cc->api_version = xstrdup("v1.2");
	cc->timeout_ms = 15 * 1000;
	cc->connect_timeout_ms = 5 * 1000;
	cc->backoff_min_ms = 1000;
	cc->backoff_max_ms = 60 * 1000;
	cc->tls_verify = true;
	cc->allow_users.any = true;
	cc->allow_groups.any = true;
	cc->sink_mode = 0600;
	cc->sink_uid = (uid_t)-1;
	cc->sink_gid = (gid_t)-1;
	cc->sink_format = SINK_FORMAT_RAW;
}

/* Pair values may be API keys (param.api_key): wiped like secrets. */
static void
conf_pairs_clear(struct conf_pairs *pairs)
{
	for (size_t i = 0; i < pairs->n; i++) {
		free(pairs->v[i].name);
		secret_free_str(pairs->v[i].value);
	}
	free(pairs->v);
	pairs->v = NULL;
	pairs->n = 0;
}

static void
cred_conf_free(struct cred_conf *cc)
{
	if (cc == NULL)
		return;
	free(cc->name);
	free(cc->file);
	free(cc->token_url);
	free(cc->base_url);
	free(cc->grant_type);
	free(cc->client_id);
	secret_free(cc->client_secret);
	free(cc->username);
	secret_free(cc->password);
	free(cc->scope);
	conf_pairs_clear(&cc->params);
	conf_pairs_clear(&cc->query);
	conf_pairs_clear(&cc->headers);
	free(cc->token_path);
	free(cc->expires_in_path);
	free(cc->token_type_path);
	free(cc->expires_at_path);
	free(cc->reauth_token_param);
	free(cc->api_version);
	free(cc->ca_file);
	free(cc->client_cert);
	free(cc->client_key);
	free(cc->proxy);
	free(cc->sink);
	conf_ids_clear(&cc->allow_users);
	conf_ids_clear(&cc->allow_groups);
	explicit_bzero(cc->digest, sizeof(cc->digest));
	free(cc);
}

/* Sets one key; a failure is reported at file:line and remembered. */
static void
cred_apply(struct cred_build *b, int id, const char *key, const char *v, unsigned file,
	   unsigned line, bool from_profile)
{
	const struct cred_key *k = &cred_keys[id];
	char *cause = NULL;

	b->from_profile = from_profile;
	b->file = file;
	b->line = line;
	if (k->set(b, k, key, v, &cause) < 0) {
		if (from_profile)
			conf_error(b->ld, file, line, "%s: in profile %s: %s", key,
				   b->cc->profile->name, cause);
		else
			conf_error(b->ld, file, line, "%s: %s", key, cause);
		free(cause);
		if (!from_profile)
			b->key_failed[id] = true;
	}
	if (!from_profile) {
		b->key_file[id] = file;
		b->key_line[id] = line;
	}
}

/* Where a message about a key goes: its line, else the section's. */
static void
cred_where(const struct cred_build *b, int id, unsigned *file, unsigned *line)
{
	if (b->key_line[id] != 0) {
		*file = b->key_file[id];
		*line = b->key_line[id];
	} else {
		*file = b->sect->file;
		*line = b->sect->line;
	}
}

/* base + path with every "{api_version}" replaced. */
static char *
cred_join_url(const char *base, const char *path, const char *api_version)
{
	static const char var[] = "{api_version}";
	char *url = xstrdup(base);
	const char *p = path, *hit;

	while ((hit = strstr(p, var)) != NULL) {
		char *u = xasprintf("%s%.*s%s", url, (int)(hit - p), p, api_version);

		free(url);
		url = u;
		p = hit + strlen(var);
	}
	if (*p != '\0') {
		char *u = xasprintf("%s%s", url, p);

		free(url);
		url = u;
	}
	return url;
}

static void
cred_check_token_url(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const struct profile *p = cc->profile;
	const char *base = cc->base_url != NULL ? cc->base_url : p->default_base_url;
	char *url, *cause = NULL;
	unsigned file, line;

	if (cc->token_url != NULL || b->key_failed[CK_TOKEN_URL] || b->key_failed[CK_BASE_URL] ||
	    b->key_failed[CK_API_VERSION])
		return;
	if (p->token_path == NULL || base == NULL) {
		conf_error(b->ld, b->sect->file, b->sect->line,
			   "credential \"%s\": token_url (or base_url with a profile) is required",
			   cc->name);
		return;
	}
	url = cred_join_url(base, p->token_path, cc->api_version);
	if (conf_check_url(url, true, &cause) < 0) {
		cred_where(b, CK_BASE_URL, &file, &line);
		conf_error(b->ld, file, line, "base_url: %s", cause);
		free(cause);
		free(url);
		return;
	}
	cc->token_url = url;
}

static void
cred_check_auth(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const char *am = auth_method_names[cc->auth_method];
	unsigned sf = b->sect->file, sl = b->sect->line, file, line;
	bool client = cc->auth_method == AUTH_CLIENT_SECRET_BASIC ||
		      cc->auth_method == AUTH_CLIENT_SECRET_POST;
	bool user = cc->auth_method == AUTH_BASIC;
	bool password_grant = cc->grant_type != NULL && strcmp(cc->grant_type, "password") == 0;
	_cleanup_free_ char *why = NULL;

	if (b->key_failed[CK_AUTH_METHOD])
		return;
	if (client) {
		if (cc->client_id == NULL && !b->key_failed[CK_CLIENT_ID])
			conf_error(b->ld, sf, sl, "client_id: required by auth_method %s", am);
		if (cc->client_secret == NULL && !b->key_failed[CK_CLIENT_SECRET] &&
		    !b->key_failed[CK_CLIENT_SECRET_FILE])
			conf_error(b->ld, sf, sl,
				   "client_secret: required by auth_method %s (give client_secret "
				   "or client_secret_file)",
				   am);
	}
	if (user || password_grant) {
		why = user ? xasprintf("auth_method %s", am) : xstrdup("grant_type password");
		if (cc->username == NULL && !b->key_failed[CK_USERNAME])
			conf_error(b->ld, sf, sl, "username: required by %s", why);
		if (cc->password == NULL && !b->key_failed[CK_PASSWORD] &&
		    !b->key_failed[CK_PASSWORD_FILE])
			conf_error(b->ld, sf, sl,
				   "password: required by %s (give password or password_file)",
				   why);
	}
	if (user && cc->username != NULL && strchr(cc->username, ':') != NULL) {
		cred_where(b, CK_USERNAME, &file, &line);
		conf_error(b->ld, file, line,
			   "username: must not contain ':' with auth_method basic (RFC 7617)");
	}
	if (cc->auth_method != AUTH_CLIENT_SECRET_BASIC && cc->auth_method != AUTH_BASIC)
		return;
	for (size_t i = 0; i < cc->headers.n; i++) {
		if (strcasecmp(cc->headers.v[i].name, "Authorization") != 0)
			continue;
		cred_where(b, CK_HEADER, &file, &line);
		conf_error(b->ld, file, line,
			   "header.%s: auth_method %s sends its own Authorization header; use "
			   "auth_method none to send this one",
			   cc->headers.v[i].name, am);
	}
}

static void
cred_check_timing(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	char min[32], max[32];
	unsigned file, line;

	if (b->key_failed[CK_BACKOFF_MIN] || b->key_failed[CK_BACKOFF_MAX] ||
	    cc->backoff_min_ms <= cc->backoff_max_ms)
		return;
	duration_format(cc->backoff_min_ms, min, sizeof(min));
	duration_format(cc->backoff_max_ms, max, sizeof(max));
	if (b->key_line[CK_BACKOFF_MIN] != 0) {
		cred_where(b, CK_BACKOFF_MIN, &file, &line);
		conf_error(b->ld, file, line, "backoff_min: %s is larger than backoff_max (%s)",
			   min, max);
	} else {
		cred_where(b, CK_BACKOFF_MAX, &file, &line);
		conf_error(b->ld, file, line, "backoff_max: %s is smaller than backoff_min (%s)",
			   max, min);
	}
}

/* The paths against response_format, which may stand after them. */
static void
cred_check_paths(struct cred_build *b)
{
	static const int ids[] = { CK_TOKEN_PATH, CK_EXPIRES_IN_PATH, CK_TOKEN_TYPE_PATH,
				   CK_EXPIRES_AT_PATH };
	struct cred_conf *cc = b->cc;
	unsigned file, line;

	if (b->key_failed[CK_RESPONSE_FORMAT])
		return;
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		const struct cred_key *k = &cred_keys[ids[i]];
		const char *v = *(char *const *)(const void *)((const char *)cc + k->off);

		if (v == NULL)
			continue;
		cred_where(b, ids[i], &file, &line);
		if (cc->response_format == RESPONSE_FORMAT_JSON && !conf_json_pointer_ok(v))
			conf_error(b->ld, file, line,
				   "%s: \"%s\" is not a JSON Pointer (use /name/name, or empty "
				   "for the whole body)",
				   k->name, v);
		else if (cc->response_format == RESPONSE_FORMAT_XML && *v == '\0')
			conf_error(b->ld, file, line,
				   "%s: must not be empty with response_format xml", k->name);
	}
}

static void
cred_check_profile_keys(struct cred_build *b)
{
	struct cred_conf *cc = b->cc;
	const struct profile *p = cc->profile;

	if (b->key_line[CK_API_VERSION] != 0 && !b->key_failed[CK_API_VERSION] &&
	    (p->token_path == NULL || strstr(p->token_path, "{api_version}") == NULL))
		conf_warning(b->ld, b->key_file[CK_API_VERSION], b->key_line[CK_API_VERSION],
			     "api_version: profile %s has no version in its path; ignored",
			     p->name);
	if (b->key_line[CK_REQUESTED_LIFETIME] != 0 && cc->requested_lifetime_ms > 0 &&
	    p->requested_lifetime_query == NULL)
		conf_warning(b->ld, b->key_file[CK_REQUESTED_LIFETIME],
			     b->key_line[CK_REQUESTED_LIFETIME],
			     "requested_lifetime: profile %s cannot ask for a lifetime; ignored",
			     p->name);
}

/* sink_mode, sink_owner and sink_format mean nothing without a sink. */
static void
cred_check_sink(struct cred_build *b)
{
	static const int ids[] = { CK_SINK_MODE, CK_SINK_OWNER, CK_SINK_FORMAT };

	if (b->cc->sink != NULL || b->key_failed[CK_SINK])
		return;
	for (size_t i = 0; i < ELEMENTSOF(ids); i++)
		if (b->key_line[ids[i]] != 0 && !b->key_failed[ids[i]])
			conf_warning(b->ld, b->key_file[ids[i]], b->key_line[ids[i]],
				     "%s: no sink is set; ignored", cred_keys[ids[i]].name);
}

/*
 * The digest: each field as its tag, a NUL, a presence byte and a 64-bit
 * length before its bytes, so no two settings feed the same stream.
 */
static void
conf_digest_put(EVP_MD_CTX *md, const char *tag, const void *data, size_t len)
{
	unsigned char hdr[9];
	uint64_t n = len;

	hdr[0] = data != NULL;
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(n >> (8 * i));
	EVP_DigestUpdate(md, tag, strlen(tag) + 1);
	EVP_DigestUpdate(md, hdr, sizeof(hdr));
	if (data != NULL && len > 0)
		EVP_DigestUpdate(md, data, len);
}

static void
conf_digest_str(EVP_MD_CTX *md, const char *tag, const char *s)
{
	conf_digest_put(md, tag, s, s != NULL ? strlen(s) : 0);
}

static void
conf_digest_secret(EVP_MD_CTX *md, const char *tag, const struct secret *s)
{
	conf_digest_put(md, tag, s != NULL ? s->data : NULL, s != NULL ? s->len : 0);
}

static void
conf_digest_int(EVP_MD_CTX *md, const char *tag, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	conf_digest_str(md, tag, buf);
}

static void
conf_digest_pairs(EVP_MD_CTX *md, const char *tag, const struct conf_pairs *pairs)
{
	conf_digest_int(md, tag, (int64_t)pairs->n);
	for (size_t i = 0; i < pairs->n; i++) {
		conf_digest_str(md, "name", pairs->v[i].name);
		conf_digest_str(md, "value", pairs->v[i].value);
	}
}

/*
 * Everything but the name, where it stands, who may fetch it and lazy:
 * those do not change what a token is or how it is obtained.
 */
static void
cred_digest(struct cred_conf *cc)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *md;

	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort(); /* only out of memory gets here */
	conf_digest_str(md, "profile", cc->profile->name);
	conf_digest_str(md, "token_url", cc->token_url);
	conf_digest_str(md, "base_url", cc->base_url);
	conf_digest_int(md, "auth_method", cc->auth_method);
	conf_digest_str(md, "grant_type", cc->grant_type);
	conf_digest_str(md, "client_id", cc->client_id);
	conf_digest_secret(md, "client_secret", cc->client_secret);
	conf_digest_str(md, "username", cc->username);
	conf_digest_secret(md, "password", cc->password);
	conf_digest_str(md, "scope", cc->scope);
	conf_digest_int(md, "scope_separator", cc->scope_separator);
	conf_digest_pairs(md, "params", &cc->params);
	conf_digest_pairs(md, "query", &cc->query);
	conf_digest_pairs(md, "headers", &cc->headers);
	conf_digest_int(md, "response_format", cc->response_format);
	conf_digest_str(md, "token_path", cc->token_path);
	conf_digest_str(md, "expires_in_path", cc->expires_in_path);
	conf_digest_str(md, "token_type_path", cc->token_type_path);
	conf_digest_str(md, "expires_at_path", cc->expires_at_path);
	conf_digest_int(md, "default_lifetime", cc->default_lifetime_ms);
	conf_digest_int(md, "refresh_before.share", cc->refresh_before.share);
	conf_digest_int(md, "refresh_before.ms", cc->refresh_before.ms);
	conf_digest_int(md, "refresh_before.permille", cc->refresh_before.permille);
	conf_digest_int(md, "min_valid", cc->min_valid_ms);
	conf_digest_int(md, "reauth_with_token", cc->reauth_with_token);
	conf_digest_str(md, "reauth_token_param", cc->reauth_token_param);
	conf_digest_str(md, "api_version", cc->api_version);
	conf_digest_int(md, "requested_lifetime", cc->requested_lifetime_ms);
	conf_digest_int(md, "timeout", cc->timeout_ms);
	conf_digest_int(md, "connect_timeout", cc->connect_timeout_ms);
	conf_digest_int(md, "backoff_min", cc->backoff_min_ms);
	conf_digest_int(md, "backoff_max", cc->backoff_max_ms);
	conf_digest_str(md, "ca_file", cc->ca_file);
	conf_digest_str(md, "client_cert", cc->client_cert);
	conf_digest_str(md, "client_key", cc->client_key);
	conf_digest_int(md, "tls_verify", cc->tls_verify);
	conf_digest_str(md, "proxy", cc->proxy);
	if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)
		abort();
	EVP_MD_CTX_free(md);
	secret_hex(out, 32, cc->digest);
	explicit_bzero(out, sizeof(out));
}

/*
 * A credential from its section: defaults, the profile's defaults, the
 * user's keys in file order (profile itself first, wherever it stands),
 * then the checks across keys.  Problems go to ld; the result is complete
 * enough to free either way.
 */
static struct cred_conf *
cred_build(struct conf_loader *ld, struct conf_section *sect)
{
	struct cred_build b;
	struct cred_conf *cc = xcalloc(1, sizeof(*cc));
	bool profile_ok = true;

	memset(&b, 0, sizeof(b));
	b.ld = ld;
	b.sect = sect;
	b.cc = cc;
	cc->name = xstrdup(sect->name);
	cc->file = xstrdup(ld->files[sect->file].path);
	cc->line = sect->line;
	cred_defaults(cc);

	for (size_t i = 0; i < sect->n; i++) {
		if (cred_key_find(sect->v[i].key) == CK_PROFILE) {
			cred_apply(&b, CK_PROFILE, sect->v[i].key, sect->v[i].value,
				   sect->v[i].file, sect->v[i].line, false);
			profile_ok = !b.key_failed[CK_PROFILE];
		}
	}
	for (const struct profile_default *d = cc->profile->defaults; d->key != NULL; d++) {
		int id = cred_key_find(d->key);

		if (id < 0 || id == CK_PROFILE)
			conf_error(ld, sect->file, sect->line, "%s: in profile %s: unknown key",
				   d->key, cc->profile->name);
		else
			cred_apply(&b, id, d->key, d->value, sect->file, sect->line, true);
	}
	for (size_t i = 0; i < sect->n; i++) {
		const struct conf_entry *e = &sect->v[i];
		int id = cred_key_find(e->key);

		if (id >= 0 && id != CK_PROFILE)
			cred_apply(&b, id, e->key, e->value, e->file, e->line, false);
	}
	/*
	 * With an unknown profile, or a line that could not be read (a key
	 * may be missing), the checks below would only add noise.
	 */
	if (profile_ok && !sect->broken) {
		cred_check_token_url(&b);
		cred_check_auth(&b);
		cred_check_timing(&b);
		cred_check_paths(&b);
		cred_check_profile_keys(&b);
		cred_check_sink(&b);
	}
	cred_digest(cc);
	return cc;
}

/*
 * [daemon]: defaults, then the user's keys.  max_clients_per_uid given
 * must fit in max_clients; its default follows a smaller max_clients.
 */
static void
conf_build_daemon(struct conf_loader *ld, struct daemon_conf *dc)
{
	const struct conf_entry *per_uid = NULL;

	daemon_defaults(dc);
	for (size_t i = 0; i < ld->daemon.n; i++) {
		const struct conf_entry *e = &ld->daemon.v[i];
		const struct daemon_key *k = daemon_key_find(e->key);
		char *cause = NULL;

		if (k != NULL && k->set(dc, e->value, &cause) < 0) {
			conf_error(ld, e->file, e->line, "%s: %s", e->key, cause);
			free(cause);
		} else if (k != NULL && strcmp(e->key, "max_clients_per_uid") == 0) {
			per_uid = e;
		}
	}
	if (dc->max_clients_per_uid <= dc->max_clients)
		return;
	if (per_uid == NULL)
		dc->max_clients_per_uid = dc->max_clients;
	else
		conf_error(ld, per_uid->file, per_uid->line,
			   "max_clients_per_uid: %u is larger than max_clients (%u)",
			   dc->max_clients_per_uid, dc->max_clients);
}

/*
 * Reading: sections, the reader libinih calls, and its handler.
 */

static void
conf_section_clear(struct conf_section *sect)
{
	for (size_t i = 0; i < sect->n; i++) {
		free(sect->v[i].key);
		secret_free_str(sect->v[i].value);
	}
	free(sect->v);
	free(sect->name);
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

/* Header keys compare without case (HTTP does); all others exactly. */
static bool
conf_same_key(const char *a, const char *b)
{
	if (strncmp(a, "header.", 7) == 0 && strncmp(b, "header.", 7) == 0)
		return strcasecmp(a, b) == 0;
	return strcmp(a, b) == 0;
}

/* s is a whole trimmed "[...]" line; sets the section keys now go to. */
static void
conf_section_line(struct conf_loader *ld, char *s)
{
	char *end = strchr(s, ']'), *rest, *inner, *name;
	size_t len;

	ld->kind = SECT_SKIP;
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

	if (strcmp(inner, "daemon") == 0) {
		ld->kind = SECT_DAEMON;
		ld->sect = &ld->daemon;
		if (ld->daemon.line == 0) {
			ld->daemon.file = ld->file;
			ld->daemon.line = ld->lineno;
		}
		return;
	}
	if (strncmp(inner, "credential", 10) != 0 ||
	    (inner[10] != '\0' && inner[10] != '"' && !isspace((unsigned char)inner[10]))) {
		conf_error(ld, ld->file, ld->lineno,
			   "unknown section [%s] (use [daemon] or [credential \"NAME\"])", inner);
		return;
	}
	for (name = inner + 10; isspace((unsigned char)*name); name++)
		;
	len = strlen(name);
	if (len >= 2 && name[0] == '"' && name[len - 1] == '"') {
		name[len - 1] = '\0';
		name++;
	}
	if (*name == '\0') {
		conf_error(ld, ld->file, ld->lineno,
			   "credential: a name is required: [credential \"NAME\"]");
		return;
	}
	if (!conf_name_valid(name)) {
		conf_error(ld, ld->file, ld->lineno,
			   "credential \"%s\": invalid name (use 1 to %d of A-Z a-z 0-9 . _ -)",
			   name, CONF_NAME_MAX);
		return;
	}
	for (size_t i = 0; i < ld->ncreds; i++) {
		if (strcmp(ld->creds[i]->name, name) == 0) {
			_cleanup_free_ char *where =
				conf_place(ld, ld->creds[i]->file, ld->creds[i]->line, ld->file);

			conf_error(ld, ld->file, ld->lineno,
				   "credential \"%s\": already defined at %s", name, where);
			return;
		}
	}
	ld->creds = xreallocarray(ld->creds, ld->ncreds + 1, sizeof(*ld->creds));
	ld->sect = xcalloc(1, sizeof(*ld->sect));
	ld->sect->name = xstrdup(name);
	ld->sect->file = ld->file;
	ld->sect->line = ld->lineno;
	ld->creds[ld->ncreds++] = ld->sect;
	ld->kind = SECT_CRED;
}

/* Whether libinih will see "name = value" (or "name: value") here. */
static bool
conf_key_line_ok(const char *s)
{
	const char *p;
	bool was_space = false;

	/* As libinih: ';' after white space starts a comment. */
	for (p = s; *p != '\0' && *p != '=' && *p != ':' && !(was_space && *p == ';'); p++)
		was_space = isspace((unsigned char)*p);
	return (*p == '=' || *p == ':') && p > s;
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

/* A line that could not be read leaves its credential incomplete. */
static void
conf_line_broken(struct conf_loader *ld)
{
	if (ld->kind == SECT_CRED)
		ld->sect->broken = true;
}

/*
 * The ini_reader: fgets() semantics on str (libinih's line buffer of num
 * bytes).  Checks what libinih would cut or get wrong, handles section
 * headers and comments itself (handing libinih an empty line for them),
 * and passes key lines on trimmed: with no leading white space, libinih
 * never takes a line for a continuation.  At the end it wipes str, which
 * held the last line and perhaps a secret.
 */
static char *
conf_ini_reader_cb(char *str, int num, void *stream)
{
	struct conf_loader *ld = stream;
	size_t len = 0;
	char *s;
	int r;

	if (num < 2)
		return NULL;
	/*
	 * A line of exactly num - 1 bytes went out without its newline; a
	 * libinih that then asks with another size wants the rest of an
	 * over-long line, and there is none.
	 */
	if (ld->partial) {
		ld->partial = false;
		if (num != ld->last_num)
			return NULL;
	}
	ld->last_num = num;
	r = conf_next_line(ld, &len);
	if (r <= 0) {
		if (r < 0)
			ld->read_errno = -r;
		explicit_bzero(str, (size_t)num);
		return NULL;
	}
	s = ld->buf;
	str[0] = '\n';
	str[1] = '\0';
	if (memchr(s, '\0', len) != NULL) {
		conf_error(ld, ld->file, ld->lineno, "line contains a NUL byte");
		conf_line_broken(ld);
		return str;
	}
	if (ld->lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		len -= 3;
	}
	if (len > (size_t)num - 1) {
		conf_error(ld, ld->file, ld->lineno, "line too long (at most %d characters)",
			   num - 1);
		conf_line_broken(ld);
		return str;
	}
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	if (len == 0 || *s == ';' || *s == '#')
		return str;
	if (*s == '[') {
		conf_section_line(ld, s);
		return str;
	}
	if (!conf_key_line_ok(s)) {
		conf_error(ld, ld->file, ld->lineno, "syntax error");
		conf_line_broken(ld);
		return str;
	}
	memcpy(str, s, len);
	if (len + 1 < (size_t)num) {
		str[len] = '\n';
		str[len + 1] = '\0';
	} else {
		str[len] = '\0';
		ld->partial = true;
	}
	return str;
}

/* Every key = value: checked against its section's keys and kept. */
static int
conf_ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
	struct conf_loader *ld = user;
	struct conf_section *sect = ld->sect;
	struct conf_entry *e;

	switch (ld->kind) {
	case SECT_SKIP:
		return 1;
	case SECT_NONE:
		conf_error(ld, ld->file, ld->lineno,
			   "%s: not in a section (start with [daemon] or [credential \"NAME\"])",
			   name);
		return 1;
	case SECT_DAEMON:
		if (daemon_key_find(name) == NULL) {
			conf_error(ld, ld->file, ld->lineno, "%s: unknown key in [daemon]%s", name,
				   cred_key_find(name) >= 0 ? " (it belongs in a [credential])" :
							      "");
			return 1;
		}
		break;
	case SECT_CRED:
		if (cred_key_find(name) < 0) {
			conf_error(ld, ld->file, ld->lineno,
				   "%s: unknown key in [credential \"%s\"]%s", name, sect->name,
				   daemon_key_find(name) != NULL ? " (it belongs in [daemon])" :
								   "");
			return 1;
		}
		break;
	}
	for (size_t i = 0; i < sect->n; i++) {
		if (conf_same_key(sect->v[i].key, name)) {
			_cleanup_free_ char *where =
				conf_place(ld, sect->v[i].file, sect->v[i].line, ld->file);

			conf_error(ld, ld->file, ld->lineno, "%s: already set at %s", name, where);
			return 1;
		}
	}
	sect->v = xreallocarray(sect->v, sect->n + 1, sizeof(*sect->v));
	e = &sect->v[sect->n++];
	e->key = xstrdup(name);
	e->value = xstrdup(value);
	e->file = ld->file;
	e->line = ld->lineno;
	/* Errors are collected in ld, so libinih is never told of one. */
	return 1;
}

/* Runs libinih over the source set up in ld (a stream or a string). */
static void
conf_parse(struct conf_loader *ld, unsigned file)
{
	int r;

	ld->file = file;
	ld->lineno = 0;
	ld->kind = SECT_NONE;
	ld->sect = NULL;
	ld->partial = false;
	ld->read_errno = 0;
	r = ini_parse_stream(conf_ini_reader_cb, ld, conf_ini_handler_cb, ld);
	if (ld->read_errno != 0)
		conf_error(ld, file, 0, "cannot read: %s", strerror(ld->read_errno));
	else if (r > 0 && !conf_has_error_at(ld, file, (unsigned)r))
		conf_error(ld, file, (unsigned)r, "syntax error");
	else if (r < 0)
		conf_error(ld, file, 0, "cannot parse (inih error %d)", r);
}

static void
conf_read_file(struct conf_loader *ld, const char *path)
{
	unsigned file = conf_add_file(ld, path, 0);
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		_cleanup_free_ char *hint = conf_denied_hint(e, path, CONF_DENIED_FILE);

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
static void
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
			_cleanup_free_ char *hint = conf_denied_hint(e, dir, CONF_DENIED_DIR);

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

static void
conf_loader_init(struct conf_loader *ld)
{
	memset(ld, 0, sizeof(*ld));
	ld->bufsize = CONF_LINE_BUF;
	ld->buf = xmalloc(ld->bufsize);
}

static void
conf_loader_clear(struct conf_loader *ld)
{
	for (size_t i = 0; i < ld->nfiles; i++)
		free(ld->files[i].path);
	free(ld->files);
	conf_section_clear(&ld->daemon);
	for (size_t i = 0; i < ld->ncreds; i++) {
		conf_section_clear(ld->creds[i]);
		free(ld->creds[i]);
	}
	free(ld->creds);
	secret_free_buf(ld->buf, ld->bufsize);
	conf_msgs_move(&ld->errs, NULL);
	conf_msgs_move(&ld->warns, NULL);
}

/* Whether sinks a and b name the same file, also through another path. */
static bool
conf_same_sink(const char *a, const char *b)
{
	const char *ba = strrchr(a, '/') + 1, *bb = strrchr(b, '/') + 1;
	_cleanup_free_ char *da = NULL, *db = NULL;
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	if (strcmp(ba, bb) != 0)
		return false;
	da = ba - a > 1 ? xstrndup(a, (size_t)(ba - a - 1)) : xstrdup("/");
	db = bb - b > 1 ? xstrndup(b, (size_t)(bb - b - 1)) : xstrdup("/");
	return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* The line that set key in sect, else the section's. */
static void
conf_section_where(const struct conf_section *sect, const char *key, unsigned *file,
		   unsigned *line)
{
	*file = sect->file;
	*line = sect->line;
	for (size_t i = 0; i < sect->n; i++) {
		if (strcmp(sect->v[i].key, key) == 0) {
			*file = sect->v[i].file;
			*line = sect->v[i].line;
			return;
		}
	}
}

/* Two credentials writing one sink would overwrite each other's token. */
static void
conf_check_sinks(struct conf_loader *ld, const struct conf *conf)
{
	for (size_t i = 0; i < conf->ncreds; i++) {
		if (conf->creds[i]->sink == NULL)
			continue;
		for (size_t j = 0; j < i; j++) {
			_cleanup_free_ char *where = NULL;
			unsigned fi, li, fj, lj;

			if (conf->creds[j]->sink == NULL ||
			    !conf_same_sink(conf->creds[i]->sink, conf->creds[j]->sink))
				continue;
			conf_section_where(ld->creds[i], "sink", &fi, &li);
			conf_section_where(ld->creds[j], "sink", &fj, &lj);
			where = conf_place(ld, fj, lj, fi);
			conf_error(ld, fi, li,
				   "sink: %s is also the sink of credential \"%s\" (at %s)",
				   conf->creds[i]->sink, conf->creds[j]->name, where);
			break;
		}
	}
}

/* Builds the conf from what was read and hands over the messages. */
static int
conf_build(struct conf_loader *ld, const char *path, struct conf **ret_conf,
	   struct conf_errors *errs, struct conf_errors *warnings)
{
	struct conf *conf = xcalloc(1, sizeof(*conf));
	int r;

	conf->path = xstrdup(path);
	conf_build_daemon(ld, &conf->daemon);
	conf->creds = xcalloc(ld->ncreds, sizeof(*conf->creds));
	for (size_t i = 0; i < ld->ncreds; i++)
		conf->creds[conf->ncreds++] = cred_build(ld, ld->creds[i]);
	conf_check_sinks(ld, conf);
	r = ld->errs.n > 0 ? -EINVAL : 0;
	conf_msgs_move(&ld->errs, errs);
	conf_msgs_move(&ld->warns, warnings);
	conf_loader_clear(ld);
	if (r < 0) {
		conf_free(conf);
		return r;
	}
	*ret_conf = conf;
	return 0;
}

int
conf_load(const char *path, struct conf **ret_conf, struct conf_errors *errs,
	  struct conf_errors *warnings)
{
	struct conf_loader ld;

	conf_loader_init(&ld);
	conf_read_file(&ld, path);
	conf_read_dir(&ld, path);
	return conf_build(&ld, path, ret_conf, errs, warnings);
}

int
conf_load_string(const char *name, const char *text, struct conf **ret_conf,
		 struct conf_errors *errs, struct conf_errors *warnings)
{
	struct conf_loader ld;

	conf_loader_init(&ld);
	ld.text = text;
	ld.text_len = strlen(text);
	conf_parse(&ld, conf_add_file(&ld, name, 0600));
	return conf_build(&ld, name, ret_conf, errs, warnings);
}

struct conf *
conf_free(struct conf *conf)
{
	if (conf == NULL)
		return NULL;
	daemon_conf_clear(&conf->daemon);
	for (size_t i = 0; i < conf->ncreds; i++)
		cred_conf_free(conf->creds[i]);
	free(conf->creds);
	free(conf->path);
	free(conf);
	return NULL;
}

void
conf_errors_clear(struct conf_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

const struct cred_conf *
conf_find(const struct conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->ncreds; i++)
		if (strcmp(conf->creds[i]->name, name) == 0)
			return conf->creds[i];
	return NULL;
}

bool
conf_ids_allow(const struct conf_ids *users, const struct conf_ids *groups, uid_t uid,
	       const gid_t *gids, size_t ngids)
{
	if (uid == 0)
		return true;
	if (users->any && groups->any)
		return true;
	if (!users->any)
		for (size_t i = 0; i < users->n; i++)
			if (users->v[i] == (uint32_t)uid)
				return true;
	if (!groups->any)
		for (size_t i = 0; i < ngids; i++)
			for (size_t j = 0; j < groups->n; j++)
				if (groups->v[j] == (uint32_t)gids[i])
					return true;
	return false;
}

const char *
conf_auth_method_name(enum auth_method m)
{
	if ((unsigned)m >= ELEMENTSOF(auth_method_names) - 1)
		return "?";
	return auth_method_names[m];
}
