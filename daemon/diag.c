/*
 * tokenbrokerd --test NAME: one real token request, outside the daemon's
 * loop, and a diagnosis a person can act on: the URL, the status, what was
 * found where, the lifetime and hints for the usual mistakes.  Never the
 * token.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "diag.h"
#include "discovery.h"
#include "hint.h"
#include "http.h"
#include "profile.h"
#include "request.h"
#include "response.h"
#include "store.h"
#include "text.h"
#include "timeutil.h"
#include "xmalloc.h"

struct diag {
	const struct cred_conf *cc;
	const char *state_dir;
	FILE *out;
	int status;
	struct event_base *base;
	bool refresh_from_state; /* the refresh token spent came from state_dir */
	long status_seen;	 /* the token endpoint's HTTP status, 0 for none */
};

static void diag_hint(const struct cred_conf *cc, const struct http_result *res,
		      const char *error, FILE *out);

/* A discovery document's GET, as it ended. */
struct diag_got {
	struct event_base *base;
	const struct cred_conf *cc;
	FILE *out;
	long status;
	char *error;
	char *body;
	size_t len;
};

static void
diag_got_cb(struct http_result *res, void *arg)
{
	struct diag_got *g = arg;

	event_base_loopbreak(g->base);
	g->status = res->status;
	g->error = res->error != NULL ? xstrdup(res->error) :
		   res->body_too_large ? xstrdup("the document is too large") : NULL;
	g->body = xmalloc(res->body->len + 1);
	memcpy(g->body, res->body->data, res->body->len);
	g->body[res->body->len] = '\0';
	g->len = res->body->len;
	/* No answer: the table says why, as for the token endpoint. */
	if (res->error != NULL && res->status == 0) {
		fprintf(g->out, "discovery:    %s: %s\n", res->url, res->error);
		diag_hint(g->cc, res, NULL, g->out);
	}
}

/* GETs url, shows how it went; false when no document came. */
static bool
diag_get(struct diag *d, struct http *h, const struct http_opts *ho, const char *url,
	 struct diag_got *g)
{
	char *cause = NULL;

	memset(g, 0, sizeof(*g));
	g->base = d->base;
	g->cc = d->cc;
	g->out = d->out;
	if (http_start(h, ho, discovery_request(url), diag_got_cb, g, &cause) == NULL) {
		fprintf(d->out, "discovery:    %s: %s\n", url, cause);
		free(cause);
		return false;
	}
	event_base_dispatch(d->base);
	if (g->error != NULL && g->status != 0)
		fprintf(d->out, "discovery:    %s: HTTP %ld, then %s\n", url, g->status, g->error);
	else if (g->error == NULL)
		fprintf(d->out, "discovery:    %s: HTTP %ld\n", url, g->status);
	return g->error == NULL && g->status == 200;
}

static void
diag_got_clear(struct diag_got *g)
{
	free(g->error);
	free(g->body);
}

/*
 * The token endpoint the issuer's discovery document names (caller frees),
 * each document tried shown; NULL when none did.
 */
static char *
diag_discover(struct diag *d, struct http *h, const struct http_opts *ho)
{
	const struct cred_conf *cc = d->cc;
	char *doc, *url = NULL, *cause = NULL;
	struct diag_got g;

	fprintf(d->out, "issuer:       %s\n", cc->issuer);
	bool missing = false; /* every document asked for was a 4xx */

	for (unsigned i = 0; url == NULL && (doc = discovery_url(cc->issuer, i)) != NULL; i++) {
		bool got = diag_get(d, h, ho, doc, &g);
		int r = got ? discovery_parse(g.body, g.len, cc->issuer,
					      cc->auth_method == AUTH_TLS_CLIENT_AUTH, &url, &cause) :
			      -ENOENT;

		if (r < 0 && cause != NULL) {
			fprintf(d->out, "discovery:    %s\n", cause);
			free(cause);
			cause = NULL;
		}
		if (r < 0 && r != -EBADMSG && r != -ENOENT) {
			fprintf(d->out, "result:       failed: the document was refused\n");
			diag_got_clear(&g);
			free(doc);
			return NULL;
		}
		/* A 4xx, or a page: the other kind of document may be there. */
		missing = r == -EBADMSG ||
			  (!got && g.error == NULL && g.status >= 400 && g.status < 500);
		diag_got_clear(&g);
		free(doc);
		if (url == NULL && !missing)
			break;
	}
	if (url == NULL && missing) {
		fprintf(d->out, "result:       failed: no discovery document for this issuer\n");
		fprintf(d->out, "hint:         check issuer (the URL the server names as its "
				"issuer), or give token_url\n");
		return NULL;
	}
	if (url == NULL) {
		fprintf(d->out, "result:       failed: the discovery document could not be "
				"fetched\n");
		return NULL;
	}
	fprintf(d->out, "token endpoint: %s (the document's issuer matches)\n", url);
	return url;
}

/*
 * The token endpoint answered 404: a discovery document at token_url's
 * origin, if there is one, names the right one.
 */
static void
diag_origin_hint(struct diag *d, struct http *h, const struct http_opts *ho)
{
	const char *u = d->cc->token_url, *authority = strstr(u, "://");
	const char *end = authority != NULL ? strchr(authority + 3, '/') : NULL;
	char *origin = end != NULL ? xstrndup(u, (size_t)(end - u)) : xstrdup(u), *doc;
	struct diag_got g;

	for (unsigned i = 0; (doc = discovery_url(origin, i)) != NULL; i++) {
		char *url = NULL, *cause = NULL, *issuer = NULL;

		if (diag_get(d, h, ho, doc, &g) && (issuer = discovery_issuer(g.body, g.len)) &&
		    discovery_parse(g.body, g.len, issuer, d->cc->auth_method == AUTH_TLS_CLIENT_AUTH,
				    &url, &cause) == 0) {
			char *su = text_sanitize(url, strlen(url), 200);
			char *si = text_sanitize(issuer, strlen(issuer), 200);

			fprintf(d->out, "hint:         %s publishes its token endpoint: %s; set "
					"token_url = %s, or issuer = %s instead of token_url\n",
				origin, su, su, si);
			free(su);
			free(si);
			i = DISCOVERY_NDOCS;
		}
		free(url);
		free(cause);
		free(issuer);
		diag_got_clear(&g);
		free(doc);
	}
	free(origin);
}

static bool
diag_refresh_grant(const struct cred_conf *cc)
{
	return cc->grant_type != NULL && strcmp(cc->grant_type, REQUEST_GRANT_REFRESH_TOKEN) == 0;
}

static const char *const diag_sources[] = {
	[LIFETIME_EXPIRES_IN] = "the response's expires_in",
	[LIFETIME_EXPIRES_AT] = "the response's absolute expiry",
	[LIFETIME_JWT_EXP] = "the JWT's exp claim",
	[LIFETIME_DEFAULT] = "default_lifetime (the response gave none)",
};

/*
 * The hint for a failure, where the table of causes (hint.c) has one:
 * what the person should change.  error is the upstream's code.
 */
static void
diag_hint(const struct cred_conf *cc, const struct http_result *res, const char *error, FILE *out)
{
	const struct hint_case c = { .cc = cc, .res = res, .error = error, .url = res->url };
	char *text = hint_for(&c, NULL);

	if (text != NULL)
		fprintf(out, "hint:         %s\n", text);
	free(text);
}

/*
 * A refresh token the answer rotated to goes to state_dir, where the
 * daemon reads it before its next renewal: the one --test spent is gone.
 * Returns false when it could not be kept.
 */
static bool
diag_refresh_keep(struct diag *d, struct token_response *tr)
{
	char *cause = NULL;

	if (tr->refresh_token == NULL) {
		fprintf(d->out, "refresh:      not rotated (the same refresh token stays valid)\n");
		return true;
	}
	if (store_save_refresh(d->state_dir, d->cc->name, tr->refresh_token, &cause) < 0) {
		fprintf(d->out, "result:       failed: the server rotated the refresh token and it "
				"cannot be kept: %s\n", cause);
		free(cause);
		return false;
	}
	fprintf(d->out, "refresh:      rotated; the new refresh token is kept in %s/%s.refresh "
			"(not shown)\n", d->state_dir, d->cc->name);
	return true;
}

static void
diag_done_cb(struct http_result *res, void *arg)
{
	struct diag *d = arg;
	struct token_response *tr = NULL;
	struct response_error err = { 0 };
	char life[32];

	event_base_loopbreak(d->base);
	d->status_seen = res->status;
	fprintf(d->out, "time:         %lldms\n", (long long)res->duration_ms);
	if (res->error != NULL && res->status == 0) {
		fprintf(d->out, "result:       no answer: %s\n", res->error);
		diag_hint(d->cc, res, NULL, d->out);
		return;
	}
	fprintf(d->out, "HTTP status:  %ld\n", res->status);
	fprintf(d->out, "Content-Type: %s\n", res->content_type ? res->content_type : "(none)");
	fprintf(d->out, "body:         %zu bytes%s\n", res->body->len,
		res->body_too_large ? " (over the limit, cut)" : "");
	if (res->retry_after != NULL)
		fprintf(d->out, "Retry-After:  %s\n", res->retry_after);
	if (res->body_too_large) {
		fprintf(d->out, "result:       failed: the body is larger than %d bytes\n",
			TOKEN_BODY_MAX);
		return;
	}
	struct response_opts ro;

	conf_response_opts(d->cc, &ro);
	if (response_parse(&ro, res->status, res->content_type, res->body->data, res->body->len,
			   timeutil_wall_ms(), &tr, &err) < 0) {
		fprintf(d->out, "result:       failed: %s\n", err.message ? err.message : "invalid");
		if (err.error != NULL)
			fprintf(d->out, "error code:   %s\n", err.error);
		diag_hint(d->cc, res, err.error, d->out);
		response_error_clear(&err);
		return;
	}
	fprintf(d->out, "format:       %s\n", tr->format ? tr->format : "?");
	if (tr->found != NULL)
		fprintf(d->out, "found:        %s\n", tr->found);
	fprintf(d->out, "token:        %zu characters, type %s (not shown)\n",
		tr->token->access_token->len, tr->token->token_type);
	if (diag_refresh_grant(d->cc) && !diag_refresh_keep(d, tr)) {
		response_free(tr);
		return;
	}
	fprintf(d->out, "lifetime:     %s, from %s\n",
		duration_format(tr->token->lifetime_ms, life, sizeof(life)),
		diag_sources[tr->lifetime_source]);
	if (tr->token->scope != NULL)
		fprintf(d->out, "scope:        %s\n", tr->token->scope);
	fprintf(d->out, "result:       ok\n");
	d->status = 0;
	response_free(tr);
}

/*
 * What the client assertion was: for private_key_jwt the claims sent (not
 * the signature, nor the assertion), for client_assertion the file read
 * and its age.
 */
static void
diag_assertion(const struct cred_conf *cc, const struct token_request *req, FILE *out)
{
	const struct request_assertion *a = &req->assertion;
	char age[32];
	int64_t ms;

	if (a->signed_here) {
		fprintf(out, "assertion:    %s, signed now with client_key %s\n",
			assertion_alg_name(cc->assertion_alg), cc->client_key);
		if (cc->assertion_x5t != NULL)
			fprintf(out, "  x5t#S256:   %s\n", cc->assertion_x5t);
		else if (cc->assertion_kid != NULL)
			fprintf(out, "  kid:        %s\n", cc->assertion_kid);
		fprintf(out, "  iss, sub:   %s\n", cc->client_id);
		fprintf(out, "  aud:        %s\n",
			cc->assertion_audience != NULL ? cc->assertion_audience : cc->token_url);
		fprintf(out, "  jti:        %s (new for every request)\n", a->claims.jti);
		fprintf(out, "  iat, exp:   %lld, %lld (%s)\n", (long long)a->claims.iat,
			(long long)a->claims.exp,
			duration_format((a->claims.exp - a->claims.iat) * 1000, age, sizeof(age)));
	} else if (a->file != NULL) {
		ms = timeutil_wall_ms() - a->file_mtime_ms;
		fprintf(out, "assertion:    read from %s, modified %s ago\n", a->file,
			duration_format(ms > 0 ? ms : 0, age, sizeof(age)));
	}
}

/* A token file a grant reads at every request: which, and how old. */
static void
diag_grant_file(const char *what, const char *path, FILE *out)
{
	struct stat st;
	char age[32];
	int64_t ms;

	if (path == NULL)
		return;
	if (stat(path, &st) < 0) {
		fprintf(out, "%-13s %s: %s\n", what, path, strerror(errno));
		return;
	}
	ms = timeutil_wall_ms() - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
	fprintf(out, "%-13s read from %s, modified %s ago\n", what, path,
		duration_format(ms > 0 ? ms : 0, age, sizeof(age)));
}

/*
 * For a refresh_token grant: takes the refresh lock (the daemon may be
 * renewing with the same token right now) and picks the token to spend as
 * the daemon does, saying which.  The lock's fd, or -1 after saying why.
 */
static int
diag_refresh_begin(struct diag *d, struct secret **ret)
{
	const struct cred_conf *cc = d->cc;
	char *cause = NULL, age[32];
	int64_t ms, mtime;
	int fd = store_lock_refresh(d->state_dir, cc->name, &cause);

	if (fd < 0) {
		fprintf(d->out, "result:       cannot use state_dir for the refresh token: %s\n",
			cause);
		if (fd != -EWOULDBLOCK)
			fprintf(d->out, "hint:         run --test as the daemon's user (e.g. runuser "
					"-u tokenbroker -- tokenbrokerd --test %s)\n", cc->name);
		free(cause);
		return -1;
	}
	if (store_pick_refresh(d->state_dir, cc->name, cc->refresh_token,
			       cc->refresh_token_mtime_ns, ret, &d->refresh_from_state, &cause) < 0) {
		fprintf(d->out, "result:       %s\n", cause);
		free(cause);
		close(fd);
		return -1;
	}
	if (d->refresh_from_state && store_refresh_mtime(d->state_dir, cc->name, &mtime) == 0) {
		ms = timeutil_wall_ms() - mtime / 1000000;
		fprintf(d->out, "refresh:      the token kept in %s/%s.refresh, rotated %s ago (newer "
				"than refresh_token_file)\n", d->state_dir, cc->name,
			duration_format(ms > 0 ? ms : 0, age, sizeof(age)));
	} else {
		ms = timeutil_wall_ms() - cc->refresh_token_mtime_ns / 1000000;
		fprintf(d->out, "refresh:      the token from %s, modified %s ago (state_dir keeps "
				"none newer)\n", cc->refresh_token_file,
			duration_format(ms > 0 ? ms : 0, age, sizeof(age)));
	}
	return fd;
}

int
diag_run(const struct conf *conf, const char *name, FILE *out)
{
	const struct cred_conf *cc = conf_find(conf, name);
	struct token_request *req = NULL;
	struct diag d = { .cc = cc, .out = out, .status = EX_UNAVAILABLE };
	struct request_opts qo;
	struct http_opts ho;
	struct http *h = NULL;
	struct secret *rt = NULL;
	char *cause = NULL, *url = NULL;
	int lock = -1, r;

	d.state_dir = conf->daemon.state_dir;
	if (cc == NULL) {
		fprintf(stderr, "tokenbrokerd: no credential \"%s\" in the configuration\n", name);
		return EX_NOINPUT;
	}
	conf_http_opts(cc, &ho);
	ho.diagnose = true;
	if ((d.base = event_base_new()) == NULL || (h = http_new(d.base, 1)) == NULL) {
		fprintf(out, "result:       cannot start: out of resources\n");
		goto out;
	}
	fprintf(out, "credential:   %s\n", cc->name);
	if (cc->token_url == NULL && cc->issuer != NULL) {
		if ((url = diag_discover(&d, h, &ho)) == NULL)
			goto out;
		conf_request_opts_url(cc, url, &qo);
	} else {
		conf_request_opts(cc, &qo);
	}
	if (diag_refresh_grant(cc)) {
		lock = diag_refresh_begin(&d, &rt);
		if (lock < 0)
			goto out;
		qo.refresh_token = rt;
	}
	r = request_build(&qo, NULL, &req, &cause);
	secret_free(rt);
	if (r < 0) {
		fprintf(out, "result:       cannot build the request: %s\n", cause);
		free(cause);
		goto out;
	}
	fprintf(out, "request:      POST %s\n", req->url);
	fprintf(out, "auth:         %s\n", req->auth_desc ? req->auth_desc : "?");
	diag_assertion(cc, req, out);
	if (cc->grant_type != NULL && strcmp(cc->grant_type, REQUEST_GRANT_JWT_BEARER) == 0)
		diag_grant_file("grant:", cc->assertion_file, out);
	if (cc->grant_type != NULL && strcmp(cc->grant_type, REQUEST_GRANT_TOKEN_EXCHANGE) == 0) {
		diag_grant_file("subject:", cc->subject_token_file, out);
		diag_grant_file("actor:", cc->actor_token_file, out);
	}
	if (!cc->tls_verify)
		fprintf(out, "warning:      tls_verify = no: the server is not authenticated\n");
	if (http_start(h, &ho, req, diag_done_cb, &d, &cause) == NULL) {
		fprintf(out, "result:       cannot start the request: %s\n", cause);
		free(cause);
	} else {
		event_base_dispatch(d.base);
		if (d.status_seen == 404 && cc->token_url != NULL)
			diag_origin_hint(&d, h, &ho);
	}
out:
	free(url);
	http_free(h);
	if (d.base != NULL)
		event_base_free(d.base);
	if (lock >= 0)
		close(lock);
	return d.status;
}
