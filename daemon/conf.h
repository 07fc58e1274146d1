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
	/*
	 * The configurations that hold it: a reload shares a credential whose
	 * settings did not change with the running configuration (conf_load).
	 */
	unsigned refs;
	const struct profile *profile;
	char *token_url; /* NULL: from the issuer's discovery document */
	char *issuer;	 /* or NULL */
	char *base_url;
	enum auth_method auth_method;
	char *grant_type;
	char *client_id;
	struct secret *client_secret;
	char *username;
	struct secret *password;
	char *scope; /* space-separated, as in the file */
	char *audience; /* RFC 8693 audience values, space-separated; or NULL */
	char *resource; /* RFC 8707 resource URIs, space-separated; or NULL */
	enum body_format body_format;
	char *assertion_file;	   /* jwt-bearer grant: the JWT, read at every request */
	/* refresh_token grant: the first refresh token, read at load, and its file's mtime */
	char *refresh_token_file;
	struct secret *refresh_token;
	int64_t refresh_token_mtime_ns;
	char *subject_token_file;  /* token exchange (RFC 8693), read at every request */
	char *subject_token_type;
	char *actor_token_file;
	char *actor_token_type;
	char *requested_token_type;
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

	/* private_key_jwt: the key (parsed from client_key at load), how to sign. */
	EVP_PKEY *assertion_key;
	enum assertion_alg assertion_alg; /* resolved once the key is read */
	char *assertion_kid;		  /* NULL: none; "x5t": assertion_x5t instead */
	char *assertion_x5t;		  /* x5t#S256 of client_cert, or NULL */
	char *assertion_audience;	  /* NULL: token_url */
	int64_t assertion_lifetime_ms;
	char *client_assertion_file;	  /* client_assertion */

	struct conf_ids allow_users;
	struct conf_ids allow_groups;
	char **allow_units; /* NULL-terminated; NULL: any unit */
	bool lazy;

	/*
	 * Token variants (variant.h): what a caller may ask for instead of the
	 * configured scope, audience and resource; each NULL-terminated, NULL
	 * when not given (no variant of that kind).  Like allow_users, not in
	 * the digest: they say who may ask for what, not how a token is asked.
	 */
	char **allow_scopes;
	char **allow_audiences;
	char **allow_resources;
	unsigned max_variants;	 /* kept at once; the least recently asked goes first */
	int64_t variant_idle_ms; /* a variant not asked for this long is dropped */

	bool persist;		/* keep the token in state_dir */
	char *sink;		/* NULL: none */
	unsigned sink_file, sink_line; /* where sink was set, for messages */
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
	bool log_access; /* an info line per hand-out and proxied request */
};

/* What the proxy does with a header of the injected name from the client. */
enum proxy_inject {
	PROXY_INJECT_REPLACE,	/* dropped: the token's header is the only one */
	PROXY_INJECT_IF_ABSENT, /* kept, and then no token is added */
};

#define PROXY_RETRY_STATUSES_MAX 16

/* A [proxy "NAME"]: a local listener that forwards with the token added. */
struct proxy_conf {
	char *name;
	const char *file; /* where the section starts, for messages (conf's files) */
	unsigned line;

	char *listen;	    /* as written: "127.0.0.1:8081", "[::1]:8081" or a path */
	bool listen_unix;   /* listen is a Unix socket path */
	char *listen_host;  /* TCP: the numeric address ("127.0.0.1", "::1") */
	uint16_t listen_port;

	char *credential;   /* the [credential] whose token is injected; it exists */
	char *upstream;	    /* base URL as written, without a trailing "/" */
	char *upstream_host; /* its host, for messages */
	char *header;	    /* default "Authorization" */
	char *header_prefix; /* NULL: the token's type and a space */
	enum proxy_inject inject;
	int retry_statuses[PROXY_RETRY_STATUSES_MAX];
	size_t nretry_statuses;
	int64_t retry_body_max;	  /* bytes */
	int64_t max_request_body; /* bytes */
	int64_t timeout_ms;	  /* until the upstream's response headers */
	int64_t connect_timeout_ms;
	char *ca_file;
	char *client_cert;
	char *client_key;
	bool tls_verify;

	struct conf_ids allow_users;
	struct conf_ids allow_groups;
	char **allow_units; /* NULL-terminated; NULL: any unit */

	mode_t socket_mode; /* Unix listener; default [daemon]'s */
	bool socket_group_set;
	gid_t socket_group;
	unsigned max_clients;

	/*
	 * A digest of the listener's settings (listen, and for a Unix socket
	 * its mode and group): a reload keeps a listener whose digest did not
	 * change, with its connections.
	 */
	char listen_digest[65];
};

struct conf {
	char *path; /* the main file as given */
	struct daemon_conf daemon;
	struct cred_conf **creds; /* in the order of the files */
	size_t ncreds;
	struct cred_conf **by_name; /* the same, sorted by name: conf_find */
	char **files; /* the paths read, which the proxies' file points to */
	size_t nfiles;
	struct proxy_conf **proxies;
	size_t nproxies;
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
/*
 * conf_load for a reload beside running: a credential whose settings are
 * all as they were (conf_cred_same) is running's, shared rather than held
 * twice; conf_free drops it when the last configuration that holds it goes.
 */
int conf_reload(const char *path, const struct conf *running, struct conf **ret_conf,
		struct conf_errors *errs, struct conf_errors *warnings);
/* Parses one file's text, for tests: name is used in messages. */
int conf_load_string(const char *name, const char *text, struct conf **ret_conf,
		     struct conf_errors *errs, struct conf_errors *warnings);
struct conf *conf_free(struct conf *conf);
/* 0 when url would do for token_url, else -EINVAL and *cause (caller frees). */
int conf_url_check(const char *url, char **cause);
void conf_errors_clear(struct conf_errors *errs);

const struct cred_conf *conf_find(const struct conf *conf, const char *name);
const struct proxy_conf *conf_find_proxy(const struct conf *conf, const char *name);
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
/* The same with url, a discovered token endpoint, for the token_url. */
void conf_request_opts_url(const struct cred_conf *cc, const char *url, struct request_opts *ret);
void conf_http_opts(const struct cred_conf *cc, struct http_opts *ret);
void conf_response_opts(const struct cred_conf *cc, struct response_opts *ret);
void conf_sink_opts(const struct cred_conf *cc, struct sink_opts *ret);
/* A proxy's upstream transfers: timeouts and TLS (proxy: none). */
void conf_proxy_http_opts(const struct proxy_conf *pc, struct http_opts *ret);

/* Whether uid (with primary gid and supplementary groups) may use ids. */
bool conf_ids_allow(const struct conf_ids *users, const struct conf_ids *groups, uid_t uid,
		    const gid_t *gids, size_t ngids);

const char *conf_auth_method_name(enum auth_method m);

#endif
