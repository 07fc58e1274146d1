/*
 * ctlcall: one request to the daemon and what comes back.  Sends it through
 * ctlhttp.c within the deadline the options give, reads the answer's body as
 * JSON, checks that a token answer holds a usable token, and says why the
 * daemon refused, with the exit status that goes with the refusal.
 *
 * Every buffer that held a token is wiped before it is freed: the answer by
 * ctlhttp_answer_free, the JSON tree by json_free.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#include "cleanup.h"
#include "ctl.h"
#include "ctlhttp.h"
#include "duration.h"
#include "json.h"
#include "log.h"
#include "text.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Maps a ctlhttp error to the exit status the contract gives it. */
static int
ctlcall_exit_for_errno(int rc)
{
	switch (rc) {
	case -EACCES:
	case -EPERM:
		return EX_NOPERM;
	case -ENAMETOOLONG:
		return CTL_EX_USAGE;
	default:
		return EX_TEMPFAIL;
	}
}

/* Maps a daemon's HTTP status other than 2xx to an exit status. */
static int
ctlcall_exit_for_status(int status)
{
	switch (status) {
	case 400:
		return CTL_EX_USAGE;
	case 401:
	case 403:
		return EX_NOPERM;
	case 404:
		return EX_NOINPUT;
	default:
		return EX_UNAVAILABLE;
	}
}

/*
 * Parses an answer's body as a JSON object; NULL when it is not one.  The
 * parser's cause is dropped: the user needs only to know that the answer
 * was not understood.  The tree wipes every copy of the token when freed.
 */
struct json *
ctlcall_json(const struct ctlhttp_answer *a)
{
	struct json *v = NULL;
	char *cause = NULL;

	if (json_parse(a->body, a->bodylen, &v, &cause) < 0) {
		free(cause);
		return NULL;
	}
	if (v->type != JSON_OBJECT)
		v = json_free(v);
	return v;
}

/*
 * Says why the daemon refused: "NAME: 503: no valid token: HTTP 401:
 * invalid_client: ...", from the error body's message and upstream fields.
 * Returns the exit status.
 */
static int
ctlcall_refusal(const char *name, const struct ctlhttp_answer *a)
{
	struct json *root = ctlcall_json(a);
	const char *text = NULL, *upstream = NULL;
	_cleanup_free_ char *extra = NULL, *retry = NULL;
	int64_t ustatus = 0;
	bool has_ustatus;

	text = json_get_string(root, "message");
	if (text == NULL)
		text = json_get_string(root, "error");
	if (text == NULL)
		text = a->reason[0] != '\0' ? a->reason : "unexpected answer";
	upstream = json_get_string(root, "upstream_error");
	has_ustatus = json_int64(json_get(root, "upstream_status"), &ustatus) == 0;
	if (upstream != NULL && strstr(text, upstream) == NULL) {
		if (has_ustatus)
			extra = xasprintf(": HTTP %lld: %s", (long long)ustatus, upstream);
		else
			extra = xasprintf(": %s", upstream);
	} else if (upstream == NULL && has_ustatus) {
		_cleanup_free_ char *h = xasprintf("HTTP %lld", (long long)ustatus);

		if (strstr(text, h) == NULL)
			extra = xasprintf(": %s", h);
	}
	if (a->retry_after >= 0 && a->status == 503)
		retry = xasprintf(" (retry after %llds)", (long long)a->retry_after);
	ctlout_error("%s%s%d: %s%s%s", name != NULL ? name : "", name != NULL ? ": " : "", a->status, text,
	    extra != NULL ? extra : "", retry != NULL ? retry : "");
	json_free(root);
	return ctlcall_exit_for_status(a->status);
}

/*
 * Sends one request to the daemon.  0 and *ret on a 2xx answer; otherwise
 * the error is printed and the exit status returned.  The deadline is
 * --timeout plus --wait, the time the daemon may spend waiting for a renewal.
 */
int
ctlcall_request(const struct ctl_args *args, const char *method, const char *path,
    struct ctlhttp_answer **ret)
{
	int64_t start = timeutil_mono_ms();
	int64_t deadline = start + args->timeout_ms + (args->wait_ms > 0 ? args->wait_ms : 0);
	_cleanup_free_ char *cause = NULL;
	struct ctlhttp_answer *a;
	int rc;

	log_debug("%s %s on %s", method, path, args->socket);
	rc = ctlhttp_request(args->socket, method, path, deadline, &a, &cause);
	if (rc == -ETIMEDOUT) {
		char span[32];

		ctlout_error("no answer from the daemon at %s within %s", args->socket,
		    duration_format(deadline - start, span, sizeof(span)));
		return EX_TEMPFAIL;
	}
	if (rc < 0) {
		ctlout_error("%s%s", cause,
		    rc == -ENOENT || rc == -ECONNREFUSED ? " (is tokenbrokerd running?)" : "");
		return ctlcall_exit_for_errno(rc);
	}
	log_debug("answer: %d %s, %zu bytes of body", a->status, a->reason, a->bodylen);
	if (a->status < 200 || a->status > 299) {
		rc = ctlcall_refusal(args->name, a);
		ctlhttp_answer_free(a);
		return rc;
	}
	*ret = a;
	return 0;
}

/*
 * The token's expiry in unix seconds: the answer's expires_at, exact, or
 * else its expires_in from now (which aged on the way here); -1 when the
 * answer gives neither.
 */
int64_t
ctlcall_token_expiry(const struct ctlcall_token *t)
{
	int64_t v;

	if (json_int64(json_get(t->root, "expires_at"), &v) == 0 && v >= 0)
		return v;
	if (json_int64(json_get(t->root, "expires_in"), &v) == 0 && v >= 0 &&
	    v <= INT64_MAX - (int64_t)time(NULL))
		return (int64_t)time(NULL) + v;
	return -1;
}

void
ctlcall_token_clear(struct ctlcall_token *t)
{
	t->root = json_free(t->root);
	t->answer = ctlhttp_answer_free(t->answer);
	t->token = t->type = NULL;
}

/*
 * Appends "?key=value" to *path, or "&key=value" when it has a query, the
 * value percent-encoded but for RFC 3986's unreserved characters (so a
 * space is %20 and a "+" %2B, as the daemon reads them).
 */
static void
ctlcall_query_add(char **path, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	char *enc = xmalloc(3 * strlen(value) + 1), *e = enc, *p;

	for (const unsigned char *v = (const unsigned char *)value; *v != '\0'; v++) {
		if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') ||
		    strchr("-._~", *v) != NULL) {
			*e++ = (char)*v;
		} else {
			*e++ = '%';
			*e++ = hex[*v >> 4];
			*e++ = hex[*v & 15];
		}
	}
	*e = '\0';
	p = xasprintf("%s%c%s=%s", *path, strchr(*path, '?') != NULL ? '&' : '?', key, enc);
	free(enc);
	free(*path);
	*path = p;
}

/*
 * GETs /v1/tokens/NAME (or POSTs .../renew), of a token variant when
 * --scope, --audience or --resource ask for one, and checks the answer
 * holds a token.  0 and *t (clear with ctlcall_token_clear) or the exit
 * status.
 */
int
ctlcall_token(const struct ctl_args *args, bool renew, struct ctlcall_token *t)
{
	_cleanup_free_ char *path = NULL;
	char num[24];
	int rc;

	path = xasprintf("/v1/tokens/%s%s", args->name, renew ? "/renew" : "");
	if (!renew && args->min_valid_ms >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)((args->min_valid_ms + 999) / 1000));
		ctlcall_query_add(&path, "min_valid", num);
	}
	if (!renew && args->wait_ms >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)((args->wait_ms + 999) / 1000));
		ctlcall_query_add(&path, "wait", num);
	}
	if (args->scope != NULL)
		ctlcall_query_add(&path, "scope", args->scope);
	if (args->audience != NULL)
		ctlcall_query_add(&path, "audience", args->audience);
	if (args->resource != NULL)
		ctlcall_query_add(&path, "resource", args->resource);
	if ((rc = ctlcall_request(args, renew ? "POST" : "GET", path, &t->answer)) != 0)
		return rc;

	if ((t->root = ctlcall_json(t->answer)) == NULL) {
		ctlout_error("bad answer from the daemon at %s: not a JSON object", args->socket);
		ctlcall_token_clear(t);
		return EX_TEMPFAIL;
	}
	t->token = json_get_string(t->root, "access_token");
	t->type = json_get_string(t->root, "token_type");
	if (t->token == NULL || t->token[0] == '\0') {
		ctlout_error("%s: the daemon's answer holds no token", args->name);
		ctlcall_token_clear(t);
		return EX_TEMPFAIL;
	}
	/* A control character (a newline) would split the output. */
	if (!text_printable(t->token, strlen(t->token))) {
		ctlout_error("%s: the token holds control characters; refusing to use it", args->name);
		ctlcall_token_clear(t);
		return EX_UNAVAILABLE;
	}
	/*
	 * RFC 6750 names the scheme "Bearer"; servers often send it lowercase.
	 * Anything that is not an auth-scheme (an RFC 7230 token) is not used.
	 */
	if (t->type == NULL || strcasecmp(t->type, "bearer") == 0 ||
	    !text_token(t->type, strlen(t->type)))
		t->type = "Bearer";
	return 0;
}
