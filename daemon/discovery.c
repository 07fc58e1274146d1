/*
 * Discovery documents: their URLs, the request, and the token endpoint
 * they name.  See discovery.h.
 */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "conf.h"
#include "discovery.h"
#include "json.h"
#include "secret.h"
#include "text.h"
#include "xmalloc.h"

#define DISCOVERY_OIDC "/.well-known/openid-configuration"
#define DISCOVERY_OAUTH "/.well-known/oauth-authorization-server"

char *
discovery_url(const char *issuer, unsigned i)
{
	size_t len = strlen(issuer);
	const char *authority, *path;

	/* A trailing slash is the issuer's, not a path of its own. */
	if (len > 0 && issuer[len - 1] == '/')
		len--;
	switch (i) {
	case 0:
		return xasprintf("%.*s%s", (int)len, issuer, DISCOVERY_OIDC);
	case 1:
		authority = strstr(issuer, "://");
		authority = authority != NULL ? authority + 3 : issuer;
		path = strchr(authority, '/');
		if (path == NULL || path >= issuer + len)
			return xasprintf("%.*s%s", (int)len, issuer, DISCOVERY_OAUTH);
		return xasprintf("%.*s%s%.*s", (int)(path - issuer), issuer, DISCOVERY_OAUTH,
				 (int)(issuer + len - path), path);
	default:
		return NULL;
	}
}

struct token_request *
discovery_request(const char *url)
{
	struct token_request *req = xcalloc(1, sizeof(*req));

	req->get = true;
	req->url = xstrdup(url);
	req->headers = xcalloc(1, sizeof(*req->headers));
	req->headers[req->nheaders++] = xstrdup("Accept: application/json");
	req->body = secret_new("", 0);
	req->auth_desc = "none (a discovery document)";
	return req;
}

int
discovery_parse(const char *body, size_t len, const char *issuer, bool mtls, char **ret_url,
		char **cause)
{
	_cleanup_free_ char *why = NULL;
	struct json *doc = NULL;
	const struct json *aliases;
	const char *said, *url = NULL;

	if (json_parse(body, len, &doc, &why) < 0) {
		*cause = xasprintf("not a discovery document: %s", why);
		return -EBADMSG;
	}
	if (doc->type != JSON_OBJECT) {
		*cause = xstrdup("not a discovery document: not a JSON object");
		json_free(doc);
		return -EBADMSG;
	}
	said = json_get_string(doc, "issuer");
	if (said == NULL || strcmp(said, issuer) != 0) {
		_cleanup_free_ char *shown = said != NULL ? text_sanitize(said, strlen(said), 200) : NULL;

		*cause = said == NULL ? xstrdup("the document names no issuer") :
			 xasprintf("the document is issuer \"%s\"'s, not \"%s\"'s: set issuer "
				   "to the one the server names, if it is the right server",
				   shown, issuer);
		json_free(doc);
		return -EINVAL;
	}
	if (mtls && (aliases = json_get(doc, "mtls_endpoint_aliases")) != NULL &&
	    aliases->type == JSON_OBJECT)
		url = json_get_string(aliases, "token_endpoint");
	if (url == NULL)
		url = json_get_string(doc, "token_endpoint");
	if (url == NULL) {
		*cause = xstrdup("the document names no token_endpoint");
		json_free(doc);
		return -EINVAL;
	}
	if (conf_url_check(url, &why) < 0) {
		_cleanup_free_ char *shown = text_sanitize(url, strlen(url), 200);

		*cause = xasprintf("its token_endpoint \"%s\": %s", shown, why);
		json_free(doc);
		return -EINVAL;
	}
	*ret_url = xstrdup(url);
	json_free(doc);
	return 0;
}

char *
discovery_issuer(const char *body, size_t len)
{
	_cleanup_free_ char *why = NULL;
	struct json *doc = NULL;
	const char *said;
	char *ret = NULL;

	if (json_parse(body, len, &doc, &why) < 0)
		return NULL;
	if (doc->type == JSON_OBJECT && (said = json_get_string(doc, "issuer")) != NULL)
		ret = xstrdup(said);
	json_free(doc);
	return ret;
}
