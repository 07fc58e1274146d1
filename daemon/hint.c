/*
 * The table of causes and hints.  A row says what a failure looks like
 * (how the transfer failed, or the HTTP status and the upstream's error
 * code, the grant and auth_method, and one more condition where those do
 * not tell) and what to change, as a text with {names} that the case fills
 * in.  The first row that matches wins: the specific before the general.
 * The rows are data; what code there is reads a case's values
 * (hint_vars_*) and expands the text.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup.h"
#include "duration.h"
#include "hint.h"
#include "profile.h"
#include "request.h"
#include "xmalloc.h"

/* A condition the other fields of a row cannot say. */
enum hint_cond {
	HC_ANY,
	HC_PROXY,	     /* a proxy is configured */
	HC_XIBO,	     /* profile xibo */
	HC_PROFILE_PATH,     /* the profile builds token_url from base_url */
	HC_CLIENT_CERT,	     /* client_cert is set */
	HC_NO_CLIENT_CERT,
	HC_AS_PROFILE,	     /* auth_method is the one the profile sends */
	HC_NOT_AS_PROFILE,
	HC_CERT_UNTRUSTED,   /* the certificate's problem, as recorded */
	HC_CERT_EXPIRED,
	HC_CERT_NOT_YET_VALID,
	HC_LOCATION,	     /* a redirect with a Location */
	HC_RETRY_AFTER,	     /* the answer has a Retry-After */
	HC_HTML,	     /* the answer is a web page */
};

#define A(m) (1u << (m))
#define A_SECRET (A(AUTH_CLIENT_SECRET_BASIC) | A(AUTH_CLIENT_SECRET_POST))

struct hint_row {
	const char *cause;	   /* its name in tokenbrokerd(8) */
	enum http_failure failure; /* HTTP_FAIL_NONE: an HTTP answer came */
	long status_min, status_max; /* 0: any; with error, either matches */
	const char *error;	   /* the upstream's error code; NULL: any */
	const char *grant;	   /* grant_type; NULL: any */
	unsigned auth;		   /* A(auth_method) bits; 0: any */
	enum hint_cond cond;
	const char *text;
};

static const struct hint_row hint_rows[] = {
	/* --- the network --- */
	{ "dns-proxy", HTTP_FAIL_RESOLVE_PROXY, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the proxy's host name {proxy_host} does not resolve (looked up by {lookup}): "
	  "check proxy" },
	{ "dns", HTTP_FAIL_RESOLVE, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the host name {host} does not resolve (looked up by {lookup}): check the host in "
	  "{url_key}" },
	{ "proxy-refused", HTTP_FAIL_CONNECT, 0, 0, NULL, NULL, 0, HC_PROXY,
	  "nothing listens on {proxy_host}:{proxy_port}, the proxy: check proxy, and that "
	  "the proxy runs" },
	{ "refused", HTTP_FAIL_CONNECT, 0, 0, NULL, NULL, 0, HC_ANY,
	  "nothing listens on {host}:{port}: check the host and port in {url_key}, and that "
	  "the server runs" },
	{ "proxy-connect-timeout", HTTP_FAIL_CONNECT_TIMEOUT, 0, 0, NULL, NULL, 0, HC_PROXY,
	  "no connection to the proxy {proxy_host}:{proxy_port} within {connect_timeout} "
	  "(connect_timeout): check proxy" },
	{ "connect-timeout", HTTP_FAIL_CONNECT_TIMEOUT, 0, 0, NULL, NULL, 0, HC_ANY,
	  "no connection to {host}:{port} within {connect_timeout} (connect_timeout): the "
	  "host is down or a firewall drops the packets; check the address in {url_key}" },
	{ "proxy-tunnel", HTTP_FAIL_PROXY, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the proxy {proxy_host}:{proxy_port} would not connect to {host}:{port} ({reason}): "
	  "check proxy, and that it lets this host through" },
	{ "timeout", HTTP_FAIL_TIMEOUT, 0, 0, NULL, NULL, 0, HC_ANY,
	  "{host}:{port} took the request but did not answer within {timeout} (timeout): "
	  "check that it is the token endpoint and is not overloaded, or raise timeout" },
	/* --- TLS --- */
	{ "tls-plain-http", HTTP_FAIL_TLS_PLAIN, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the server answered in plain HTTP on port {port}: use http:// (loopback only) or "
	  "the server's TLS port" },
	{ "tls-unknown-ca", HTTP_FAIL_TLS_CERT, 0, 0, NULL, NULL, 0, HC_CERT_UNTRUSTED,
	  "the server's certificate ({subject}) was issued by {issuer}, which this host does "
	  "not trust: set ca_file to that CA's certificate (PEM)" },
	{ "tls-expired", HTTP_FAIL_TLS_CERT, 0, 0, NULL, NULL, 0, HC_CERT_EXPIRED,
	  "the server's certificate ({subject}) expired at {not_after} (valid from "
	  "{not_before}; now {now}): the server must renew it, or this host's clock is wrong" },
	{ "tls-not-yet-valid", HTTP_FAIL_TLS_CERT, 0, 0, NULL, NULL, 0, HC_CERT_NOT_YET_VALID,
	  "the server's certificate ({subject}) is valid only from {not_before} (now {now}): "
	  "check this host's clock, or the server's certificate" },
	{ "tls-name-mismatch", HTTP_FAIL_TLS_NAME, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the server's certificate is for {names}, not {host}: use one of those names in "
	  "{url_key}" },
	{ "tls-cert", HTTP_FAIL_TLS_CERT, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the server's certificate ({subject}, issued by {issuer}) failed verification "
	  "({cert_problem}): check ca_file" },
	{ "tls-client-cert-refused", HTTP_FAIL_TLS_ALERT, 0, 0, NULL, NULL, 0, HC_CLIENT_CERT,
	  "the server refused the client certificate ({reason}): check client_cert and "
	  "client_key, and that the server trusts their issuer" },
	{ "tls-client-cert-wanted", HTTP_FAIL_TLS_ALERT, 0, 0, NULL, NULL, 0, HC_NO_CLIENT_CERT,
	  "the server ended the handshake ({reason}): it may want a client certificate; set "
	  "client_cert and client_key" },
	{ "tls", HTTP_FAIL_TLS, 0, 0, NULL, NULL, 0, HC_ANY,
	  "the TLS handshake failed ({reason}): check ca_file, client_cert and client_key, "
	  "and the host in {url_key}" },
	/* --- the token endpoint's errors, by grant --- */
	{ "refresh-token-refused", HTTP_FAIL_NONE, 0, 0, "invalid_grant", REQUEST_GRANT_REFRESH_TOKEN,
	  0, HC_ANY,
	  "the refresh token was refused: it was revoked, has expired, or was spent already "
	  "(a server that sees one used twice revokes them all); get a new one, put it in "
	  "{refresh_token_file} and reload" },
	{ "password-refused", HTTP_FAIL_NONE, 0, 0, "invalid_grant", "password", 0, HC_ANY,
	  "the server refused username or password: check username and password (or "
	  "password_file)" },
	{ "jwt-bearer-refused", HTTP_FAIL_NONE, 0, 0, "invalid_grant", REQUEST_GRANT_JWT_BEARER, 0,
	  HC_ANY,
	  "the server refused the assertion in {assertion_file}: check its issuer, audience "
	  "and expiry" },
	{ "token-exchange-refused", HTTP_FAIL_NONE, 400, 400, NULL, REQUEST_GRANT_TOKEN_EXCHANGE,
	  0, HC_ANY,
	  "the server refused the token exchange: check the subject token in "
	  "{subject_token_file} (unexpired, of type {subject_token_type}), and audience or "
	  "resource" },
	/* --- HTTP --- */
	{ "xibo-path", HTTP_FAIL_NONE, 404, 404, NULL, NULL, 0, HC_XIBO,
	  "Xibo 1.8+ token endpoint is {base}/api/authorize/access_token; the 1.7 API is not "
	  "supported: base_url is the CMS root" },
	{ "not-found-base-url", HTTP_FAIL_NONE, 404, 404, NULL, NULL, 0, HC_PROFILE_PATH,
	  "there is no token endpoint at this URL: check base_url (the service root; the "
	  "profile adds the path)" },
	{ "not-found", HTTP_FAIL_NONE, 404, 404, NULL, NULL, 0, HC_ANY,
	  "there is no token endpoint at this URL: check token_url" },
	{ "method-not-allowed", HTTP_FAIL_NONE, 405, 405, NULL, NULL, 0, HC_ANY,
	  "the URL does not take POST: it is not the token endpoint; check {url_key}" },
	{ "redirect", HTTP_FAIL_NONE, 300, 399, NULL, NULL, 0, HC_LOCATION,
	  "the server redirects to {location}; redirects are not followed (they would carry "
	  "the secret): put that URL in token_url" },
	{ "upgrade-required", HTTP_FAIL_NONE, 426, 426, NULL, NULL, 0, HC_ANY,
	  "the server requires HTTPS: use an https:// URL" },
	{ "rate-limited", HTTP_FAIL_NONE, 429, 429, NULL, NULL, 0, HC_ANY,
	  "the server limits requests (429, {wait}): run --test again after that; the daemon "
	  "waits as asked by itself" },
	{ "unsupported-grant-type", HTTP_FAIL_NONE, 0, 0, "unsupported_grant_type", NULL, 0, HC_ANY,
	  "the server does not accept grant_type = {grant_type}: check grant_type (or the "
	  "profile)" },
	{ "unauthorized-client", HTTP_FAIL_NONE, 0, 0, "unauthorized_client", NULL, 0, HC_ANY,
	  "the server does not allow grant_type {grant_type} to this client: enable it for "
	  "client_id at the server, or change grant_type" },
	{ "invalid-scope", HTTP_FAIL_NONE, 0, 0, "invalid_scope", NULL, 0, HC_ANY,
	  "check scope (and scope_separator)" },
	/* --- the client refused, by auth_method --- */
	{ "assertion-refused", HTTP_FAIL_NONE, 400, 401, NULL, NULL, A(AUTH_PRIVATE_KEY_JWT), HC_ANY,
	  "the server refused the assertion: check that it knows the public key of client_key "
	  "(and assertion_kid), client_id, assertion_audience (default token_url) and "
	  "assertion_alg, and the clocks" },
	{ "assertion-file-refused", HTTP_FAIL_NONE, 400, 401, NULL, NULL, A(AUTH_CLIENT_ASSERTION),
	  HC_ANY,
	  "the server refused the assertion from client_assertion_file: check its issuer, "
	  "audience and expiry (an assertion may be accepted only once)" },
	{ "client-cert-refused", HTTP_FAIL_NONE, 400, 401, NULL, NULL, A(AUTH_TLS_CLIENT_AUTH),
	  HC_ANY,
	  "the server refused the client certificate: check client_cert, client_key and "
	  "client_id (and that token_url is the server's mutual-TLS endpoint)" },
	{ "basic-refused", HTTP_FAIL_NONE, 401, 401, "invalid_client", NULL, A(AUTH_BASIC), HC_ANY,
	  "the server refused username or password (sent with HTTP Basic): check username and "
	  "password (or password_file)" },
	{ "secret-refused", HTTP_FAIL_NONE, 401, 401, "invalid_client", NULL, A_SECRET,
	  HC_AS_PROFILE,
	  "the server refused the client: check client_id and the secret first (auth_method "
	  "{auth_method} is what profile {profile} sends); only if they are right, try "
	  "auth_method = {other_auth}" },
	{ "secret-refused-method", HTTP_FAIL_NONE, 401, 401, "invalid_client", NULL, A_SECRET,
	  HC_NOT_AS_PROFILE,
	  "the server refused the client: check client_id and the secret, and auth_method: "
	  "profile {profile} sends {profile_auth}, this credential {auth_method}" },
	{ "no-client-auth", HTTP_FAIL_NONE, 401, 401, "invalid_client", NULL, A(AUTH_NONE), HC_ANY,
	  "the server wants the client to authenticate: set auth_method (and client_secret or "
	  "client_secret_file)" },
	/* --- the server's side --- */
	{ "server-error-retry", HTTP_FAIL_NONE, 500, 599, NULL, NULL, 0, HC_RETRY_AFTER,
	  "the server failed ({status}, Retry-After {retry_after}): a fault on its side, not in "
	  "this configuration; try again after that" },
	{ "server-error", HTTP_FAIL_NONE, 500, 599, NULL, NULL, 0, HC_ANY,
	  "the server failed ({status}): a fault on its side, not in this configuration; try "
	  "again later, or ask its operator" },
	{ "web-page", HTTP_FAIL_NONE, 0, 0, NULL, NULL, 0, HC_HTML,
	  "the URL serves a web page (a login page?), not a token endpoint: check {url_key} "
	  "(the API's token endpoint, not the site's sign-in)" },
	{ "no-token", HTTP_FAIL_NONE, 200, 299, NULL, NULL, 0, HC_ANY,
	  "the answer has no token where expected: check response_format and token_path (now "
	  "{token_path})" },
};

/* The values a hint's text may name; all owned, NULL: not known. */
struct hint_vars {
	char *host, *port, *proxy_host, *proxy_port;
	char *lookup, *reason, *now, *status, *wait;
	char *connect_timeout, *timeout, *profile_auth, *other_auth;
};

/*
 * Host and port of a URL (scheme://[user@]host[:port]/...), the port by
 * the scheme when not given; a proxy may be written without a scheme
 * (curl's default: http, port 1080).
 */
static void
hint_split_url(const char *url, bool proxy, char **ret_host, char **ret_port)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;
	bool https = strncasecmp(url, "https://", 8) == 0;

	p = p != NULL ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		colon = close != NULL && close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		*ret_host = xstrndup(p + 1, (size_t)((close != NULL ? close : end) - p - 1));
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		*ret_host = xstrndup(p, (size_t)((colon != NULL ? colon : end) - p));
	}
	if (colon != NULL)
		*ret_port = xstrndup(colon + 1, (size_t)(end - colon - 1));
	else
		*ret_port = xstrdup(proxy && strstr(url, "://") == NULL ? "1080" :
				    https			  ? "443" :
								    "80");
}

/*
 * Where names are looked up: the hosts line of nsswitch.conf and the name
 * servers of resolv.conf ("hosts: files dns in /etc/nsswitch.conf; name
 * servers 10.0.0.2 in /etc/resolv.conf"); the caller frees.
 */
static char *
hint_lookup_text(void)
{
	_cleanup_free_ char *how = NULL, *line = NULL;
	char *servers = NULL, *text;
	size_t cap = 0;
	FILE *f;

	if ((f = fopen("/etc/nsswitch.conf", "re")) != NULL) {
		while (how == NULL && getline(&line, &cap, f) > 0) {
			char *v = line + strspn(line, " \t");

			if (strncmp(v, "hosts:", 6) != 0)
				continue;
			v += 6;
			v += strspn(v, " \t");
			v[strcspn(v, "#\n")] = '\0';
			how = xstrdup(v);
		}
		fclose(f);
	}
	if ((f = fopen("/etc/resolv.conf", "re")) != NULL) {
		while (getline(&line, &cap, f) > 0) {
			char addr[64];

			if (sscanf(line, " nameserver %63s", addr) != 1)
				continue;
			char *s = servers != NULL ? xasprintf("%s, %s", servers, addr) :
						    xasprintf("name servers %s", addr);

			free(servers);
			servers = s;
		}
		fclose(f);
	}
	text = xasprintf("hosts: %s in /etc/nsswitch.conf; %s in /etc/resolv.conf",
			 how != NULL ? how : "files dns", servers != NULL ? servers : "no name server");
	free(servers);
	return text;
}

/*
 * The failure's words without OpenSSL's prefix and errno suffix: "tlsv1
 * alert unknown ca"; the caller frees.
 */
static char *
hint_reason(const char *error)
{
	const char *r, *end;

	if (error == NULL)
		return xstrdup("?");
	r = strstr(error, "::");
	r = r != NULL ? r + 2 : error;
	end = strstr(r, ", errno");
	return end != NULL ? xstrndup(r, (size_t)(end - r)) : xstrdup(r);
}

/* The auth_method the profile sends (its default, else client_secret_basic). */
static const char *
hint_profile_auth(const struct cred_conf *cc)
{
	for (const struct profile_default *d = cc->profile->defaults; d->key != NULL; d++)
		if (strcmp(d->key, "auth_method") == 0)
			return d->value;
	return "client_secret_basic";
}

static void
hint_vars_init(struct hint_vars *v, const struct hint_case *c)
{
	const struct cred_conf *cc = c->cc;
	const struct http_result *res = c->res;
	char d[32];
	time_t now = time(NULL);
	struct tm tm;
	const char *am = conf_auth_method_name(cc->auth_method);

	memset(v, 0, sizeof(*v));
	hint_split_url(c->url, false, &v->host, &v->port);
	if (cc->proxy != NULL)
		hint_split_url(cc->proxy, true, &v->proxy_host, &v->proxy_port);
	if (res->failure == HTTP_FAIL_RESOLVE || res->failure == HTTP_FAIL_RESOLVE_PROXY)
		v->lookup = hint_lookup_text();
	v->reason = hint_reason(res->error);
	gmtime_r(&now, &tm);
	v->now = xmalloc(32);
	strftime(v->now, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
	v->status = xasprintf("%ld", res->status);
	v->wait = res->retry_after != NULL ? xasprintf("Retry-After: %s", res->retry_after) :
					     xstrdup("no Retry-After");
	v->connect_timeout = xstrdup(duration_format(cc->connect_timeout_ms, d, sizeof(d)));
	v->timeout = xstrdup(duration_format(cc->timeout_ms, d, sizeof(d)));
	v->profile_auth = xstrdup(hint_profile_auth(cc));
	v->other_auth = xstrdup(strcmp(am, "client_secret_post") == 0 ? "client_secret_basic" :
									 "client_secret_post");
}

static void
hint_vars_clear(struct hint_vars *v)
{
	char **all[] = { &v->host,	  &v->port,	       &v->proxy_host, &v->proxy_port,
			 &v->lookup,	  &v->reason,	       &v->now,	       &v->status,
			 &v->wait,	  &v->connect_timeout, &v->timeout,    &v->profile_auth,
			 &v->other_auth };

	for (size_t i = 0; i < ELEMENTSOF(all); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

/* The value of {name} (len bytes) for case c, or "?" when it has none. */
static const char *
hint_value(const struct hint_case *c, const struct hint_vars *v, const char *name, size_t len)
{
	const struct cred_conf *cc = c->cc;
	const struct peercert *pc = &c->res->cert;
	bool via_base = cc->base_url != NULL && cc->profile->token_path != NULL;
	const struct {
		const char *name;
		const char *value;
	} vals[] = {
		{ "host", v->host },
		{ "port", v->port },
		{ "proxy_host", v->proxy_host },
		{ "proxy_port", v->proxy_port },
		{ "url_key", via_base ? "base_url" : cc->token_url == NULL && cc->issuer != NULL ?
						      "issuer" : "token_url" },
		{ "lookup", v->lookup },
		{ "reason", v->reason },
		{ "connect_timeout", v->connect_timeout },
		{ "timeout", v->timeout },
		{ "subject", pc->subject },
		{ "issuer", pc->issuer },
		{ "names", pc->names != NULL ? pc->names : pc->subject },
		{ "not_before", pc->not_before },
		{ "not_after", pc->not_after },
		{ "cert_problem", pc->problem_text },
		{ "now", v->now },
		{ "status", v->status },
		{ "location", c->res->redirect_url },
		{ "retry_after", c->res->retry_after },
		{ "wait", v->wait },
		{ "base", cc->base_url != NULL ? cc->base_url : "{base_url}" },
		{ "grant_type", cc->grant_type != NULL ? cc->grant_type : "client_credentials" },
		{ "auth_method", conf_auth_method_name(cc->auth_method) },
		{ "profile", cc->profile->name },
		{ "profile_auth", v->profile_auth },
		{ "other_auth", v->other_auth },
		{ "token_path", cc->token_path },
		{ "refresh_token_file", cc->refresh_token_file },
		{ "assertion_file", cc->assertion_file },
		{ "subject_token_file", cc->subject_token_file },
		{ "subject_token_type", cc->subject_token_type != NULL ?
						cc->subject_token_type :
						"urn:ietf:params:oauth:token-type:jwt" },
	};

	for (size_t i = 0; i < ELEMENTSOF(vals); i++)
		if (strlen(vals[i].name) == len && strncmp(vals[i].name, name, len) == 0)
			return vals[i].value != NULL ? vals[i].value : "?";
	return "?";
}

/* The row's text with every {name} replaced; the caller frees. */
static char *
hint_expand(const char *text, const struct hint_case *c, const struct hint_vars *v)
{
	char *out = xstrdup(""), *o;
	const char *p = text;

	while (*p != '\0') {
		const char *open = strchr(p, '{'), *close = open != NULL ? strchr(open, '}') : NULL;

		if (open == NULL || close == NULL) {
			o = xasprintf("%s%s", out, p);
			free(out);
			return o;
		}
		o = xasprintf("%s%.*s%s", out, (int)(open - p), p,
			      hint_value(c, v, open + 1, (size_t)(close - open - 1)));
		free(out);
		out = o;
		p = close + 1;
	}
	return out;
}

static bool
hint_cond_holds(enum hint_cond cond, const struct hint_case *c)
{
	const struct cred_conf *cc = c->cc;
	const struct http_result *res = c->res;
	const char *ct = res->content_type != NULL ? res->content_type : "";

	switch (cond) {
	case HC_ANY:
		return true;
	case HC_PROXY:
		return cc->proxy != NULL;
	case HC_XIBO:
		return strcmp(cc->profile->name, "xibo") == 0;
	case HC_PROFILE_PATH:
		return cc->profile->token_path != NULL &&
		       (cc->base_url != NULL || cc->profile->default_base_url != NULL);
	case HC_CLIENT_CERT:
		return cc->client_cert != NULL;
	case HC_NO_CLIENT_CERT:
		return cc->client_cert == NULL;
	case HC_AS_PROFILE:
		return strcmp(conf_auth_method_name(cc->auth_method), hint_profile_auth(cc)) == 0;
	case HC_NOT_AS_PROFILE:
		return strcmp(conf_auth_method_name(cc->auth_method), hint_profile_auth(cc)) != 0;
	case HC_CERT_UNTRUSTED:
		return res->cert.problem == PEERCERT_UNTRUSTED;
	case HC_CERT_EXPIRED:
		return res->cert.problem == PEERCERT_EXPIRED;
	case HC_CERT_NOT_YET_VALID:
		return res->cert.problem == PEERCERT_NOT_YET_VALID;
	case HC_LOCATION:
		return res->redirect_url != NULL;
	case HC_RETRY_AFTER:
		return res->retry_after != NULL;
	case HC_HTML:
		return strcasestr(ct, "text/html") != NULL;
	}
	return false;
}

static bool
hint_row_matches(const struct hint_row *r, const struct hint_case *c)
{
	const struct cred_conf *cc = c->cc;
	const struct http_result *res = c->res;
	bool by_status, by_error;

	if (r->failure != HTTP_FAIL_NONE || res->status == 0)
		return r->failure == res->failure && res->failure != HTTP_FAIL_NONE &&
		       hint_cond_holds(r->cond, c);
	by_status = r->status_min != 0 && res->status >= r->status_min &&
		    res->status <= r->status_max;
	by_error = r->error != NULL && c->error != NULL && strcmp(r->error, c->error) == 0;
	if ((r->status_min != 0 || r->error != NULL) && !by_status && !by_error)
		return false;
	if (r->grant != NULL && (cc->grant_type == NULL || strcmp(r->grant, cc->grant_type) != 0))
		return false;
	if (r->auth != 0 && (r->auth & A(cc->auth_method)) == 0)
		return false;
	return hint_cond_holds(r->cond, c);
}

char *
hint_for(const struct hint_case *c, const char **ret_cause)
{
	struct hint_vars v;
	char *text;

	for (size_t i = 0; i < ELEMENTSOF(hint_rows); i++) {
		if (!hint_row_matches(&hint_rows[i], c))
			continue;
		hint_vars_init(&v, c);
		text = hint_expand(hint_rows[i].text, c, &v);
		hint_vars_clear(&v);
		if (ret_cause != NULL)
			*ret_cause = hint_rows[i].cause;
		return text;
	}
	return NULL;
}
