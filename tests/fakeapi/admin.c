/*
 * admin.c: what a test asks of fakeapi itself, without a token: /stats
 * (what the API saw) and /control (revocations, going down, a reset).
 */

#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "fakeapi.h"

void
admin_stats(struct fakeapi *fa, struct evhttp_request *req)
{
	const struct counters *c = &fa->c;
	const struct seen *s;
	yajl_gen g;

	if (!http_allow(req, EVHTTP_REQ_GET, "GET", "use GET"))
		return;
	g = json_new();
	json_int(g, "requests", (long long)c->requests);
	json_int(g, "authorized", (long long)c->authorized);
	json_int(g, "rejected", (long long)c->rejected);
	json_int(g, "dropped", (long long)c->dropped);
	json_int(g, "introspections", (long long)c->introspections);
	json_int(g, "introspection_errors", (long long)c->introspection_errors);
	json_int(g, "streams", (long long)c->streams);
	json_int(g, "aborted", (long long)c->aborted);
	json_int(g, "bytes_sent", (long long)c->bytes_sent);
	json_int(g, "active", fa->n_pending);
	json_int(g, "max_active", c->max_active);
	json_bool(g, "down", fa->down);
	json_str(g, "last_method", fa->last_method);
	json_str(g, "last_path", fa->last_path);
	json_str(g, "current", fa->current != NULL ? fa->current->fp : NULL);
	json_int(g, "tokens_seen", (long long)fa->n_seen);
	json_string(g, "tokens");
	yajl_gen_array_open(g);
	TAILQ_FOREACH(s, &fa->seen, entry) {
		yajl_gen_map_open(g);
		json_str(g, "sha", s->fp);
		json_int(g, "requests", (long long)s->requests);
		json_int(g, "authorized", (long long)s->authorized);
		json_bool(g, "revoked", s->revoked);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	http_json(req, 200, json_finish(g));
}

/* A /control request, checked whole before anything applies. */
struct control_req {
	bool revoke_current;
	bool revoke_all;
	bool down_given;
	bool down;
	bool reset;
};

/* Reads one key=value; NULL, or why it is refused. */
static const char *
admin_control_value(struct control_req *r, const char *name, const char *value)
{
	bool *flag = NULL;

	if (strcmp(name, "revoke") == 0) {
		if (strcmp(value, "current") != 0)
			return "revoke takes \"current\" (or use revoke_all=1)";
		r->revoke_current = true;
		return NULL;
	}
	if (strcmp(name, "revoke_all") == 0)
		flag = &r->revoke_all;
	else if (strcmp(name, "reset") == 0)
		flag = &r->reset;
	else if (strcmp(name, "down") == 0) {
		flag = &r->down;
		r->down_given = true;
	}
	if (flag == NULL)
		return "unknown key (revoke, revoke_all, down, reset)";
	return util_parse_bool(value, flag) < 0 ? "a boolean is 1 or 0" : NULL;
}

static void
admin_control_reply(struct evhttp_request *req, int status, const char *why, long long revoked)
{
	yajl_gen g = json_new();

	json_bool(g, "ok", why == NULL);
	if (why != NULL)
		json_str(g, "error", why);
	else
		json_int(g, "revoked", revoked);
	http_json(req, status, json_finish(g));
}

void
admin_control(struct fakeapi *fa, struct evhttp_request *req)
{
	const char *query = http_query(req);
	struct control_req r = { 0 };
	struct form q = { 0 };
	const char *why = NULL;
	size_t revoked = 0;

	if (!http_allow(req, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST", "use GET or POST"))
		return;
	if (query != NULL && form_parse(query, strlen(query), &q) < 0)
		why = "the query is not k=v&k=v";
	for (size_t i = 0; i < q.n && why == NULL; i++)
		why = admin_control_value(&r, q.name[i], q.value[i]);
	form_clear(&q);
	if (why != NULL) {
		admin_control_reply(req, 400, why, 0);
		return;
	}
	if (r.revoke_current && !r.revoke_all &&
	    (fa->current == NULL || fa->current->revoked)) {
		admin_control_reply(req, 409, "no valid token seen since the last revocation", 0);
		return;
	}
	if (r.reset) {
		memset(&fa->c, 0, sizeof(fa->c));
		fa->c.max_active = fa->n_pending;
		auth_forget_counts(fa);
		free(fa->last_method);
		free(fa->last_path);
		fa->last_method = fa->last_path = NULL;
		fa->down = false;
	}
	if (r.revoke_all)
		revoked = auth_revoke_all(fa);
	else if (r.revoke_current)
		revoked = auth_revoke_current(fa);
	if (r.down_given) {
		fa->down = r.down;
		log_info("the API is %s", r.down ? "down: /api/ requests are dropped" : "up");
	}
	admin_control_reply(req, 200, NULL, (long long)revoked);
}
