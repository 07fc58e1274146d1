/*
 * The socket API's reading of a request (api_call_parse in api.c): the
 * first byte chooses the method, then come the request target (up to a
 * line break) and the Accept header.  The target is taken apart by
 * evhttp_uri_parse_with_flags as evhttp does before the API sees it; a
 * target it refuses never reaches the API (evhttp answers 400), so it is
 * given as a missing path instead.
 *
 * Properties: a request is routed exactly when its path is one of the
 * API's (checked against a matcher of this file's), with its method, and
 * the credential's name in the path is a valid one that, put back into
 * the route's pattern, gives the path again; otherwise 404 for a path the
 * API does not have, 405 for a method the path does not take, 400 for a
 * malformed query.  A routed request's parameters are each given once and
 * are ones its route takes; min_valid and wait are within their bounds
 * (0 and 5 when not given); the Accept header asks for text exactly when
 * it names text/plain and not application/json.  Every refusal has its
 * code and a message of printable ASCII (it goes into JSON), bounded.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "fuzz.h"
#include "tokenbroker.h"

#define MESSAGE_MAX 200

static const enum evhttp_cmd_type methods[] = {
	EVHTTP_REQ_GET,	  EVHTTP_REQ_POST,    EVHTTP_REQ_HEAD,
	EVHTTP_REQ_PUT,	  EVHTTP_REQ_DELETE,  EVHTTP_REQ_OPTIONS,
	EVHTTP_REQ_TRACE, EVHTTP_REQ_CONNECT, EVHTTP_REQ_PATCH,
};

/* The API's routes, spelled out again: pattern, method, parameters taken (NULL: any). */
static const char *const token_params[] = { "min_valid", "wait",     "scope",
					    "audience",	 "resource", NULL };
static const char *const renew_params[] = { "wait", "scope", "audience", "resource", NULL };
static const char *const no_params[] = { NULL };

struct route {
	const char *pattern;
	enum evhttp_cmd_type method;
	const char *const *params;
};

static const struct route routes[] = {
	{ "/v1/tokens/*", EVHTTP_REQ_GET, token_params },
	{ "/v1/tokens/*/renew", EVHTTP_REQ_POST, renew_params },
	{ "/v1/credentials", EVHTTP_REQ_GET, no_params },
	{ "/v1/proxies", EVHTTP_REQ_GET, no_params },
	{ "/v1/health", EVHTTP_REQ_GET, NULL },
	{ "/metrics", EVHTTP_REQ_GET, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The route whose path path is, and the name in it; NULL when none. */
static const struct route *
route_of(const char *path, char *name)
{
	static const char prefix[] = "/v1/tokens/";
	const char *rest, *slash;
	size_t n;

	name[0] = '\0';
	for (size_t i = 2; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].pattern) == 0)
			return &routes[i];
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	rest = path + sizeof(prefix) - 1;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n > TOKENBROKER_NAME_MAX)
		return NULL;
	memcpy(name, rest, n);
	name[n] = '\0';
	if (!tokenbroker_name_valid(name))
		return NULL;
	if (slash == NULL)
		return &routes[0];
	return strcmp(slash, "/renew") == 0 ? &routes[1] : NULL;
}

static bool
listed(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

static void
check_routed(const struct api_call *call, enum evhttp_cmd_type method, const char *path,
	     const struct route *want, const char *want_name)
{
	const char *star = strchr(call->pattern, '*');
	const struct evkeyval *kv, *o;

	FUZZ_CHECK(want != NULL, "routed a path the API does not have");
	FUZZ_CHECK(strcmp(call->pattern, want->pattern) == 0 && method == want->method,
		   "routed to %s", call->pattern);
	FUZZ_CHECK(strcmp(call->name, want_name) == 0, "another name than the path's");
	if (star != NULL) {
		size_t pre = (size_t)(star - call->pattern), n = strlen(call->name);

		FUZZ_CHECK(tokenbroker_name_valid(call->name), "an invalid name");
		FUZZ_CHECK(strncmp(path, call->pattern, pre) == 0 &&
				   strncmp(path + pre, call->name, n) == 0 &&
				   strcmp(path + pre + n, star + 1) == 0,
			   "the name in the pattern is not the path");
	} else {
		FUZZ_CHECK(call->name[0] == '\0' && strcmp(path, call->pattern) == 0,
			   "a name for a route without one");
	}
	TAILQ_FOREACH(kv, &call->query, next)
	{
		FUZZ_CHECK(kv->key[0] != '\0', "a parameter without a name");
		if (want->params != NULL)
			FUZZ_CHECK(listed(want->params, kv->key),
				   "a parameter the route does not take");
		for (o = TAILQ_NEXT(kv, next); o != NULL; o = TAILQ_NEXT(o, next))
			FUZZ_CHECK(strcmp(o->key, kv->key) != 0, "a parameter given twice");
	}
	FUZZ_CHECK(call->min_valid_s >= 0 && call->min_valid_s <= 86400, "min_valid %lld",
		   (long long)call->min_valid_s);
	FUZZ_CHECK(call->wait_s >= 0 && call->wait_s <= 300, "wait %lld", (long long)call->wait_s);
	if (evhttp_find_header(&call->query, "min_valid") == NULL)
		FUZZ_CHECK(call->min_valid_s == 0, "min_valid without the parameter");
	if (evhttp_find_header(&call->query, "wait") == NULL)
		FUZZ_CHECK(call->wait_s == 5, "wait without the parameter");
	FUZZ_CHECK(call->status == 0 && call->message == NULL, "a refusal with a route");
}

static void
check_refused(const struct api_call *call, enum evhttp_cmd_type method, const struct route *want)
{
	const char *m = call->message;

	FUZZ_CHECK(m != NULL && m[0] != '\0', "a refusal without a message");
	for (const char *p = m; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "a message that is not printable ASCII");
	FUZZ_CHECK(strlen(m) <= MESSAGE_MAX, "a message of %zu bytes", strlen(m));
	switch (call->status) {
	case 400:
		FUZZ_CHECK(strcmp(call->error, "bad_request") == 0, "400 is %s", call->error);
		break;
	case 404:
		FUZZ_CHECK(strcmp(call->error, "not_found") == 0, "404 is %s", call->error);
		FUZZ_CHECK(want == NULL, "404 for a path the API has");
		break;
	case 405:
		FUZZ_CHECK(strcmp(call->error, "method_not_allowed") == 0, "405 is %s",
			   call->error);
		FUZZ_CHECK(want != NULL && want->method != method,
			   "405 for a path that takes the method or does not exist");
		break;
	default:
		FUZZ_CHECK(false, "status %d", call->status);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	enum evhttp_cmd_type method =
		methods[fuzz_choice(&in, sizeof(methods) / sizeof(methods[0]))];
	char *target, *accept, name[TOKENBROKER_NAME_MAX + 1];
	const char *path = NULL, *qs = NULL;
	const struct route *want = NULL;
	struct evhttp_uri *uri;
	struct api_call call;
	size_t len, alen;
	bool text;
	int r;

	target = fuzz_field(&in, '\n', 8192, &len);
	accept = fuzz_field(&in, '\n', 1024, &alen);
	if (strlen(target) != len || strlen(accept) != alen || strchr(target, '\r') != NULL) {
		free(target);
		free(accept);
		return 0; /* no request line or header holds these */
	}
	uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
	if (uri != NULL) {
		path = evhttp_uri_get_path(uri);
		qs = evhttp_uri_get_query(uri);
		want = route_of(path, name);
	}

	r = api_call_parse(method, path, qs, alen > 0 ? accept : NULL, &call);
	text = strstr(accept, "text/plain") != NULL && strstr(accept, "application/json") == NULL;
	FUZZ_CHECK(call.text == text, "Accept read as %s", call.text ? "text" : "JSON");
	if (r == 0)
		check_routed(&call, method, path, want, name);
	else
		check_refused(&call, method, path != NULL ? want : NULL);
	if (r < 0 && path != NULL && want != NULL && want->method == method)
		FUZZ_CHECK(call.status == 400, "a request the API takes refused with %d",
			   call.status);
	api_call_clear(&call);
	if (uri != NULL)
		evhttp_uri_free(uri);
	free(target);
	free(accept);
	return 0;
}
