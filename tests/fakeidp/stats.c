/*
 * stats.c: the counters and what /stats tells about the last token
 * request, with every secret and token in it redacted (a refresh token
 * shows as a fingerprint); /stats itself.
 */

#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "xmalloc.h"
#include "fakeidp.h"

static void
kvlist_clear(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->name[i]);
		free(l->value[i]);
	}
	l->n = 0;
}

static void
kvlist_add(struct kvlist *l, const char *name, const char *value)
{
	if (l->n == KV_MAX)
		return;
	l->name[l->n] = xstrdup(name);
	l->value[l->n] = xstrdup(value);
	l->n++;
}

void
stats_last_clear(struct last_request *l)
{
	free(l->method);
	free(l->path);
	free(l->client_id);
	free(l->grant_type);
	free(l->scope);
	free(l->scope_raw);
	free(l->content_type);
	free(l->query);
	kvlist_clear(&l->params);
	kvlist_clear(&l->headers);
	memset(l, 0, sizeof(*l));
}

/* True when s contains the client secret (an empty secret never matches). */
static bool
mentions_secret(const struct fakeidp *fk, const char *s)
{
	return s != NULL && fk->client_secret->len > 0 && strstr(s, fk->client_secret->data) != NULL;
}

static bool
param_is_secret(const char *name)
{
	static const char *const names[] = {
		"client_secret", "password", "token", "access_token", "refresh_token",
		"assertion", "client_assertion", "code",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Authorization keeps its scheme only; cookies go entirely. */
static char *
header_redacted(const struct fakeidp *fk, const char *name, const char *value)
{
	if (strcasecmp(name, "Authorization") == 0 || strcasecmp(name, "Proxy-Authorization") == 0) {
		size_t n = strcspn(value, " \t");

		return xasprintf("%.*s " REDACTED, (int)(n > 32 ? 32 : n), value);
	}
	if (strcasecmp(name, "Cookie") == 0 || mentions_secret(fk, value))
		return xstrdup(REDACTED);
	return xstrdup(value);
}

/* Keeps what /stats tells about this token request. */
void
stats_record(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr)
{
	struct last_request *l = &fk->stats.last;
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const struct evkeyval *kv;
	const char *query = http_query(req);

	stats_last_clear(l);
	l->seen = true;
	l->auth = tr->auth;
	l->method = xstrdup(http_method(req));
	l->path = xstrdup(http_path(req));
	l->client_id = util_strdup_or_null(tr->id);
	l->grant_type = util_strdup_or_null(form_get(&tr->form, "grant_type"));
	l->scope = util_strdup_or_null(form_get(&tr->form, "scope"));
	if (tr->is_form)
		l->scope_raw = form_raw_get(tr->body, tr->body_len, "scope");
	l->content_type = util_strdup_or_null(evhttp_find_header(h, "Content-Type"));
	if (query != NULL) {
		bool secret = mentions_secret(fk, query);

		for (size_t i = 0; i < tr->query.n && !secret; i++)
			secret = mentions_secret(fk, tr->query.value[i]) ||
			    (param_is_secret(tr->query.name[i]) && tr->query.value[i][0] != '\0');
		l->query = xstrdup(secret ? REDACTED : query);
	}

	l->assertion = tr->assertion;
	if (refresh_grant(fk, tr)) {
		const char *rt = form_get(&tr->form, "refresh_token");

		l->refresh = refresh_classify(fk, rt);
		if (rt != NULL && *rt != '\0')
			digest_fingerprint(rt, strlen(rt), l->refresh_fp);
	}
	l->reauth_token = tr->presented != NULL;
	l->reauth_token_known = tokens_find(fk, tr->presented) != NULL;

	for (size_t i = 0; i < tr->form.n; i++) {
		bool secret = param_is_secret(tr->form.name[i]) || mentions_secret(fk, tr->form.value[i]);

		kvlist_add(&l->params, tr->form.name[i], secret ? REDACTED : tr->form.value[i]);
	}
	TAILQ_FOREACH(kv, h, next) {
		_cleanup_free_ char *v = header_redacted(fk, kv->key, kv->value);

		kvlist_add(&l->headers, kv->key, v);
	}
}

/* Counters to zero; max_concurrent restarts from what is in flight. */
void
stats_reset(struct stats *s)
{
	stats_last_clear(&s->last);
	s->requests = s->issued = s->failed = s->reauths = s->assertions = 0;
	s->refresh_requests = s->refresh_ok = s->refresh_reuses = 0;
	s->entity_fetches = 0;
	s->discovery_fetches = 0;
	s->max_concurrent = s->inflight;
}

/* What the last request's client assertion or certificate was (null: none). */
static void
stats_assertion(yajl_gen g, const struct stats *s, const struct assertion_seen *a)
{
	json_int(g, "assertions", (long long)s->assertions);
	json_bool(g, "tls_client_cert", a->tls_cert);
	json_bool(g, "assertion", a->present);
	json_bool(g, "assertion_ok", a->ok);
	json_str(g, "assertion_error", a->error);
	json_str(g, "assertion_alg", a->present && a->alg[0] != '\0' ? a->alg : NULL);
	json_str(g, "assertion_kid", a->kid[0] != '\0' ? a->kid : NULL);
	json_str(g, "assertion_x5t", a->x5t[0] != '\0' ? a->x5t : NULL);
	json_str(g, "assertion_iss", a->iss[0] != '\0' ? a->iss : NULL);
	json_str(g, "assertion_aud", a->aud[0] != '\0' ? a->aud : NULL);
	json_bool(g, "assertion_jti_unique", a->jti_unique);
	json_str(g, "assertion_fp", a->fp[0] != '\0' ? a->fp : NULL);
}

/*
 * The refresh_token grant: the counts, the family now (its current token
 * only as a fingerprint) and what the last request presented (null: it was
 * not a refresh_token grant).
 */
static void
stats_refresh(yajl_gen g, const struct fakeidp *fk, const struct last_request *l)
{
	const struct refresh *r = &fk->refresh;
	char fp[7] = "";

	if (r->current != NULL)
		secret_fingerprint(r->current, fp);
	json_int(g, "refresh_requests", (long long)fk->stats.refresh_requests);
	json_int(g, "refresh_ok", (long long)fk->stats.refresh_ok);
	json_int(g, "refresh_reuses", (long long)fk->stats.refresh_reuses);
	json_int(g, "refresh_family", (long long)r->family);
	json_bool(g, "refresh_revoked", r->revoked);
	json_bool(g, "refresh_rotate", fk->cur.rotate);
	json_int(g, "invalid_grant", fk->cur.invalid_grant);
	json_str(g, "refresh_fp", fp[0] != '\0' ? fp : NULL);
	json_str(g, "refresh_presented", refresh_seen_name(l->refresh));
	json_str(g, "refresh_presented_fp", l->refresh_fp[0] != '\0' ? l->refresh_fp : NULL);
}

void
stats_handle(struct fakeidp *fk, struct evhttp_request *req)
{
	const struct stats *s = &fk->stats;
	const struct last_request *l = &s->last;
	yajl_gen g;

	if (!http_allow(req, EVHTTP_REQ_GET, "GET", "use GET"))
		return;
	g = json_new();
	json_int(g, "requests", (long long)s->requests);
	json_int(g, "issued", (long long)s->issued);
	json_int(g, "failed", (long long)s->failed);
	json_str(g, "auth", l->auth);
	json_str(g, "grant_type", l->grant_type);
	json_str(g, "scope", l->scope);
	json_str(g, "scope_raw", l->scope_raw);
	json_str(g, "content_type", l->content_type);
	json_str(g, "query", l->query);
	json_bool(g, "reauth_token", l->reauth_token);
	json_bool(g, "reauth_token_known", l->reauth_token_known);
	json_bool(g, "reauth", l->reauth);
	json_int(g, "reauths", (long long)s->reauths);
	json_int(g, "lineages", (long long)fk->lineages);
	json_int(g, "lock_holder", (long long)sbc_lock_holder(fk));
	json_int(g, "max_concurrent", s->max_concurrent);
	json_int(g, "held", (long long)fk->n_holds);
	json_int(g, "entity_fetches", (long long)s->entity_fetches);
	json_int(g, "discovery_fetches", (long long)s->discovery_fetches);
	json_int(g, "flap", fk->cur.flap);
	json_str(g, "dialect", dialect_name(fk->dialect));
	json_int(g, "xibo_version", fk->cur.xibo_version);
	json_str(g, "reauth_param", fk->cur.reauth_param);
	json_str(g, "mode", control_mode_name(fk->cur.mode));
	json_str(g, "method", l->method);
	json_str(g, "path", l->path);
	json_str(g, "client_id", l->client_id);
	json_kvlist(g, "params", &l->params, l->seen);
	stats_assertion(g, s, &l->assertion);
	stats_refresh(g, fk, l);
	json_kvlist(g, "headers", &l->headers, l->seen);
	http_json(req, 200, json_finish(g));
}
