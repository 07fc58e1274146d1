/*
 * refresh.c: the refresh_token grant (RFC 6749 section 6) as servers that
 * rotate refresh tokens answer it (OAuth 2.0 Security BCP, RFC 9700
 * section 4.14.2): one family of refresh tokens, whose current one is
 * valid and is consumed by a successful refresh that rotates it; a
 * consumed one presented again is a reuse, which revokes the whole family.
 * Consumed tokens are kept as SHA-256 digests; the current one as a secret,
 * shown only by GET /refresh-token.
 */

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "secret.h"
#include "xmalloc.h"
#include "fakeidp.h"

static const char *const seen_names[REFRESH_SEEN_N] = {
	[REFRESH_NONE] = NULL,
	[REFRESH_MISSING] = "missing",
	[REFRESH_CURRENT] = "current",
	[REFRESH_REVOKED] = "revoked",
	[REFRESH_CONSUMED] = "consumed",
	[REFRESH_UNKNOWN] = "unknown",
};

/* What /stats calls a kind of presented refresh token; NULL for none. */
const char *
refresh_seen_name(enum refresh_seen seen)
{
	return seen_names[seen];
}

/* Whether the refresh_token grant is served: a family exists, in oauth2. */
bool
refresh_enabled(const struct fakeidp *fk)
{
	return fk->refresh.current != NULL && fk->dialect == DIALECT_OAUTH2;
}

/* A token request fakeidp answers as a refresh_token grant. */
bool
refresh_grant(const struct fakeidp *fk, const struct token_req *tr)
{
	const char *grant = form_get(&tr->form, "grant_type");

	return refresh_enabled(fk) && grant != NULL && strcmp(grant, "refresh_token") == 0;
}

/*
 * Starts a new family whose one valid token is token (the previous
 * family's tokens are unknown from now on); not revoked.
 */
void
refresh_set(struct fakeidp *fk, const char *token)
{
	struct refresh *r = &fk->refresh;

	secret_free(r->current);
	r->current = secret_from_str(token);
	r->family++;
	r->revoked = false;
	if (r->used == NULL)
		r->used = xcalloc(REFRESH_USED_MAX, sizeof(*r->used));
}

/* The family is revoked: none of its tokens refreshes any more. */
void
refresh_revoke(struct fakeidp *fk)
{
	fk->refresh.revoked = fk->refresh.current != NULL;
}

/* What kind of token s is in the current family; touches nothing. */
enum refresh_seen
refresh_classify(const struct fakeidp *fk, const char *s)
{
	const struct refresh *r = &fk->refresh;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	enum refresh_seen seen = REFRESH_UNKNOWN;
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0)
		return REFRESH_MISSING;
	if (r->current != NULL && r->current->len == len && memcmp(r->current->data, s, len) == 0)
		return r->revoked ? REFRESH_REVOKED : REFRESH_CURRENT;
	if (len > TOKEN_MAX)
		return REFRESH_UNKNOWN;
	SHA256((const unsigned char *)s, len, digest);
	for (size_t i = 0; i < r->used_count; i++) {
		if (r->used[i].family == r->family &&
		    memcmp(r->used[i].digest, digest, sizeof(digest)) == 0) {
			seen = REFRESH_CONSUMED;
			break;
		}
	}
	explicit_bzero(digest, sizeof(digest));
	return seen;
}

/*
 * The checks of a refresh_token grant beyond client authentication: 0
 * when the presented token is the family's current one, else -1 and the
 * error in *e.  A consumed token revokes the family; an injected
 * invalid_grant changes nothing but the count of those left.
 */
int
refresh_check(struct fakeidp *fk, const struct token_req *tr, struct err *e)
{
	enum refresh_seen seen = refresh_classify(fk, form_get(&tr->form, "refresh_token"));

	*e = (struct err){ .status = 400, .code = "invalid_grant" };
	if (seen == REFRESH_MISSING) {
		*e = (struct err){ .status = 400, .code = "invalid_request",
		    .text = "refresh_token is missing" };
		return -1;
	}
	if (fk->cur.invalid_grant > 0) {
		fk->cur.invalid_grant--;
		e->text = "refresh token rejected (injected by fakeidp)";
		return -1;
	}
	switch (seen) {
	case REFRESH_CURRENT:
		return 0;
	case REFRESH_CONSUMED:
		fk->stats.refresh_reuses++;
		fk->refresh.revoked = true;
		e->text = "refresh token already used: every token of its grant is revoked";
		return -1;
	case REFRESH_REVOKED:
		e->text = "refresh token revoked";
		return -1;
	default:
		e->text = "refresh token unknown";
		return -1;
	}
}

/*
 * A successful refresh hands out an access token: unless rotation is off,
 * the current token is consumed and its successor goes into the answer
 * being built in g.
 */
void
refresh_issue(struct fakeidp *fk, yajl_gen g)
{
	struct refresh *r = &fk->refresh;
	struct refresh_used *u;
	unsigned char raw[16];
	char token[sizeof(REFRESH_PREFIX) - 1 + 2 * sizeof(raw) + 1];

	fk->stats.refresh_ok++;
	if (!fk->cur.rotate)
		return;
	u = &r->used[r->used_next];
	SHA256((const unsigned char *)r->current->data, r->current->len, u->digest);
	u->family = r->family;
	r->used_next = (r->used_next + 1) % REFRESH_USED_MAX;
	if (r->used_count < REFRESH_USED_MAX)
		r->used_count++;

	util_random_bytes(raw, sizeof(raw));
	memcpy(token, REFRESH_PREFIX, sizeof(REFRESH_PREFIX) - 1);
	digest_hex(raw, sizeof(raw), token + sizeof(REFRESH_PREFIX) - 1);
	secret_free(r->current);
	r->current = secret_from_str(token);
	json_str(g, "refresh_token", token);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(token, sizeof(token));
}

/*
 * GET /refresh-token: {"refresh_token","family","revoked"}, the family's
 * current token (null when there is none) for a test to compare with what
 * the client kept.  Nothing else shows it.
 */
void
refresh_handle(struct fakeidp *fk, struct evhttp_request *req)
{
	const struct refresh *r = &fk->refresh;
	yajl_gen g;

	if (!http_allow(req, EVHTTP_REQ_GET, "GET", "use GET"))
		return;
	g = json_new();
	json_str(g, "refresh_token", r->current != NULL ? r->current->data : NULL);
	json_int(g, "family", (long long)r->family);
	json_bool(g, "revoked", r->revoked);
	http_json(req, 200, json_finish(g));
}

void
refresh_clear(struct fakeidp *fk)
{
	struct refresh *r = &fk->refresh;

	r->current = secret_free(r->current);
	if (r->used != NULL)
		explicit_bzero(r->used, REFRESH_USED_MAX * sizeof(*r->used));
	free(r->used);
	memset(r, 0, sizeof(*r));
}
