#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <event2/event.h>

#include "diag.h"
#include "http.h"
#include "request.h"
#include "response.h"
#include "timeutil.h"
#include "xmalloc.h"

struct diag {
	const struct cred_conf *cc;
	FILE *out;
	int status;
	struct event_base *base;
};

static const char *const diag_sources[] = {
	[LIFETIME_EXPIRES_IN] = "the response's expires_in",
	[LIFETIME_EXPIRES_AT] = "the response's absolute expiry",
	[LIFETIME_JWT_EXP] = "the JWT's exp claim",
	[LIFETIME_DEFAULT] = "default_lifetime (the response gave none)",
};

static void
diag_done_cb(struct http_result *res, void *arg)
{
	struct diag *d = arg;
	struct token_response *tr = NULL;
	struct response_error err = { 0 };
	char life[32];

	event_base_loopbreak(d->base);
	fprintf(d->out, "time:         %lldms\n", (long long)res->duration_ms);
	if (res->error != NULL) {
		fprintf(d->out, "result:       no answer: %s\n", res->error);
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
			RESPONSE_BODY_MAX);
		return;
	}
	if (response_parse(d->cc, res->status, res->content_type, res->body->data, res->body->len,
			   time_wall_ms(), &tr, &err) < 0) {
		fprintf(d->out, "result:       failed: %s\n", err.message ? err.message : "invalid");
		if (err.error != NULL)
			fprintf(d->out, "upstream error: %s\n", err.error);
		response_error_clear(&err);
		return;
	}
	fprintf(d->out, "format:       %s\n", tr->format ? tr->format : "?");
	if (tr->found != NULL)
		fprintf(d->out, "found:        %s\n", tr->found);
	fprintf(d->out, "token:        %zu characters, type %s (not shown)\n",
		tr->access_token->len, tr->token_type);
	fprintf(d->out, "lifetime:     %s, from %s\n",
		duration_format(tr->lifetime_ms, life, sizeof(life)),
		diag_sources[tr->lifetime_source]);
	if (tr->scope != NULL)
		fprintf(d->out, "scope:        %s\n", tr->scope);
	fprintf(d->out, "result:       ok\n");
	d->status = 0;
	response_free(tr);
}

int
diag_run(const struct conf *conf, const char *name, FILE *out)
{
	const struct cred_conf *cc = conf_find(conf, name);
	struct token_request *req = NULL;
	struct diag d = { .cc = cc, .out = out, .status = EX_UNAVAILABLE };
	struct http *h;
	char *cause = NULL;

	if (cc == NULL) {
		fprintf(stderr, "tokenbrokerd: no credential \"%s\" in the configuration\n", name);
		return EX_NOINPUT;
	}
	if (request_build(cc, NULL, &req, &cause) < 0) {
		fprintf(out, "result:       cannot build the request: %s\n", cause);
		free(cause);
		return EX_UNAVAILABLE;
	}
	fprintf(out, "credential:   %s\n", cc->name);
	fprintf(out, "request:      POST %s\n", req->url);
	fprintf(out, "auth:         %s\n", req->auth_desc ? req->auth_desc : "?");
	if (!cc->tls_verify)
		fprintf(out, "warning:      tls_verify = no: the server is not authenticated\n");
	d.base = event_base_new();
	h = http_new(d.base, 1);
	if (d.base == NULL || h == NULL ||
	    http_start(h, cc, req, diag_done_cb, &d, &cause) == NULL) {
		fprintf(out, "result:       cannot start the request: %s\n",
			cause ? cause : "out of resources");
		free(cause);
	} else {
		event_base_dispatch(d.base);
	}
	http_free(h);
	if (d.base != NULL)
		event_base_free(d.base);
	return d.status;
}
