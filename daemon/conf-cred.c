/*
 * The [credential "NAME"] section: the key table (one setter per kind of
 * value, the field it fills), the built-in defaults, and the building of a
 * struct cred_conf from a section: defaults, the profile's defaults, then
 * the user's keys.  The checks across keys are in conf-cred-check.c, the
 * digest in conf-digest.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "assertion.h"
#include "cleanup.h"
#include "conf-int.h"
#include "profile.h"
#include "safedir.h"
#include "secret.h"
#include "text.h"
#include "xmalloc.h"

#define CONF_API_VERSION_MAX 32
#define CONF_SINK_NAME_MAX 200	 /* a sink's file name, leaving room for a temporary's */
#define CONF_SINK_PATH_MAX 3800 /* and its path */
#define CONF_MAX_VARIANTS_MAX 1024 /* each a token renewed and a series in /metrics */

_Static_assert(sizeof(enum auth_method) == sizeof(int) &&
		       sizeof(enum scope_separator) == sizeof(int) &&
		       sizeof(enum response_format) == sizeof(int) &&
		       sizeof(enum sink_format) == sizeof(int) &&
		       sizeof(enum assertion_alg) == sizeof(int),
	       "cred_set_enum writes enums as int");

static const char *const auth_method_names[] = {
	[AUTH_CLIENT_SECRET_BASIC] = "client_secret_basic",
	[AUTH_CLIENT_SECRET_POST] = "client_secret_post",
	[AUTH_BASIC] = "basic",
	[AUTH_NONE] = "none",
	[AUTH_PRIVATE_KEY_JWT] = "private_key_jwt",
	[AUTH_CLIENT_ASSERTION] = "client_assertion",
	[AUTH_TLS_CLIENT_AUTH] = "tls_client_auth",
	NULL,
};


static const char *const scope_separator_names[] = {
	[SCOPE_SEP_SPACE] = "space",
	[SCOPE_SEP_COMMA] = "comma",
	NULL,
};

static const char *const body_format_names[] = {
	[BODY_FORM] = "form",
	[BODY_JSON] = "json",
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
	if (conf_value_url(v, true, cause) < 0)
		return -EINVAL;
	free(b->cc->token_url);
	b->cc->token_url = xstrdup(v);
	return 0;
}

static int
cred_set_issuer(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
		char **cause)
{
	if (conf_value_url(v, true, cause) < 0)
		return -EINVAL;
	if (strchr(v, '?') != NULL || strchr(v, '#') != NULL) {
		*cause = xstrdup("an issuer has no query or fragment (RFC 8414 section 2)");
		return -EINVAL;
	}
	free(b->cc->issuer);
	b->cc->issuer = xstrdup(v);
	return 0;
}

static int
cred_set_base_url(struct cred_build *b, const struct cred_key *k, const char *key,
		  const char *v, char **cause)
{
	size_t len = strlen(v);

	if (conf_value_url(v, false, cause) < 0)
		return -EINVAL;
	while (len > 0 && v[len - 1] == '/')
		len--;
	free(b->cc->base_url);
	b->cc->base_url = xstrndup(v, len);
	return 0;
}

/*
 * The string defaults every credential starts with, shared rather than
 * copied: with thousands of credentials, and two configurations at once
 * during a reload, the copies add up.  Never written to; cred_str_free
 * leaves them alone.
 */
static char cred_default_grant_type[] = "client_credentials";
static char cred_default_token_path[] = "/access_token";
static char cred_default_expires_in_path[] = "/expires_in";
static char cred_default_token_type_path[] = "/token_type";
static char cred_default_reauth_param[] = "";
static char cred_default_api_version[] = "v1.2";

static void
cred_str_free(char *s)
{
	if (s != cred_default_grant_type && s != cred_default_token_path &&
	    s != cred_default_expires_in_path && s != cred_default_token_type_path &&
	    s != cred_default_reauth_param && s != cred_default_api_version)
		free(s);
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
	cred_str_free(*field);
	*field = xstrdup(v);
	return 0;
}

/* Any string, also empty (reauth_token_param). */
static int
cred_set_text(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);

	cred_str_free(*field);
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

/* Whether w is a resource: an absolute URI without a fragment (RFC 8707 2). */
static int
cred_resource_ok(const char *w, char **cause)
{
	const char *colon = strchr(w, ':');

	if (colon == NULL || colon == w || strchr(w, '#') != NULL ||
	    strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") !=
		    (size_t)(colon - w)) {
		*cause = xasprintf("\"%s\" is not an absolute URI without a fragment (RFC 8707), "
				   "e.g. https://api.example.com/",
				   w);
		return -EINVAL;
	}
	return 0;
}

/*
 * audience, resource: values separated by white space, each sent as a
 * field of its own; a resource is an absolute URI without a fragment (RFC
 * 8707 2).  Empty means none.
 */
static int
cred_set_words(struct cred_build *b, const struct cred_key *k, const char *key,
	       const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);
	bool uris = field == &b->cc->resource;
	char **words = conf_value_words(v);

	for (size_t i = 0; uris && words[i] != NULL; i++) {
		if (cred_resource_ok(words[i], cause) < 0) {
			conf_value_words_free(words);
			return -EINVAL;
		}
	}
	conf_value_words_free(words);
	free(*field);
	*field = *v == '\0' ? NULL : xstrdup(v);
	return 0;
}

/*
 * One of k->names, into an enum field: the enums of struct cred_conf have
 * no negative values and so the size and representation of an int.
 */
static int
cred_set_enum(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	return conf_value_enum(v, k->names, CC_FIELD(b, k, int), cause);
}

/* A JSON Pointer or XPath: checked against response_format at the end. */
static int
cred_set_path(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	char **field = CC_FIELD(b, k, char *);

	cred_str_free(*field);
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
	return conf_value_duration(v, k->min_ms, CC_FIELD(b, k, int64_t), cause);
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
	return conf_value_duration(v, 1, CC_FIELD(b, k, int64_t), cause);
}

static int
cred_set_span(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	return conf_value_span(v, CC_FIELD(b, k, struct span), cause);
}

static int
cred_set_bool(struct cred_build *b, const struct cred_key *k, const char *key,
	      const char *v, char **cause)
{
	return conf_value_bool(v, CC_FIELD(b, k, bool), cause);
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
	cred_str_free(b->cc->api_version);
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
	if (conf_value_path(v, &path, cause) < 0)
		return -EINVAL;
	if (conf_value_secret_file(path, &s, cause) < 0)
		return -EINVAL;
	secret_free(*field);
	*field = s;
	return 0;
}

/*
 * The first refresh token, read now like a secret file; its path stays for
 * messages ("put a new one in ...") and its mtime decides, at each renewal,
 * whether it is newer than the one kept in state_dir.
 */
static int
cred_set_refresh_token_file(struct cred_build *b, const struct cred_key *k, const char *key,
			    const char *v, char **cause)
{
	struct cred_conf *cc = b->cc;
	_cleanup_free_ char *path = NULL;
	struct secret *s = NULL;
	struct stat st;

	if (conf_value_path(v, &path, cause) < 0)
		return -EINVAL;
	if (conf_value_secret_file(path, &s, cause) < 0)
		return -EINVAL;
	/* The file just read: what changed it after the read is seen at the next reload. */
	if (stat(path, &st) < 0) {
		*cause = xasprintf("cannot stat %s: %s", path, strerror(errno));
		secret_free(s);
		return -EINVAL;
	}
	if (!text_printable(s->data, s->len)) {
		*cause = xasprintf("%s holds control characters (one refresh token, alone on its "
				   "line)",
				   path);
		secret_free(s);
		return -EINVAL;
	}
	secret_free(cc->refresh_token);
	cc->refresh_token = s;
	cc->refresh_token_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	free(cc->refresh_token_file);
	cc->refresh_token_file = TAKE_PTR(path);
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

	if (conf_value_path(v, &path, cause) < 0)
		return -EINVAL;
	fd = conf_value_open_file(path, k->private, &st, cause);
	if (fd < 0)
		return -EINVAL;
	close(fd);
	free(*field);
	*field = TAKE_PTR(path);
	return 0;
}

/*
 * An assertion's lifetime: 6s (iat is 5s in the past) to 1h (a server may
 * refuse a longer one).
 */
static int
cred_set_assertion_lifetime(struct cred_build *b, const struct cred_key *k, const char *key,
			    const char *v, char **cause)
{
	int64_t ms;

	if (conf_value_duration(v, ASSERTION_LIFETIME_MIN_MS, &ms, cause) < 0)
		return -EINVAL;
	if (ms > ASSERTION_LIFETIME_MAX_MS) {
		*cause = xasprintf("\"%s\" is longer than 1h", v);
		return -EINVAL;
	}
	b->cc->assertion_lifetime_ms = ms;
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

	if (conf_value_ids(v, groups ? CONF_IDS_GROUPS : CONF_IDS_USERS, groups ? NULL : field,
			   groups ? field : NULL, cause) < 0)
		return -EINVAL;
	field->any = false;
	return 0;
}

/* systemd units the caller must run in (conf_value_units). */
static int
cred_set_units(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
	       char **cause)
{
	char **units;

	if (conf_value_units(v, &units, cause) < 0)
		return -EINVAL;
	conf_value_words_free(b->cc->allow_units);
	b->cc->allow_units = units;
	return 0;
}

/*
 * One value a caller may ask for instead of the configured one (k->id says
 * which kind): printable and without white space, since the API reads a
 * value up to a space; a scope also without the characters RFC 6749 3.3
 * leaves out and without "+", which the API reads as a space; a resource
 * an absolute URI.
 */
static int
cred_allow_word_ok(enum cred_key_id id, const char *w, char **cause)
{
	for (const char *p = w; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			*cause = xstrdup("values must be printable ASCII characters");
			return -EINVAL;
		}
		if (id == CK_ALLOW_SCOPES && (*p == '"' || *p == '\\')) {
			*cause = xasprintf("\"%s\" is not a scope (RFC 6749 3.3)", w);
			return -EINVAL;
		}
		if (id == CK_ALLOW_SCOPES && *p == '+') {
			*cause = xasprintf("\"%s\": a scope with \"+\" cannot be asked for "
					   "(the API reads \"+\" as a space)",
					   w);
			return -EINVAL;
		}
	}
	return id == CK_ALLOW_RESOURCES ? cred_resource_ok(w, cause) : 0;
}

/*
 * allow_scopes, allow_audiences, allow_resources: values separated by
 * white space (a comma may be part of a scope), each once; empty means
 * none.
 */
static int
cred_set_allow(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
	       char **cause)
{
	char ***field = CC_FIELD(b, k, char **);
	enum cred_key_id id = (enum cred_key_id)(k - conf_cred_keys);
	char **words = xcalloc(1, sizeof(*words));
	size_t n = 0;

	for (const char *p = v;;) {
		size_t len;
		bool dup = false;

		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t");
		words = xreallocarray(words, n + 2, sizeof(*words));
		words[n] = xstrndup(p, len);
		words[n + 1] = NULL;
		p += len;
		if (cred_allow_word_ok(id, words[n], cause) < 0) {
			conf_value_words_free(words);
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++)
			dup = dup || strcmp(words[i], words[n]) == 0;
		if (dup) {
			free(words[n]);
			words[n] = NULL;
		} else {
			n++;
		}
	}
	conf_value_words_free(*field);
	*field = NULL;
	if (n == 0)
		conf_value_words_free(words);
	else
		*field = words;
	return 0;
}

static int
cred_set_max_variants(struct cred_build *b, const struct cred_key *k, const char *key,
		      const char *v, char **cause)
{
	return conf_value_uint(v, 1, CONF_MAX_VARIANTS_MAX, &b->cc->max_variants, cause);
}

/* param.NAME, query.NAME, header.NAME: a user's key replaces a default. */
static int
cred_set_pair(struct cred_build *b, const struct cred_key *k, const char *key, const char *v,
	      char **cause)
{
	struct request_pairs *pairs = CC_FIELD(b, k, struct request_pairs);
	const char *name = key + strlen(k->name);
	bool header = pairs == &b->cc->headers;

	if (*name == '\0') {
		*cause = xasprintf("a name must follow \"%s\"", k->name);
		return -EINVAL;
	}
	if (header) {
		if (!conf_value_header_name_ok(name)) {
			*cause = xasprintf("\"%s\" is not a valid header name", name);
			return -EINVAL;
		}
		if (!conf_value_header_value_ok(v)) {
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
	b->cc->sink_file = b->file;
	b->cc->sink_line = b->line;
	return 0;
}

static int
cred_set_sink_mode(struct cred_build *b, const struct cred_key *k, const char *key,
		   const char *v, char **cause)
{
	return conf_value_mode(v, "0640", &b->cc->sink_mode, cause);
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
	if (*user != '\0' && conf_value_user(user, &uid, cause) < 0)
		return -EINVAL;
	if (colon != NULL && conf_value_group(colon + 1, &gid, cause) < 0)
		return -EINVAL;
	b->cc->sink_uid = (uid_t)uid;
	b->cc->sink_gid = (gid_t)gid;
	b->cc->sink_owner_set = true;
	return 0;
}

#define CK_OFF(field) offsetof(struct cred_conf, field)

#define CK(id, n, fn, ...) [id] = { .name = (n), .set = (fn), __VA_ARGS__ }
const struct cred_key conf_cred_keys[CK_COUNT] = {
	CK(CK_PROFILE, "profile", cred_set_profile),
	CK(CK_TOKEN_URL, "token_url", cred_set_token_url),
	CK(CK_ISSUER, "issuer", cred_set_issuer),
	CK(CK_BASE_URL, "base_url", cred_set_base_url),
	CK(CK_AUTH_METHOD, "auth_method", cred_set_enum, .off = CK_OFF(auth_method),
	   .names = auth_method_names),
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
	CK(CK_AUDIENCE, "audience", cred_set_words, .off = CK_OFF(audience)),
	CK(CK_RESOURCE, "resource", cred_set_words, .off = CK_OFF(resource)),
	CK(CK_BODY_FORMAT, "body_format", cred_set_enum, .off = CK_OFF(body_format),
	   .names = body_format_names),
	CK(CK_ASSERTION_FILE, "assertion_file", cred_set_file, .off = CK_OFF(assertion_file),
	   .private = true),
	CK(CK_REFRESH_TOKEN_FILE, "refresh_token_file", cred_set_refresh_token_file),
	CK(CK_SUBJECT_TOKEN_FILE, "subject_token_file", cred_set_file,
	   .off = CK_OFF(subject_token_file), .private = true),
	CK(CK_SUBJECT_TOKEN_TYPE, "subject_token_type", cred_set_string,
	   .off = CK_OFF(subject_token_type)),
	CK(CK_ACTOR_TOKEN_FILE, "actor_token_file", cred_set_file, .off = CK_OFF(actor_token_file),
	   .private = true),
	CK(CK_ACTOR_TOKEN_TYPE, "actor_token_type", cred_set_string,
	   .off = CK_OFF(actor_token_type)),
	CK(CK_REQUESTED_TOKEN_TYPE, "requested_token_type", cred_set_string,
	   .off = CK_OFF(requested_token_type)),
	CK(CK_SCOPE_SEPARATOR, "scope_separator", cred_set_enum,
	   .off = CK_OFF(scope_separator), .names = scope_separator_names),
	CK(CK_PARAM, "param.", cred_set_pair, .prefix = true, .off = CK_OFF(params)),
	CK(CK_QUERY, "query.", cred_set_pair, .prefix = true, .off = CK_OFF(query)),
	CK(CK_HEADER, "header.", cred_set_pair, .prefix = true, .off = CK_OFF(headers)),
	CK(CK_RESPONSE_FORMAT, "response_format", cred_set_enum,
	   .off = CK_OFF(response_format), .names = response_format_names),
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
	CK(CK_ALLOW_UNITS, "allow_units", cred_set_units),
	CK(CK_ALLOW_SCOPES, "allow_scopes", cred_set_allow, .off = CK_OFF(allow_scopes)),
	CK(CK_ALLOW_AUDIENCES, "allow_audiences", cred_set_allow, .off = CK_OFF(allow_audiences)),
	CK(CK_ALLOW_RESOURCES, "allow_resources", cred_set_allow, .off = CK_OFF(allow_resources)),
	CK(CK_MAX_VARIANTS, "max_variants", cred_set_max_variants),
	CK(CK_VARIANT_IDLE, "variant_idle", cred_set_duration, .off = CK_OFF(variant_idle_ms),
	   .min_ms = 1000),
	CK(CK_PERSIST, "persist", cred_set_bool, .off = CK_OFF(persist)),
	CK(CK_SINK, "sink", cred_set_sink),
	CK(CK_SINK_MODE, "sink_mode", cred_set_sink_mode),
	CK(CK_SINK_OWNER, "sink_owner", cred_set_sink_owner),
	CK(CK_SINK_FORMAT, "sink_format", cred_set_enum, .off = CK_OFF(sink_format),
	   .names = sink_format_names),
	CK(CK_LAZY, "lazy", cred_set_bool, .off = CK_OFF(lazy)),
	CK(CK_ASSERTION_ALG, "assertion_alg", cred_set_enum, .off = CK_OFF(assertion_alg),
	   .names = assertion_alg_names),
	CK(CK_ASSERTION_KID, "assertion_kid", cred_set_string, .off = CK_OFF(assertion_kid)),
	CK(CK_ASSERTION_AUDIENCE, "assertion_audience", cred_set_string,
	   .off = CK_OFF(assertion_audience)),
	CK(CK_ASSERTION_LIFETIME, "assertion_lifetime", cred_set_assertion_lifetime),
	CK(CK_CLIENT_ASSERTION_FILE, "client_assertion_file", cred_set_file,
	   .off = CK_OFF(client_assertion_file), .private = true),
};
#undef CK

static int
cred_check_other_form(struct cred_build *b, const struct cred_key *k, char **cause)
{
	_cleanup_free_ char *where = NULL;

	if (b->from_profile || b->key_line[k->other] == 0)
		return 0;
	where = conf_place(b->ld, b->key_file[k->other], b->key_line[k->other], b->file);
	*cause = xasprintf("%s is also given (at %s); use one of them", conf_cred_keys[k->other].name,
			   where);
	return -EINVAL;
}

static int
cred_key_find(const char *name)
{
	for (int i = 0; i < CK_COUNT; i++) {
		const struct cred_key *k = &conf_cred_keys[i];

		if (k->prefix ? strncmp(name, k->name, strlen(k->name)) == 0 :
				strcmp(name, k->name) == 0)
			return i;
	}
	return -1;
}

bool
conf_cred_key_known(const char *name)
{
	return cred_key_find(name) >= 0;
}

const char *
conf_cred_auth_method_name(enum auth_method m)
{
	if ((unsigned)m >= ELEMENTSOF(auth_method_names) - 1)
		return "?";
	return auth_method_names[m];
}

static void
cred_defaults(struct cred_conf *cc)
{
	cc->profile = profile_find("oauth2");
	cc->auth_method = AUTH_CLIENT_SECRET_BASIC;
	cc->grant_type = cred_default_grant_type;
	cc->scope_separator = SCOPE_SEP_SPACE;
	cc->response_format = RESPONSE_FORMAT_AUTO;
	cc->token_path = cred_default_token_path;
	cc->expires_in_path = cred_default_expires_in_path;
	cc->token_type_path = cred_default_token_type_path;
	cc->default_lifetime_ms = 10 * 60 * 1000;
	cc->refresh_before.share = true;
	cc->refresh_before.permille = 330;
	cc->min_valid_ms = 30 * 1000;
	cc->reauth_token_param = cred_default_reauth_param;
	cc->api_version = cred_default_api_version;
	cc->timeout_ms = 15 * 1000;
	cc->connect_timeout_ms = 5 * 1000;
	cc->backoff_min_ms = 1000;
	cc->backoff_max_ms = 60 * 1000;
	cc->tls_verify = true;
	cc->allow_users.any = true;
	cc->allow_groups.any = true;
	cc->max_variants = 32;
	cc->variant_idle_ms = 60 * 60 * 1000;
	cc->sink_mode = 0600;
	cc->sink_uid = (uid_t)-1;
	cc->sink_gid = (gid_t)-1;
	cc->sink_format = SINK_FORMAT_RAW;
	cc->assertion_alg = ASSERTION_ALG_AUTO;
	cc->assertion_lifetime_ms = ASSERTION_LIFETIME_DEFAULT_MS;
}

/* Pair values may be API keys (param.api_key): wiped like secrets. */
static void
conf_pairs_clear(struct request_pairs *pairs)
{
	for (size_t i = 0; i < pairs->n; i++) {
		free(pairs->v[i].name);
		secret_free_str(pairs->v[i].value);
	}
	free(pairs->v);
	pairs->v = NULL;
	pairs->n = 0;
}

/*
 * Drops a configuration's hold on cc; the last frees it and what it holds,
 * wiping the secrets.  Returns NULL.
 */
struct cred_conf *
conf_cred_free(struct cred_conf *cc)
{
	if (cc == NULL || --cc->refs > 0)
		return NULL;
	free(cc->name);
	free(cc->token_url);
	free(cc->issuer);
	free(cc->base_url);
	cred_str_free(cc->grant_type);
	free(cc->client_id);
	secret_free(cc->client_secret);
	free(cc->username);
	secret_free(cc->password);
	free(cc->scope);
	conf_pairs_clear(&cc->params);
	conf_pairs_clear(&cc->query);
	conf_pairs_clear(&cc->headers);
	cred_str_free(cc->token_path);
	cred_str_free(cc->expires_in_path);
	cred_str_free(cc->token_type_path);
	free(cc->expires_at_path);
	cred_str_free(cc->reauth_token_param);
	cred_str_free(cc->api_version);
	free(cc->ca_file);
	free(cc->client_cert);
	free(cc->client_key);
	free(cc->proxy);
	EVP_PKEY_free(cc->assertion_key);
	free(cc->assertion_kid);
	free(cc->assertion_x5t);
	free(cc->assertion_audience);
	free(cc->client_assertion_file);
	free(cc->assertion_file);
	free(cc->refresh_token_file);
	secret_free(cc->refresh_token);
	free(cc->subject_token_file);
	free(cc->subject_token_type);
	free(cc->actor_token_file);
	free(cc->actor_token_type);
	free(cc->requested_token_type);
	free(cc->sink);
	free(cc->audience);
	free(cc->resource);
	conf_value_ids_clear(&cc->allow_users);
	conf_value_ids_clear(&cc->allow_groups);
	conf_value_words_free(cc->allow_units);
	conf_value_words_free(cc->allow_scopes);
	conf_value_words_free(cc->allow_audiences);
	conf_value_words_free(cc->allow_resources);
	explicit_bzero(cc->digest, sizeof(cc->digest));
	free(cc);
	return NULL;
}

/* Sets one key; a failure is reported at file:line and remembered. */
static void
cred_apply(struct cred_build *b, int id, const char *key, const char *v, unsigned file,
	   unsigned line, bool from_profile)
{
	const struct cred_key *k = &conf_cred_keys[id];
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


/*
 * A credential from its section: defaults, the profile's defaults, the
 * user's keys in file order (profile itself first, wherever it stands),
 * then the checks across keys.  Problems go to ld; the result is complete
 * enough to free either way.
 */
struct cred_conf *
conf_cred_build(struct conf_loader *ld, struct conf_section *sect)
{
	struct cred_build b;
	struct cred_conf *cc = xcalloc(1, sizeof(*cc));
	bool profile_ok = true;

	memset(&b, 0, sizeof(b));
	b.ld = ld;
	b.sect = sect;
	b.cc = cc;
	cc->refs = 1;
	cc->name = sect->name; /* taken: the section goes once built */
	sect->name = NULL;
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
	/* a misspelt key was reported as such: not also as missing */
	for (size_t i = 0; i < sect->nmeant; i++) {
		int id = cred_key_find(sect->meant[i]);

		if (id >= 0 && b.key_line[id] == 0)
			b.key_failed[id] = true;
	}
	/*
	 * With an unknown profile, or a line that could not be read (a key
	 * may be missing), the checks below would only add noise.
	 */
	if (profile_ok && !sect->broken) {
		conf_cred_check_all(&b);
	}
	conf_digest_cred(cc);
	return cc;
}
