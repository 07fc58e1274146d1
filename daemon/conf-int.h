/*
 * What the pieces of the configuration share; nothing but conf*.c and
 * their unit tests includes it (the public API is conf.h).  The loader
 * (files, sections and messages as read), the value parsers of
 * conf-value.c, the credential key table that conf-cred.c fills and
 * conf-cred-check.c reads, and the [proxy] builder of conf-proxy.c.
 */
#ifndef TB_CONF_INT_H
#define TB_CONF_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "conf.h"
#include "secret.h"

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

/* [daemon] (name NULL; all [daemon] sections merge), one credential or proxy. */
struct conf_section {
	char *name;
	unsigned file;
	unsigned line;
	struct conf_entry *v;
	size_t n;
	bool broken; /* a line in it could not be read: skip the checks across keys */
	/*
	 * Known keys that an unknown key of this section was probably meant to
	 * be ("did you mean"): their absence is not reported a second time.
	 */
	char **meant;
	size_t nmeant;
};

/* The kinds of section, indexing conf_loader.sects; see conf-read.c's table. */
enum conf_sect_id {
	CONF_SECT_DAEMON,
	CONF_SECT_CRED,
	CONF_SECT_PROXY,
	CONF_SECT_COUNT
};

struct conf_sections {
	struct conf_section **v;
	size_t n, cap;
	void *by_name; /* tsearch(3) tree of the named ones, for duplicates */
};

struct conf_read_sect;

struct conf_loader {
	struct conf_file *files;
	size_t nfiles;
	/* Per kind, in file order; a kind without a NAME has at most one. */
	struct conf_sections sects[CONF_SECT_COUNT];

	/* The file being read. */
	unsigned file;
	unsigned lineno;
	const struct conf_read_sect *kind; /* NULL: no section, or a bad header's */
	bool header_seen;		   /* which of the two NULL is */
	struct conf_section *sect;
	FILE *fp;	  /* the source is either a stream ... */
	const char *text; /* ... or a string */
	size_t text_len;
	size_t text_off;
	char *buf; /* the current line; wiped at the end */
	size_t bufsize;

	struct conf_msgs errs;
	struct conf_msgs warns;
	size_t seq;
};

/* conf.c: messages, collected in the loader. */
void conf_error(struct conf_loader *ld, unsigned file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void conf_warning(struct conf_loader *ld, unsigned file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
char *conf_place(const struct conf_loader *ld, unsigned file, unsigned line, unsigned here);
void conf_section_where(const struct conf_section *sect, const char *key, unsigned *file,
			unsigned *line);
void conf_msgs_move(struct conf_msgs *m, struct conf_errors *out);

/* conf-read.c: files and sections into the loader. */
void conf_read_init(struct conf_loader *ld);
void conf_read_clear(struct conf_loader *ld);
/* Frees a section; takes NULL. */
void conf_section_free(struct conf_section *sect);
/* Every file is read: what only the reading needed (the names' trees) goes. */
void conf_read_parsed(struct conf_loader *ld);
void conf_read_file(struct conf_loader *ld, const char *path);
void conf_read_dir(struct conf_loader *ld, const char *path);
void conf_read_string(struct conf_loader *ld, const char *name, const char *text);

/*
 * conf-value.c: one value each.  Every parser returns 0 and writes its
 * result, or -errno and a *cause the caller frees; the cause does not name
 * the key (the caller puts it in front) and never quotes a secret.
 */
enum conf_ids_kind {
	CONF_IDS_USERS,
	CONF_IDS_GROUPS,
	CONF_IDS_MIXED, /* a user, or a group as @name or a name that is no user */
};

enum conf_denied {
	CONF_DENIED_FILE,
	CONF_DENIED_DIR,
	CONF_DENIED_SECRET,
};

char **conf_value_words(const char *v);
void conf_value_words_free(char **words);
/*
 * systemd unit names, space or comma separated ("nginx" is nginx.service),
 * into a NULL-terminated array; -EINVAL with *cause for a name that is
 * none.
 */
int conf_value_units(const char *v, char ***ret, char **cause);
int conf_value_bool(const char *v, bool *ret, char **cause);
int conf_value_enum(const char *v, const char *const *names, int *ret, char **cause);
int conf_value_uint(const char *v, unsigned long min, unsigned long max, unsigned *ret,
		    char **cause);
int conf_value_mode(const char *v, const char *example, mode_t *ret, char **cause);
int conf_value_duration(const char *v, int64_t min_ms, int64_t *ret, char **cause);
int conf_value_span(const char *v, struct span *ret, char **cause);
int conf_value_size(const char *v, int64_t min, int64_t max, int64_t *ret, char **cause);
int conf_value_user(const char *w, uint32_t *ret, char **cause);
int conf_value_group(const char *w, uint32_t *ret, char **cause);
int conf_value_ids(const char *v, enum conf_ids_kind kind, struct conf_ids *users,
		   struct conf_ids *groups, char **cause);
void conf_value_ids_clear(struct conf_ids *ids);
int conf_value_url(const char *url, bool need_tls, char **cause);
int conf_value_path(const char *v, char **ret, char **cause);
int conf_value_socket_path(const char *v, char **cause);
int conf_value_file(const char *v, bool private, char **ret, char **cause);
char *conf_value_denied_hint(int err, const char *path, enum conf_denied what);
int conf_value_open_file(const char *path, bool private, struct stat *st, char **cause);
int conf_value_secret_file(const char *path, struct secret **ret, char **cause);
bool conf_value_json_pointer_ok(const char *p);
bool conf_value_header_name_ok(const char *s);
bool conf_value_header_value_ok(const char *s);
bool conf_value_name_ok(const char *name);
/*
 * "; did you mean NAME?" for the one of names (NULL-terminated) that word
 * is probably a slip of, else ""; the caller frees.
 */
char *conf_value_did_you_mean(const char *word, const char *const *names);

/* conf-daemon.c: [daemon]. */
bool conf_daemon_key_known(const char *name);
/* The i-th key [daemon] takes, or NULL past the last (for suggestions). */
const char *conf_daemon_key_name(size_t i);
void conf_daemon_build(struct conf_loader *ld, const struct conf_section *sect,
		       struct daemon_conf *dc);
void conf_daemon_clear(struct daemon_conf *dc);

/* conf-cred.c: [credential "NAME"]. */
enum cred_key_id {
	CK_PROFILE,
	CK_TOKEN_URL,
	CK_ISSUER,
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
	CK_AUDIENCE,
	CK_RESOURCE,
	CK_BODY_FORMAT,
	CK_ASSERTION_FILE,
	CK_REFRESH_TOKEN_FILE,
	CK_SUBJECT_TOKEN_FILE,
	CK_SUBJECT_TOKEN_TYPE,
	CK_ACTOR_TOKEN_FILE,
	CK_ACTOR_TOKEN_TYPE,
	CK_REQUESTED_TOKEN_TYPE,
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
	CK_ALLOW_UNITS,
	CK_ALLOW_SCOPES,
	CK_ALLOW_AUDIENCES,
	CK_ALLOW_RESOURCES,
	CK_MAX_VARIANTS,
	CK_VARIANT_IDLE,
	CK_PERSIST,
	CK_SINK,
	CK_SINK_MODE,
	CK_SINK_OWNER,
	CK_SINK_FORMAT,
	CK_LAZY,
	CK_ASSERTION_ALG,
	CK_ASSERTION_KID,
	CK_ASSERTION_AUDIENCE,
	CK_ASSERTION_LIFETIME,
	CK_CLIENT_ASSERTION_FILE,
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
	int64_t min_ms;		  /* durations: see conf_value_duration */
	enum cred_key_id other;	  /* secrets: the other way to give it */
	const char *const *names; /* enums */
	bool private;		  /* files: refused when group or others can read it */
};

/* Indexed by enum cred_key_id. */
extern const struct cred_key conf_cred_keys[CK_COUNT];

bool conf_cred_key_known(const char *name);
struct cred_conf *conf_cred_build(struct conf_loader *ld, struct conf_section *sect);
struct cred_conf *conf_cred_free(struct cred_conf *cc);
const char *conf_cred_auth_method_name(enum auth_method m);

/* conf-cred-check.c: the checks across a credential's keys. */
void conf_cred_check_all(struct cred_build *b);

/*
 * conf-proxy.c: [proxy "NAME"].  A proxy is built once [daemon] is (its
 * socket_mode and socket_group are the defaults); conf_proxy_check_conf
 * then checks what concerns the other sections (the credential exists, no
 * two listeners are one).  sects are conf->proxies' sections, in order.
 */
bool conf_proxy_key_known(const char *name);
/* The i-th key [proxy] takes, or NULL past the last (for suggestions). */
const char *conf_proxy_key_name(size_t i);
struct proxy_conf *conf_proxy_build(struct conf_loader *ld, const struct conf_section *sect,
				    const struct daemon_conf *dc);
void conf_proxy_check_conf(struct conf_loader *ld, const struct conf_sections *sects,
			   const struct conf *conf);
struct proxy_conf *conf_proxy_free(struct proxy_conf *pc);

/* conf-digest.c */
void conf_digest_cred(struct cred_conf *cc);
bool conf_cred_same(const struct cred_conf *a, const struct cred_conf *b);
void conf_digest_proxy_listen(struct proxy_conf *pc);

#endif
