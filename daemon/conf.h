/*
 * The configuration: the main file and the *.conf files in conf.d parsed
 * (INI, see conf-read.c) into a struct conf, validated as a whole.  A struct conf is immutable once
 * loaded; reloading builds a new one and swaps.
 */
#ifndef TB_CONF_H
#define TB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "duration.h"
#include "secret.h"
#include "http.h"
#include "request.h"
#include "response.h"
#include "sink.h"
#include "tokenbroker.h"

#define CONF_DEFAULT_PATH "/etc/tokenbroker/tokenbroker.conf"
#define CONF_NAME_MAX TOKENBROKER_NAME_MAX

/* A set of uids or gids; an empty set that is !any allows only root. */
struct conf_ids {
	bool any; /* the key was not given: everyone who can open the socket */
	uint32_t *v;
	size_t n;
};

struct cred_conf {
	char *name;
	char *file; /* where the section starts, for messages */
	unsigned line;

	const struct profile *profile;
	char *token_url;
	char *base_url;
	enum auth_method auth_method;
	char *grant_type;
	char *client_id;
	struct secret *client_secret;
	char *username;
	struct secret *password;
	char *scope; /* space-separated, as in the file */
	enum scope_separator scope_separator;
	struct request_pairs params;
	struct request_pairs query;
	struct request_pairs headers;

	enum response_format response_format;
	char *token_path;
	char *expires_in_path;
	char *token_type_path;
	char *expires_at_path; /* NULL: none */
	int64_t default_lifetime_ms;
	struct span refresh_before;
	int64_t min_valid_ms;
	bool reauth_with_token;
	char *reauth_token_param; /* "" : raw token as the body */
	char *api_version;
	int64_t requested_lifetime_ms; /* 0: none */

	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	int64_t backoff_min_ms;
	int64_t backoff_max_ms;
	char *ca_file;
	char *client_cert;
	char *client_key;
	bool tls_verify;
	char *proxy; /* NULL: none */

	struct conf_ids allow_users;
	struct conf_ids allow_groups;
	bool lazy;

	bool persist;		/* keep the token in state_dir */
	char *sink;		/* NULL: none */
	mode_t sink_mode;	/* default 0600 */
	bool sink_owner_set;
	uid_t sink_uid;		/* (uid_t)-1: unchanged */
	gid_t sink_gid;		/* (gid_t)-1: unchanged */
	enum sink_format sink_format;

	/* A digest of every setting that shapes the token request. */
	char digest[65];
};

struct daemon_conf {
	char *socket;
	mode_t socket_mode;
	bool socket_group_set;
	gid_t socket_group;
	char *state_dir;
	int log_level;
	unsigned max_clients;
	unsigned max_clients_per_uid;
	unsigned upstream_concurrency;
	int64_t client_timeout_ms; /* a client's request must arrive within; idle keep-alive too */
	struct conf_ids metrics_allow_users;
	struct conf_ids metrics_allow_groups;
};

struct conf {
	char *path; /* the main file as given */
	struct daemon_conf daemon;
	struct cred_conf **creds;
	size_t ncreds;
};

/* Every problem found while loading, each "FILE:LINE: message". */
struct conf_errors {
	char **v;
	size_t n;
};

/*
 * Loads path and the conf.d/ directory beside it.  Returns 0 and *ret_conf,
 * or -EINVAL with every problem appended to errs (the caller frees errs
 * with conf_errors_clear).  Warnings (a key that does not apply to the
 * profile) are appended to warnings, which may be NULL.
 */
int conf_load(const char *path, struct conf **ret_conf, struct conf_errors *errs,
	      struct conf_errors *warnings);
/* Parses one file's text, for tests: name is used in messages. */
int conf_load_string(const char *name, const char *text, struct conf **ret_conf,
		     struct conf_errors *errs, struct conf_errors *warnings);
struct conf *conf_free(struct conf *conf);
void conf_errors_clear(struct conf_errors *errs);

const struct cred_conf *conf_find(const struct conf *conf, const char *name);
bool conf_name_valid(const char *name);

/*
 * The fingerprint a persisted token carries (lowercase hex SHA-256 into
 * out) of what produces cc's tokens: token_url, auth_method, grant_type,
 * client_id, username, the secrets, scope, param.*, query.*, header.* and
 * requested_lifetime; not timing, TLS or file settings, whose change keeps
 * a token good.  A token is reused after a restart only when it matches.
 */
void conf_token_fingerprint(const struct cred_conf *cc, char out[65]);

/*
 * cc's settings as each module below the credential takes them: the
 * request it builds, the transfer's limits and TLS, how the answer is read,
 * where the sink is.  Strings and lists are borrowed from cc; a profile's
 * parts (the lifetime's query parameter) are resolved here.
 */
void conf_request_opts(const struct cred_conf *cc, struct request_opts *ret);
void conf_http_opts(const struct cred_conf *cc, struct http_opts *ret);
void conf_response_opts(const struct cred_conf *cc, struct response_opts *ret);
void conf_sink_opts(const struct cred_conf *cc, struct sink_opts *ret);

/* Whether uid (with primary gid and supplementary groups) may use ids. */
bool conf_ids_allow(const struct conf_ids *users, const struct conf_ids *groups, uid_t uid,
		    const gid_t *gids, size_t ngids);

const char *conf_auth_method_name(enum auth_method m);

#endif
