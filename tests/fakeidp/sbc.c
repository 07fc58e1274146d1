/*
 * sbc.c: what only the oracle-sbc dialect does: its XML documents, its
 * token endpoint's checks with re-authentication in a lineage, and the
 * configuration lock that a lineage holds.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeidp.h"

/*
 * The Oracle SBC's error document: the reason phrase in capitals as
 * reasonCode, text as reasonText.  text is fakeidp's own, never a peer's.
 */
struct evbuffer *
sbc_error_xml(int status, const char *text)
{
	struct evbuffer *b = http_buffer_new();
	char code[64];
	size_t i;

	for (i = 0; http_reason(status)[i] != '\0' && i < sizeof(code) - 1; i++) {
		char c = http_reason(status)[i];

		code[i] = c == ' ' ? '_' : (char)toupper((unsigned char)c);
	}
	code[i] = '\0';
	evbuffer_add_printf(b, XML_DECL "<response>\n  <data/>\n  <messages>\n    <error>\n"
	    "      <reasonCode>%s</reasonCode>\n      <reasonText>%s</reasonText>\n"
	    "    </error>\n  </messages>\n  <links/>\n</response>\n", code, text);
	return b;
}

/*
 * The oracle-sbc dialect's 200: XML with an accessToken and no expiry, in
 * the shape the mode asks for.  Remembers the token in lineage.
 */
struct evbuffer *
sbc_success(struct fakeidp *fk, struct evhttp_request *req, unsigned long lineage)
{
	const struct behaviour *b = &fk->cur;
	struct evbuffer *body;
	char *token;

	http_type(req, "application/xml");
	if (b->mode == MODE_ERROR200)
		return sbc_error_xml(400, "the request is invalid");
	body = http_buffer_new();
	if (b->mode == MODE_NO_TOKEN) {
		evbuffer_add_printf(body, "%s", XML_DECL
		    "<response>\n  <data/>\n  <messages/>\n  <links/>\n</response>\n");
		return body;
	}
	evbuffer_add_printf(body, "%s", XML_DECL "<response>\n  <data>\n    <accessToken>");
	if (b->mode == MODE_MALFORMED)
		return body;
	token = token_new(fk, b->lifetime);
	evbuffer_add(body, token, strlen(token));
	evbuffer_add_printf(body, "%s", "</accessToken>\n");
	if (b->mode == MODE_OVERSIZE) {
		/* Well-formed, but beyond any sane cap: its token is not issued. */
		char *pad = xmalloc(OVERSIZE_LEN);

		memset(pad, 'x', OVERSIZE_LEN);
		evbuffer_add_printf(body, "%s", "    <padding>");
		evbuffer_add(body, pad, OVERSIZE_LEN);
		evbuffer_add_printf(body, "%s", "</padding>\n");
		free(pad);
	} else {
		tokens_remember(fk, token, b->lifetime, lineage);
		fk->stats.issued++;
	}
	evbuffer_add_printf(body, "%s", "  </data>\n  <messages/>\n  <links/>\n</response>\n");
	secret_free_str(token);
	return body;
}

int
sbc_token(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    struct evbuffer **ret)
{
	const struct issued *t = NULL;
	unsigned long lineage;
	unsigned long long issued = fk->stats.issued;
	struct err e = { 0 };

	if (fk->cur.require_auth && (tr->id == NULL || tr->basic_bad)) {
		e = (struct err){ .status = 400,
		    .text = "Authorization header with Basic credentials required" };
	} else if (fk->cur.require_auth && !token_req_authenticated(fk, tr)) {
		http_header(req, "WWW-Authenticate", "Basic realm=\"SBC REST API\"");
		e = (struct err){ .status = 401, .text = "Invalid username or password" };
	} else if (tr->presented != NULL && (t = tokens_find(fk, tr->presented)) == NULL) {
		e = (struct err){ .status = 401, .text = "Invalid or expired token" };
	} else {
		lineage = t != NULL && t->lineage != 0 ? t->lineage : ++fk->lineages;
		*ret = token_success(fk, req, tr, lineage);
		if (t != NULL && fk->stats.issued > issued) {
			fk->stats.reauths++;
			fk->stats.last.reauth = true;
		}
		log_info("%s in lineage %lu", t != NULL ? "re-authenticated" : "authenticated",
		    lineage);
		return 200;
	}
	*ret = dialect_error_body(fk, req, &e);
	return e.status;
}

/* The lineage holding the configuration lock, 0 when free. */
unsigned long
sbc_lock_holder(struct fakeidp *fk)
{
	if (fk->lock_holder != 0 && !tokens_lineage_alive(fk, fk->lock_holder)) {
		log_info("lineage %lu has no token left: the configuration lock is free",
		    fk->lock_holder);
		fk->lock_holder = 0;
	}
	return fk->lock_holder;
}

/* Whether path is /rest/VERSION/what for a version the SBC has. */
static bool
sbc_path(const char *path, const char *what)
{
	static const char *const versions[] = { "v1.0", "v1.1", "v1.2" };
	size_t n = strlen(what);

	if (strncmp(path, "/rest/", 6) != 0)
		return false;
	path += 6;
	for (size_t i = 0; i < ELEMENTSOF(versions); i++) {
		size_t v = strlen(versions[i]);

		if (strncmp(path, versions[i], v) == 0 && path[v] == '/' &&
		    strncmp(path + v + 1, what, n) == 0 && path[v + 1 + n] == '\0')
			return true;
	}
	return false;
}

/*
 * POST .../configuration/lock or unlock with a Bearer token: the lock
 * belongs to the token's lineage until it is unlocked or the lineage has
 * no unexpired token left.
 */
static void
sbc_lock(struct fakeidp *fk, struct evhttp_request *req, bool lock)
{
	const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	const struct issued *t = NULL;
	unsigned long holder;
	struct evbuffer *b;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_header(req, "Allow", "POST");
		dialect_reply_err(fk, req, &(struct err){ .status = 405, .text = "use POST" });
		return;
	}
	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
		authz += 7;
		while (*authz == ' ')
			authz++;
		t = tokens_find(fk, authz);
	}
	if (t == NULL || t->lineage == 0) {
		dialect_reply_err(fk, req, &(struct err){ .status = 401,
		    .text = "Invalid or expired token" });
		return;
	}
	holder = sbc_lock_holder(fk);
	if (holder != 0 && holder != t->lineage) {
		log_info("configuration lock: held by lineage %lu, not %lu", holder, t->lineage);
		dialect_reply_err(fk, req, &(struct err){ .status = 423, .code = NULL,
		    .text = "The configuration is locked by another session" });
		return;
	}
	fk->lock_holder = lock ? t->lineage : 0;
	log_info("configuration %s by lineage %lu", lock ? "locked" : "unlocked", t->lineage);
	http_type(req, "application/xml");
	b = http_buffer_new();
	evbuffer_add_printf(b, "%s", XML_DECL
	    "<response>\n  <data/>\n  <messages/>\n  <links/>\n</response>\n");
	http_send(req, 200, b);
	evbuffer_free(b);
}

/*
 * Answers the SBC's paths other than its token endpoint: configuration/lock
 * and configuration/unlock.  false, having answered nothing, for any other.
 */
bool
sbc_route(struct fakeidp *fk, struct evhttp_request *req, const char *path)
{
	if (sbc_path(path, "configuration/lock")) {
		sbc_lock(fk, req, true);
		return true;
	}
	if (sbc_path(path, "configuration/unlock")) {
		sbc_lock(fk, req, false);
		return true;
	}
	return false;
}
