/*
 * control.c: the behaviour token requests get (struct behaviour: the one
 * set at startup and the current one), injected failures, and /control,
 * which checks a whole request before it changes anything (and also
 * revokes or replaces the family of refresh tokens).
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeidp.h"

static const char *const mode_names[MODE_N] = {
	[MODE_NORMAL] = "normal",
	[MODE_MALFORMED] = "malformed",
	[MODE_OVERSIZE] = "oversize",
	[MODE_NO_EXPIRES_IN] = "no_expires_in",
	[MODE_STRING_EXPIRES_IN] = "string_expires_in",
	[MODE_ERROR200] = "error200",
	[MODE_NO_TOKEN] = "no_token",
	[MODE_HTML] = "html",
	[MODE_SILENT] = "silent",
	[MODE_INVALID_JSON] = "invalid_json",
	[MODE_DEEP_JSON] = "deep_json",
	[MODE_BAD_UTF8] = "bad_utf8",
	[MODE_HUGE] = "huge",
	[MODE_HUGE_CHUNKED] = "huge_chunked",
	[MODE_XML_ENTITY] = "xml_entity",
	[MODE_XML_BOMB] = "xml_bomb",
	[MODE_XML_DTD] = "xml_dtd",
};

const char *
control_mode_name(enum mode mode)
{
	return mode_names[mode];
}

void
control_behaviour_free(struct behaviour *b)
{
	free(b->token_type);
	free(b->grant_type);
	free(b->reauth_param);
	free(b->fail_error);
	b->token_type = b->grant_type = b->reauth_param = b->fail_error = NULL;
}

void
control_behaviour_copy(struct behaviour *dst, const struct behaviour *src)
{
	control_behaviour_free(dst);
	*dst = *src;
	dst->token_type = xstrdup(src->token_type);
	dst->grant_type = xstrdup(src->grant_type);
	dst->reauth_param = util_strdup_or_null(src->reauth_param);
	dst->fail_error = util_strdup_or_null(src->fail_error);
}

/*
 * Whether this token request gets an injected failure; consumes one of a
 * fail_count, or counts one for flap (whose failures have fail's status, else
 * 503).  Sets *ret_status when it does.
 */
bool
control_take_failure(struct behaviour *b, int *ret_status)
{
	if (b->flap > 0) {
		if ((b->flap_seen++ / b->flap) % 2 == 0)
			return false;
		*ret_status = b->fail_status != 0 ? b->fail_status : 503;
		return true;
	}
	if (b->fail_status == 0 || b->fail_remaining == 0)
		return false;
	*ret_status = b->fail_status;
	if (b->fail_remaining > 0 && --b->fail_remaining == 0)
		b->fail_status = 0;
	return true;
}

enum ctl {
	CTL_RESET,
	CTL_REVOKE,
	CTL_LIFETIME,
	CTL_FAIL,
	CTL_FAIL_COUNT,
	CTL_RETRY_AFTER,
	CTL_RETRY_AFTER_DATE,
	CTL_DELAY_MS,
	CTL_MODE,
	CTL_TOKEN_TYPE,
	CTL_GRANT_TYPE,
	CTL_REQUIRE_AUTH,
	CTL_XIBO_VERSION,
	CTL_REAUTH_PARAM,
	CTL_ROTATE,
	CTL_INVALID_GRANT,
	CTL_REFRESH_REVOKE,
	CTL_REFRESH_TOKEN,
	CTL_FLAP,
	CTL_FAIL_ERROR,
	CTL_N
};

/* CTL_NAME: like CTL_STRING, but empty is a value too. */
enum ctl_kind { CTL_INT, CTL_BOOL, CTL_STATUS, CTL_MODE_NAME, CTL_STRING, CTL_NAME };

static const struct ctl_key {
	const char *name;
	enum ctl_kind kind;
	long long max;
} ctl_keys[CTL_N] = {
	[CTL_RESET] = { "reset", CTL_BOOL, 0 },
	[CTL_REVOKE] = { "revoke", CTL_BOOL, 0 },
	[CTL_LIFETIME] = { "lifetime", CTL_INT, LIFETIME_MAX },
	[CTL_FAIL] = { "fail", CTL_STATUS, 0 },
	[CTL_FAIL_COUNT] = { "fail_count", CTL_INT, LLONG_MAX },
	[CTL_RETRY_AFTER] = { "retry_after", CTL_INT, LIFETIME_MAX },
	[CTL_RETRY_AFTER_DATE] = { "retry_after_date", CTL_BOOL, 0 },
	[CTL_DELAY_MS] = { "delay_ms", CTL_INT, DELAY_MAX_MS },
	[CTL_MODE] = { "mode", CTL_MODE_NAME, 0 },
	[CTL_TOKEN_TYPE] = { "token_type", CTL_STRING, 0 },
	[CTL_GRANT_TYPE] = { "grant_type", CTL_STRING, 0 },
	[CTL_REQUIRE_AUTH] = { "require_auth", CTL_BOOL, 0 },
	[CTL_XIBO_VERSION] = { "xibo_version", CTL_INT, 3 },
	[CTL_REAUTH_PARAM] = { "reauth_param", CTL_NAME, 0 },
	[CTL_ROTATE] = { "rotate", CTL_BOOL, 0 },
	[CTL_INVALID_GRANT] = { "invalid_grant", CTL_INT, LLONG_MAX },
	[CTL_REFRESH_REVOKE] = { "refresh_revoke", CTL_BOOL, 0 },
	[CTL_REFRESH_TOKEN] = { "refresh_token", CTL_STRING, 0 },
	[CTL_FLAP] = { "flap", CTL_INT, LLONG_MAX },
	[CTL_FAIL_ERROR] = { "fail_error", CTL_NAME, 0 },
};

/* A /control request, checked whole before anything applies. */
struct control {
	bool given[CTL_N];
	long long num[CTL_N];
	const char *str[CTL_N];		/* into the parsed forms */
};

static int
control_value(struct control *c, const char *name, const char *value)
{
	for (int k = 0; k < CTL_N; k++) {
		const struct ctl_key *key = &ctl_keys[k];
		bool b;

		if (strcmp(name, key->name) != 0)
			continue;
		switch (key->kind) {
		case CTL_INT:
			if (util_parse_ll(value, 0, key->max, &c->num[k]) < 0)
				return -EINVAL;
			if (k == CTL_XIBO_VERSION && c->num[k] < 2)
				return -EINVAL;
			break;
		case CTL_BOOL:
			if (util_parse_bool(value, &b) < 0)
				return -EINVAL;
			c->num[k] = b;
			break;
		case CTL_STATUS:
			if (util_parse_ll(value, 0, 599, &c->num[k]) < 0 ||
			    (c->num[k] != 0 && c->num[k] < 300))
				return -EINVAL;
			break;
		case CTL_MODE_NAME:
			for (c->num[k] = 0; c->num[k] < MODE_N; c->num[k]++)
				if (strcmp(value, mode_names[c->num[k]]) == 0)
					break;
			if (c->num[k] == MODE_N)
				return -EINVAL;
			break;
		case CTL_STRING:
		case CTL_NAME:
			if ((key->kind == CTL_STRING && *value == '\0') ||
			    strlen(value) > STRING_MAX)
				return -EINVAL;
			for (const char *p = value; *p != '\0'; p++)
				if (!isprint((unsigned char)*p))
					return -EINVAL;
			c->str[k] = value;
			break;
		}
		c->given[k] = true;
		return 0;
	}
	return -ENOENT;
}

static void
control_apply(struct fakeidp *fk, const struct control *c)
{
	struct behaviour *b = &fk->cur;

	if (c->given[CTL_RESET] && c->num[CTL_RESET]) {
		control_behaviour_copy(b, &fk->initial);
		stats_reset(&fk->stats);
	}
	if (c->given[CTL_REVOKE] && c->num[CTL_REVOKE])
		tokens_clear(fk);
	if (c->given[CTL_LIFETIME])
		b->lifetime = c->num[CTL_LIFETIME];
	if (c->given[CTL_FAIL]) {
		b->fail_status = (int)c->num[CTL_FAIL];
		b->fail_remaining = -1;
	}
	if (c->given[CTL_FAIL_COUNT]) {
		b->fail_remaining = c->num[CTL_FAIL_COUNT];
		if (b->fail_remaining == 0)
			b->fail_status = 0;
		else if (b->fail_status == 0)
			b->fail_status = 503;
	}
	if (c->given[CTL_RETRY_AFTER])
		b->retry_after = c->num[CTL_RETRY_AFTER];
	if (c->given[CTL_RETRY_AFTER_DATE])
		b->retry_after_date = c->num[CTL_RETRY_AFTER_DATE];
	if (c->given[CTL_DELAY_MS])
		b->delay_ms = c->num[CTL_DELAY_MS];
	if (c->given[CTL_MODE])
		b->mode = (enum mode)c->num[CTL_MODE];
	if (c->given[CTL_TOKEN_TYPE]) {
		free(b->token_type);
		b->token_type = xstrdup(c->str[CTL_TOKEN_TYPE]);
	}
	if (c->given[CTL_GRANT_TYPE]) {
		free(b->grant_type);
		b->grant_type = xstrdup(c->str[CTL_GRANT_TYPE]);
	}
	if (c->given[CTL_REQUIRE_AUTH])
		b->require_auth = c->num[CTL_REQUIRE_AUTH];
	if (c->given[CTL_XIBO_VERSION])
		b->xibo_version = (int)c->num[CTL_XIBO_VERSION];
	if (c->given[CTL_REAUTH_PARAM]) {
		free(b->reauth_param);
		b->reauth_param = *c->str[CTL_REAUTH_PARAM] != '\0' ?
		    xstrdup(c->str[CTL_REAUTH_PARAM]) : NULL;
	}
	if (c->given[CTL_ROTATE])
		b->rotate = c->num[CTL_ROTATE];
	if (c->given[CTL_FAIL_ERROR]) {
		free(b->fail_error);
		b->fail_error = *c->str[CTL_FAIL_ERROR] != '\0' ?
		    xstrdup(c->str[CTL_FAIL_ERROR]) : NULL;
	}
	if (c->given[CTL_INVALID_GRANT])
		b->invalid_grant = c->num[CTL_INVALID_GRANT];
	if (c->given[CTL_FLAP]) {
		b->flap = c->num[CTL_FLAP];
		b->flap_seen = 0;
	}
	/* Revoked first: both at once is a revocation and a new family. */
	if (c->given[CTL_REFRESH_REVOKE] && c->num[CTL_REFRESH_REVOKE])
		refresh_revoke(fk);
	if (c->given[CTL_REFRESH_TOKEN])
		refresh_set(fk, c->str[CTL_REFRESH_TOKEN]);
}

void
control_handle(struct fakeidp *fk, struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *query = http_query(req);
	struct form forms[2] = { { 0 }, { 0 } };
	struct control c;
	_cleanup_free_ char *why = NULL;
	yajl_gen g;

	memset(&c, 0, sizeof(c));
	if (!http_allow(req, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST", "use GET or POST"))
		return;
	if (query != NULL && form_parse(query, strlen(query), &forms[0]) < 0)
		why = xstrdup("the query is not k=v&k=v");
	if (why == NULL && cmd == EVHTTP_REQ_POST) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		_cleanup_free_ char *text = xmalloc(len + 1);

		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		if (form_parse(text, len, &forms[1]) < 0)
			why = xstrdup("the body is not form data");
	}
	for (size_t f = 0; f < ELEMENTSOF(forms) && why == NULL; f++) {
		for (size_t i = 0; i < forms[f].n && why == NULL; i++) {
			int r = control_value(&c, forms[f].name[i], forms[f].value[i]);
			char name[81];

			util_log_safe(forms[f].name[i], name);
			if (r == -ENOENT)
				why = xasprintf("unknown key %s", name);
			else if (r < 0)
				why = xasprintf("bad value for %s", name);
		}
	}
	if (why == NULL && c.given[CTL_REFRESH_TOKEN] && fk->dialect != DIALECT_OAUTH2)
		why = xstrdup("refresh tokens are for the oauth2 dialect");
	if (why == NULL)
		control_apply(fk, &c);
	form_clear(&forms[0]);
	form_clear(&forms[1]);
	g = json_new();
	json_bool(g, "ok", why == NULL);
	if (why != NULL)
		json_str(g, "error", why);
	http_json(req, why == NULL ? 200 : 400, json_finish(g));
}
