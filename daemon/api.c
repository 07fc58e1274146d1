/*
 * The HTTP API itself: routing, query parsing, the handlers (tokens,
 * renew, credentials, proxies, health, metrics) and their JSON, the
 * requests that wait for a credential, and the access log of hand-outs.
 * Sockets, connections, their caps and who the peer is are listen.c's:
 * each request asks it for its peer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <yajl/yajl_gen.h>

#include "tokenbroker.h"
#include "api.h"
#include "cleanup.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "reply.h"
#include "secbuf.h"
#include "secret.h"
#include "timeutil.h"
#include "variant.h"
#include "xmalloc.h"

#define API_MAX_HEADERS_SIZE 8192
#define API_MAX_BODY_SIZE 4096
#define API_WAIT_DEFAULT_S 5
#define API_WAIT_MAX_S 300
#define API_MIN_VALID_MAX_S 86400

/*
 * A request that waits for a credential.  The split of the waiting:
 * what it waits for and the answer it is owed are here; its connection is
 * held with listen_hold, since whether the client is still there
 * (EV_CLOSED, evhttp's close callback) is the connection's life, which
 * listen.c tracks anyway.  listen_release when it is answered; api_gone_cb
 * when the connection goes first.
 */
struct api_req {
	struct api *api;
	const struct listen_peer *peer; /* valid while held */
	struct evhttp_request *req;
	struct credential *c; /* valid while waiter is */
	struct credential_waiter *waiter;
	LIST_ENTRY(api_req) entry; /* in api->waiting */
	bool text;
	bool renew;
	uint64_t seen; /* renew: the generation of the token served when it was asked */
	int64_t wait_s;
};

struct api {
	const struct conf *conf;
	struct credential_ctx *creds;
	struct proxy_ctx *proxies; /* NULL: none */
	struct metrics *metrics;
	struct evhttp *http;
	struct listen *listen;
	LIST_HEAD(, api_req) waiting; /* answered (503) by api_shutdown */
	bool stopping;
};

struct api_route {
	const char *pattern; /* '*' matches one path segment: the credential name */
	enum evhttp_cmd_type method;
	const char *const *params; /* the query parameters it takes; NULL: not checked */
	void (*handler)(struct api *api, const struct listen_peer *peer,
			struct evhttp_request *req, const struct api_call *call);
};

/* The text of c's variant key ("scope=a+b"), or NULL for a main token. */
static const char *
api_variant_text(const struct credential *c)
{
	const struct variant_key *k = variant_key_of(c);

	return k != NULL ? k->text : NULL;
}

/* 503 for a credential that has no token to give, with the reason. */
static void
api_unavailable(struct evhttp_request *req, struct credential *c, const char *why,
		int64_t retry_after_s)
{
	const char *variant = api_variant_text(c);
	struct credential_info info;
	char *msg, *name;

	credential_info(c, &info);
	name = variant != NULL ? xasprintf("%s (variant %s)", credential_name(c), variant) :
				 xstrdup(credential_name(c));
	if (info.last_error != NULL)
		msg = xasprintf("%s: %s; last error: %s", name, why, info.last_error);
	else
		msg = xasprintf("%s: %s", name, why);
	free(name);
	if (retry_after_s <= 0)
		retry_after_s = info.retry_after_s > 0 ? info.retry_after_s : 1;
	reply_error(req, 503, "unavailable", msg, info.upstream_status, info.upstream_error,
		  retry_after_s);
	free(msg);
}

static void
api_memo_free(void *data)
{
	reply_body_unref(data);
}

/* The token answer's members. */
static void
api_gen_token(yajl_gen g, const struct credential *c, const struct token *t, int64_t expires_in)
{
	reply_gen_kv_str(g, "name", credential_name(c));
	reply_gen_str(g, "access_token");
	yajl_gen_string(g, (const unsigned char *)t->access_token->data, t->access_token->len);
	reply_gen_kv_str(g, "token_type", t->token_type);
	reply_gen_kv_int(g, "expires_at", t->expires_wall_ms / 1000);
	reply_gen_kv_int(g, "expires_in", expires_in);
	if (t->scope != NULL)
		reply_gen_kv_str(g, "scope", t->scope);
}

/* The JSON answer for t with this expires_in, rendered into o (taken). */
static struct reply_body *
api_render_token(const struct credential *c, const struct token *t, int64_t expires_in,
		 struct secbuf *o)
{
	yajl_gen g = reply_gen_new(o);

	yajl_gen_map_open(g);
	api_gen_token(g, c, t, expires_in);
	yajl_gen_map_close(g);
	yajl_gen_free(g);
	secbuf_add(o, "\n", 1);
	return reply_body_new(o);
}

/*
 * The token answer: JSON, or the bare token for Accept: text/plain.  ar,
 * when not NULL, is a POST .../renew: its JSON answer also says whether the
 * token was renewed, and if not, why (the token served is still valid).
 */
static void
api_send_token(struct evhttp_request *req, struct credential *c, const struct token *t,
	       const struct api_req *ar, bool text)
{
	struct secbuf *o = xcalloc(1, sizeof(*o));
	int64_t now = timeutil_wall_ms();
	yajl_gen g;

	if (text) {
		secbuf_add(o, t->access_token->data, t->access_token->len);
		secbuf_add(o, "\n", 1);
		reply_send(req, 200, "text/plain; charset=utf-8", o);
		return;
	}
	/*
	 * A plain GET's answer changes only with expires_in: it is rendered
	 * once for each of its values and kept with the token, shared by the
	 * answers in flight.
	 */
	if ((ar == NULL || !ar->renew) && t->memo != NULL) {
		int64_t expires_in = (t->expires_wall_ms - now) / 1000;

		if (t->memo->data == NULL || t->memo->key != expires_in) {
			reply_body_unref(t->memo->data);
			t->memo->data = api_render_token(c, t, expires_in, o);
			t->memo->key = expires_in;
			t->memo->free = api_memo_free;
		} else {
			free(o);
		}
		reply_send_body(req, 200, "application/json", t->memo->data);
		return;
	}
	g = reply_gen_new(o);
	yajl_gen_map_open(g);
	api_gen_token(g, c, t, (t->expires_wall_ms - now) / 1000);
	if (ar != NULL && ar->renew) {
		struct credential_info info;

		credential_info(c, &info);
		reply_gen_str(g, "renewed");
		yajl_gen_bool(g, t->generation > ar->seen);
		if (t->generation <= ar->seen)
			reply_gen_kv_str(g, "renew_error",
				       info.last_error != NULL ? info.last_error
							       : "the upstream's Retry-After is in force");
	}
	yajl_gen_map_close(g);
	reply_send_json(req, 200, g, o);
}

static bool
api_allowed(const struct listen_peer *peer, const struct cred_conf *cc)
{
	return conf_ids_allow(&cc->allow_users, &cc->allow_groups, peer->uid, peer->gids,
			      peer->ngids) &&
	       listen_peer_in_units(peer, cc->allow_units);
}

/*
 * With log_access: one info line for an answer to a token request (a
 * hand-out or its refusal) with code, saying who asked for which
 * credential and which variant of it (NULL: the main token); never the
 * token.
 */
static void
api_log_access(const struct api *api, const struct listen_peer *peer, const char *name,
	       const char *variant, bool renew, int code)
{
	char uid[16], pid[16], status[16];
	_cleanup_free_ char *unit = NULL;
	struct log_field fields[] = {
		{ "CREDENTIAL", name },
		{ "CALLER_UID", uid },
		{ "CALLER_PID", pid },
		{ "CALLER_UNIT", NULL },
		{ "HTTP_STATUS", status },
		{ "VARIANT", variant },
	};

	if (!api->conf->daemon.log_access || !log_enabled(LOG_INFO))
		return;
	snprintf(uid, sizeof(uid), "%u", (unsigned)peer->uid);
	snprintf(pid, sizeof(pid), "%d", (int)peer->pid);
	snprintf(status, sizeof(status), "%d", code);
	if (listen_peer_unit(peer, &unit) == 0)
		fields[3].value = unit;
	log_fields(LOG_INFO, fields, ELEMENTSOF(fields),
		   "credential %s%s%s%s: %s for uid %s (pid %s%s%s): %d", name,
		   variant != NULL ? " (variant " : "", variant != NULL ? variant : "",
		   variant != NULL ? ")" : "", renew ? "renewal" : "token", uid, pid,
		   unit != NULL ? ", unit " : "", unit != NULL ? unit : "", code);
}

/*
 * Reads a whole number of seconds from query parameter key into *ret.
 * Returns 0 (absent: *ret unchanged) or -EINVAL with *ret_msg (caller frees).
 */
static int
api_query_seconds(const struct evkeyvalq *q, const char *key, int64_t max, int64_t *ret,
		  char **ret_msg)
{
	const char *v = evhttp_find_header(q, key);
	char *end;
	long long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > max) {
		*ret_msg = xasprintf("%s must be a number of seconds from 0 to %lld", key,
				     (long long)max);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

/*
 * Parses the query string qs into q (values decoded, '+' as a space), as
 * evhttp_parse_query_str does, but refuses what it would let through: a
 * parameter given twice (which one counts is then anyone's guess) and a NUL
 * byte in a value (which would end it early: "5%00..." read as 5).  Returns
 * 0, or -EINVAL with *ret_msg (caller frees) and q cleared.
 */
static int
api_query_parse(const char *qs, struct evkeyvalq *q, char **ret_msg)
{
	char *copy = xstrdup(qs), *p = copy, *arg;
	const char *msg = NULL;
	char *bad = NULL;

	TAILQ_INIT(q);
	while (msg == NULL && p != NULL && *p != '\0') {
		char *key, *value, *decoded;
		size_t len;

		arg = strsep(&p, "&");
		value = arg;
		key = strsep(&value, "=");
		if (value == NULL || *key == '\0') {
			msg = "malformed query string";
			break;
		}
		if (evhttp_find_header(q, key) != NULL) {
			msg = "is given more than once";
			bad = xstrndup(key, 64);
			break;
		}
		if ((decoded = evhttp_uridecode(value, 1, &len)) == NULL)
			log_fatal("out of memory");
		if (strlen(decoded) != len) {
			msg = "has a NUL byte";
			bad = xstrndup(key, 64);
		} else {
			evhttp_add_header(q, key, decoded);
		}
		free(decoded);
	}
	free(copy);
	if (msg == NULL)
		return 0;
	evhttp_clear_headers(q);
	if (bad == NULL) {
		*ret_msg = xstrdup(msg);
		return -EINVAL;
	}
	for (char *c = bad; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f || *c == '"')
			*c = '?';
	*ret_msg = xasprintf("parameter \"%s\" %s", bad, msg);
	free(bad);
	return -EINVAL;
}

/* Refuses query parameters other than the ones named: -EINVAL with *ret_msg. */
static int
api_query_only(const struct evkeyvalq *q, const char *const *known, char **ret_msg)
{
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, q, next) {
		bool ok = false;

		for (const char *const *k = known; *k != NULL; k++)
			ok = ok || strcmp(kv->key, *k) == 0;
		if (!ok) {
			char *key = xstrndup(kv->key, 64);

			for (char *p = key; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
			*ret_msg = xasprintf("unknown parameter \"%s\"", key);
			free(key);
			return -EINVAL;
		}
	}
	return 0;
}

static void api_req_free(struct api_req *ar);

static void
api_wait_cb(struct credential *c, enum credential_result result, void *arg)
{
	struct api_req *ar = arg;
	struct evhttp_request *req = ar->req;
	const struct token *t;
	char why[96];
	int code = 503;

	ar->waiter = NULL;
	/* A reload may have taken the caller's right away while it waited. */
	if (result != CREDENTIAL_GONE && !api_allowed(ar->peer, credential_conf(c))) {
		reply_errorf(req, 403, "forbidden", "uid %u is not allowed credential \"%s\"",
			   (unsigned)ar->peer->uid, credential_name(c));
		api_log_access(ar->api, ar->peer, credential_name(c), api_variant_text(c),
			       ar->renew, 403);
		api_req_free(ar);
		return;
	}
	switch (result) {
	case CREDENTIAL_OK:
		t = credential_token(c, 0);
		if (t != NULL) {
			api_send_token(req, c, t, ar, ar->text);
			code = 200;
			break;
		}
		/* FALLTHROUGH */
	case CREDENTIAL_FAILED:
		api_unavailable(req, c, ar->renew ? "renewal failed" : "no valid token", 0);
		break;
	case CREDENTIAL_TIMEOUT:
		snprintf(why, sizeof(why), "no valid token within %llds", (long long)ar->wait_s);
		api_unavailable(req, c, why, 0);
		break;
	case CREDENTIAL_TOO_SHORT:
		api_unavailable(req, c, "the upstream's tokens live shorter than min_valid", 0);
		break;
	case CREDENTIAL_GONE:
		if (ar->api->stopping) {
			reply_error(req, 503, "stopping", "tokenbrokerd is stopping", 0, NULL, 1);
		} else if (api_variant_text(c) != NULL) {
			/* A reload dropped it (its credential changed or went): ask anew. */
			api_unavailable(req, c, "the variant was dropped by a reload", 1);
		} else {
			reply_errorf(req, 404, "not_found", "no credential \"%s\"", credential_name(c));
			code = 404;
		}
		break;
	}
	api_log_access(ar->api, ar->peer, credential_name(c), api_variant_text(c), ar->renew, code);
	api_req_free(ar);
}

/*
 * The connection went (the client hung up, a timeout, our own free) while
 * the request waited: drop it unanswered.
 */
static void
api_gone_cb(void *arg)
{
	struct api_req *ar = arg;

	credential_waiter_cancel(ar->waiter);
	ar->waiter = NULL;
	LIST_REMOVE(ar, entry);
	free(ar);
}

/* Frees a waiting request answered, ending the hold on its connection. */
static void
api_req_free(struct api_req *ar)
{
	listen_release(ar->peer);
	LIST_REMOVE(ar, entry);
	free(ar);
}

/*
 * Waits for c on behalf of req (call says for how long, and how much
 * validity it wants); answers at once when there is nothing to wait for.
 */
static void
api_wait(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
	 struct credential *c, bool renew, const struct api_call *call)
{
	int64_t min_valid_s = call->min_valid_s, wait_s = call->wait_s;
	struct api_req *ar = xcalloc(1, sizeof(*ar));
	int64_t retry_after_s = 0;
	int r, code = 503;

	ar->api = api;
	ar->peer = peer;
	ar->req = req;
	ar->c = c;
	ar->renew = renew;
	ar->text = call->text;
	ar->wait_s = wait_s;
	/* A renew replaces the token served now, whoever's attempt does it. */
	if (renew) {
		ar->seen = credential_generation(c);
		r = credential_renew(c, ar->seen, wait_s * 1000, api_wait_cb, ar, &ar->waiter,
				     &retry_after_s);
	} else {
		r = credential_get(c, min_valid_s * 1000, wait_s * 1000, api_wait_cb, ar,
				   &ar->waiter, &retry_after_s);
	}
	if (r == 1) {
		LIST_INSERT_HEAD(&api->waiting, ar, entry);
		listen_hold(peer, api_gone_cb, ar);
		return;
	}
	if (r == 0) {
		api_send_token(req, c, credential_token(c, min_valid_s * 1000), ar, ar->text);
		code = 200;
	} else if (r == -ERANGE) {
		api_unavailable(req, c, "the upstream's tokens live shorter than min_valid", 0);
	} else {
		api_unavailable(req, c, "no valid token", retry_after_s);
	}
	api_log_access(api, peer, credential_name(c), api_variant_text(c), renew, code);
	free(ar);
}

/*
 * Looks up a credential the caller may use for a token (or a renewal);
 * answers 404/403 otherwise.
 */
static struct credential *
api_credential(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
	       const char *name, bool renew)
{
	struct credential *c = credential_lookup(api->creds, name);

	if (c == NULL) {
		reply_errorf(req, 404, "not_found", "no credential \"%s\"", name);
		api_log_access(api, peer, name, NULL, renew, 404);
		return NULL;
	}
	if (!api_allowed(peer, credential_conf(c))) {
		log_notice("uid %u (pid %d) is not allowed credential %s", (unsigned)peer->uid,
			   (int)peer->pid, name);
		reply_errorf(req, 403, "forbidden", "uid %u is not allowed credential \"%s\"",
			   (unsigned)peer->uid, name);
		api_log_access(api, peer, name, NULL, renew, 403);
		return NULL;
	}
	return c;
}

/*
 * The token a request asks of credential c: c's own, or with query
 * parameters scope, audience or resource one of its variants (made on
 * first request).  NULL with the refusal answered: 400 when c does not
 * allow what was asked, 503 when it keeps as many variants as it may and
 * clients wait for each of them.
 */
static struct credential *
api_variant(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
	    struct credential *c, const struct evkeyvalq *q, bool renew)
{
	const char *scope = evhttp_find_header(q, "scope");
	const char *audience = evhttp_find_header(q, "audience");
	const char *resource = evhttp_find_header(q, "resource");
	struct credential *vc = NULL;
	char *cause = NULL;
	int r;

	if (scope == NULL && audience == NULL && resource == NULL)
		return c;
	r = variant_get(c, scope, audience, resource, &vc, &cause);
	if (r == 0)
		return vc;
	if (r == -EBUSY)
		reply_error(req, 503, "unavailable", cause, 0, NULL, 1);
	else
		reply_error(req, 400, "bad_request", cause, 0, NULL, 0);
	api_log_access(api, peer, credential_name(c), NULL, renew, r == -EBUSY ? 503 : 400);
	free(cause);
	return NULL;
}

static void
api_get_token(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
	      const struct api_call *call)
{
	struct credential *c;

	if ((c = api_credential(api, peer, req, call->name, false)) == NULL ||
	    (c = api_variant(api, peer, req, c, &call->query, false)) == NULL)
		return;
	api_wait(api, peer, req, c, false, call);
}

static void
api_post_renew(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
	       const struct api_call *call)
{
	const char *name = call->name;
	struct credential *c;
	const char *variant;

	if ((c = api_credential(api, peer, req, name, true)) == NULL ||
	    (c = api_variant(api, peer, req, c, &call->query, true)) == NULL)
		return;
	variant = api_variant_text(c);
	log_info("uid %u asks to renew credential %s%s%s%s", (unsigned)peer->uid, name,
		 variant != NULL ? " (variant " : "", variant != NULL ? variant : "",
		 variant != NULL ? ")" : "");
	api_wait(api, peer, req, c, true, call);
}

static void
api_gen_time(yajl_gen g, const char *k, int64_t t)
{
	reply_gen_str(g, k);
	if (t > 0)
		yajl_gen_integer(g, t);
	else
		yajl_gen_null(g);
}

/*
 * Begins the answer of a list route: {"key": [ written by the generator
 * returned, into *ret_o (both for api_list_send).
 */
static yajl_gen
api_list_begin(const char *key, struct secbuf **ret_o)
{
	yajl_gen g;

	*ret_o = xcalloc(1, sizeof(**ret_o));
	g = reply_gen_new(*ret_o);
	yajl_gen_map_open(g);
	reply_gen_str(g, key);
	yajl_gen_array_open(g);
	return g;
}

/* Closes the list begun by api_list_begin and sends it. */
static void
api_list_send(struct evhttp_request *req, yajl_gen g, struct secbuf *o)
{
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	reply_send_json(req, 200, g, o);
}

/* "k": s, left out when s is NULL. */
static void
api_gen_opt_str(yajl_gen g, const char *k, const char *s)
{
	if (s != NULL)
		reply_gen_kv_str(g, k, s);
}

/*
 * "variants": [...] of credential c, each its scope, audience and
 * resource (space-separated), state, expiry, next renewal, counters and
 * last error; a field without a value left out.
 */
static void
api_gen_variants(yajl_gen g, struct credential *c)
{
	reply_gen_str(g, "variants");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < variant_count(c); i++) {
		const struct credential *vc = variant_at(c, i);
		const struct variant_key *k = variant_key_of(vc);
		struct credential_info info;

		credential_info(vc, &info);
		yajl_gen_map_open(g);
		api_gen_opt_str(g, "scope", k->scope);
		api_gen_opt_str(g, "audience", k->audience);
		api_gen_opt_str(g, "resource", k->resource);
		reply_gen_kv_str(g, "state", credential_state_name(info.state));
		if (info.expires_at > 0)
			reply_gen_kv_int(g, "expires_at", info.expires_at);
		if (info.next_renewal > 0)
			reply_gen_kv_int(g, "next_renewal", info.next_renewal);
		reply_gen_kv_int(g, "renewals", (long long)info.renewals);
		reply_gen_kv_int(g, "failures", (long long)info.failures);
		api_gen_opt_str(g, "last_error", info.last_error);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

static void
api_get_credentials(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
		    const struct api_call *call)
{
	struct secbuf *o;
	yajl_gen g = api_list_begin("credentials", &o);

	for (size_t i = 0; i < credential_count(api->creds); i++) {
		struct credential *c = credential_at(api->creds, i);
		struct credential_info info;

		if (!api_allowed(peer, credential_conf(c)))
			continue;
		credential_info(c, &info);
		yajl_gen_map_open(g);
		reply_gen_kv_str(g, "name", credential_name(c));
		reply_gen_kv_str(g, "state", credential_state_name(info.state));
		api_gen_time(g, "expires_at", info.expires_at);
		api_gen_time(g, "next_renewal", info.next_renewal);
		api_gen_time(g, "last_renewal", info.last_renewal);
		reply_gen_kv_int(g, "renewals", (long long)info.renewals);
		reply_gen_kv_int(g, "failures", (long long)info.failures);
		reply_gen_kv_str(g, "last_error", info.last_error);
		if (variant_conf_allows_any(credential_conf(c)))
			api_gen_variants(g, c);
		yajl_gen_map_close(g);
	}
	api_list_send(req, g, o);
}

/*
 * Whether the caller may use proxy pc: it must pass the proxy's lists and
 * those of its credential, as the proxy itself checks.
 */
static bool
api_proxy_allowed(const struct api *api, const struct listen_peer *peer,
		  const struct proxy_conf *pc)
{
	const struct cred_conf *cc = conf_find(api->conf, pc->credential);

	return cc != NULL && api_allowed(peer, cc) &&
	       conf_ids_allow(&pc->allow_users, &pc->allow_groups, peer->uid, peer->gids,
			      peer->ngids);
}

/* GET /v1/proxies: the proxies the caller may use; last_status null before the first answer. */
static void
api_get_proxies(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
		const struct api_call *call)
{
	size_t n = api->proxies != NULL ? proxy_count(api->proxies) : 0;
	struct secbuf *o;
	yajl_gen g = api_list_begin("proxies", &o);

	for (size_t i = 0; i < n; i++) {
		struct proxy_info info;

		proxy_info(proxy_at(api->proxies, i), &info);
		if (!api_proxy_allowed(api, peer, info.conf))
			continue;
		yajl_gen_map_open(g);
		reply_gen_kv_str(g, "name", info.conf->name);
		reply_gen_kv_str(g, "listen", info.conf->listen);
		reply_gen_kv_str(g, "upstream", info.conf->upstream);
		reply_gen_kv_str(g, "credential", info.conf->credential);
		reply_gen_kv_int(g, "requests", (long long)info.requests);
		reply_gen_kv_int(g, "retries", (long long)info.retries);
		reply_gen_str(g, "last_status");
		if (info.last_status > 0)
			yajl_gen_integer(g, info.last_status);
		else
			yajl_gen_null(g);
		yajl_gen_map_close(g);
	}
	api_list_send(req, g, o);
}

static void
api_get_health(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
	       const struct api_call *call)
{
	struct secbuf *o = xcalloc(1, sizeof(*o));
	yajl_gen g = reply_gen_new(o);

	yajl_gen_map_open(g);
	reply_gen_kv_str(g, "status", "ok");
	reply_gen_kv_int(g, "credentials", (long long)credential_count(api->creds));
	yajl_gen_map_close(g);
	reply_send_json(req, 200, g, o);
}

static void api_get_metrics(struct api *api, const struct listen_peer *peer,
			    struct evhttp_request *req, const struct api_call *call);

static const char *const api_token_params[] = { "min_valid", "wait", "scope", "audience",
						"resource", NULL };
static const char *const api_renew_params[] = { "wait", "scope", "audience", "resource", NULL };
static const char *const api_no_params[] = { NULL };

static const struct api_route api_routes[] = {
	{ "/v1/tokens/*", EVHTTP_REQ_GET, api_token_params, api_get_token },
	{ "/v1/tokens/*/renew", EVHTTP_REQ_POST, api_renew_params, api_post_renew },
	{ "/v1/credentials", EVHTTP_REQ_GET, api_no_params, api_get_credentials },
	{ "/v1/proxies", EVHTTP_REQ_GET, api_no_params, api_get_proxies },
	{ "/v1/health", EVHTTP_REQ_GET, NULL, api_get_health },
	{ "/metrics", EVHTTP_REQ_GET, NULL, api_get_metrics },
};

/*
 * Matches path against pattern; a '*' segment must be a valid credential
 * name, copied to name (TOKENBROKER_NAME_MAX + 1 bytes).
 */
static bool
api_route_match(const char *pattern, const char *path, char *name)
{
	while (*pattern != '\0') {
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");

			if (len == 0 || len > TOKENBROKER_NAME_MAX)
				return false;
			memcpy(name, path, len);
			name[len] = '\0';
			if (!tokenbroker_name_valid(name))
				return false;
			path += len;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *path == '\0';
}

/* A method's name for messages, whichever it is. */
static const char *
api_method_name(enum evhttp_cmd_type m)
{
	const char *name = reply_method_name(m);

	return name != NULL ? name : "other";
}

/* The refusal of a call: status, its error code and message (taken). */
static int
api_call_refuse(struct api_call *call, int status, char *message)
{
	call->status = status;
	call->error = status == 404 ? "not_found" :
		      status == 405 ? "method_not_allowed" : "bad_request";
	call->message = message;
	return -EINVAL;
}

int
api_call_parse(enum evhttp_cmd_type method, const char *path, const char *qs,
	       const char *accept, struct api_call *call)
{
	bool path_known = false;
	char *msg = NULL;

	memset(call, 0, sizeof(*call));
	TAILQ_INIT(&call->query);
	call->wait_s = API_WAIT_DEFAULT_S;
	call->text = accept != NULL && strstr(accept, "text/plain") != NULL &&
		     strstr(accept, "application/json") == NULL;
	if (path == NULL)
		return api_call_refuse(call, 400, xstrdup("malformed request line"));
	if (qs != NULL && api_query_parse(qs, &call->query, &msg) < 0)
		return api_call_refuse(call, 400, msg);
	for (size_t i = 0; i < ELEMENTSOF(api_routes); i++) {
		const struct api_route *r = &api_routes[i];

		if (!api_route_match(r->pattern, path, call->name))
			continue;
		path_known = true;
		if (r->method != method)
			continue;
		call->route = i;
		call->pattern = r->pattern;
		if (r->params != NULL &&
		    (api_query_only(&call->query, r->params, &msg) < 0 ||
		     api_query_seconds(&call->query, "min_valid", API_MIN_VALID_MAX_S,
				       &call->min_valid_s, &msg) < 0 ||
		     api_query_seconds(&call->query, "wait", API_WAIT_MAX_S, &call->wait_s,
				       &msg) < 0))
			return api_call_refuse(call, 400, msg);
		return 0;
	}
	call->name[0] = '\0';
	if (path_known)
		return api_call_refuse(call, 405, xasprintf("%s is not allowed here",
							    api_method_name(method)));
	return api_call_refuse(call, 404, xstrdup("no such resource"));
}

void
api_call_clear(struct api_call *call)
{
	evhttp_clear_headers(&call->query);
	free(call->message);
	call->message = NULL;
}

/*
 * Every answer, whoever sent it, counted by status code once it is out;
 * then the connection's next request is due.
 */
static void
api_complete_cb(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;

	metrics_count_request(api->metrics, evhttp_request_get_response_code(req));
	listen_request_done(api->listen, req);
}

/* c's series as of now (unix seconds): a main token's, or a variant's. */
static void
api_metrics_cred(const struct credential *c, int64_t now, struct metrics_cred *ret)
{
	struct credential_info info;

	credential_info(c, &info);
	ret->name = credential_name(c);
	ret->variant = api_variant_text(c);
	ret->renewals = info.renewals;
	ret->failures = info.failures;
	ret->late_renewals = info.late_renewals;
	ret->up = credential_token(c, 0) != NULL;
	ret->expiry_s = info.expires_at > now ? info.expires_at - now : 0;
}

/*
 * Renders the metrics with the credentials' (and their variants') and the
 * proxies' state as it is now, read only.
 */
static void
api_metrics_snapshot(struct api *api, struct evbuffer *buf)
{
	size_t n = credential_count(api->creds), nmc = 0;
	size_t np = api->proxies != NULL ? proxy_count(api->proxies) : 0;
	struct metrics_cred *mc;
	struct metrics_proxy *mp = xcalloc(np > 0 ? np : 1, sizeof(*mp));
	struct metrics_snapshot snap = {
		.proxies = mp,
		.nproxies = np,
		.waiting = credential_ctx_waiters(api->creds),
		.clients = listen_clients(api->listen),
	};
	int64_t now = timeutil_wall_ms() / 1000;

	for (size_t i = 0; i < n; i++)
		nmc += 1 + variant_count(credential_at(api->creds, i));
	mc = xcalloc(nmc > 0 ? nmc : 1, sizeof(*mc));
	nmc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct credential *c = credential_at(api->creds, i);

		api_metrics_cred(c, now, &mc[nmc++]);
		for (size_t j = 0; j < variant_count(c); j++)
			api_metrics_cred(variant_at(c, j), now, &mc[nmc++]);
	}
	snap.creds = mc;
	snap.ncreds = nmc;
	for (size_t i = 0; i < np; i++) {
		struct proxy_info info;

		proxy_info(proxy_at(api->proxies, i), &info);
		mp[i].name = info.conf->name;
		mp[i].stats = info.stats;
		mp[i].active = info.active;
	}
	metrics_render(api->metrics, &snap, buf);
	free(mp);
	free(mc);
}

/* GET /metrics: root and the users and groups of metrics_allow. */
static void
api_get_metrics(struct api *api, const struct listen_peer *peer, struct evhttp_request *req,
		const struct api_call *call)
{
	const struct daemon_conf *dc = &api->conf->daemon;
	struct evbuffer *buf;

	if (!conf_ids_allow(&dc->metrics_allow_users, &dc->metrics_allow_groups, peer->uid,
			    peer->gids, peer->ngids)) {
		reply_errorf(req, 403, "forbidden", "uid %u may not read metrics (see metrics_allow)",
			   (unsigned)peer->uid);
		return;
	}
	buf = evbuffer_new();
	if (buf == NULL)
		log_fatal("out of memory");
	api_metrics_snapshot(api, buf);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

static void
api_request_cb(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *qs = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	const char *accept =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	const struct listen_peer *peer;
	struct api_call call;

	evhttp_request_set_on_complete_cb(req, api_complete_cb, api);
	if ((peer = listen_conn_of(api->listen, req)) == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_error(req, 503, "too_many_clients", "connection not admitted", 0, NULL, 1);
		return;
	}
	if (api->stopping) {
		reply_error(req, 503, "stopping", "tokenbrokerd is stopping", 0, NULL, 1);
		return;
	}
	log_debug("uid %u: %s %s", (unsigned)peer->uid, api_method_name(method),
		  path != NULL ? path : "?");
	if (api_call_parse(method, path, qs, accept, &call) < 0)
		reply_error(req, call.status, call.error, call.message, 0, NULL, 0);
	else
		api_routes[call.route].handler(api, peer, req, &call);
	api_call_clear(&call);
}

struct api *
api_new(struct event_base *base, const struct conf *conf, struct credential_ctx *creds,
	struct metrics *metrics, int listen_fd, char **cause)
{
	struct api *api = xcalloc(1, sizeof(*api));

	api->metrics = metrics;
	api->conf = conf;
	api->creds = creds;
	LIST_INIT(&api->waiting);
	api->http = evhttp_new(base);
	if (api->http == NULL) {
		*cause = xstrdup("cannot set up the HTTP server");
		return api_free(api);
	}
	api->listen = listen_new(base, &conf->daemon, api->http, listen_fd, metrics, cause);
	if (api->listen == NULL)
		return api_free(api);
	evhttp_set_max_headers_size(api->http, API_MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(api->http, API_MAX_BODY_SIZE);
	/* Every method reaches the router, which answers 405 in JSON. */
	evhttp_set_allowed_methods(api->http, REPLY_ALL_METHODS);
	evhttp_set_gencb(api->http, api_request_cb, api);
	return api;
}

int
api_set_conf(struct api *api, const struct conf *conf)
{
	int r = listen_set_conf(api->listen, &conf->daemon);

	api->conf = conf;
	return r;
}

void
api_set_proxies(struct api *api, struct proxy_ctx *proxies)
{
	api->proxies = proxies;
}

void
api_shutdown(struct api *api)
{
	struct api_req *ar;

	api->stopping = true;
	listen_shutdown(api->listen);
	while ((ar = LIST_FIRST(&api->waiting)) != NULL) {
		credential_waiter_cancel(ar->waiter);
		ar->waiter = NULL;
		evhttp_add_header(evhttp_request_get_output_headers(ar->req), "Connection", "close");
		reply_error(ar->req, 503, "stopping", "tokenbrokerd is stopping", 0, NULL, 1);
		api_log_access(api, ar->peer, credential_name(ar->c), api_variant_text(ar->c),
			       ar->renew, 503);
		api_req_free(ar);
	}
}

struct api *
api_free(struct api *api)
{
	if (api == NULL)
		return NULL;
	api->stopping = true;
	/* Closes the connections it admitted: their waiting requests go. */
	api->listen = listen_free(api->listen);
	if (api->http != NULL)
		evhttp_free(api->http); /* and the ones it did not */
	free(api);
	return NULL;
}
