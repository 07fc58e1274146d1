/*
 * The configuration loader: what a user sees when the file is right (the
 * defaults, the values) and when it is wrong (every message, exactly, with
 * its FILE:LINE and the key first).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cleanup.h"
#include "conf.h"
#include "profile.h"
#include "xmalloc.h"

/* The smallest credential that loads, to which tests add a key or two. */
#define CRED_OK                                     \
	"[credential \"api\"]\n"                    \
	"token_url = https://idp.example.com/token\n" \
	"client_id = app\n"                         \
	"client_secret = s3cret\n"

/* free() for _cleanup_free_ variables that get reused. */
#define FREE(p)             \
	do {                \
		free(p);    \
		(p) = NULL; \
	} while (0)

/* A name one byte over the limit of 64. */
#define NAME65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char test_dir[64];

struct loaded {
	struct conf *conf;
	struct conf_errors errs;
	struct conf_errors warns;
	int r;
};

static void
loaded_clear(struct loaded *l)
{
	conf_free(l->conf);
	conf_errors_clear(&l->errs);
	conf_errors_clear(&l->warns);
	memset(l, 0, sizeof(*l));
}

static void
load_text(struct loaded *l, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->r = conf_load_string("t.conf", text, &l->conf, &l->errs, &l->warns);
}

static void
load_file(struct loaded *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	l->r = conf_load(path, &l->conf, &l->errs, &l->warns);
}

static void
print_list(const char *what, const struct conf_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  %s[%zu] %s\n", what, i, e->v[i]);
}

/* The text loads with neither errors nor warnings. */
static void
assert_loads(struct loaded *l, const char *text)
{
	load_text(l, text);
	if (l->r != 0 || l->errs.n != 0 || l->warns.n != 0) {
		print_list("error", &l->errs);
		print_list("warning", &l->warns);
		fail_msg("configuration did not load cleanly");
	}
	assert_non_null(l->conf);
}

/* errs is exactly the given messages, in order (NULL-terminated). */
static void
assert_msgs(const struct conf_errors *e, ...)
{
	va_list ap;
	size_t i = 0;
	const char *want;
	bool ok = true;

	va_start(ap, e);
	while (ok && (want = va_arg(ap, const char *)) != NULL) {
		if (i >= e->n || strcmp(e->v[i], want) != 0) {
			print_message("expected [%zu] %s\n", i, want);
			ok = false;
		}
		i++;
	}
	va_end(ap);
	if (!ok || i != e->n) {
		print_list("got", e);
		fail_msg("messages differ");
	}
}

/* Loading the text fails with exactly one error, msg. */
static void
assert_one_error(const char *text, const char *msg)
{
	struct loaded l;

	load_text(&l, text);
	assert_int_equal(l.r, -EINVAL);
	assert_null(l.conf);
	assert_msgs(&l.errs, msg, NULL);
	loaded_clear(&l);
}

static char *
test_path(const char *name)
{
	return xasprintf("%s/%s", test_dir, name);
}

static void
write_file(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Each test gets a fresh directory. */
static int
setup_dir(void **state)
{
	strcpy(test_dir, "/tmp/test_conf.XXXXXX");
	if (mkdtemp(test_dir) == NULL)
		return -1;
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

static int
teardown_dir(void **state)
{
	nftw(test_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

static void
test_defaults(void **state)
{
	struct loaded l;
	const struct cred_conf *cc;
	const struct daemon_conf *dc;

	assert_loads(&l, CRED_OK);
	dc = &l.conf->daemon;
	assert_string_equal(dc->socket, "/run/tokenbroker/tokenbroker.sock");
	assert_int_equal(dc->socket_mode, 0660);
	assert_false(dc->socket_group_set);
	assert_string_equal(dc->state_dir, "/var/lib/tokenbroker");
	assert_int_equal(dc->log_level, LOG_INFO);
	assert_int_equal(dc->max_clients, 4096);
	assert_int_equal(dc->max_clients_per_uid, 256);
	assert_int_equal(dc->upstream_concurrency, 32);
	assert_false(dc->log_access);
	/* metrics: root only */
	assert_false(dc->metrics_allow_users.any);
	assert_false(dc->metrics_allow_groups.any);
	assert_int_equal(dc->metrics_allow_users.n, 0);
	assert_int_equal(dc->metrics_allow_groups.n, 0);

	assert_int_equal(l.conf->ncreds, 1);
	cc = conf_find(l.conf, "api");
	assert_non_null(cc);
	assert_null(conf_find(l.conf, "other"));
	assert_string_equal(cc->name, "api");
	assert_int_equal(l.conf->nfiles, 1);
	assert_string_equal(l.conf->files[0], "t.conf");
	assert_string_equal(cc->profile->name, "oauth2");
	assert_string_equal(cc->token_url, "https://idp.example.com/token");
	assert_null(cc->base_url);
	assert_int_equal(cc->auth_method, AUTH_CLIENT_SECRET_BASIC);
	assert_string_equal(cc->grant_type, "client_credentials");
	assert_string_equal(cc->client_id, "app");
	assert_non_null(cc->client_secret);
	assert_int_equal(cc->client_secret->len, 6);
	assert_true(memcmp(cc->client_secret->data, "s3cret", 6) == 0);
	assert_null(cc->username);
	assert_null(cc->password);
	assert_null(cc->scope);
	assert_int_equal(cc->scope_separator, SCOPE_SEP_SPACE);
	assert_int_equal(cc->params.n + cc->query.n + cc->headers.n, 0);
	assert_int_equal(cc->response_format, RESPONSE_FORMAT_AUTO);
	assert_string_equal(cc->token_path, "/access_token");
	assert_string_equal(cc->expires_in_path, "/expires_in");
	assert_string_equal(cc->token_type_path, "/token_type");
	assert_null(cc->expires_at_path);
	assert_int_equal(cc->default_lifetime_ms, 600000);
	assert_true(cc->refresh_before.share);
	assert_int_equal(cc->refresh_before.permille, 330);
	assert_int_equal(cc->min_valid_ms, 30000);
	assert_false(cc->reauth_with_token);
	assert_string_equal(cc->reauth_token_param, "");
	assert_string_equal(cc->api_version, "v1.2");
	assert_int_equal(cc->requested_lifetime_ms, 0);
	assert_int_equal(cc->timeout_ms, 15000);
	assert_int_equal(cc->connect_timeout_ms, 5000);
	assert_int_equal(cc->backoff_min_ms, 1000);
	assert_int_equal(cc->backoff_max_ms, 60000);
	assert_null(cc->ca_file);
	assert_null(cc->client_cert);
	assert_null(cc->client_key);
	assert_null(cc->assertion_key);
	assert_int_equal(cc->assertion_alg, ASSERTION_ALG_AUTO);
	assert_null(cc->assertion_kid);
	assert_null(cc->assertion_audience);
	assert_int_equal(cc->assertion_lifetime_ms, 60 * 1000);
	assert_null(cc->client_assertion_file);
	assert_true(cc->tls_verify);
	assert_null(cc->proxy);
	assert_true(cc->allow_users.any);
	assert_true(cc->allow_groups.any);
	assert_false(cc->lazy);
	assert_false(cc->persist);
	assert_null(cc->sink);
	assert_int_equal(cc->sink_mode, 0600);
	assert_false(cc->sink_owner_set);
	assert_int_equal(cc->sink_uid, (uid_t)-1);
	assert_int_equal(cc->sink_gid, (gid_t)-1);
	assert_int_equal(cc->sink_format, SINK_FORMAT_RAW);
	assert_int_equal(strlen(cc->digest), 64);
	assert_int_equal(strspn(cc->digest, "0123456789abcdef"), 64);
	loaded_clear(&l);
}

static void
test_daemon_values(void **state)
{
	struct loaded l;
	const struct daemon_conf *dc;

	assert_loads(&l, "[daemon]\n"
			 "socket = /run/tb/s.sock\n"
			 "socket_mode = 0600\n"
			 "socket_group = daemon\n"
			 "state_dir = /var/lib/tb\n"
			 "log_level = debug\n"
			 "max_clients = 10\n"
			 "max_clients_per_uid = 10\n"
			 "upstream_concurrency = 1024\n"
			 "log_access = yes\n"
			 "metrics_allow = root daemon 1234 @adm @5\n");
	dc = &l.conf->daemon;
	assert_string_equal(dc->socket, "/run/tb/s.sock");
	assert_int_equal(dc->socket_mode, 0600);
	assert_true(dc->socket_group_set);
	assert_int_equal(dc->socket_group, 1);
	assert_string_equal(dc->state_dir, "/var/lib/tb");
	assert_int_equal(dc->log_level, LOG_DEBUG);
	assert_int_equal(dc->max_clients, 10);
	assert_int_equal(dc->max_clients_per_uid, 10);
	assert_int_equal(dc->upstream_concurrency, 1024);
	assert_true(dc->log_access);
	assert_int_equal(dc->metrics_allow_users.n, 3);
	assert_int_equal(dc->metrics_allow_users.v[0], 0);
	assert_int_equal(dc->metrics_allow_users.v[1], 1);
	assert_int_equal(dc->metrics_allow_users.v[2], 1234);
	assert_int_equal(dc->metrics_allow_groups.n, 2);
	assert_int_equal(dc->metrics_allow_groups.v[0], 4);
	assert_int_equal(dc->metrics_allow_groups.v[1], 5);
	assert_int_equal(l.conf->ncreds, 0);
	loaded_clear(&l);

	/* A bare name that is no user but a group ("adm") is a group. */
	assert_loads(&l, "[daemon]\nmetrics_allow = adm root\n");
	assert_int_equal(l.conf->daemon.metrics_allow_users.n, 1);
	assert_int_equal(l.conf->daemon.metrics_allow_users.v[0], 0);
	assert_int_equal(l.conf->daemon.metrics_allow_groups.n, 1);
	assert_int_equal(l.conf->daemon.metrics_allow_groups.v[0], 4);
	loaded_clear(&l);

	assert_loads(&l, "[daemon]\nsocket_group = 4242\n");
	assert_int_equal(l.conf->daemon.socket_group, 4242);
	loaded_clear(&l);

	/* The per-uid default follows a smaller max_clients, in any order. */
	assert_loads(&l, "[daemon]\nmax_clients = 100\n");
	assert_int_equal(l.conf->daemon.max_clients_per_uid, 100);
	loaded_clear(&l);
	assert_loads(&l, "[daemon]\nmax_clients_per_uid = 1000000\nmax_clients = 1000000\n");
	assert_int_equal(l.conf->daemon.max_clients_per_uid, 1000000);
	loaded_clear(&l);
	assert_loads(&l, "[daemon]\nmax_clients_per_uid = 1\n");
	assert_int_equal(l.conf->daemon.max_clients_per_uid, 1);
	assert_int_equal(l.conf->daemon.max_clients, 4096);
	loaded_clear(&l);
}

static void
test_daemon_errors(void **state)
{
	struct loaded l;
	char *long_socket = xasprintf("[daemon]\nsocket = /%0120d\n", 0);

	load_text(&l, "[daemon]\n"
		      "socket = run/tb.sock\n"
		      "socket_mode = 0800\n"
		      "socket_group = no-such-group-here\n"
		      "state_dir = var\n"
		      "log_level = loud\n"
		      "max_clients = 0\n"
		      "upstream_concurrency = 2000\n"
		      "metrics_allow = root @no-such-group-here\n"
		      "socket_mode = 0777\n"
		      "token_url = https://x/\n"
		      "colour = blue\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:2: socket: \"run/tb.sock\" is not an absolute path",
		    "t.conf:3: socket_mode: invalid mode \"0800\" (use octal, at most 0777, e.g. 0660)",
		    "t.conf:4: socket_group: unknown group \"no-such-group-here\"",
		    "t.conf:5: state_dir: \"var\" is not an absolute path",
		    "t.conf:6: log_level: unknown level \"loud\" (use debug, info, notice, warning, err)",
		    "t.conf:7: max_clients: 0 is out of range (use 1 to 1000000)",
		    "t.conf:8: upstream_concurrency: 2000 is out of range (use 1 to 1024)",
		    "t.conf:9: metrics_allow: unknown group \"no-such-group-here\"",
		    "t.conf:10: socket_mode: already set at line 3",
		    "t.conf:11: token_url: unknown key in [daemon] (it belongs in a [credential])",
		    "t.conf:12: colour: unknown key in [daemon]", NULL);
	loaded_clear(&l);

	assert_one_error(long_socket,
			 "t.conf:2: socket: path is too long for a unix socket (at most 107 bytes)");
	free(long_socket);
	assert_one_error("[daemon]\nsocket_mode = 1777\n",
			 "t.conf:2: socket_mode: invalid mode \"1777\" (use octal, at most 0777, "
			 "e.g. 0660)");
	assert_one_error("[daemon]\nmax_clients = many\n",
			 "t.conf:2: max_clients: invalid number \"many\" (use a whole number from 1 to 1000000)");
	assert_one_error("[daemon]\nmetrics_allow = nosuchuser\n",
			 "t.conf:2: metrics_allow: unknown user \"nosuchuser\"");
	assert_one_error("[daemon]\nlog_access = sometimes\n",
			 "t.conf:2: log_access: invalid boolean \"sometimes\" (use yes or no)");
	assert_one_error("[daemon]\nmax_clients_per_uid = 0\n",
			 "t.conf:2: max_clients_per_uid: 0 is out of range (use 1 to 1000000)");
	assert_one_error("[daemon]\nmax_clients_per_uid = 1000001\n",
			 "t.conf:2: max_clients_per_uid: 1000001 is out of range (use 1 to "
			 "1000000)");
	/* Larger than max_clients: an error naming both, wherever they stand. */
	assert_one_error("[daemon]\nmax_clients_per_uid = 20\nmax_clients = 10\n",
			 "t.conf:2: max_clients_per_uid: 20 is larger than max_clients (10)");
	assert_one_error("[daemon]\nmax_clients_per_uid = 5000\n",
			 "t.conf:2: max_clients_per_uid: 5000 is larger than max_clients (4096)");
}

/* Every bad line is reported, not just the first. */
static void
test_errors_collected(void **state)
{
	struct loaded l;

	load_text(&l, CRED_OK "timeout = abc\n"
			      "tls_verify = maybe\n"
			      "# a comment\n"
			      "auth_method = magic\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs,
		    "t.conf:5: timeout: invalid duration \"abc\" (use 90, 90s, 15m, 1h)",
		    "t.conf:6: tls_verify: invalid boolean \"maybe\" (use yes or no)",
		    "t.conf:8: auth_method: unknown value \"magic\" (use client_secret_basic, "
		    "client_secret_post, basic, none, private_key_jwt, "
		    "client_assertion, tls_client_auth)",
		    NULL);
	loaded_clear(&l);
}

static void
test_syntax(void **state)
{
	struct loaded l;

	load_text(&l, "[daemon\n"
		      "[daemon] junk\n"
		      "just words\n"
		      "= value\n"
		      "[credential \"api\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "auth_method = none\n"
		      "scope ; = no separator before the comment\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:1: syntax error", "t.conf:2: syntax error",
		    "t.conf:3: syntax error", "t.conf:4: syntax error", "t.conf:8: syntax error",
		    NULL);
	loaded_clear(&l);

	/* Comments, blank lines, indentation, ':' and inline comments. */
	assert_loads(&l, "\xef\xbb\xbf# comment\n"
			 "; comment\n"
			 "\n"
			 "  [ credential   api ]   ; unquoted name\n"
			 "\ttoken_url: https://idp.example.com/token\r\n"
			 "    auth_method = none   ; no secret\n"
			 "    timeout = 20s\n");
	assert_int_equal(l.conf->creds[0]->auth_method, AUTH_NONE);
	assert_int_equal(l.conf->creds[0]->timeout_ms, 20000);
	assert_string_equal(l.conf->creds[0]->name, "api");
	loaded_clear(&l);
}

/*
 * A message quotes what the file holds, but never a control character: a
 * terminal escape or a stray byte is shown as '?', and so is a byte that
 * is not UTF-8.
 */
static void
test_messages_sanitized(void **state)
{
	struct loaded l;

	load_text(&l, "\n\x1a\xbf:\n"
		      "[daemon]\n"
		      "log_\x1b[2Jlevel = info\n"
		      "log_level = \x1b]0;x\x07\n"
		      "[\x1b[31mdaemon]\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:2: ??: not in a section (start with [daemon], "
			     "[credential \"NAME\"] or [proxy \"NAME\"])",
		    "t.conf:4: log_?[2Jlevel: unknown key in [daemon]",
		    "t.conf:5: log_level: unknown level \"?]0;x?\" (use debug, info, notice, "
		    "warning, err)",
		    "t.conf:6: unknown section [?[31mdaemon] (use [daemon], [credential \"NAME\"] "
		    "or [proxy \"NAME\"])",
		    NULL);
	loaded_clear(&l);
}

/*
 * How a key line splits, as libinih split it when it read the files: at
 * the first '=' or ':', white space trimmed, and ';' starting a comment
 * only after white space (so values may hold ';', '#', '=' and ':').
 */
static void
test_key_line_split(void **state)
{
	struct loaded l;
	const struct cred_conf *cc;

	assert_loads(&l, "[credential \"api\"]\n"
			 "token_url=https://idp.example.com/token?a=b;c#d\n"
			 "client_id =app;id # not a comment\n"
			 "client_secret : s=3:cret\t; a comment\n"
			 "reauth_token_param = ; empty, then a comment\n"
			 "param.x =;\n"
			 "header.X-A = a ;b\n");
	cc = l.conf->creds[0];
	assert_string_equal(cc->token_url, "https://idp.example.com/token?a=b;c#d");
	assert_string_equal(cc->client_id, "app;id # not a comment");
	assert_string_equal(cc->client_secret->data, "s=3:cret");
	assert_string_equal(cc->reauth_token_param, "");
	assert_int_equal(cc->params.n, 1);
	assert_string_equal(cc->params.v[0].value, ";");
	assert_int_equal(cc->headers.n, 1);
	assert_string_equal(cc->headers.v[0].value, "a");
	loaded_clear(&l);
}

static void
test_line_length(void **state)
{
	struct loaded l;
	char line[256], *text;

	/* 199 characters is fine, with or without the final newline. */
	snprintf(line, sizeof(line), "token_url = https://idp.example.com/%0163d", 0);
	assert_int_equal(strlen(line), 199);
	text = xasprintf("[credential \"api\"]\nauth_method = none\n%s\ntimeout = 9s\n", line);
	assert_loads(&l, text);
	assert_int_equal(strlen(l.conf->creds[0]->token_url), 187);
	assert_int_equal(l.conf->creds[0]->timeout_ms, 9000);
	loaded_clear(&l);
	FREE(text);
	text = xasprintf("[credential \"api\"]\nauth_method = none\n%s", line);
	assert_loads(&l, text);
	loaded_clear(&l);
	FREE(text);

	/* 200 is not, and it is not cut: the lines after it still count. */
	snprintf(line, sizeof(line), "token_url = https://idp.example.com/%0164d", 0);
	text = xasprintf("[credential \"api\"]\nauth_method = none\n%s\ntimeout = x\n", line);
	load_text(&l, text);
	assert_msgs(&l.errs, "t.conf:3: line too long (at most 199 characters)",
		    "t.conf:4: timeout: invalid duration \"x\" (use 90, 90s, 15m, 1h)", NULL);
	loaded_clear(&l);
	FREE(text);
}

static void
test_audience_resource(void **state)
{
	struct loaded l;
	char fp_without[65], fp_with[65];

	assert_loads(&l, "[credential \"a\"]\ntoken_url = https://idp.example.com/t\n"
			 "auth_method = none\n");
	assert_null(l.conf->creds[0]->audience);
	assert_null(l.conf->creds[0]->resource);
	conf_token_fingerprint(l.conf->creds[0], fp_without);
	loaded_clear(&l);

	assert_loads(&l, "[credential \"a\"]\ntoken_url = https://idp.example.com/t\n"
			 "auth_method = none\naudience = billing ledger\n"
			 "resource = https://api.example.com/ urn:example:res\n");
	assert_string_equal(l.conf->creds[0]->audience, "billing ledger");
	assert_string_equal(l.conf->creds[0]->resource, "https://api.example.com/ urn:example:res");
	/* a persisted token was for another audience: not reused */
	conf_token_fingerprint(l.conf->creds[0], fp_with);
	assert_string_not_equal(fp_without, fp_with);
	loaded_clear(&l);

	assert_one_error("[credential \"a\"]\ntoken_url = https://idp.example.com/t\n"
			 "auth_method = none\nresource = api.example.com\n",
			 "t.conf:4: resource: \"api.example.com\" is not an absolute URI without a "
			 "fragment (RFC 8707), e.g. https://api.example.com/");
	assert_one_error("[credential \"a\"]\ntoken_url = https://idp.example.com/t\n"
			 "auth_method = none\nresource = https://api.example.com/#x\n",
			 "t.conf:4: resource: \"https://api.example.com/#x\" is not an absolute "
			 "URI without a fragment (RFC 8707), e.g. https://api.example.com/");
}

/* The keys of token variants: their values, their defaults, what they refuse. */
static void
test_variants(void **state)
{
	struct loaded l;
	const struct cred_conf *cc;
	bool found;

	assert_loads(&l, CRED_OK);
	cc = l.conf->creds[0];
	assert_null(cc->allow_scopes);
	assert_null(cc->allow_audiences);
	assert_null(cc->allow_resources);
	assert_int_equal(cc->max_variants, 32);
	assert_int_equal(cc->variant_idle_ms, 3600 * 1000);
	loaded_clear(&l);

	assert_loads(&l, CRED_OK "allow_scopes = read  write,all read\n"
				 "allow_audiences = billing https://x.example.com\n"
				 "allow_resources = https://api.example.com/ urn:example:r\n"
				 "max_variants = 2\nvariant_idle = 90s\n");
	cc = l.conf->creds[0];
	/* white space separates, a comma is part of a scope; each once */
	assert_string_equal(cc->allow_scopes[0], "read");
	assert_string_equal(cc->allow_scopes[1], "write,all");
	assert_null(cc->allow_scopes[2]);
	assert_string_equal(cc->allow_audiences[0], "billing");
	assert_string_equal(cc->allow_audiences[1], "https://x.example.com");
	assert_null(cc->allow_audiences[2]);
	assert_string_equal(cc->allow_resources[1], "urn:example:r");
	assert_int_equal(cc->max_variants, 2);
	assert_int_equal(cc->variant_idle_ms, 90 * 1000);
	loaded_clear(&l);

	/* empty: none */
	assert_loads(&l, CRED_OK "allow_scopes =\nallow_audiences = x\n");
	assert_null(l.conf->creds[0]->allow_scopes);
	loaded_clear(&l);

	assert_one_error(CRED_OK "allow_scopes = a+b\n",
			 "t.conf:5: allow_scopes: \"a+b\": a scope with \"+\" cannot be asked for "
			 "(the API reads \"+\" as a space)");
	assert_one_error(CRED_OK "allow_scopes = a\"b\n",
			 "t.conf:5: allow_scopes: \"a\"b\" is not a scope (RFC 6749 3.3)");
	assert_one_error(CRED_OK "allow_audiences = caf\xc3\xa9\n",
			 "t.conf:5: allow_audiences: values must be printable ASCII characters");
	assert_one_error(CRED_OK "allow_resources = api.example.com\n",
			 "t.conf:5: allow_resources: \"api.example.com\" is not an absolute URI "
			 "without a fragment (RFC 8707), e.g. https://api.example.com/");
	assert_one_error(CRED_OK "allow_scopes = a\nmax_variants = 0\n",
			 "t.conf:6: max_variants: 0 is out of range (use 1 to 1024)");
	assert_one_error(CRED_OK "allow_scopes = a\nmax_variants = 1025\n",
			 "t.conf:6: max_variants: 1025 is out of range (use 1 to 1024)");
	assert_one_error(CRED_OK "allow_scopes = a\nvariant_idle = 10ms\n",
			 "t.conf:6: variant_idle: must be at least 1s");

	/*
	 * A refresh token rotates: variants cannot share it.  (Among the
	 * errors: the grant may want keys of its own that are not given here.)
	 */
	load_text(&l, CRED_OK "grant_type = refresh_token\nallow_audiences = x\n");
	assert_int_equal(l.r, -EINVAL);
	found = false;
	for (size_t i = 0; i < l.errs.n; i++)
		found = found ||
			strcmp(l.errs.v[i],
			       "t.conf:6: allow_audiences: not with grant_type refresh_token: the "
			       "refresh token rotates at every use and cannot be shared by several "
			       "variants; configure a second credential (with a refresh token of its "
			       "own) for the other audience") == 0;
	if (!found) {
		print_list("error", &l.errs);
		fail_msg("no error about allow_audiences with refresh_token");
	}
	loaded_clear(&l);

	/* the limits without anything to ask for */
	load_text(&l, CRED_OK "max_variants = 4\nvariant_idle = 1m\n");
	assert_int_equal(l.r, 0);
	assert_msgs(&l.warns,
		    "t.conf:5: max_variants: no allow_scopes, allow_audiences or allow_resources "
		    "is set, so there are no variants; ignored",
		    "t.conf:6: variant_idle: no allow_scopes, allow_audiences or allow_resources "
		    "is set, so there are no variants; ignored",
		    NULL);
	loaded_clear(&l);
}

/*
 * A slip of a key, a section or a value is answered with the name meant,
 * and what the slip left out is not reported a second time.
 */
static void
test_did_you_mean(void **state)
{
	struct loaded l;

	load_text(&l, "[daemon]\n"
		      "log_levle = debug\n"
		      "[credentials \"b\"]\n"
		      "[credential \"api\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "client_id = app\n"
		      "client_secert_file = /etc/secret\n"
		      "parm.x = 1\n"
		      "colour = blue\n"
		      "[credential \"tok\"]\n"
		      "tokn_url = https://idp.example.com/token\n"
		      "client_id = app\n"
		      "client_secret = s\n"
		      "auth_method = client_secret_psot\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:2: log_levle: unknown key in [daemon]; did you mean log_level?",
		    "t.conf:3: unknown section [credentials \"b\"] (use [daemon], [credential "
		    "\"NAME\"] or [proxy \"NAME\"]); did you mean [credential \"b\"]?",
		    "t.conf:7: client_secert_file: unknown key in [credential \"api\"]; did you "
		    "mean client_secret_file?",
		    "t.conf:8: parm.x: unknown key in [credential \"api\"]; did you mean param.x?",
		    "t.conf:9: colour: unknown key in [credential \"api\"]",
		    "t.conf:11: tokn_url: unknown key in [credential \"tok\"]; did you mean "
		    "token_url?",
		    "t.conf:14: auth_method: unknown value \"client_secret_psot\" (use "
		    "client_secret_basic, client_secret_post, basic, none, private_key_jwt, "
		    "client_assertion, tls_client_auth); did you mean client_secret_post?",
		    NULL);
	loaded_clear(&l);

	/* a key left out without a slip is still missing */
	load_text(&l, "[credential \"api\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "client_id = app\n"
		      "colour = blue\n");
	assert_msgs(&l.errs,
		    "t.conf:1: client_secret: required by auth_method client_secret_basic (give "
		    "client_secret or client_secret_file)",
		    "t.conf:4: colour: unknown key in [credential \"api\"]", NULL);
	loaded_clear(&l);
}

static void
test_sections(void **state)
{
	struct loaded l;

	load_text(&l, "timeout = 5s\n"
		      "[global]\n"
		      "anything = goes\n"
		      "[credential]\n"
		      "[credential \"bad name\"]\n"
		      "[credential \"" NAME65 "\"]\n"
		      CRED_OK
		      "client_id = again\n"
		      "clientsecret = typo\n"
		      "socket = /x\n"
		      "[credential api]\n"
		      "timeout = 1s\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs,
		    "t.conf:1: timeout: not in a section (start with [daemon], [credential \"NAME\"] "
		    "or [proxy \"NAME\"])",
		    "t.conf:2: unknown section [global] (use [daemon], [credential \"NAME\"] or "
		    "[proxy \"NAME\"])",
		    "t.conf:4: credential: a name is required: [credential \"NAME\"]",
		    "t.conf:5: credential \"bad name\": invalid name (use 1 to 64 of A-Z a-z 0-9 . _ -)",
		    "t.conf:6: credential \"" NAME65 "\": "
		    "invalid name (use 1 to 64 of A-Z a-z 0-9 . _ -)",
		    "t.conf:11: client_id: already set at line 9",
		    "t.conf:12: clientsecret: unknown key in [credential \"api\"]; "
		    "did you mean client_secret?",
		    "t.conf:13: socket: unknown key in [credential \"api\"] (it belongs in [daemon])",
		    "t.conf:14: credential \"api\": already defined at line 7", NULL);
	loaded_clear(&l);

	assert_true(conf_name_valid("a"));
	assert_true(conf_name_valid("Prod_api-2.v1"));
	assert_true(conf_name_valid(&NAME65[1]));
	assert_false(conf_name_valid(""));
	assert_false(conf_name_valid("a/b"));
	assert_false(conf_name_valid("a b"));
	assert_false(conf_name_valid(NAME65));
}

static void
test_credential_values(void **state)
{
	struct loaded l;
	const struct cred_conf *cc;

	assert_loads(&l, "[credential \"api\"]\n"
			 "lazy = yes\n"
			 "token_url = https://idp.example.com/oauth/token?tenant=x\n"
			 "auth_method = client_secret_post\n"
			 "grant_type = urn:example:params:oauth:grant-type:custom\n"
			 "client_id = app\n"
			 "client_secret = s3cret\n"
			 "scope = read write\n"
			 "scope_separator = comma\n"
			 "param.audience = https://api.example.com\n"
			 "query.format = json\n"
			 "header.Accept = application/json\n"
			 "param.resource = r1\n"
			 "response_format = json\n"
			 "token_path = /data/token\n"
			 "expires_in_path = /data/ttl\n"
			 "token_type_path = /data/type\n"
			 "expires_at_path = /data/exp\n"
			 "default_lifetime = 1h\n"
			 "refresh_before = 12.5%\n"
			 "min_valid = 0\n"
			 "reauth_with_token = on\n"
			 "reauth_token_param = token\n"
			 "requested_lifetime = none\n"
			 "timeout = 1m30s\n"
			 "connect_timeout = 500ms\n"
			 "backoff_min = 2s\n"
			 "backoff_max = 2s\n"
			 "tls_verify = false\n"
			 "proxy = http://proxy.example.com:3128\n"
			 "allow_users = root, daemon 4321\n"
			 "allow_groups = adm\n");
	cc = l.conf->creds[0];
	assert_true(cc->lazy);
	assert_string_equal(cc->token_url, "https://idp.example.com/oauth/token?tenant=x");
	assert_int_equal(cc->auth_method, AUTH_CLIENT_SECRET_POST);
	assert_string_equal(cc->grant_type, "urn:example:params:oauth:grant-type:custom");
	assert_string_equal(cc->scope, "read write");
	assert_int_equal(cc->scope_separator, SCOPE_SEP_COMMA);
	assert_int_equal(cc->params.n, 2);
	assert_string_equal(cc->params.v[0].name, "audience");
	assert_string_equal(cc->params.v[0].value, "https://api.example.com");
	assert_string_equal(cc->params.v[1].name, "resource");
	assert_int_equal(cc->query.n, 1);
	assert_string_equal(cc->query.v[0].name, "format");
	assert_string_equal(cc->query.v[0].value, "json");
	assert_int_equal(cc->headers.n, 1);
	assert_string_equal(cc->headers.v[0].name, "Accept");
	assert_int_equal(cc->response_format, RESPONSE_FORMAT_JSON);
	assert_string_equal(cc->token_path, "/data/token");
	assert_string_equal(cc->expires_in_path, "/data/ttl");
	assert_string_equal(cc->token_type_path, "/data/type");
	assert_string_equal(cc->expires_at_path, "/data/exp");
	assert_int_equal(cc->default_lifetime_ms, 3600000);
	assert_true(cc->refresh_before.share);
	assert_int_equal(cc->refresh_before.permille, 125);
	assert_int_equal(cc->min_valid_ms, 0);
	assert_true(cc->reauth_with_token);
	assert_string_equal(cc->reauth_token_param, "token");
	assert_int_equal(cc->requested_lifetime_ms, 0);
	assert_int_equal(cc->timeout_ms, 90000);
	assert_int_equal(cc->connect_timeout_ms, 500);
	assert_int_equal(cc->backoff_min_ms, 2000);
	assert_int_equal(cc->backoff_max_ms, 2000);
	assert_false(cc->tls_verify);
	assert_string_equal(cc->proxy, "http://proxy.example.com:3128");
	assert_false(cc->allow_users.any);
	assert_int_equal(cc->allow_users.n, 3);
	assert_int_equal(cc->allow_users.v[0], 0);
	assert_int_equal(cc->allow_users.v[1], 1);
	assert_int_equal(cc->allow_users.v[2], 4321);
	assert_false(cc->allow_groups.any);
	assert_int_equal(cc->allow_groups.n, 1);
	assert_int_equal(cc->allow_groups.v[0], 4);
	loaded_clear(&l);

	/* A duration for refresh_before, XML paths, "none" for the proxy. */
	assert_loads(&l, CRED_OK "refresh_before = 5m\n"
				 "response_format = xml\n"
				 "token_path = //accessToken\n"
				 "proxy = none\n"
				 "allow_users =\n");
	cc = l.conf->creds[0];
	assert_false(cc->refresh_before.share);
	assert_int_equal(cc->refresh_before.ms, 300000);
	assert_string_equal(cc->token_path, "//accessToken");
	assert_null(cc->proxy);
	/* Empty: nobody but root. */
	assert_false(cc->allow_users.any);
	assert_int_equal(cc->allow_users.n, 0);
	loaded_clear(&l);
}

static void
test_credential_errors(void **state)
{
	struct loaded l;

	load_text(&l, CRED_OK "default_lifetime = 500ms\n"
			      "refresh_before = 95%\n"
			      "min_valid = soon\n"
			      "timeout = 0\n"
			      "connect_timeout = 31d\n"
			      "backoff_min = -1s\n"
			      "scope_separator = tab\n"
			      "response_format = yaml\n"
			      "api_version = v1/2\n"
			      "requested_lifetime = 0\n"
			      "grant_type = client credentials\n"
			      "allow_users = root nosuchuser\n"
			      "allow_groups = nosuchgroup\n"
			      "persist = maybe\n"
			      "sink = run/token\n"
			      "sink_mode = 0800\n"
			      "sink_owner = nosuchuser:root\n"
			      "sink_format = yaml\n"
			      "client_id =\n"
			      "proxy = http://a b\n"
			      "refresh_before = 0%\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:5: default_lifetime: must be at least 1s",
		    "t.conf:6: refresh_before: share \"95%\" must be between 1% and 90%",
		    "t.conf:7: min_valid: invalid duration \"soon\" (use 90, 90s, 15m, 1h)",
		    "t.conf:8: timeout: must be greater than 0",
		    "t.conf:9: connect_timeout: duration \"31d\" is too large (at most 30d)",
		    "t.conf:10: backoff_min: invalid duration \"-1s\" (use 90, 90s, 15m, 1h)",
		    "t.conf:11: scope_separator: unknown value \"tab\" (use space, comma)",
		    "t.conf:12: response_format: unknown value \"yaml\" (use auto, json, xml)",
		    "t.conf:13: api_version: invalid version \"v1/2\" (use letters, digits, . _ -)",
		    "t.conf:14: requested_lifetime: must be greater than 0",
		    "t.conf:15: grant_type: \"client credentials\" must not contain white space",
		    "t.conf:16: allow_users: unknown user \"nosuchuser\"",
		    "t.conf:17: allow_groups: unknown group \"nosuchgroup\"",
		    "t.conf:18: persist: invalid boolean \"maybe\" (use yes or no)",
		    "t.conf:19: sink: \"run/token\" is not an absolute path",
		    "t.conf:20: sink_mode: invalid mode \"0800\" (use octal, at most 0777, e.g. 0640)",
		    "t.conf:21: sink_owner: unknown user \"nosuchuser\"",
		    "t.conf:22: sink_format: unknown value \"yaml\" (use raw, header, json, env)",
		    "t.conf:23: client_id: already set at line 3",
		    "t.conf:24: proxy: must not contain white space",
		    "t.conf:25: refresh_before: already set at line 6", NULL);
	loaded_clear(&l);

	assert_one_error(CRED_OK "refresh_before = 0%\n",
			 "t.conf:5: refresh_before: share \"0%\" must be between 1% and 90%");
	assert_one_error(CRED_OK "refresh_before = 150%\n",
			 "t.conf:5: refresh_before: share \"150%\" must be between 1% and 90%");
	assert_one_error(CRED_OK "refresh_before = 0s\n",
			 "t.conf:5: refresh_before: must be greater than 0");
	assert_one_error(CRED_OK "refresh_before = soon\n",
			 "t.conf:5: refresh_before: invalid value \"soon\" (use a share such as "
			 "33% or a duration such as 5m)");
	assert_one_error(CRED_OK "backoff_min = 2m\nbackoff_max = 1m\n",
			 "t.conf:5: backoff_min: 2m is larger than backoff_max (1m)");
	assert_one_error(CRED_OK "backoff_max = 500ms\n",
			 "t.conf:5: backoff_max: 500ms is smaller than backoff_min (1s)");
	assert_one_error(CRED_OK "profile = xibo-typo\n",
			 "t.conf:5: profile: unknown profile \"xibo-typo\" (use one of: oauth2 xibo oracle-sbc xvid-mediahub)");
}

static void
test_token_url(void **state)
{
	static const char *const ok[] = {
		"https://idp.example.com/token", "http://localhost:8080/token",
		"http://127.0.0.1/token",	  "http://127.1.2.3:9/t",
		"http://[::1]:8080/token",	  "HTTP://LOCALHOST/token",
	};
	struct loaded l;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *text = xasprintf("[credential \"a\"]\nauth_method = none\ntoken_url = %s\n",
				       ok[i]);

		assert_loads(&l, text);
		assert_string_equal(l.conf->creds[0]->token_url, ok[i]);
		loaded_clear(&l);
		FREE(text);
	}

	load_text(&l, "[credential \"a\"]\nauth_method = none\n"
		      "token_url = http://idp.example.com/token\n"
		      "[credential \"b\"]\nauth_method = none\n"
		      "token_url = ftp://idp.example.com/token\n"
		      "[credential \"c\"]\nauth_method = none\n"
		      "token_url = idp.example.com/token\n"
		      "[credential \"d\"]\nauth_method = none\n"
		      "token_url = https://user:pw@idp.example.com/token\n"
		      "[credential \"e\"]\nauth_method = none\n"
		      "token_url = http://128.0.0.1/token\n"
		      "[credential \"f\"]\nauth_method = none\n"
		      "[credential \"g\"]\nauth_method = none\n"
		      "base_url = https://idp.example.com\n");
	assert_msgs(&l.errs,
		    "t.conf:3: token_url: https:// is required unless the host is loopback",
		    "t.conf:6: token_url: must be an http:// or https:// URL",
		    "t.conf:9: token_url: must be an http:// or https:// URL",
		    "t.conf:12: token_url: user:password in the URL is not allowed (use auth_method)",
		    "t.conf:15: token_url: https:// is required unless the host is loopback",
		    "t.conf:16: credential \"f\": token_url, issuer (or base_url with a profile) is required",
		    "t.conf:18: credential \"g\": token_url, issuer (or base_url with a profile) is required",
		    NULL);
	loaded_clear(&l);
}

static void
test_auth_requirements(void **state)
{
	struct loaded l;

	load_text(&l, "[credential \"a\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "[credential \"b\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "auth_method = client_secret_post\n"
		      "client_id = app\n"
		      "[credential \"c\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "auth_method = basic\n"
		      "[credential \"d\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "auth_method = none\n"
		      "grant_type = password\n"
		      "username = me\n"
		      "[credential \"e\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "auth_method = basic\n"
		      "username = a:b\n"
		      "password = pw\n"
		      "[credential \"f\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "client_id = app\n"
		      "client_secret = s\n"
		      "header.authorization = Bearer x\n");
	assert_msgs(&l.errs, "t.conf:1: client_id: required by auth_method client_secret_basic",
		    "t.conf:1: client_secret: required by auth_method client_secret_basic (give "
		    "client_secret or client_secret_file)",
		    "t.conf:3: client_secret: required by auth_method client_secret_post (give "
		    "client_secret or client_secret_file)",
		    "t.conf:7: username: required by auth_method basic",
		    "t.conf:7: password: required by auth_method basic (give password or "
		    "password_file)",
		    "t.conf:10: password: required by grant_type password (give password or "
		    "password_file)",
		    "t.conf:18: username: must not contain ':' with auth_method basic (RFC 7617)",
		    "t.conf:24: header.authorization: auth_method client_secret_basic sends its "
		    "own Authorization header; use auth_method none to send this one",
		    NULL);
	loaded_clear(&l);

	assert_loads(&l, "[credential \"basic\"]\n"
			 "token_url = https://sbc.example.com/rest/v1.2/auth/token\n"
			 "auth_method = basic\n"
			 "username = admin\n"
			 "password = pw\n"
			 "[credential \"none\"]\n"
			 "token_url = https://idp.example.com/token\n"
			 "auth_method = none\n");
	assert_int_equal(l.conf->ncreds, 2);
	assert_string_equal(l.conf->creds[0]->username, "admin");
	assert_int_equal(l.conf->creds[0]->password->len, 2);
	loaded_clear(&l);
}

static void
test_pairs_and_paths(void **state)
{
	struct loaded l;

	load_text(&l, CRED_OK "param. = x\n"
			      "header.Bad Name = x\n"
			      "header.X-A = 1\n"
			      "header.x-a = 2\n"
			      "header.Content-Length = 5\n"
			      "response_format = json\n"
			      "token_path = access_token\n"
			      "expires_at_path = /a/~2\n");
	assert_msgs(&l.errs, "t.conf:5: param.: a name must follow \"param.\"",
		    "t.conf:6: header.Bad Name: \"Bad Name\" is not a valid header name",
		    "t.conf:8: header.x-a: already set at line 7",
		    "t.conf:9: header.Content-Length: Content-Length cannot be set",
		    "t.conf:11: token_path: \"access_token\" is not a JSON Pointer (use /name/name, "
		    "or empty for the whole body)",
		    "t.conf:12: expires_at_path: \"/a/~2\" is not a JSON Pointer (use /name/name, "
		    "or empty for the whole body)",
		    NULL);
	loaded_clear(&l);

	/* The check uses the final response_format, wherever it stands. */
	assert_one_error(CRED_OK "token_path =\nresponse_format = xml\n",
			 "t.conf:5: token_path: must not be empty with response_format xml");
	assert_loads(&l, CRED_OK "token_path = //token\nresponse_format = xml\n");
	loaded_clear(&l);
	assert_loads(&l, CRED_OK "token_path =\nexpires_at_path = /exp\nresponse_format = json\n");
	assert_string_equal(l.conf->creds[0]->token_path, "");
	loaded_clear(&l);
}

/* profile may stand anywhere; keys in any order give the same result. */
static void
test_order_independent(void **state)
{
	struct loaded a, b;

	assert_loads(&a, "[credential \"x\"]\n"
			 "profile = oauth2\n"
			 "token_url = https://idp.example.com/token\n"
			 "client_id = app\n"
			 "client_secret = s3cret\n"
			 "response_format = json\n"
			 "token_path = /t\n");
	assert_loads(&b, "[credential \"x\"]\n"
			 "token_path = /t\n"
			 "client_secret = s3cret\n"
			 "response_format = json\n"
			 "client_id = app\n"
			 "token_url = https://idp.example.com/token\n"
			 "profile = oauth2\n");
	assert_string_equal(a.conf->creds[0]->digest, b.conf->creds[0]->digest);
	assert_string_equal(b.conf->creds[0]->profile->name, "oauth2");
	loaded_clear(&a);
	loaded_clear(&b);
}

/* Every profile's own defaults load (an error there is a bug). */
static void
test_profiles_load(void **state)
{
	char *names = xstrdup(profile_names()), *save = NULL, *name;
	size_t n = 0;

	for (name = strtok_r(names, " ", &save); name != NULL; name = strtok_r(NULL, " ", &save)) {
		const struct profile *p = profile_find(name);
		struct loaded l;
		char *text;

		assert_non_null(p);
		assert_string_equal(p->name, name);
		text = xasprintf("[credential \"x\"]\nprofile = %s\n"
				 "base_url = https://svc.example.com\n"
				 "token_url = https://svc.example.com/token\n"
				 "client_id = app\nclient_secret = s\n"
				 "username = u\npassword = p\n",
				 name);
		load_text(&l, text);
		for (size_t i = 0; i < l.errs.n; i++)
			if (strstr(l.errs.v[i], "in profile") != NULL)
				fail_msg("profile %s: %s", name, l.errs.v[i]);
		assert_int_equal(l.r, 0);
		assert_ptr_equal(l.conf->creds[0]->profile, p);
		loaded_clear(&l);
		FREE(text);
		n++;
	}
	free(names);
	assert_true(n >= 1);
	assert_non_null(profile_find("oauth2"));
	assert_null(profile_find("OAUTH2"));
	assert_null(profile_find("nope"));
	assert_null(profile_find("oauth2")->token_path);
}

static void
test_warnings(void **state)
{
	struct loaded l;

	load_text(&l, CRED_OK "api_version = v2\nrequested_lifetime = 1h\n");
	assert_int_equal(l.r, 0);
	assert_int_equal(l.errs.n, 0);
	assert_msgs(&l.warns,
		    "t.conf:5: api_version: profile oauth2 has no version in its path; ignored",
		    "t.conf:6: requested_lifetime: profile oauth2 cannot ask for a lifetime; "
		    "ignored",
		    NULL);
	assert_int_equal(l.conf->creds[0]->requested_lifetime_ms, 3600000);
	loaded_clear(&l);
}

static void
test_digest(void **state)
{
	static const char *const changes[] = {
		"client_secret = other\n",
		"scope = read\n",
		"param.a = 1\n",
		"query.a = 1\n",
		"header.A = 1\n",
		"token_path = /t\n",
		"default_lifetime = 5m\n",
		"refresh_before = 50%\n",
		"min_valid = 1m\n",
		"timeout = 20s\n",
		"tls_verify = no\n",
		"proxy = http://proxy:3128\n",
		"auth_method = client_secret_post\n",
		"grant_type = other\n",
		"response_format = json\n",
	};
	const char *base = "[credential \"api\"]\n"
			   "token_url = https://idp.example.com/token\n"
			   "client_id = app\n";
	struct loaded a, b;
	char *text;

	text = xasprintf("%sclient_secret = s3cret\n", base);
	assert_loads(&a, text);
	assert_loads(&b, text);
	FREE(text);
	assert_string_equal(a.conf->creds[0]->digest, b.conf->creds[0]->digest);
	loaded_clear(&b);

	/*
	 * Who may fetch it, when it is fetched and which variants may be
	 * asked for do not change the token.
	 */
	text = xasprintf("%sclient_secret = s3cret\nallow_users = root\nlazy = yes\n"
			 "allow_scopes = a b\nallow_audiences = x\n"
			 "allow_resources = https://r.example.com/\nmax_variants = 3\n"
			 "variant_idle = 5m\n",
			 base);
	assert_loads(&b, text);
	FREE(text);
	assert_string_equal(a.conf->creds[0]->digest, b.conf->creds[0]->digest);
	loaded_clear(&b);

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		if (strncmp(changes[i], "client_secret", 13) == 0)
			text = xasprintf("%s%s", base, changes[i]);
		else
			text = xasprintf("%sclient_secret = s3cret\n%s", base, changes[i]);
		assert_loads(&b, text);
		FREE(text);
		if (strcmp(a.conf->creds[0]->digest, b.conf->creds[0]->digest) == 0)
			fail_msg("digest unchanged by %s", changes[i]);
		loaded_clear(&b);
	}

	/* Separators: moving a byte from one field to the next is a change. */
	assert_loads(&b, "[credential \"api\"]\ntoken_url = https://idp.example.com/token\n"
			 "client_id = ap\nclient_secret = ps3cret\n");
	assert_string_not_equal(a.conf->creds[0]->digest, b.conf->creds[0]->digest);
	loaded_clear(&b);
	loaded_clear(&a);
}

/* tmpl with every "@" replaced by the test directory. */
static char *
with_dir(const char *tmpl)
{
	char *out = xstrdup("");

	for (const char *p = tmpl; *p != '\0'; p++) {
		char *n = *p == '@' ? xasprintf("%s%s", out, test_dir) :
				      xasprintf("%s%c", out, *p);

		free(out);
		out = n;
	}
	return out;
}

/* The keys of persistence and file sinks, and what they refuse. */
static void
test_sink_values(void **state)
{
	_cleanup_free_ char *text = NULL, *sink = test_path("token");
	static const char *const formats[] = { "raw", "header", "json", "env" };
	struct loaded l;
	const struct cred_conf *cc;

	text = xasprintf(CRED_OK "persist = yes\n"
				 "sink = %s\n"
				 "sink_mode = 0640\n"
				 "sink_owner = nobody:nogroup\n"
				 "sink_format = json\n",
			 sink);
	assert_loads(&l, text);
	cc = l.conf->creds[0];
	assert_true(cc->persist);
	assert_string_equal(cc->sink, sink);
	assert_int_equal(cc->sink_mode, 0640);
	assert_true(cc->sink_owner_set);
	assert_int_equal(cc->sink_uid, 65534);
	assert_int_equal(cc->sink_gid, 65534);
	assert_int_equal(cc->sink_format, SINK_FORMAT_JSON);
	loaded_clear(&l);
	FREE(text);

	/* An existing file is fine: it is what gets replaced. */
	write_file(sink, 0600, "old\n");
	for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
		text = xasprintf(CRED_OK "sink = %s\nsink_format = %s\n", sink, formats[i]);
		assert_loads(&l, text);
		assert_int_equal(l.conf->creds[0]->sink_format, (int)i);
		loaded_clear(&l);
		FREE(text);
	}

	/* A user only, a group only, numeric ids. */
	text = xasprintf(CRED_OK "sink = %s\nsink_owner = root\n", sink);
	assert_loads(&l, text);
	cc = l.conf->creds[0];
	assert_true(cc->sink_owner_set);
	assert_int_equal(cc->sink_uid, 0);
	assert_int_equal(cc->sink_gid, (gid_t)-1);
	loaded_clear(&l);
	FREE(text);
	text = xasprintf(CRED_OK "sink = %s\nsink_owner = :nogroup\n", sink);
	assert_loads(&l, text);
	cc = l.conf->creds[0];
	assert_int_equal(cc->sink_uid, (uid_t)-1);
	assert_int_equal(cc->sink_gid, 65534);
	loaded_clear(&l);
	FREE(text);
	text = xasprintf(CRED_OK "sink = %s\nsink_owner = 1234:5678\n", sink);
	assert_loads(&l, text);
	cc = l.conf->creds[0];
	assert_int_equal(cc->sink_uid, 1234);
	assert_int_equal(cc->sink_gid, 5678);
	loaded_clear(&l);
	FREE(text);

	/* A file in / itself; "none" and empty are no sink. */
	assert_loads(&l, CRED_OK "sink = /tokenbroker-test-sink\n");
	assert_string_equal(l.conf->creds[0]->sink, "/tokenbroker-test-sink");
	loaded_clear(&l);
	assert_loads(&l, CRED_OK "sink = none\n");
	assert_null(l.conf->creds[0]->sink);
	loaded_clear(&l);
	assert_loads(&l, CRED_OK "sink =\npersist = no\n");
	assert_null(l.conf->creds[0]->sink);
	assert_false(l.conf->creds[0]->persist);
	loaded_clear(&l);

	/* Neither changes how a token is obtained. */
	text = xasprintf(CRED_OK "persist = yes\nsink = %s\n", sink);
	assert_loads(&l, text);
	{
		struct loaded plain;

		assert_loads(&plain, CRED_OK);
		assert_string_equal(l.conf->creds[0]->digest, plain.conf->creds[0]->digest);
		loaded_clear(&plain);
	}
	loaded_clear(&l);
}

static void
test_sink_errors(void **state)
{
	_cleanup_free_ char *file = test_path("file"), *pub = test_path("pub"),
			    *sub = test_path("sub"), *link = test_path("link"),
			    *fifo = test_path("fifo"), *grp = test_path("grp"), *text = NULL,
			    *msg = NULL;
	struct {
		const char *value; /* @: the test directory */
		const char *msg;   /* @: the test directory */
	} const cases[] = {
		{ "@/nope/token", "t.conf:5: sink: directory @/nope does not exist" },
		{ "@/pub/token",
		  "t.conf:5: sink: @/pub: writable by group and others (mode 0777): chmod go-w "
		  "@/pub" },
		{ "@/grp/token",
		  "t.conf:5: sink: @/grp: writable by group (mode 0770): chmod g-w @/grp" },
		{ "@/nope/deeper/token", "t.conf:5: sink: directory @/nope does not exist" },
		{ "@/file/token", "t.conf:5: sink: @/file is not a directory" },
		{ "@/sub", "t.conf:5: sink: @/sub is a directory" },
		{ "@/link", "t.conf:5: sink: @/link is a symbolic link (give the file itself)" },
		{ "@/fifo", "t.conf:5: sink: @/fifo is not a regular file" },
		{ "@/", "t.conf:5: sink: \"@/\" does not name a file" },
		{ "@/..", "t.conf:5: sink: \"@/..\" does not name a file" },
	};

	write_file(file, 0600, "x");
	assert_int_equal(mkdir(pub, 0777), 0);
	assert_int_equal(chmod(pub, 0777), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(grp, 0770), 0);
	assert_int_equal(chmod(grp, 0770), 0);
	assert_int_equal(symlink(file, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *value = with_dir(cases[i].value);

		text = xasprintf(CRED_OK "sink = %s\n", value);
		msg = with_dir(cases[i].msg);
		assert_one_error(text, msg);
		FREE(text);
		FREE(msg);
	}
	assert_one_error(CRED_OK "sink = /tmp/token\n",
			 "t.conf:5: sink: /tmp: writable by group and others (mode 1777; the "
			 "sticky bit is not enough for the directory itself): use a directory "
			 "only root can write");
	/* A directory on the way that another user owns could be swapped for a link. */
	if (geteuid() == 0) {
		_cleanup_free_ char *nob = test_path("nob"), *deep = NULL, *want = NULL;

		deep = xasprintf("%s/sub", nob);
		assert_int_equal(mkdir(nob, 0755), 0);
		assert_int_equal(mkdir(deep, 0755), 0);
		assert_int_equal(chown(nob, 65534, 65534), 0);
		text = xasprintf(CRED_OK "sink = %s/token\n", deep);
		want = xasprintf("t.conf:5: sink: %s: owned by uid 65534 (nobody), must be owned "
				 "by root: chown root %s",
				 nob, nob);
		assert_one_error(text, want);
		FREE(text);
	}
	assert_one_error(CRED_OK "sink = token\n",
			 "t.conf:5: sink: \"token\" is not an absolute path");
	assert_one_error(CRED_OK "sink = /\n", "t.conf:5: sink: \"/\" does not name a file");

	assert_one_error(CRED_OK "sink_owner =\n",
			 "t.conf:5: sink_owner: invalid owner \"\" (use user:group, user or :group)");
	assert_one_error(CRED_OK "sink_owner = :\n",
			 "t.conf:5: sink_owner: invalid owner \":\" (use user:group, user or "
			 ":group)");
	assert_one_error(CRED_OK "sink_owner = root:\n",
			 "t.conf:5: sink_owner: invalid owner \"root:\" (use user:group, user or "
			 ":group)");
	assert_one_error(CRED_OK "sink_owner = root:nosuchgroup\n",
			 "t.conf:5: sink_owner: unknown group \"nosuchgroup\"");
	assert_one_error(CRED_OK "sink_owner = 4294967295\n",
			 "t.conf:5: sink_owner: invalid uid 4294967295");
	assert_one_error(CRED_OK "sink_mode = 1600\n",
			 "t.conf:5: sink_mode: invalid mode \"1600\" (use octal, at most 0777, e.g. "
			 "0640)");
	assert_one_error(CRED_OK "sink_mode = rw\n",
			 "t.conf:5: sink_mode: invalid mode \"rw\" (use octal, at most 0777, e.g. "
			 "0640)");
}

/* Two credentials with one sink, also by another path; sink_* without sink. */
static void
test_sink_shared(void **state)
{
	_cleanup_free_ char *text = NULL, *alias = test_path("alias");
	struct loaded l;

	assert_int_equal(symlink(test_dir, alias), 0);
	text = xasprintf(CRED_OK "sink = %s/token\n"
				 "[credential \"b\"]\n"
				 "token_url = https://idp.example.com/token\n"
				 "auth_method = none\n"
				 "sink = %s/token\n"
				 "[credential \"c\"]\n"
				 "token_url = https://idp.example.com/token\n"
				 "auth_method = none\n"
				 "sink = %s/./token\n"
				 "[credential \"d\"]\n"
				 "token_url = https://idp.example.com/token\n"
				 "auth_method = none\n"
				 "sink = %s/other\n",
			 test_dir, test_dir, alias, test_dir);
	load_text(&l, text);
	FREE(text);
	assert_int_equal(l.r, -EINVAL);
	{
		_cleanup_free_ char *m1 = xasprintf("t.conf:9: sink: %s/token is also the sink of "
						    "credential \"api\" (at line 5)",
						    test_dir);
		_cleanup_free_ char *m2 = xasprintf("t.conf:13: sink: %s/./token is also the sink "
						    "of credential \"api\" (at line 5)",
						    alias);

		assert_msgs(&l.errs, m1, m2, NULL);
	}
	loaded_clear(&l);

	load_text(&l, CRED_OK "sink_mode = 0640\nsink_owner = root\nsink_format = env\n");
	assert_int_equal(l.r, 0);
	assert_msgs(&l.warns, "t.conf:5: sink_mode: no sink is set; ignored",
		    "t.conf:6: sink_owner: no sink is set; ignored",
		    "t.conf:7: sink_format: no sink is set; ignored", NULL);
	loaded_clear(&l);
}

/* oracle-sbc keeps its token across a restart unless told otherwise. */
static void
test_persist_profile(void **state)
{
	static const char base[] = "[credential \"sbc\"]\n"
				   "profile = oracle-sbc\n"
				   "base_url = https://sbc.example.com\n"
				   "username = admin\n"
				   "password = pw\n";
	_cleanup_free_ char *text = xasprintf("%spersist = no\n", base);
	struct loaded l;

	assert_loads(&l, base);
	assert_true(l.conf->creds[0]->persist);
	loaded_clear(&l);
	assert_loads(&l, text);
	assert_false(l.conf->creds[0]->persist);
	loaded_clear(&l);
	assert_loads(&l, "[credential \"x\"]\nprofile = xibo\nbase_url = https://x.example.com\n"
			 "client_id = a\nclient_secret = b\n");
	assert_false(l.conf->creds[0]->persist);
	loaded_clear(&l);
}

static void
test_secret_files(void **state)
{
	_cleanup_free_ char *ok = test_path("ok"), *open_ = test_path("open"),
			    *empty = test_path("empty"), *big = test_path("big"),
			    *credsdir = test_path("creds"), *text = NULL, *msg = NULL;
	char *bigtext = xmalloc(70000);
	struct loaded l;

	memset(bigtext, 'x', 69999);
	bigtext[69999] = '\0';
	write_file(ok, 0600, "from-file\r\n\n");
	write_file(open_, 0644, "s\n");
	write_file(empty, 0600, "\n");
	write_file(big, 0600, bigtext);
	free(bigtext);

	text = xasprintf("[credential \"api\"]\ntoken_url = https://idp.example.com/token\n"
			 "client_id = app\nclient_secret_file = %s\n",
			 ok);
	assert_loads(&l, text);
	assert_int_equal(l.conf->creds[0]->client_secret->len, 9);
	assert_true(memcmp(l.conf->creds[0]->client_secret->data, "from-file", 10) == 0);
	loaded_clear(&l);
	FREE(text);

	text = xasprintf("[credential \"api\"]\ntoken_url = https://idp.example.com/token\n"
			 "client_id = app\nclient_secret_file = %s\n"
			 "auth_method = basic\nusername = u\npassword_file = %s\n"
			 "client_secret = inline\n",
			 open_, empty);
	load_text(&l, text);
	FREE(text);
	msg = xasprintf("t.conf:4: client_secret_file: %s is readable by group or others (mode "
			"0644); chmod 600 it",
			open_);
	text = xasprintf("t.conf:7: password_file: %s is empty", empty);
	assert_msgs(&l.errs, msg,
		    text, "t.conf:8: client_secret: client_secret_file is also given (at line 4); "
			  "use one of them",
		    NULL);
	loaded_clear(&l);
	FREE(text);
	FREE(msg);

	text = xasprintf(CRED_OK "password_file = %s\nauth_method = basic\nusername = u\n", big);
	msg = xasprintf("t.conf:5: password_file: %s is larger than 64 KiB", big);
	assert_one_error(text, msg);
	FREE(text);
	FREE(msg);

	/* Owned by another user, who could change it: refused, also through a link. */
	if (geteuid() == 0) {
		_cleanup_free_ char *theirs = test_path("theirs"), *link = test_path("tolink");
		/* Root also trusts the packaged service's account, where there is one. */
		const char *service_user = getpwnam("tokenbroker") != NULL ? " or tokenbroker" : "";

		write_file(theirs, 0600, "s\n");
		assert_int_equal(chown(theirs, 65534, 65534), 0);
		assert_int_equal(symlink(theirs, link), 0);
		text = xasprintf(CRED_OK "auth_method = basic\nusername = u\npassword_file = %s\n",
				 theirs);
		msg = xasprintf("t.conf:7: password_file: %s is owned by uid 65534 (nobody), "
				"must be owned by root%s: chown root %s",
				theirs, service_user, theirs);
		assert_one_error(text, msg);
		FREE(text);
		FREE(msg);
		text = xasprintf(CRED_OK "auth_method = basic\nusername = u\npassword_file = %s\n",
				 link);
		msg = xasprintf("t.conf:7: password_file: %s is owned by uid 65534 (nobody), "
				"must be owned by root%s: chown root %s",
				link, service_user, link);
		assert_one_error(text, msg);
		FREE(text);
		FREE(msg);
	}

	text = xasprintf(CRED_OK "auth_method = basic\nusername = u\npassword_file = %s/none\n",
			 test_dir);
	msg = xasprintf("t.conf:7: password_file: cannot open %s/none: No such file or directory",
			test_dir);
	assert_one_error(text, msg);
	FREE(text);
	FREE(msg);

	assert_one_error(CRED_OK "auth_method = basic\nusername = u\npassword_file = secret\n",
			 "t.conf:7: password_file: \"secret\" is not an absolute path (or %d/NAME)");
	text = xasprintf(CRED_OK "auth_method = basic\nusername = u\npassword_file = %s\n",
			 test_dir);
	msg = xasprintf("t.conf:7: password_file: %s is not a regular file", test_dir);
	assert_one_error(text, msg);
	FREE(text);
	FREE(msg);

	/* %d/NAME: systemd's credentials directory. */
	assert_one_error(CRED_OK "auth_method = basic\nusername = u\npassword_file = %d/pw\n",
			 "t.conf:7: password_file: %d/pw: $CREDENTIALS_DIRECTORY is not set (%d/ "
			 "needs systemd's LoadCredential=)");
	assert_int_equal(mkdir(credsdir, 0700), 0);
	FREE(text);
	text = xasprintf("%s/pw", credsdir);
	write_file(text, 0400, "hunter2\n");
	setenv("CREDENTIALS_DIRECTORY", credsdir, 1);
	assert_loads(&l, "[credential \"api\"]\ntoken_url = https://idp.example.com/token\n"
			 "auth_method = basic\nusername = u\npassword_file = %d/pw\n");
	assert_int_equal(l.conf->creds[0]->password->len, 7);
	assert_true(memcmp(l.conf->creds[0]->password->data, "hunter2", 8) == 0);
	loaded_clear(&l);
	assert_one_error(CRED_OK "auth_method = basic\nusername = u\npassword_file = %d/\n",
			 "t.conf:7: password_file: \"%d/\" does not name a credential");
}

static void
test_tls_files(void **state)
{
	_cleanup_free_ char *ca = test_path("ca.pem"), *cert = test_path("cert.pem"),
			    *key = test_path("key.pem"), *text = NULL, *msg = NULL;
	struct loaded l;

	write_file(ca, 0644, "ca\n");
	write_file(cert, 0644, "cert\n");
	write_file(key, 0640, "key\n");
	text = xasprintf(CRED_OK "ca_file = %s\nclient_cert = %s\nclient_key = %s\n", ca, cert,
			 key);
	msg = xasprintf("t.conf:7: client_key: %s is readable by group or others (mode 0640); "
			"chmod 600 it",
			key);
	assert_one_error(text, msg);
	FREE(msg);

	assert_int_equal(chmod(key, 0600), 0);
	assert_loads(&l, text);
	assert_string_equal(l.conf->creds[0]->ca_file, ca);
	assert_string_equal(l.conf->creds[0]->client_cert, cert);
	assert_string_equal(l.conf->creds[0]->client_key, key);
	loaded_clear(&l);
	FREE(text);

	text = xasprintf(CRED_OK "ca_file = %s/missing.pem\n", test_dir);
	msg = xasprintf("t.conf:5: ca_file: cannot open %s/missing.pem: No such file or directory",
			test_dir);
	assert_one_error(text, msg);
}

/* An inline secret in a file that others can read is refused; mode 0600 is fine. */
static void
test_inline_secret_mode(void **state)
{
	_cleanup_free_ char *path = test_path("tokenbroker.conf"), *msg = NULL;
	struct loaded l;

	write_file(path, 0644, "[daemon]\nlog_level = info\n" CRED_OK);
	load_file(&l, path);
	msg = xasprintf("%s:6: client_secret: %s is readable by group or others (mode 0644); "
			"chmod 600 it or use client_secret_file",
			path, path);
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, msg, NULL);
	loaded_clear(&l);

	assert_int_equal(chmod(path, 0600), 0);
	load_file(&l, path);
	assert_int_equal(l.r, 0);
	assert_int_equal(l.errs.n, 0);
	assert_string_equal(l.conf->path, path);
	assert_string_equal(l.conf->files[0], path);
	loaded_clear(&l);

	/* No secret in it: 0644 is fine. */
	write_file(path, 0644, "[credential \"pub\"]\ntoken_url = http://localhost/t\n"
			       "auth_method = none\n");
	load_file(&l, path);
	assert_int_equal(l.r, 0);
	loaded_clear(&l);
}

static void
test_conf_d(void **state)
{
	_cleanup_free_ char *main_ = test_path("tokenbroker.conf"), *dir = test_path("conf.d"),
			    *b = NULL, *a = NULL, *msg1 = NULL, *msg2 = NULL;
	struct loaded l;

	write_file(main_, 0600, "[daemon]\nmax_clients = 5\n" CRED_OK);
	load_file(&l, main_); /* no conf.d: fine */
	assert_int_equal(l.r, 0);
	loaded_clear(&l);

	assert_int_equal(mkdir(dir, 0755), 0);
	b = xasprintf("%s/20-b.conf", dir);
	a = xasprintf("%s/10-a.conf", dir);
	write_file(b, 0600, "[credential \"b\"]\ntoken_url = https://b.example.com/t\n"
			    "auth_method = none\n");
	write_file(a, 0600, "[credential \"a\"]\ntoken_url = https://a.example.com/t\n"
			    "auth_method = none\n"
			    "[daemon]\nlog_level = debug\n");
	FREE(msg1);
	msg1 = xasprintf("%s/.hidden.conf", dir);
	write_file(msg1, 0600, "junk\n");
	FREE(msg1);
	msg1 = xasprintf("%s/notes.txt", dir);
	write_file(msg1, 0600, "junk\n");
	FREE(msg1);
	msg1 = NULL;

	load_file(&l, main_);
	if (l.r != 0)
		print_list("error", &l.errs);
	assert_int_equal(l.r, 0);
	assert_int_equal(l.conf->ncreds, 3);
	assert_string_equal(l.conf->creds[0]->name, "api");
	assert_string_equal(l.conf->creds[1]->name, "a");
	assert_int_equal(l.conf->nfiles, 3);
	assert_string_equal(l.conf->files[1], a); /* conf.d in name order */
	assert_string_equal(l.conf->files[2], b);
	assert_string_equal(l.conf->creds[2]->name, "b");
	assert_int_equal(l.conf->daemon.log_level, LOG_DEBUG);
	assert_int_equal(l.conf->daemon.max_clients, 5);
	loaded_clear(&l);

	/* The same credential or [daemon] key again, in another file. */
	write_file(b, 0600, "[credential \"api\"]\ntoken_url = https://b.example.com/t\n"
			    "[daemon]\nmax_clients = 6\n");
	load_file(&l, main_);
	assert_int_equal(l.r, -EINVAL);
	msg1 = xasprintf("%s:1: credential \"api\": already defined at %s:3", b, main_);
	msg2 = xasprintf("%s:4: max_clients: already set at %s:2", b, main_);
	assert_msgs(&l.errs, msg1, msg2, NULL);
	loaded_clear(&l);

	/* Keys before a section in a conf.d file. */
	write_file(b, 0600, "timeout = 5s\n");
	load_file(&l, main_);
	FREE(msg1);
	msg1 = xasprintf("%s:1: timeout: not in a section (start with [daemon], [credential "
			 "\"NAME\"] or [proxy \"NAME\"])",
			 b);
	assert_msgs(&l.errs, msg1, NULL);
	loaded_clear(&l);
}

static void
test_file_errors(void **state)
{
	static const char nul[] = "[daemon]\nlog_level = debug\0 junk\n";
	_cleanup_free_ char *path = test_path("nope.conf"), *msg = NULL;
	struct loaded l;
	int fd;

	load_file(&l, path);
	assert_int_equal(l.r, -EINVAL);
	assert_null(l.conf);
	msg = xasprintf("%s: cannot open: No such file or directory", path);
	assert_msgs(&l.errs, msg, NULL);
	loaded_clear(&l);

	load_file(&l, test_dir);
	FREE(msg);
	msg = xasprintf("%s: not a regular file", test_dir);
	assert_msgs(&l.errs, msg, NULL);
	loaded_clear(&l);

	/* A NUL byte would make libinih cut the line short. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, nul, sizeof(nul) - 1), (ssize_t)sizeof(nul) - 1);
	close(fd);
	load_file(&l, path);
	FREE(msg);
	msg = xasprintf("%s:2: line contains a NUL byte", path);
	assert_msgs(&l.errs, msg, NULL);
	loaded_clear(&l);
}

/* No secret from the file ever shows up in a message. */
static void
test_no_secret_in_messages(void **state)
{
	struct loaded l;

	load_text(&l, "[credential \"api\"]\n"
		      "token_url = https://idp.example.com/token\n"
		      "client_id = app\n"
		      "client_secret = Sup3rSecretValue\n"
		      "client_secret = Sup3rSecretValue\n"
		      "client_secret_file = /nonexistent\n"
		      "passwd = Sup3rSecretValue\n"
		      "password = Sup3rSecretValue\n"
		      "password = Sup3rSecretValue\n");
	assert_true(l.errs.n >= 4);
	for (size_t i = 0; i < l.errs.n; i++)
		assert_null(strstr(l.errs.v[i], "Sup3rSecretValue"));
	loaded_clear(&l);
}

static void
test_ids_allow(void **state)
{
	uint32_t uids[] = { 1000, 1001 }, gids_[] = { 50 };
	struct conf_ids any = { true, NULL, 0 }, none = { false, NULL, 0 };
	struct conf_ids users = { false, uids, 2 }, groups = { false, gids_, 1 };
	gid_t g50[] = { 100, 50 }, g100[] = { 100 };

	/* root always */
	assert_true(conf_ids_allow(&none, &none, 0, NULL, 0));
	/* nothing given: everyone */
	assert_true(conf_ids_allow(&any, &any, 1234, g100, 1));
	/* both empty: root only */
	assert_false(conf_ids_allow(&none, &none, 1000, g50, 2));
	/* only users given */
	assert_true(conf_ids_allow(&users, &any, 1001, g100, 1));
	assert_false(conf_ids_allow(&users, &any, 1002, g50, 2));
	/* only groups given: primary or supplementary */
	assert_true(conf_ids_allow(&any, &groups, 7, g50, 2));
	assert_false(conf_ids_allow(&any, &groups, 1000, g100, 1));
	/* both: either matches */
	assert_true(conf_ids_allow(&users, &groups, 1000, g100, 1));
	assert_true(conf_ids_allow(&users, &groups, 9, g50, 2));
	assert_false(conf_ids_allow(&users, &groups, 9, g100, 1));
	assert_false(conf_ids_allow(&users, &groups, 9, NULL, 0));
}

static void
test_auth_method_name(void **state)
{
	assert_string_equal(conf_auth_method_name(AUTH_CLIENT_SECRET_BASIC), "client_secret_basic");
	assert_string_equal(conf_auth_method_name(AUTH_CLIENT_SECRET_POST), "client_secret_post");
	assert_string_equal(conf_auth_method_name(AUTH_BASIC), "basic");
	assert_string_equal(conf_auth_method_name(AUTH_NONE), "none");
	assert_string_equal(conf_auth_method_name(AUTH_PRIVATE_KEY_JWT), "private_key_jwt");
	assert_string_equal(conf_auth_method_name(AUTH_CLIENT_ASSERTION), "client_assertion");
	assert_string_equal(conf_auth_method_name(AUTH_TLS_CLIENT_AUTH), "tls_client_auth");
}

/* A new private key of the given type, as PEM in path (mode 0600). */
static void
write_key(const char *path, const char *type, const char *param)
{
	EVP_PKEY *key = strcmp(type, "RSA") == 0 ?
				EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
				EVP_PKEY_Q_keygen(NULL, NULL, type, param);
	FILE *fp;

	assert_non_null(key);
	fp = fopen(path, "we");
	assert_non_null(fp);
	assert_int_equal(fchmod(fileno(fp), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(key);
}

#define CRED_JWT                                      \
	"[credential \"api\"]\n"                      \
	"token_url = https://idp.example.com/token\n" \
	"client_id = app\n"                           \
	"auth_method = private_key_jwt\n"

static void
test_private_key_jwt(void **state)
{
	_cleanup_free_ char *rsa = test_path("rsa.pem"), *ec = test_path("ec.pem");
	_cleanup_free_ char *text = NULL, *msg = NULL;
	const struct cred_conf *cc;
	struct loaded l, l2;

	write_key(rsa, "RSA", NULL);
	write_key(ec, "EC", "P-256");

	text = xasprintf(CRED_JWT "client_key = %s\n", rsa);
	assert_loads(&l, text);
	cc = l.conf->creds[0];
	assert_non_null(cc->assertion_key);
	assert_int_equal(cc->assertion_alg, ASSERTION_ALG_RS256);
	assert_int_equal(cc->assertion_lifetime_ms, 60 * 1000);
	loaded_clear(&l);
	FREE(text);

	text = xasprintf(CRED_JWT "client_key = %s\nassertion_alg = PS256\nassertion_kid = k1\n"
				  "assertion_audience = https://idp.example.com\n"
				  "assertion_lifetime = 5m\n",
			 rsa);
	assert_loads(&l, text);
	cc = l.conf->creds[0];
	assert_int_equal(cc->assertion_alg, ASSERTION_ALG_PS256);
	assert_string_equal(cc->assertion_kid, "k1");
	assert_string_equal(cc->assertion_audience, "https://idp.example.com");
	assert_int_equal(cc->assertion_lifetime_ms, 5 * 60 * 1000);
	loaded_clear(&l);
	FREE(text);

	text = xasprintf(CRED_JWT "client_key = %s\n", ec);
	assert_loads(&l, text);
	assert_int_equal(l.conf->creds[0]->assertion_alg, ASSERTION_ALG_ES256);
	FREE(text);

	/* Another key in the same file is another request: a reload fetches anew. */
	write_key(ec, "EC", "P-256");
	text = xasprintf(CRED_JWT "client_key = %s\n", ec);
	assert_loads(&l2, text);
	assert_string_not_equal(l.conf->creds[0]->digest, l2.conf->creds[0]->digest);
	loaded_clear(&l2);
	FREE(text);
	text = xasprintf(CRED_JWT "client_key = %s\nassertion_lifetime = 2m\n", ec);
	assert_loads(&l2, text);
	assert_string_not_equal(l.conf->creds[0]->digest, l2.conf->creds[0]->digest);
	loaded_clear(&l2);
	loaded_clear(&l);
	FREE(text);

	/* The algorithm must suit the key. */
	text = xasprintf(CRED_JWT "assertion_alg = ES256\nclient_key = %s\n", rsa);
	assert_one_error(text, "t.conf:5: assertion_alg: ES256 needs an EC P-256 key; client_key "
			       "is an RSA key (use RS256 or PS256)");
	FREE(text);
	text = xasprintf(CRED_JWT "client_key = %s\nassertion_alg = RS256\n", ec);
	assert_one_error(text, "t.conf:6: assertion_alg: RS256 needs an RSA key; client_key is an "
			       "EC P-256 key (use ES256)");
	FREE(text);
	assert_one_error(CRED_OK "assertion_alg = HS256\n",
			 "t.conf:5: assertion_alg: unknown value \"HS256\" (use auto, RS256, "
			 "PS256, ES256)");
	text = xasprintf(CRED_JWT "client_key = %s\nassertion_alg = HS256\n", rsa);
	assert_one_error(text, "t.conf:6: assertion_alg: unknown value \"HS256\" (use auto, "
			       "RS256, PS256, ES256)");
	FREE(text);

	/* A key others can read is refused, at its line. */
	assert_int_equal(chmod(rsa, 0640), 0);
	text = xasprintf(CRED_JWT "client_key = %s\n", rsa);
	msg = xasprintf("t.conf:5: client_key: %s is readable by group or others (mode 0640); "
			"chmod 600 it",
			rsa);
	assert_one_error(text, msg);
	FREE(text);
	FREE(msg);

	/* Not a key. */
	write_file(rsa, 0600, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	text = xasprintf(CRED_JWT "client_key = %s\n", rsa);
	msg = xasprintf("t.conf:5: client_key: not a PEM private key (RSA or EC P-256, not "
			"encrypted) in %s",
			rsa);
	assert_one_error(text, msg);
	FREE(text);
	FREE(msg);

	/* What it needs. */
	assert_one_error(CRED_JWT, "t.conf:1: client_key: required by auth_method private_key_jwt");
	text = xasprintf("[credential \"api\"]\ntoken_url = https://idp.example.com/token\n"
			 "auth_method = private_key_jwt\nclient_key = %s\n",
			 ec);
	assert_one_error(text, "t.conf:1: client_id: required by auth_method private_key_jwt");
	FREE(text);
	text = xasprintf(CRED_JWT "client_key = %s\nassertion_kid = x5t\n", ec);
	assert_one_error(text, "t.conf:6: assertion_kid: x5t needs client_cert (the certificate "
			       "of client_key)");
	FREE(text);

	/* What goes into the assertion's JSON must be UTF-8 text. */
	text = xasprintf("[credential \"api\"]\ntoken_url = https://idp.example.com/token\n"
			 "client_id = app\xff\nauth_method = private_key_jwt\nclient_key = %s\n"
			 "assertion_audience = nt\x90-1\nassertion_kid = k\xc3\n",
			 ec);
	load_text(&l, text);
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs,
		    "t.conf:3: client_id: not UTF-8 text, which the client assertion (JSON) needs",
		    "t.conf:6: assertion_audience: not UTF-8 text, which the client assertion "
		    "(JSON) needs",
		    "t.conf:7: assertion_kid: not UTF-8 text, which the client assertion (JSON) "
		    "needs",
		    NULL);
	loaded_clear(&l);
	FREE(text);

	/* The assertion keys are ignored, with a warning, by other methods. */
	load_text(&l, CRED_OK "assertion_kid = k1\nassertion_lifetime = 30s\n");
	assert_int_equal(l.r, 0);
	assert_msgs(&l.warns,
		    "t.conf:5: assertion_kid: only for auth_method private_key_jwt, not "
		    "client_secret_basic; ignored",
		    "t.conf:6: assertion_lifetime: only for auth_method private_key_jwt, not "
		    "client_secret_basic; ignored",
		    NULL);
	loaded_clear(&l);

	/* assertion_lifetime: 6s (iat is 5s in the past) to 1h. */
	assert_one_error(CRED_OK "assertion_lifetime = 2h\n",
			 "t.conf:5: assertion_lifetime: \"2h\" is longer than 1h");
	assert_one_error(CRED_OK "assertion_lifetime = 0\n",
			 "t.conf:5: assertion_lifetime: must be at least 6s");
	assert_one_error(CRED_OK "assertion_lifetime = 5999ms\n",
			 "t.conf:5: assertion_lifetime: must be at least 6s");
	load_text(&l, CRED_OK "assertion_lifetime = 6s\n");
	assert_int_equal(l.r, 0);
	loaded_clear(&l);
}

/*
 * body_format json: every value known at load must be UTF-8 text; the
 * message names the key (for a secret, never its value).  A form takes
 * any bytes.
 */
static void
test_json_body_utf8(void **state)
{
	struct loaded l;
	static const char text[] = "[credential \"api\"]\n"
				   "token_url = https://idp.example.com/token\n"
				   "client_id = app\xff\n"
				   "client_secret = s3cr\xe9t\n"
				   "body_format = json\n"
				   "scope = read \xc3\n"
				   "param.tenant = t\x90\n";

	load_text(&l, text);
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs,
		    "t.conf:3: client_id: not UTF-8 text, which body_format = json needs (or set "
		    "body_format = form)",
		    "t.conf:4: client_secret: not UTF-8 text, which body_format = json needs (or "
		    "set body_format = form)",
		    "t.conf:6: scope: not UTF-8 text, which body_format = json needs (or set "
		    "body_format = form)",
		    "t.conf:7: param.tenant: not UTF-8 text, which body_format = json needs (or set "
		    "body_format = form)",
		    NULL);
	loaded_clear(&l);

	/* The same in a form: loaded. */
	{
		char *form = strdup(text);
		char *p = strstr(form, "body_format = json");

		memcpy(p + strlen("body_format = "), "form", 4);
		load_text(&l, form);
		assert_int_equal(l.r, 0);
		loaded_clear(&l);
		free(form);
	}
}

static void
test_client_assertion(void **state)
{
	_cleanup_free_ char *file = test_path("sa-token"), *text = NULL, *msg = NULL;
	_cleanup_free_ char *cert = test_path("cert.pem"), *key = test_path("key.pem");
	struct loaded l;

	write_file(file, 0600, "eyJ.x.y\n");
	text = xasprintf("[credential \"k8s\"]\ntoken_url = https://idp.example.com/token\n"
			 "auth_method = client_assertion\nclient_assertion_file = %s\n",
			 file);
	assert_loads(&l, text);
	assert_string_equal(l.conf->creds[0]->client_assertion_file, file);
	assert_null(l.conf->creds[0]->assertion_key);
	loaded_clear(&l);

	/* It must exist at load (it is read at every request). */
	unlink(file);
	msg = xasprintf("t.conf:4: client_assertion_file: cannot open %s: No such file or "
			"directory",
			file);
	load_text(&l, text);
	assert_int_equal(l.r, -EINVAL);
	assert_true(l.errs.n >= 1);
	assert_int_equal(strncmp(l.errs.v[0], msg, strlen(msg)), 0);
	loaded_clear(&l);
	FREE(text);

	assert_one_error("[credential \"k8s\"]\ntoken_url = https://idp.example.com/token\n"
			 "auth_method = client_assertion\n",
			 "t.conf:1: client_assertion_file: required by auth_method "
			 "client_assertion");

	/* tls_client_auth: client_id, client_cert and client_key. */
	load_text(&l, "[credential \"m\"]\ntoken_url = https://idp.example.com/token\n"
		      "auth_method = tls_client_auth\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:1: client_id: required by auth_method tls_client_auth",
		    "t.conf:1: client_cert: required by auth_method tls_client_auth",
		    "t.conf:1: client_key: required by auth_method tls_client_auth", NULL);
	loaded_clear(&l);
	write_file(cert, 0644, "cert");
	write_file(key, 0600, "key");
	text = xasprintf("[credential \"m\"]\ntoken_url = https://idp.example.com/token\n"
			 "auth_method = tls_client_auth\nclient_id = app\nclient_cert = %s\n"
			 "client_key = %s\n",
			 cert, key);
	assert_loads(&l, text);
	assert_int_equal(l.conf->creds[0]->auth_method, AUTH_TLS_CLIENT_AUTH);
	loaded_clear(&l);
}

/*
 * A reload shares with the running configuration each credential whose
 * settings are all as they were, and builds anew the ones that changed in
 * anything: how the token is asked for, who may have it, its sink and
 * where that is set.
 */
static void
test_reload_shares(void **state)
{
	_cleanup_free_ char *path = test_path("shared.conf");
	struct conf *running = NULL, *next = NULL;
	struct conf_errors errs = { 0 };
	static const char base[] = "[credential \"same\"]\ntoken_url = https://a.example.com/t\n"
				   "auth_method = none\n\n";
	static const char *const changed[] = {
		"scope = x\n",
		"allow_users = 0\n",
		"lazy = yes\n",
		"allow_scopes = a b\n",
		"max_variants = 3\n",
		"sink = ", /* and the path below */
		"\nsink = ",   /* the same, a line further down */
		"persist = yes\n",
	};
	_cleanup_free_ char *sink = xasprintf("%s/sink\n", test_dir);
	char *text;

	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
		const char *at = strstr(changed[i], "sink") != NULL ? sink : "";

		text = xasprintf("%s[credential \"other\"]\ntoken_url = https://b.example.com/t\n"
				 "auth_method = none\n%s%s",
				 base, i == 6 ? changed[5] : "", i == 6 ? sink : "");
		write_file(path, 0600, text);
		free(text);
		assert_int_equal(conf_load(path, &running, &errs, NULL), 0);
		assert_int_equal(running->creds[0]->refs, 1);

		text = xasprintf("%s[credential \"other\"]\ntoken_url = https://b.example.com/t\n"
				 "auth_method = none\n%s%s",
				 base, changed[i], at);
		write_file(path, 0600, text);
		free(text);
		if (conf_reload(path, running, &next, &errs, NULL) != 0) {
			print_list("error", &errs);
			fail_msg("%s did not load", changed[i]);
		}
		/* "same" is running's; "other" was built anew. */
		assert_ptr_equal(next->creds[0], running->creds[0]);
		assert_int_equal(next->creds[0]->refs, 2);
		assert_ptr_not_equal(next->creds[1], running->creds[1]);
		assert_ptr_equal(conf_find(next, "same"), running->creds[0]);
		/* The running one goes first, as at a reload. */
		running = conf_free(running);
		assert_int_equal(next->creds[0]->refs, 1);
		assert_string_equal(next->creds[0]->token_url, "https://a.example.com/t");
		next = conf_free(next);
	}

	/* Nothing changed: both shared; a failed reload drops its holds. */
	text = xasprintf("%s[credential \"other\"]\ntoken_url = https://b.example.com/t\n"
			 "auth_method = none\n", base);
	write_file(path, 0600, text);
	assert_int_equal(conf_load(path, &running, &errs, NULL), 0);
	assert_int_equal(conf_reload(path, running, &next, &errs, NULL), 0);
	assert_ptr_equal(next->creds[0], running->creds[0]);
	assert_ptr_equal(next->creds[1], running->creds[1]);
	next = conf_free(next);
	free(text);
	text = xasprintf("%s[credential \"bad\"]\ntoken_url = ftp://b.example.com/t\n", base);
	write_file(path, 0600, text);
	free(text);
	assert_int_equal(conf_reload(path, running, &next, &errs, NULL), -EINVAL);
	assert_null(next);
	assert_int_equal(running->creds[0]->refs, 1);
	assert_string_equal(running->creds[0]->name, "same");
	conf_errors_clear(&errs);
	conf_free(running);
}

/*
 * issuer instead of token_url: taken alone (the token endpoint comes from
 * its discovery document), in the digest and the persisted fingerprint;
 * beside token_url it is not used, and said so; not for a profile that
 * builds its URL; a URL as token_url's, with no query.
 */
static void
test_issuer(void **state)
{
	struct loaded l, m;
	char fp1[65], fp2[65];

	assert_loads(&l, "[credential \"d\"]\nissuer = https://login.example.com/realms/prod\n"
			 "client_id = a\nclient_secret = b\n");
	assert_string_equal(l.conf->creds[0]->issuer, "https://login.example.com/realms/prod");
	assert_null(l.conf->creds[0]->token_url);
	assert_loads(&m, "[credential \"d\"]\nissuer = https://login.example.com/realms/test\n"
			 "client_id = a\nclient_secret = b\n");
	assert_string_not_equal(l.conf->creds[0]->digest, m.conf->creds[0]->digest);
	conf_token_fingerprint(l.conf->creds[0], fp1);
	conf_token_fingerprint(m.conf->creds[0], fp2);
	assert_string_not_equal(fp1, fp2);
	loaded_clear(&l);
	loaded_clear(&m);

	load_text(&l, "[credential \"d\"]\nissuer = https://a.example\n"
		      "token_url = https://a.example/t\nclient_id = a\nclient_secret = b\n");
	assert_int_equal(l.r, 0);
	assert_msgs(&l.warns, "t.conf:2: issuer: not used, token_url is given", NULL);
	loaded_clear(&l);

	load_text(&l, "[credential \"x\"]\nprofile = xibo\nbase_url = https://cms.example\n"
		      "issuer = https://a.example\nclient_id = a\nclient_secret = b\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs, "t.conf:4: issuer: profile xibo builds its token_url from base_url; "
			     "issuer is for profile oauth2", NULL);
	loaded_clear(&l);

	load_text(&l, "[credential \"h\"]\nissuer = http://login.example.com\n"
		      "client_id = a\nclient_secret = b\n"
		      "[credential \"q\"]\nissuer = https://login.example.com/?tenant=1\n"
		      "client_id = a\nclient_secret = b\n");
	assert_int_equal(l.r, -EINVAL);
	assert_msgs(&l.errs,
		    "t.conf:2: issuer: https:// is required unless the host is loopback",
		    "t.conf:6: issuer: an issuer has no query or fragment (RFC 8414 section 2)",
		    NULL);
	loaded_clear(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_daemon_values),
		cmocka_unit_test(test_daemon_errors),
		cmocka_unit_test(test_errors_collected),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_messages_sanitized),
		cmocka_unit_test(test_key_line_split),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_audience_resource),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_credential_values),
		cmocka_unit_test(test_credential_errors),
		cmocka_unit_test(test_token_url),
		cmocka_unit_test(test_auth_requirements),
		cmocka_unit_test(test_pairs_and_paths),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_profiles_load),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_digest),
		cmocka_unit_test_setup_teardown(test_sink_values, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_sink_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_sink_shared, setup_dir, teardown_dir),
		cmocka_unit_test(test_persist_profile),
		cmocka_unit_test_setup_teardown(test_secret_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_tls_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_inline_secret_mode, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_conf_d, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_errors, setup_dir, teardown_dir),
		cmocka_unit_test(test_no_secret_in_messages),
		cmocka_unit_test(test_ids_allow),
		cmocka_unit_test(test_auth_method_name),
		cmocka_unit_test_setup_teardown(test_private_key_jwt, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_client_assertion, setup_dir, teardown_dir),
		cmocka_unit_test(test_json_body_utf8),
		cmocka_unit_test_setup_teardown(test_reload_shares, setup_dir, teardown_dir),
		cmocka_unit_test(test_issuer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
