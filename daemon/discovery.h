/*
 * An issuer's token endpoint, from its discovery document: OpenID Connect
 * Discovery 1.0 (ISSUER/.well-known/openid-configuration), else RFC 8414
 * (/.well-known/oauth-authorization-server put before the issuer's path).
 * No I/O: which documents to ask for, the GET that asks, and what a
 * document says.  credential.c and diag.c send the requests.
 */
#ifndef TB_DISCOVERY_H
#define TB_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"

/* The documents to try, in this order. */
#define DISCOVERY_NDOCS 2

/* The URL of issuer's i-th document (caller frees), or NULL past the last. */
char *discovery_url(const char *issuer, unsigned i);

/* A GET of url asking for JSON (no secret in it); request_free frees it. */
struct token_request *discovery_request(const char *url);

/*
 * What a discovery document says: 0 and *ret_url (caller frees), the token
 * endpoint (with mtls, mtls_endpoint_aliases' when there is one, as RFC
 * 8705 section 5 says); else *cause (caller frees) and -EBADMSG when the
 * body is no JSON object (a web page that answers every path: the other
 * document may be there), or -EINVAL when its issuer is not exactly issuer
 * (the mix-up defence of RFC 8414 section 3.3), it names no endpoint, or
 * the endpoint is not a URL the configuration would take for token_url.
 */
int discovery_parse(const char *body, size_t len, const char *issuer, bool mtls,
		    char **ret_url, char **cause);

/* The issuer a discovery document names (caller frees), or NULL. */
char *discovery_issuer(const char *body, size_t len);

#endif
