/*
 * discovery.c: the discovery document of --issuer, as an authorization
 * server publishes it: OpenID Connect Discovery's
 * (ISSUER-PATH/.well-known/openid-configuration) with --discovery oidc,
 * RFC 8414's (/.well-known/oauth-authorization-server/ISSUER-PATH) with
 * --discovery oauth.  It names the first token path as token_endpoint and,
 * with a second one, that as mtls_endpoint_aliases.token_endpoint; its
 * issuer is --doc-issuer when given (a mix-up), else --issuer.  Each fetch
 * counts ("discovery_fetches" in /stats).  With --discovery-page, the OIDC
 * path answers 200 with a web page, as a site that answers every path does.
 */

#include <string.h>

#include "xmalloc.h"
#include "fakeidp.h"

#define WELL_KNOWN_OIDC "/.well-known/openid-configuration"
#define WELL_KNOWN_OAUTH "/.well-known/oauth-authorization-server"

/* The issuer's path ("" for none), without a trailing slash. */
static size_t
discovery_issuer_path(const char *issuer, const char **ret)
{
	const char *authority = strstr(issuer, "://"), *path;
	size_t len;

	authority = authority != NULL ? authority + 3 : issuer;
	path = strchr(authority, '/');
	if (path == NULL)
		path = authority + strlen(authority);
	len = strlen(path);
	if (len > 0 && path[len - 1] == '/')
		len--;
	*ret = path;
	return len;
}

bool
discovery_route(struct fakeidp *fk, struct evhttp_request *req, const char *path)
{
	const char *ipath, *origin_end;
	size_t ilen = 0;
	char *want, *url;
	yajl_gen g;
	bool match;

	if (fk->issuer == NULL)
		return false;
	ilen = discovery_issuer_path(fk->issuer, &ipath);
	want = xasprintf("%.*s%s", (int)ilen, ipath, WELL_KNOWN_OIDC);
	match = fk->discovery_page && strcmp(path, want) == 0;
	free(want);
	if (match) {
		struct evbuffer *b = http_buffer_new();

		evbuffer_add_printf(b, "<!DOCTYPE html>\n<html><body>Sign in</body></html>\n");
		http_header(req, "Content-Type", "text/html; charset=UTF-8");
		http_send(req, 200, b);
		evbuffer_free(b);
		return true;
	}
	if (fk->discovery_oauth)
		want = xasprintf("%s%.*s", WELL_KNOWN_OAUTH, (int)ilen, ipath);
	else
		want = xasprintf("%.*s%s", (int)ilen, ipath, WELL_KNOWN_OIDC);
	match = strcmp(path, want) == 0;
	free(want);
	if (!match)
		return false;
	fk->stats.discovery_fetches++;
	/* The endpoints are on this server, at the issuer's origin. */
	origin_end = ipath;
	g = json_new();
	json_str(g, "issuer", fk->doc_issuer != NULL ? fk->doc_issuer : fk->issuer);
	url = xasprintf("%.*s%s", (int)(origin_end - fk->issuer), fk->issuer, fk->token_paths[0]);
	json_str(g, "token_endpoint", url);
	free(url);
	if (fk->n_token_paths > 1) {
		url = xasprintf("%.*s%s", (int)(origin_end - fk->issuer), fk->issuer,
		    fk->token_paths[1]);
		yajl_gen_string(g, (const unsigned char *)"mtls_endpoint_aliases",
		    strlen("mtls_endpoint_aliases"));
		yajl_gen_map_open(g);
		json_str(g, "token_endpoint", url);
		yajl_gen_map_close(g);
		free(url);
	}
	http_json(req, 200, json_finish(g));
	return true;
}
