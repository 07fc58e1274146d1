/*
 * The [proxy "NAME"] section as a user meets it: the defaults, every value
 * each key takes and what becomes of it, and the exact FILE:LINE message
 * for every value refused; the checks against the rest of the
 * configuration (the credential, the listeners), and the listener digest a
 * reload goes by.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "conf.h"
#include "xmalloc.h"

/* A credential (lines 1-3) and the smallest proxy of it (lines 4-7). */
#define CRED                                          \
	"[credential \"billing\"]\n"                  \
	"token_url = https://idp.example.com/token\n" \
	"auth_method = none\n"
#define PROXY                                         \
	"[proxy \"billing\"]\n"                       \
	"listen = 127.0.0.1:8081\n"                   \
	"credential = billing\n"                      \
	"upstream = https://billing.example.com/api\n"
/* Keys added after BASE stand on line 8. */
#define BASE CRED PROXY
/* The same on a Unix socket. */
#define UNIX_BASE                                     \
	CRED "[proxy \"billing\"]\n"                   \
	"listen = /run/billing-proxy.sock\n"          \
	"credential = billing\n"                      \
	"upstream = https://billing.example.com/api\n"

#define LOOPBACK_ONLY                                                                     \
	"only a loopback address (127.0.0.1:PORT, [::1]:PORT, localhost:PORT) or the "    \
	"absolute path of a Unix socket is allowed, since anyone who can reach the proxy " \
	"uses its token"

static char tmp_dir[64];

/* What loading a text gave: the conf, or the errors; warnings one a line. */
struct outcome {
	int r;
	struct conf *conf;
	char *errors;
	char *warnings;
};

static char *
lines_of(const struct conf_errors *e)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < e->n; i++) {
		char *n = xasprintf("%s%s%s", s, i > 0 ? "\n" : "", e->v[i]);

		free(s);
		s = n;
	}
	return s;
}

static void
outcome_load(struct outcome *o, const char *text)
{
	struct conf_errors errs = { NULL, 0 }, warns = { NULL, 0 };

	memset(o, 0, sizeof(*o));
	o->r = conf_load_string("t.conf", text, &o->conf, &errs, &warns);
	o->errors = lines_of(&errs);
	o->warnings = lines_of(&warns);
	conf_errors_clear(&errs);
	conf_errors_clear(&warns);
}

static void
outcome_clear(struct outcome *o)
{
	conf_free(o->conf);
	free(o->errors);
	free(o->warnings);
	memset(o, 0, sizeof(*o));
}

/* text loads without errors or warnings; the caller frees the conf. */
static struct conf *
load_clean(const char *text)
{
	struct outcome o;
	struct conf *conf;

	outcome_load(&o, text);
	if (o.r != 0 || *o.errors != '\0' || *o.warnings != '\0')
		fail_msg("did not load cleanly:\n%s\n%s", o.errors, o.warnings);
	conf = TAKE_PTR(o.conf);
	outcome_clear(&o);
	return conf;
}

/* text is refused with exactly these errors (one a line). */
static void
refused(const char *text, const char *errors)
{
	struct outcome o;

	outcome_load(&o, text);
	assert_int_equal(o.r, -EINVAL);
	assert_null(o.conf);
	assert_string_equal(o.errors, errors);
	outcome_clear(&o);
}

/* BASE with extra keys is refused with one error, at line 8. */
static void
refused_key(const char *extra, const char *error)
{
	_cleanup_free_ char *text = xasprintf(BASE "%s", extra);
	_cleanup_free_ char *want = xasprintf("t.conf:8: %s", error);

	refused(text, want);
}

/* The one proxy of text, which loads cleanly; *ret_conf is to free. */
static const struct proxy_conf *
the_proxy(const char *text, struct conf **ret_conf)
{
	*ret_conf = load_clean(text);
	assert_int_equal((*ret_conf)->nproxies, 1);
	return (*ret_conf)->proxies[0];
}

static void
test_defaults(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc = the_proxy(BASE, &conf);
	struct http_opts ho;

	assert_ptr_equal(conf_find_proxy(conf, "billing"), pc);
	assert_null(conf_find_proxy(conf, "other"));
	assert_string_equal(pc->name, "billing");
	assert_string_equal(pc->file, "t.conf");
	assert_int_equal(pc->line, 4);
	assert_string_equal(pc->listen, "127.0.0.1:8081");
	assert_false(pc->listen_unix);
	assert_string_equal(pc->listen_host, "127.0.0.1");
	assert_int_equal(pc->listen_port, 8081);
	assert_string_equal(pc->credential, "billing");
	assert_string_equal(pc->upstream, "https://billing.example.com/api");
	assert_string_equal(pc->upstream_host, "billing.example.com");
	assert_string_equal(pc->header, "Authorization");
	assert_null(pc->header_prefix);
	assert_int_equal(pc->inject, PROXY_INJECT_REPLACE);
	assert_int_equal(pc->nretry_statuses, 1);
	assert_int_equal(pc->retry_statuses[0], 401);
	assert_int_equal(pc->retry_body_max, 1024 * 1024);
	assert_int_equal(pc->max_request_body, 16 * 1024 * 1024);
	assert_int_equal(pc->timeout_ms, 30000);
	assert_int_equal(pc->connect_timeout_ms, 5000);
	assert_null(pc->ca_file);
	assert_null(pc->client_cert);
	assert_null(pc->client_key);
	assert_true(pc->tls_verify);
	assert_true(pc->allow_users.any);
	assert_true(pc->allow_groups.any);
	assert_null(pc->allow_units);
	assert_int_equal(pc->socket_mode, 0660);
	assert_false(pc->socket_group_set);
	assert_int_equal(pc->max_clients, 1024);
	assert_int_equal(strlen(pc->listen_digest), 64);
	assert_int_equal(strspn(pc->listen_digest, "0123456789abcdef"), 64);

	conf_proxy_http_opts(pc, &ho);
	assert_int_equal(ho.timeout_ms, 30000);
	assert_int_equal(ho.connect_timeout_ms, 5000);
	assert_null(ho.proxy);
	assert_null(ho.ca_file);
	assert_null(ho.client_cert);
	assert_null(ho.client_key);
	assert_true(ho.tls_verify);
	conf_free(conf);

	/* No [proxy]: none. */
	conf = load_clean(CRED);
	assert_int_equal(conf->nproxies, 0);
	assert_null(conf_find_proxy(conf, "billing"));
	conf_free(conf);
}

static void
test_listen_accepted(void **state)
{
	static const struct {
		const char *v;
		bool unix_;
		const char *host;
		unsigned port;
	} ok[] = {
		{ "127.0.0.1:1", false, "127.0.0.1", 1 },
		{ "127.1.2.3:65535", false, "127.1.2.3", 65535 },
		{ "[::1]:8081", false, "::1", 8081 },
		{ "[0:0:0:0:0:0:0:1]:8081", false, "::1", 8081 },
		{ "localhost:8081", false, "127.0.0.1", 8081 },
		{ "LocalHost:80", false, "127.0.0.1", 80 },
		{ "/run/tokenbroker/billing.sock", true, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		_cleanup_free_ char *text = xasprintf(CRED "[proxy \"p\"]\nlisten = %s\n"
							   "credential = billing\n"
							   "upstream = https://x.example.com\n",
						      ok[i].v);
		struct conf *conf;
		const struct proxy_conf *pc = the_proxy(text, &conf);

		assert_string_equal(pc->listen, ok[i].v);
		assert_int_equal(pc->listen_unix, ok[i].unix_);
		if (ok[i].host != NULL)
			assert_string_equal(pc->listen_host, ok[i].host);
		else
			assert_null(pc->listen_host);
		assert_int_equal(pc->listen_port, ok[i].port);
		conf_free(conf);
	}
}

static void
test_listen_refused(void **state)
{
	static const struct {
		const char *v;
		const char *why;
	} bad[] = {
		{ "0.0.0.0:8081", LOOPBACK_ONLY },
		{ "192.168.1.5:8081", LOOPBACK_ONLY },
		{ "10.0.0.1:443", LOOPBACK_ONLY },
		{ "[::]:8081", LOOPBACK_ONLY },
		{ "[::ffff:127.0.0.1]:8081", LOOPBACK_ONLY },
		{ "example.com:8081", LOOPBACK_ONLY },
		{ "localhost.example.com:8081", LOOPBACK_ONLY },
		{ ":8081", LOOPBACK_ONLY },
		{ "8081", LOOPBACK_ONLY },
		{ "run/billing.sock", LOOPBACK_ONLY },
		{ "127.0.0.1", "a port is required (e.g. 127.0.0.1:8081)" },
		{ "localhost", "a port is required (e.g. 127.0.0.1:8081)" },
		{ "[::1]", "a port is required (e.g. 127.0.0.1:8081)" },
		{ "127.0.0.1:0", "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:65536", "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:http", "the port must be a number from 1 to 65535" },
		{ "127.0.0.1:", "the port must be a number from 1 to 65535" },
		{ "[::1]8081", "the port must be a number from 1 to 65535" },
		{ "::1:8081", "write an IPv6 address in brackets, as [::1]:PORT" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_free_ char *text = xasprintf(CRED "[proxy \"p\"]\ncredential = billing\n"
							   "upstream = https://x.example.com\n"
							   "listen = %s\n",
						      bad[i].v);
		_cleanup_free_ char *want =
			xasprintf("t.conf:7: listen = %s: %s", bad[i].v, bad[i].why);

		refused(text, want);
	}
	/* Not the empty value either: that would be every address. */
	refused(CRED "[proxy \"p\"]\ncredential = billing\nupstream = https://x.example.com\n"
		     "listen =\n",
		"t.conf:7: listen = : " LOOPBACK_ONLY);
}

static void
test_listen_unix_path(void **state)
{
	_cleanup_free_ char *text = xasprintf(CRED "[proxy \"p\"]\ncredential = billing\n"
						   "upstream = https://x.example.com\n"
						   "listen = /%0120d\n",
					      0);
	_cleanup_free_ char *want =
		xasprintf("t.conf:7: listen = /%0120d: path is too long for a unix socket (at "
			  "most 107 bytes)",
			  0);

	refused(text, want);
}

static void
test_required(void **state)
{
	refused(CRED "[proxy \"p\"]\n",
		"t.conf:4: proxy \"p\": listen is required\n"
		"t.conf:4: proxy \"p\": credential is required\n"
		"t.conf:4: proxy \"p\": upstream is required");
	refused(CRED "[proxy \"p\"]\nlisten = 127.0.0.1:1\ncredential = billing\n",
		"t.conf:4: proxy \"p\": upstream is required");
	/* A key given but refused is told once, not also as missing. */
	refused(CRED "[proxy \"p\"]\nlisten = 0.0.0.0:1\ncredential = billing\n"
		     "upstream = https://x.example.com\n",
		"t.conf:5: listen = 0.0.0.0:1: " LOOPBACK_ONLY);
}

static void
test_credential(void **state)
{
	struct conf *conf;

	refused(CRED "[proxy \"p\"]\nlisten = 127.0.0.1:1\ncredential = nosuch\n"
		     "upstream = https://x.example.com\n",
		"t.conf:6: credential: no [credential \"nosuch\"] is defined");
	refused(CRED "[proxy \"p\"]\nlisten = 127.0.0.1:1\ncredential = bad name\n"
		     "upstream = https://x.example.com\n",
		"t.conf:6: credential: invalid name \"bad name\" (use 1 to 64 of A-Z a-z 0-9 . _ "
		"-)");
	/* A credential defined after the proxy will do. */
	conf = load_clean(PROXY CRED);
	assert_string_equal(conf->proxies[0]->credential, "billing");
	conf_free(conf);
}

static void
test_upstream(void **state)
{
	static const struct {
		const char *v, *upstream, *host;
	} ok[] = {
		{ "https://billing.example.com/api/", "https://billing.example.com/api",
		  "billing.example.com" },
		{ "https://billing.example.com/api//", "https://billing.example.com/api/",
		  "billing.example.com" },
		{ "https://billing.example.com", "https://billing.example.com",
		  "billing.example.com" },
		{ "http://127.0.0.1:9000/", "http://127.0.0.1:9000", "127.0.0.1" },
		{ "http://127.8.9.10/v1", "http://127.8.9.10/v1", "127.8.9.10" },
		{ "http://[::1]:8080/x", "http://[::1]:8080/x", "[::1]" },
		{ "http://localhost/x", "http://localhost/x", "localhost" },
		/* The scheme in lower case; the rest as given. */
		{ "htTPs://Billing.example.com/API", "https://Billing.example.com/API",
		  "Billing.example.com" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		_cleanup_free_ char *text =
			xasprintf(CRED "[proxy \"p\"]\nlisten = 127.0.0.1:1\ncredential = billing\n"
				       "upstream = %s\n",
				  ok[i].v);
		struct conf *conf;
		const struct proxy_conf *pc = the_proxy(text, &conf);

		assert_string_equal(pc->upstream, ok[i].upstream);
		assert_string_equal(pc->upstream_host, ok[i].host);
		conf_free(conf);
	}

#define UPSTREAM_REFUSED(v, why)                                                          \
	refused(CRED "[proxy \"p\"]\nlisten = 127.0.0.1:1\ncredential = billing\nupstream = " \
		v "\n", "t.conf:7: upstream: " why)
	UPSTREAM_REFUSED("http://billing.example.com/api",
			 "https:// is required unless the host is loopback");
	UPSTREAM_REFUSED("http://10.0.0.1/api", "https:// is required unless the host is loopback");
	UPSTREAM_REFUSED("ftp://billing.example.com/", "must be an http:// or https:// URL");
	UPSTREAM_REFUSED("billing.example.com/api", "must be an http:// or https:// URL");
	UPSTREAM_REFUSED("https:///api", "the URL has no host");
	UPSTREAM_REFUSED("https://billing.example.com/api?x=1",
			 "the URL must not have a query or a fragment (the client's path and "
			 "query are appended to it)");
	UPSTREAM_REFUSED("https://billing.example.com/api#top",
			 "the URL must not have a query or a fragment (the client's path and "
			 "query are appended to it)");
	UPSTREAM_REFUSED("https://u:pw@billing.example.com/api",
			 "user:password in the URL is not allowed");
	UPSTREAM_REFUSED("https://billing example", "invalid URL");
	UPSTREAM_REFUSED("https://billing(eu).example.com/api",
			 "not a URL libcurl can use: Bad hostname");
#undef UPSTREAM_REFUSED
}

static void
test_header(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;

	pc = the_proxy(BASE "header = X-Api-Key\n", &conf);
	assert_string_equal(pc->header, "X-Api-Key");
	conf_free(conf);

	refused_key("header = X Api\n", "header: \"X Api\" is not a valid header name");
	refused_key("header = X-Api:\n", "header: \"X-Api:\" is not a valid header name");
	refused_key("header = host\n",
		    "header: host is set or dropped by the proxy itself; use another header");
	refused_key("header = Connection\n", "header: Connection is set or dropped by the proxy "
					     "itself; use another header");
	refused_key("header = Proxy-Authorization\n",
		    "header: Proxy-Authorization is set or dropped by the proxy itself; use "
		    "another header");
}

static void
test_header_prefix(void **state)
{
	static const struct {
		const char *v, *prefix;
	} ok[] = {
		{ "", "" },
		{ "\"\"", "" },
		{ "Token", "Token" },
		{ "\"Token \"", "Token " },
		{ "Bearer x=", "Bearer x=" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		_cleanup_free_ char *text = xasprintf(BASE "header_prefix = %s\n", ok[i].v);
		struct conf *conf;
		const struct proxy_conf *pc = the_proxy(text, &conf);

		assert_non_null(pc->header_prefix);
		assert_string_equal(pc->header_prefix, ok[i].prefix);
		conf_free(conf);
	}
	refused_key("header_prefix = a\tb\n",
		    "header_prefix: must not contain control characters");
	refused_key("header_prefix = a\x1b[0m\n",
		    "header_prefix: must not contain control characters");
}

static void
test_inject(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;

	pc = the_proxy(BASE "inject = if-absent\n", &conf);
	assert_int_equal(pc->inject, PROXY_INJECT_IF_ABSENT);
	conf_free(conf);
	pc = the_proxy(BASE "inject = replace\n", &conf);
	assert_int_equal(pc->inject, PROXY_INJECT_REPLACE);
	conf_free(conf);
	refused_key("inject = always\n",
		    "inject: unknown value \"always\" (use replace, if-absent)");
}

static void
test_retry_statuses(void **state)
{
	static const struct {
		const char *v;
		size_t n;
		int want[4];
	} ok[] = {
		{ "401 403", 2, { 401, 403 } },
		{ "401,403, 503", 3, { 401, 403, 503 } },
		{ " 599 ,400 ", 2, { 599, 400 } },
		{ "401 401 403 401", 2, { 401, 403 } },
		{ "none", 0, { 0 } },
	};
	struct conf *conf;
	const struct proxy_conf *pc;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		_cleanup_free_ char *text = xasprintf(BASE "retry_statuses = %s\n", ok[i].v);

		pc = the_proxy(text, &conf);
		assert_int_equal(pc->nretry_statuses, ok[i].n);
		for (size_t j = 0; j < ok[i].n; j++)
			assert_int_equal(pc->retry_statuses[j], ok[i].want[j]);
		conf_free(conf);
	}

	/* As many as there is room for, and not one more. */
	pc = the_proxy(BASE "retry_statuses = 401 402 403 404 405 406 407 408 409 410 411 412 "
			    "413 414 415 416\n",
		       &conf);
	assert_int_equal(pc->nretry_statuses, PROXY_RETRY_STATUSES_MAX);
	assert_int_equal(pc->retry_statuses[15], 416);
	conf_free(conf);
	refused_key("retry_statuses = 401 402 403 404 405 406 407 408 409 410 411 412 413 414 "
		    "415 416 417\n",
		    "retry_statuses: at most 16 statuses");

	refused_key("retry_statuses = 399\n",
		    "retry_statuses: \"399\" is not an HTTP status from 400 to 599");
	refused_key("retry_statuses = 401 600\n",
		    "retry_statuses: \"600\" is not an HTTP status from 400 to 599");
	refused_key("retry_statuses = 4o1\n",
		    "retry_statuses: \"4o1\" is not an HTTP status from 400 to 599");
	refused_key("retry_statuses = 0401\n",
		    "retry_statuses: \"0401\" is not an HTTP status from 400 to 599");
	refused_key("retry_statuses = none 401\n",
		    "retry_statuses: \"none\" is not an HTTP status from 400 to 599");
	refused_key("retry_statuses =\n", "retry_statuses: must not be empty (use none)");
	refused_key("retry_statuses = ,\n", "retry_statuses: must not be empty (use none)");
}

static void
test_sizes(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;

	pc = the_proxy(BASE "retry_body_max = 0\nmax_request_body = 1g\n", &conf);
	assert_int_equal(pc->retry_body_max, 0);
	assert_int_equal(pc->max_request_body, 1024 * 1024 * 1024);
	conf_free(conf);
	pc = the_proxy(BASE "retry_body_max = 64k\nmax_request_body = 2M\n", &conf);
	assert_int_equal(pc->retry_body_max, 64 * 1024);
	assert_int_equal(pc->max_request_body, 2 * 1024 * 1024);
	conf_free(conf);
	/* A replay limit above the body limit is allowed: the body limit wins. */
	pc = the_proxy(BASE "retry_body_max = 8m\nmax_request_body = 1000\n", &conf);
	assert_int_equal(pc->retry_body_max, 8 * 1024 * 1024);
	assert_int_equal(pc->max_request_body, 1000);
	conf_free(conf);

	refused_key("max_request_body = 0\n", "max_request_body: must be greater than 0");
	refused_key("max_request_body = 2g\n",
		    "max_request_body: size \"2g\" is too large (at most 1g)");
	refused_key("retry_body_max = 1025m\n",
		    "retry_body_max: size \"1025m\" is too large (at most 1g)");
	refused_key("retry_body_max = 1.5m\n",
		    "retry_body_max: invalid size \"1.5m\" (use bytes, or k, m or g after a "
		    "number, e.g. 16m)");
	refused_key("max_request_body = 16MB\n",
		    "max_request_body: invalid size \"16MB\" (use bytes, or k, m or g after a "
		    "number, e.g. 16m)");
}

static void
test_timeouts(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;
	struct http_opts ho;

	pc = the_proxy(BASE "timeout = 2m\nconnect_timeout = 500ms\n", &conf);
	assert_int_equal(pc->timeout_ms, 120000);
	assert_int_equal(pc->connect_timeout_ms, 500);
	conf_proxy_http_opts(pc, &ho);
	assert_int_equal(ho.timeout_ms, 120000);
	assert_int_equal(ho.connect_timeout_ms, 500);
	conf_free(conf);

	refused_key("timeout = 0\n", "timeout: must be greater than 0");
	refused_key("connect_timeout = soon\n",
		    "connect_timeout: invalid duration \"soon\" (use 90, 90s, 15m, 1h)");
	refused_key("timeout = 31d\n", "timeout: duration \"31d\" is too large (at most 30d)");
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup_tmp(void **state)
{
	strcpy(tmp_dir, "/tmp/test_conf_proxy.XXXXXX");
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	return nftw(tmp_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A file name in tmp_dir holding a line, with mode; the caller frees the path. */
static char *
tmp_file(const char *name, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmp_dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs("PEM\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_tls(void **state)
{
	_cleanup_free_ char *ca = tmp_file("ca.pem", 0644), *cert = tmp_file("cert.pem", 0644),
			    *key = tmp_file("key.pem", 0600), *open_key = tmp_file("k2.pem", 0640);
	_cleanup_free_ char *text = NULL, *want = NULL;
	struct conf *conf;
	const struct proxy_conf *pc;
	struct http_opts ho;

	text = xasprintf(BASE "ca_file = %s\nclient_cert = %s\nclient_key = %s\ntls_verify = no\n",
			 ca, cert, key);
	pc = the_proxy(text, &conf);
	assert_string_equal(pc->ca_file, ca);
	assert_string_equal(pc->client_cert, cert);
	assert_string_equal(pc->client_key, key);
	assert_false(pc->tls_verify);
	conf_proxy_http_opts(pc, &ho);
	assert_string_equal(ho.ca_file, ca);
	assert_string_equal(ho.client_cert, cert);
	assert_string_equal(ho.client_key, key);
	assert_false(ho.tls_verify);
	assert_null(ho.proxy);
	conf_free(conf);

	/* Both or neither. */
	free(text);
	text = xasprintf(BASE "client_cert = %s\n", cert);
	refused(text, "t.conf:8: client_cert: client_key is required with it");
	free(text);
	text = xasprintf(BASE "client_key = %s\n", key);
	refused(text, "t.conf:8: client_key: client_cert is required with it");

	/* The key is private; the others need only be readable files. */
	free(text);
	text = xasprintf(BASE "client_cert = %s\nclient_key = %s\n", cert, open_key);
	want = xasprintf("t.conf:9: client_key: %s is readable by group or others (mode 0640); "
			 "chmod 600 it",
			 open_key);
	refused(text, want);
	free(text);
	free(want);
	text = xasprintf(BASE "ca_file = %s/missing.pem\n", tmp_dir);
	want = xasprintf("t.conf:8: ca_file: cannot open %s/missing.pem: No such file or "
			 "directory",
			 tmp_dir);
	refused(text, want);
	refused_key("ca_file = ca.pem\n", "ca_file: \"ca.pem\" is not an absolute path (or %d/NAME)");
	refused_key("tls_verify = maybe\n", "tls_verify: invalid boolean \"maybe\" (use yes or no)");
}

static void
test_allow_ids(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;

	pc = the_proxy(BASE "allow_users = root, daemon 4321\nallow_groups = adm\n", &conf);
	assert_false(pc->allow_users.any);
	assert_int_equal(pc->allow_users.n, 3);
	assert_int_equal(pc->allow_users.v[0], 0);
	assert_int_equal(pc->allow_users.v[1], 1);
	assert_int_equal(pc->allow_users.v[2], 4321);
	assert_false(pc->allow_groups.any);
	assert_int_equal(pc->allow_groups.n, 1);
	assert_int_equal(pc->allow_groups.v[0], 4);
	conf_free(conf);

	/* Given empty: nobody but root. */
	pc = the_proxy(BASE "allow_groups =\n", &conf);
	assert_true(pc->allow_users.any);
	assert_false(pc->allow_groups.any);
	assert_int_equal(pc->allow_groups.n, 0);
	conf_free(conf);

	refused_key("allow_users = nosuchuser\n", "allow_users: unknown user \"nosuchuser\"");
	refused_key("allow_groups = nosuchgroup\n", "allow_groups: unknown group \"nosuchgroup\"");
}

static void
test_allow_units(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;

	pc = the_proxy(UNIX_BASE "allow_units = nginx php-fpm.service, user@1000.service "
				 "session-2.scope system.slice nginx.service a:b\\x2dc\n",
		       &conf);
	assert_non_null(pc->allow_units);
	assert_string_equal(pc->allow_units[0], "nginx.service");
	assert_string_equal(pc->allow_units[1], "php-fpm.service");
	assert_string_equal(pc->allow_units[2], "user@1000.service");
	assert_string_equal(pc->allow_units[3], "session-2.scope");
	assert_string_equal(pc->allow_units[4], "system.slice");
	assert_string_equal(pc->allow_units[5], "a:b\\x2dc.service");
	assert_null(pc->allow_units[6]);
	conf_free(conf);

	/* Given empty: no unit will do (root still may). */
	pc = the_proxy(UNIX_BASE "allow_units =\n", &conf);
	assert_non_null(pc->allow_units);
	assert_null(pc->allow_units[0]);
	conf_free(conf);

	/* On TCP the caller's process is not known. */
	refused_key("allow_units = nginx\n",
		    "allow_units: only on a Unix socket listener (listen = /path): on TCP the "
		    "caller's uid is known, not its process; use allow_users");
	refused_key("allow_units = nginx.servce\n",
		    "allow_units: \"nginx.servce\" has no unit type (e.g. .service, .scope, "
		    ".slice)");
	/* A bad name after good ones. */
	refused_key("allow_units = nginx sshd, cron.servce\n",
		    "allow_units: \"cron.servce\" has no unit type (e.g. .service, .scope, "
		    ".slice)");
	refused_key("allow_units = getty@.service\n",
		    "allow_units: \"getty@.service\" is a template; name its instance (e.g. "
		    "getty@NAME.service)");
	refused_key("allow_units = getty@\n",
		    "allow_units: \"getty@\" is a template; name its instance (e.g. "
		    "getty@NAME.service)");
	refused_key("allow_units = a/b.service\n",
		    "allow_units: \"a/b.service\" is not a unit name (e.g. nginx.service)");
	refused_key("allow_units = @x.service\n",
		    "allow_units: \"@x.service\" is not a unit name (e.g. nginx.service)");
	refused_key("allow_units = a@b@c.service\n",
		    "allow_units: \"a@b@c.service\" is not a unit name (e.g. nginx.service)");
	refused_key("allow_units = .service\n",
		    "allow_units: \".service\" is not a unit name (e.g. nginx.service)");
}

static void
test_credential_allow_units(void **state)
{
	struct conf *conf;
	const struct cred_conf *cc;
	const char *units_cred = "[credential \"billing\"]\n"
				 "token_url = https://idp.example.com/token\n"
				 "auth_method = none\n"
				 "allow_units = nginx, php-fpm.service nginx.service\n";

	/* The credential's own list, normalised as the proxy's. */
	conf = load_clean(units_cred);
	cc = conf_find(conf, "billing");
	assert_non_null(cc->allow_units);
	assert_string_equal(cc->allow_units[0], "nginx.service");
	assert_string_equal(cc->allow_units[1], "php-fpm.service");
	assert_null(cc->allow_units[2]);
	conf_free(conf);

	/* A Unix listener can check it; a TCP one cannot. */
	{
		_cleanup_free_ char *text = xasprintf(
			"%s[proxy \"billing\"]\nlisten = /run/billing-proxy.sock\n"
			"credential = billing\nupstream = https://billing.example.com/api\n",
			units_cred);

		conf_free(load_clean(text));
	}
	{
		_cleanup_free_ char *text = xasprintf(
			"%s[proxy \"billing\"]\nlisten = 127.0.0.1:8081\n"
			"credential = billing\nupstream = https://billing.example.com/api\n",
			units_cred);

		refused(text, "t.conf:7: credential: \"billing\" has allow_units, which a TCP "
			      "listener cannot check (the caller's process is not known); listen "
			      "on a Unix socket (listen = /path)");
	}
}

static void
test_socket_settings(void **state)
{
	struct conf *conf;
	const struct proxy_conf *pc;
	struct outcome o;

	/* A Unix listener takes [daemon]'s, even from a [daemon] further down. */
	pc = the_proxy(CRED "[proxy \"p\"]\nlisten = /run/tb/p.sock\ncredential = billing\n"
			    "upstream = https://x.example.com\n"
			    "[daemon]\nsocket_mode = 0600\nsocket_group = adm\n",
		       &conf);
	assert_true(pc->listen_unix);
	assert_int_equal(pc->socket_mode, 0600);
	assert_true(pc->socket_group_set);
	assert_int_equal(pc->socket_group, 4);
	conf_free(conf);

	/* Its own win. */
	pc = the_proxy("[daemon]\nsocket_mode = 0600\nsocket_group = adm\n" CRED
		       "[proxy \"p\"]\nlisten = /run/tb/p.sock\ncredential = billing\n"
		       "upstream = https://x.example.com\nsocket_mode = 0666\n"
		       "socket_group = daemon\n",
		       &conf);
	assert_int_equal(pc->socket_mode, 0666);
	assert_true(pc->socket_group_set);
	assert_int_equal(pc->socket_group, 1);
	conf_free(conf);

	/* On a TCP listener they mean nothing: a warning each. */
	outcome_load(&o, BASE "socket_mode = 0600\nsocket_group = adm\n");
	assert_int_equal(o.r, 0);
	assert_string_equal(o.warnings,
			    "t.conf:8: socket_mode: only for a Unix socket listener; ignored\n"
			    "t.conf:9: socket_group: only for a Unix socket listener; ignored");
	outcome_clear(&o);

	refused_key("socket_mode = 0800\n",
		    "socket_mode: invalid mode \"0800\" (use octal, at most 0777, e.g. 0660)");
	refused_key("socket_group = nosuchgroup\n", "socket_group: unknown group \"nosuchgroup\"");
}

static void
test_max_clients(void **state)
{
	struct conf *conf;

	the_proxy(BASE "max_clients = 65536\n", &conf);
	assert_int_equal(conf->proxies[0]->max_clients, 65536);
	conf_free(conf);
	the_proxy(BASE "max_clients = 1\n", &conf);
	assert_int_equal(conf->proxies[0]->max_clients, 1);
	conf_free(conf);
	refused_key("max_clients = 0\n", "max_clients: 0 is out of range (use 1 to 65536)");
	refused_key("max_clients = 65537\n", "max_clients: 65537 is out of range (use 1 to 65536)");
}

/* A second proxy "q" of the credential, listening at listen (lines 8-11). */
#define SECOND(listen)                                      \
	"[proxy \"q\"]\n"                                   \
	"listen = " listen "\n"                             \
	"credential = billing\n"                            \
	"upstream = https://other.example.com\n"

static void
test_listeners_collide(void **state)
{
	struct conf *conf;

	refused(BASE SECOND("127.0.0.1:8081"),
		"t.conf:9: listen: proxy \"billing\" listens there too (at line 5)");
	refused(BASE SECOND("localhost:8081"),
		"t.conf:9: listen: proxy \"billing\" listens there too (at line 5)");
	refused(CRED "[proxy \"a\"]\nlisten = /run/tb/a.sock\ncredential = billing\n"
		     "upstream = https://x.example.com\n" SECOND("/run/tb/a.sock"),
		"t.conf:9: listen: proxy \"a\" listens there too (at line 5)");

	/* Other addresses or ports are other sockets. */
	conf = load_clean(BASE SECOND("[::1]:8081"));
	assert_int_equal(conf->nproxies, 2);
	assert_ptr_equal(conf_find_proxy(conf, "q"), conf->proxies[1]);
	conf_free(conf);
	conf = load_clean(BASE SECOND("127.0.0.2:8081"));
	conf_free(conf);
	conf = load_clean(BASE SECOND("127.0.0.1:8082"));
	conf_free(conf);

	/* The daemon's socket, its default or as [daemon] sets it. */
	refused(CRED "[proxy \"p\"]\nlisten = /run/tokenbroker/tokenbroker.sock\n"
		     "credential = billing\nupstream = https://x.example.com\n",
		"t.conf:5: listen: /run/tokenbroker/tokenbroker.sock is the daemon's own socket");
	refused(CRED "[proxy \"p\"]\nlisten = /run/tb/d.sock\ncredential = billing\n"
		     "upstream = https://x.example.com\n[daemon]\nsocket = /run/tb/d.sock\n",
		"t.conf:5: listen: /run/tb/d.sock is the daemon's own socket");
}

static void
test_names(void **state)
{
	struct conf *conf;

	refused(CRED "[proxy \"bad name\"]\n",
		"t.conf:4: proxy \"bad name\": invalid name (use 1 to 64 of A-Z a-z 0-9 . _ -)");
	refused(CRED "[proxy]\n", "t.conf:4: proxy: a name is required: [proxy \"NAME\"]");
	refused(BASE "[proxy \"billing\"]\n",
		"t.conf:8: proxy \"billing\": already defined at line 4");
	/* A proxy may share its credential's name (BASE does). */
	conf = load_clean(BASE);
	assert_non_null(conf_find(conf, "billing"));
	assert_non_null(conf_find_proxy(conf, "billing"));
	conf_free(conf);
}

static void
test_unknown_keys(void **state)
{
	refused_key("colour = blue\n", "colour: unknown key in [proxy \"billing\"]");
	refused_key("token_url = https://x/\n",
		    "token_url: unknown key in [proxy \"billing\"] (it belongs in a [credential])");
	refused_key("log_access = yes\n",
		    "log_access: unknown key in [proxy \"billing\"] (it belongs in [daemon])");
	refused(CRED "listen = 127.0.0.1:1\n",
		"t.conf:4: listen: unknown key in [credential \"billing\"] (it belongs in a "
		"[proxy])");
	refused("[prox \"p\"]\n", "t.conf:1: unknown section [prox \"p\"] (use [daemon], "
				  "[credential \"NAME\"] or [proxy \"NAME\"]); did you mean "
				  "[proxy \"p\"]?");
	/* a misspelt listen is said once: not also "listen is required" */
	refused("[proxy \"p\"]\nlistn = 127.0.0.1:9\ncredential = p\nupstream = http://127.0.0.1/\n"
		"[credential \"p\"]\ntoken_url = https://idp.example.com/t\nclient_id = a\n"
		"client_secret = b\n",
		"t.conf:2: listn: unknown key in [proxy \"p\"]; did you mean listen?");
	refused_key("listen = 127.0.0.1:2\n", "listen: already set at line 5");
}

/* The listener digest of the one proxy of text; the digest is copied out. */
static void
digest_of(const char *text, char out[65])
{
	struct conf *conf;
	const struct proxy_conf *pc = the_proxy(text, &conf);

	memcpy(out, pc->listen_digest, 65);
	conf_free(conf);
}

#define UNIX_PROXY(listen, extra)                                                   \
	CRED "[proxy \"p\"]\nlisten = " listen "\ncredential = billing\n"           \
	     "upstream = https://x.example.com\n" extra

static void
test_listen_digest(void **state)
{
	char a[65], b[65];
	struct outcome o;

	/* Same listener, other settings: same digest. */
	digest_of(BASE, a);
	digest_of(CRED "[proxy \"other\"]\nlisten = 127.0.0.1:8081\ncredential = billing\n"
		       "upstream = https://elsewhere.example.com\ntimeout = 1m\n"
		       "max_clients = 5\nallow_users = root\n",
		  b);
	assert_string_equal(a, b);
	/* localhost is 127.0.0.1. */
	digest_of(CRED "[proxy \"billing\"]\nlisten = localhost:8081\ncredential = billing\n"
		       "upstream = https://billing.example.com/api\n",
		  b);
	assert_string_equal(a, b);
	/* Another port, another address. */
	digest_of(CRED "[proxy \"billing\"]\nlisten = 127.0.0.1:8082\ncredential = billing\n"
		       "upstream = https://billing.example.com/api\n",
		  b);
	assert_string_not_equal(a, b);
	digest_of(CRED "[proxy \"billing\"]\nlisten = [::1]:8081\ncredential = billing\n"
		       "upstream = https://billing.example.com/api\n",
		  b);
	assert_string_not_equal(a, b);
	/* A TCP listener has no mode: socket_mode (a warning) changes nothing. */
	outcome_load(&o, BASE "socket_mode = 0600\n");
	assert_int_equal(o.r, 0);
	assert_string_equal(o.conf->proxies[0]->listen_digest, a);
	outcome_clear(&o);

	/* Unix sockets: the path, the mode and the group count. */
	digest_of(UNIX_PROXY("/run/tb/p.sock", ""), a);
	digest_of(UNIX_PROXY("/run/tb/p.sock", "max_clients = 3\n"), b);
	assert_string_equal(a, b);
	digest_of(UNIX_PROXY("/run/tb/p.sock", "socket_mode = 0660\n"), b);
	assert_string_equal(a, b);
	digest_of(UNIX_PROXY("/run/tb/q.sock", ""), b);
	assert_string_not_equal(a, b);
	digest_of(UNIX_PROXY("/run/tb/p.sock", "socket_mode = 0600\n"), b);
	assert_string_not_equal(a, b);
	digest_of(UNIX_PROXY("/run/tb/p.sock", "[daemon]\nsocket_mode = 0600\n"), b);
	assert_string_not_equal(a, b);
	digest_of(UNIX_PROXY("/run/tb/p.sock", "socket_group = adm\n"), b);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_listen_accepted),
		cmocka_unit_test(test_listen_refused),
		cmocka_unit_test(test_listen_unix_path),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_credential),
		cmocka_unit_test(test_upstream),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_header_prefix),
		cmocka_unit_test(test_inject),
		cmocka_unit_test(test_retry_statuses),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test_setup_teardown(test_tls, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_allow_ids),
		cmocka_unit_test(test_allow_units),
		cmocka_unit_test(test_credential_allow_units),
		cmocka_unit_test(test_socket_settings),
		cmocka_unit_test(test_max_clients),
		cmocka_unit_test(test_listeners_collide),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_listen_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
