/*
 * The value parsers: each turns one value as written in the file into what
 * the configuration holds (a boolean, an enum, a mode, a duration, user and
 * group ids, a size, a URL, a path, a Unix socket's path, a file that must
 * be readable, a secret read from a file, a header name, a JSON Pointer, a
 * name), or refuses it with a message for the user.  They
 * know nothing of sections or keys: conf-daemon.c and conf-cred.c put the
 * key in front of the message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/http.h>

#include "text.h"
#include "tokenbroker.h"
#include "cleanup.h"
#include "log.h"
#include "conf-int.h"
#include "safedir.h"
#include "secret.h"
#include "spell.h"
#include "xmalloc.h"

#define CONF_SECRET_FILE_MAX (64 * 1024)
#define CONF_SERVICE_USER "tokenbroker" /* User= of the packaged unit */

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

/*
 * The words of a space or comma separated list as a NULL-terminated array
 * (none: an empty one); conf_value_words_free frees it.
 */
char **
conf_value_words(const char *v)
{
	char **words = xcalloc(1, sizeof(*words));
	size_t n = 0;
	char *w;

	while ((w = conf_next_word(&v)) != NULL) {
		words = xreallocarray(words, n + 2, sizeof(*words));
		words[n++] = w;
		words[n] = NULL;
	}
	return words;
}

/* Frees a NULL-terminated array of strings and the strings; takes NULL. */
void
conf_value_words_free(char **words)
{
	for (size_t i = 0; words != NULL && words[i] != NULL; i++)
		free(words[i]);
	free(words);
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

/* yes, true, on, 1 or no, false, off, 0, in any case. */
int
conf_value_bool(const char *v, bool *ret, char **cause)
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

/* One of names (NULL-terminated); the index found is the value. */
int
conf_value_enum(const char *v, const char *const *names, int *ret, char **cause)
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
	{
		_cleanup_free_ char *mean = conf_value_did_you_mean(v, names);

		*cause = xasprintf("unknown value \"%s\" (use %s)%s", v, list, mean);
	}
	return -EINVAL;
}

char *
conf_value_did_you_mean(const char *word, const char *const *names)
{
	size_t n = 0;
	const char *best;

	while (names[n] != NULL)
		n++;
	best = spell_nearest(word, names, n);
	/*
	 * A short value one letter off is more often another thing than a
	 * slip (HS256 is no RS256): only a difference of case counts there.
	 */
	if (best != NULL && strlen(word) < 6 && strcasecmp(word, best) != 0)
		best = NULL;
	return best != NULL ? xasprintf("; did you mean %s?", best) : xstrdup("");
}

/* A decimal number from min to max (at most nine digits, no sign). */
int
conf_value_uint(const char *v, unsigned long min, unsigned long max, unsigned *ret,
		char **cause)
{
	unsigned long n;

	if (!conf_all_digits(v) || strlen(v) > 9) {
		*cause = xasprintf("invalid number \"%s\" (use a whole number from %lu to %lu)",
				   v, min, max);
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
int
conf_value_mode(const char *v, const char *example, mode_t *ret, char **cause)
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

/*
 * A duration (90, 90s, 15m, 1h; at most 30d).  min_ms 0: any; 1: greater
 * than 0; otherwise at least min_ms.
 */
int
conf_value_duration(const char *v, int64_t min_ms, int64_t *ret, char **cause)
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

/* bytes as the largest unit that divides it ("16m", "1536k", "100"). */
static void
conf_size_format(int64_t bytes, char *buf, size_t size)
{
	static const char units[] = "gmk";

	for (int i = 0; i < 3; i++) {
		int64_t unit = (int64_t)1 << (10 * (3 - i));

		if (bytes > 0 && bytes % unit == 0) {
			snprintf(buf, size, "%lld%c", (long long)(bytes / unit), units[i]);
			return;
		}
	}
	snprintf(buf, size, "%lld", (long long)bytes);
}

/*
 * A size in bytes: a number, or one with k, m or g (KiB, MiB, GiB; either
 * case) after it, from min to max bytes.
 */
int
conf_value_size(const char *v, int64_t min, int64_t max, int64_t *ret, char **cause)
{
	static const char units[] = "kmg";
	size_t digits = strspn(v, "0123456789");
	const char *suffix = v + digits, *u = NULL;
	int64_t n, unit = 1;
	char buf[32];

	if (*suffix != '\0' && suffix[1] == '\0')
		u = strchr(units, tolower((unsigned char)*suffix));
	if (u != NULL)
		unit = (int64_t)1 << (10 * (u - units + 1));
	if (digits == 0 || (*suffix != '\0' && u == NULL)) {
		*cause = xasprintf("invalid size \"%s\" (use bytes, or k, m or g after a number, "
				   "e.g. 16m)",
				   v);
		return -EINVAL;
	}
	errno = 0;
	n = (int64_t)strtoll(v, NULL, 10);
	if (errno == ERANGE || n > max / unit) {
		conf_size_format(max, buf, sizeof(buf));
		*cause = xasprintf("size \"%s\" is too large (at most %s)", v, buf);
		return -EINVAL;
	}
	n *= unit;
	if (n < min) {
		conf_size_format(min, buf, sizeof(buf));
		*cause = min == 1 ? xstrdup("must be greater than 0") :
				    xasprintf("must be at least %s", buf);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

/*
 * A share of a token's lifetime from 1% to 90% (33%), or a duration
 * greater than 0 (5m).
 */
int
conf_value_span(const char *v, struct span *ret, char **cause)
{
	struct span sp;
	int r;

	r = duration_span_parse(v, &sp);
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
	*ret = sp;
	return 0;
}

/*
 * A numeric id (below 2^32 - 1, which means "none" to chown), else the
 * name looked up as a group or a user.
 */
static int
conf_value_id(const char *w, bool group, uint32_t *ret, char **cause)
{
	if (conf_all_digits(w)) {
		unsigned long long n = strtoull(w, NULL, 10);

		if (strlen(w) > 10 || n >= UINT32_MAX) {
			*cause = xasprintf("invalid %s %s", group ? "gid" : "uid", w);
			return -EINVAL;
		}
		*ret = (uint32_t)n;
		return 0;
	}
	if (group) {
		const struct group *gr = getgrnam(w);

		if (gr != NULL) {
			*ret = (uint32_t)gr->gr_gid;
			return 0;
		}
	} else {
		const struct passwd *pw = getpwnam(w);

		if (pw != NULL) {
			*ret = (uint32_t)pw->pw_uid;
			return 0;
		}
	}
	*cause = xasprintf("unknown %s \"%s\"", group ? "group" : "user", w);
	return -EINVAL;
}

/* A user name or uid, resolved now. */
int
conf_value_user(const char *w, uint32_t *ret, char **cause)
{
	return conf_value_id(w, false, ret, cause);
}

/* A group name or gid, resolved now. */
int
conf_value_group(const char *w, uint32_t *ret, char **cause)
{
	return conf_value_id(w, true, ret, cause);
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

/* Empties ids (its "any" is left as it was). */
void
conf_value_ids_clear(struct conf_ids *ids)
{
	free(ids->v);
	ids->v = NULL;
	ids->n = 0;
}

/*
 * Words of names or numeric ids, resolved now.  Replaces what users and
 * groups (either may be NULL when kind cannot fill it) held.
 */
int
conf_value_ids(const char *v, enum conf_ids_kind kind, struct conf_ids *users,
	       struct conf_ids *groups, char **cause)
{
	struct conf_ids u = { false, NULL, 0 }, g = { false, NULL, 0 };
	const char *p = v;
	char *w;

	while ((w = conf_next_word(&p)) != NULL) {
		bool at = kind == CONF_IDS_MIXED && w[0] == '@';
		bool group = kind == CONF_IDS_GROUPS || at;
		uint32_t id;
		int r;

		if (group) {
			r = conf_value_group(at ? w + 1 : w, &id, cause);
		} else {
			r = conf_value_user(w, &id, cause);
			/* metrics_allow: a name that is no user may be a group. */
			if (r < 0 && kind == CONF_IDS_MIXED) {
				char *gcause = NULL;

				if (conf_value_group(w, &id, &gcause) == 0) {
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
			conf_value_ids_clear(&u);
			conf_value_ids_clear(&g);
			return r;
		}
		conf_ids_add(group ? &g : &u, id);
	}
	if (users != NULL) {
		conf_value_ids_clear(users);
		*users = u;
	}
	if (groups != NULL) {
		conf_value_ids_clear(groups);
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
 * libcurl, which makes the requests, parses URLs more strictly than evhttp
 * (a host name with a ")" in it, say): what it refuses is refused here,
 * at load, rather than at the first request.
 */
static int
conf_value_url_curl(const char *url, char **cause)
{
	CURLU *h = curl_url();
	CURLUcode rc;

	if (h == NULL)
		log_fatal("out of memory");
	rc = curl_url_set(h, CURLUPART_URL, url, 0);
	curl_url_cleanup(h);
	if (rc == CURLUE_OK)
		return 0;
	*cause = xasprintf("not a URL libcurl can use: %s", curl_url_strerror(rc));
	return -EINVAL;
}

/*
 * An http(s) URL with a host and no user:password in it; with need_tls,
 * https unless the host is loopback.  URLs are not quoted back: one with
 * a password in it should not end up in a log.
 */
int
conf_value_url(const char *url, bool need_tls, char **cause)
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
	} else {
		r = conf_value_url_curl(url, cause);
	}
	evhttp_uri_free(u);
	return r;
}

/* "%d/NAME" is $CREDENTIALS_DIRECTORY/NAME; other paths must be absolute. */
int
conf_value_path(const char *v, char **ret, char **cause)
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

/* A path a Unix socket can be bound to: absolute, and short enough. */
int
conf_value_socket_path(const char *v, char **cause)
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
	return 0;
}

/*
 * What follows strerror() when the daemon may not open a file: who it runs
 * as and what to change, for "Permission denied" alone leaves the reader to
 * guess which user was denied.  A secret wants a file only the daemon's
 * user reads, or systemd's LoadCredential=; anything else (the
 * configuration, a CA file) may go to the daemon's group with mode 0640.
 * Returns "" for other errors; the caller frees.
 */
char *
conf_value_denied_hint(int err, const char *path, enum conf_denied what)
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
int
conf_value_open_file(const char *path, bool private, struct stat *st, char **cause)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		_cleanup_free_ char *hint = NULL;

		r = -errno;
		hint = conf_value_denied_hint(-r, path, private ? CONF_DENIED_SECRET : CONF_DENIED_FILE);
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
 * A file the daemon reads later (a CA bundle, a client certificate or key):
 * a path as conf_value_path takes it, to a regular file that can be opened
 * now and, with private, that conf_value_open_file finds private.  *ret is
 * the path to open (the caller frees).
 */
int
conf_value_file(const char *v, bool private, char **ret, char **cause)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int fd;

	if (conf_value_path(v, &path, cause) < 0)
		return -EINVAL;
	fd = conf_value_open_file(path, private, &st, cause);
	if (fd < 0)
		return fd;
	close(fd);
	*ret = TAKE_PTR(path);
	return 0;
}

/*
 * Reads a secret file: at most 64 KiB, trailing CR/LF removed, not empty.
 * Every buffer that held the bytes is wiped.
 */
int
conf_value_secret_file(const char *path, struct secret **ret, char **cause)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0, size = 0;
	char *buf;
	int r;

	fd = conf_value_open_file(path, true, &st, cause);
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
bool
conf_value_json_pointer_ok(const char *p)
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

/* A header name: one or more RFC 7230 tchar. */
bool
conf_value_header_name_ok(const char *s)
{
	return text_token(s, strlen(s));
}

/* A header value: no control characters but tab. */
bool
conf_value_header_value_ok(const char *s)
{
	return text_field_value(s, strlen(s));
}

/* A section NAME: 1 to CONF_NAME_MAX of A-Z a-z 0-9 . _ - */
bool
conf_value_name_ok(const char *name)
{
	return tokenbroker_name_valid(name);
}

/* The types a systemd unit name ends in. */
static const char *const unit_types[] = {
	"service", "socket", "target", "device", "mount", "automount",
	"swap",	   "timer",  "path",   "slice",	 "scope",
};

/*
 * One systemd unit name as a caller's cgroup names it: a name of
 * A-Z a-z 0-9 : - _ . \ and its type ("nginx.service", "session-2.scope",
 * "user@1000.service"), or a name without a dot, which is a service
 * ("nginx").  A template needs its instance ("getty@tty1.service", not
 * "getty@.service").  Returns the full name or NULL with *cause.  Its
 * length needs no check: a line (199 characters) holds no name longer than
 * systemd's 255.
 */
static char *
conf_value_unit_name(const char *w, char **cause)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789:-_.\\@";
	const char *dot = strrchr(w, '.'), *at;
	_cleanup_free_ char *name = NULL;
	bool typed = false;

	for (size_t i = 0; dot != NULL && i < ELEMENTSOF(unit_types); i++)
		typed = typed || strcmp(dot + 1, unit_types[i]) == 0;
	if (dot != NULL && !typed) {
		*cause = xasprintf("\"%s\" has no unit type (e.g. .service, .scope, .slice)", w);
		return NULL;
	}
	name = typed ? xstrdup(w) : xasprintf("%s.service", w);
	dot = strrchr(name, '.');
	at = strchr(name, '@');
	if (strspn(name, chars) != strlen(name) || dot == name ||
	    (at != NULL && (at == name || strchr(at + 1, '@') != NULL))) {
		*cause = xasprintf("\"%s\" is not a unit name (e.g. nginx.service)", w);
		return NULL;
	}
	if (at != NULL && at + 1 == dot) {
		*cause = xasprintf("\"%s\" is a template; name its instance (e.g. %.*s@NAME%s)", w,
				   (int)(at - name), name, dot);
		return NULL;
	}
	return TAKE_PTR(name);
}

/*
 * Unit names, space or comma separated, into a NULL-terminated array
 * (*ret, freed with conf_value_words_free); duplicates dropped.
 */
int
conf_value_units(const char *v, char ***ret, char **cause)
{
	char **words = conf_value_words(v), **units = xcalloc(1, sizeof(*units));
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; words[i] != NULL; i++) {
		char *name = conf_value_unit_name(words[i], cause);
		bool dup = false;

		if (name == NULL) {
			r = -EINVAL;
			break;
		}
		for (size_t j = 0; j < n; j++)
			dup = dup || strcmp(units[j], name) == 0;
		if (dup) {
			free(name);
			continue;
		}
		units = xreallocarray(units, n + 2, sizeof(*units));
		units[n++] = name;
		units[n] = NULL;
	}
	conf_value_words_free(words);
	if (r < 0) {
		conf_value_words_free(units);
		return r;
	}
	*ret = units;
	return 0;
}
