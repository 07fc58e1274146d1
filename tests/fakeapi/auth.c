/*
 * auth.c: the Bearer check in front of every /api/ request.  A token is
 * good when fakeidp's /introspect says it is active (asked once for all
 * the requests that wait on the same token, over one kept-alive client
 * connection, and believed for cache_ms) and it was not revoked here.
 * Tokens are remembered by their SHA-256 only, with what they were used
 * for, so that /stats can say what the API saw.
 */

#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "digest.h"
#include "log.h"
#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "fakeapi.h"

static void
auth_reject(struct fakeapi *fa, struct evhttp_request *req, bool presented, const char *why)
{
	fa->c.rejected++;
	http_header(req, "WWW-Authenticate", presented ?
	    "Bearer realm=\"fakeapi\", error=\"invalid_token\"" : "Bearer realm=\"fakeapi\"");
	http_error(req, 401, presented ? "invalid_token" : "invalid_request", why);
}

static void
auth_pass(struct fakeapi *fa, struct seen *s, struct evhttp_request *req, api_handler_fn *then)
{
	fa->c.authorized++;
	s->authorized++;
	fa->current = s;
	then(fa, req);
}

/* The remembered token with this digest, made when new; NULL when full. */
static struct seen *
auth_seen(struct fakeapi *fa, const unsigned char digest[SHA256_DIGEST_LENGTH])
{
	struct seen *s;

	TAILQ_FOREACH(s, &fa->seen, entry)
		if (memcmp(s->digest, digest, SHA256_DIGEST_LENGTH) == 0)
			return s;
	if (fa->n_seen >= SEEN_MAX)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->fa = fa;
	memcpy(s->digest, digest, SHA256_DIGEST_LENGTH);
	digest_hex(digest, FP_LEN / 2, s->fp);
	TAILQ_INIT(&s->waiters);
	TAILQ_INSERT_TAIL(&fa->seen, s, entry);
	fa->n_seen++;
	return s;
}

/*
 * Reads fakeidp's answer: 1 active (with *ret_expires_in, -1 when not
 * given), 0 not active, -1 not an answer at all.
 */
static int
auth_parse_answer(struct evhttp_request *r, long long *ret_expires_in)
{
	const char *active_path[] = { "active", NULL };
	const char *expires_path[] = { "expires_in", NULL };
	struct evbuffer *in;
	size_t len;
	_cleanup_free_ char *text = NULL;
	yajl_val tree, v;
	int active;

	if (r == NULL || evhttp_request_get_response_code(r) != 200)
		return -1;
	in = evhttp_request_get_input_buffer(r);
	len = evbuffer_get_length(in);
	text = xmalloc(len + 1);
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	tree = yajl_tree_parse(text, NULL, 0);
	if (tree == NULL)
		return -1;
	v = yajl_tree_get(tree, active_path, yajl_t_any);
	if (v == NULL || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))) {
		yajl_tree_free(tree);
		return -1;
	}
	active = YAJL_IS_TRUE(v);
	v = yajl_tree_get(tree, expires_path, yajl_t_number);
	*ret_expires_in = v != NULL && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
	yajl_tree_free(tree);
	return active;
}

static void
auth_introspected_cb(struct evhttp_request *r, void *arg)
{
	struct seen *s = arg;
	struct fakeapi *fa = s->fa;
	struct waiter *w;
	long long expires_in = -1;
	int active = auth_parse_answer(r, &expires_in);

	s->introspecting = false;
	if (active < 0) {
		fa->c.introspection_errors++;
		log_warn("introspection of token %s failed", s->fp);
	} else if (active) {
		int64_t ms = fa->cache_ms;

		if (expires_in >= 0 && expires_in * 1000 < ms)
			ms = expires_in * 1000;
		s->valid_until_ms = timeutil_mono_ms() + ms;
	}
	while ((w = TAILQ_FIRST(&s->waiters)) != NULL) {
		TAILQ_REMOVE(&s->waiters, w, entry);
		if (active < 0) {
			http_header(w->req, "Retry-After", "1");
			http_error(w->req, 503, "temporarily_unavailable",
			    "the token could not be introspected");
		} else if (!active || s->revoked) {
			auth_reject(fa, w->req, true, "the token is not active");
		} else {
			auth_pass(fa, s, w->req, w->then);
		}
		free(w);
	}
}

/* Asks fakeidp about token (whose entry is s); the answer goes to s's waiters. */
static void
auth_introspect(struct fakeapi *fa, struct seen *s, const char *token)
{
	struct evhttp_request *r;
	_cleanup_free_ char *enc = evhttp_uriencode(token, -1, 0);
	_cleanup_free_ char *uri = NULL;

	if (enc == NULL)
		log_fatal("out of memory");
	uri = xasprintf("%s?token=%s", fa->introspect_path, enc);
	explicit_bzero(enc, strlen(enc));
	r = evhttp_request_new(auth_introspected_cb, s);
	if (r == NULL)
		log_fatal("out of memory");
	http_header(r, "Host", fa->introspect_host);
	s->introspecting = true;
	fa->c.introspections++;
	/* A failure may or may not have called the callback (with NULL) already. */
	if (evhttp_make_request(fa->idp, r, EVHTTP_REQ_GET, uri) < 0 && s->introspecting)
		auth_introspected_cb(NULL, s);
	explicit_bzero(uri, strlen(uri));
}

/*
 * Lets req through to then when it carries a good Bearer token; else
 * answers 401 (503 when the token cannot be introspected).  The answer
 * may come later, from the introspection's callback.
 */
void
auth_check(struct fakeapi *fa, struct evhttp_request *req, api_handler_fn *then)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *value = evhttp_find_header(h, "Authorization");
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const char *token;
	struct seen *s;
	struct waiter *w;

	if (value == NULL) {
		auth_reject(fa, req, false, "a Bearer token is required");
		return;
	}
	if (strncasecmp(value, "Bearer ", 7) != 0) {
		auth_reject(fa, req, true, "the Authorization scheme is not Bearer");
		return;
	}
	for (token = value + 7; *token == ' '; token++)
		;
	if (*token == '\0' || strlen(token) > TOKEN_MAX) {
		auth_reject(fa, req, true, "the Bearer token is empty or too long");
		return;
	}
	SHA256((const unsigned char *)token, strlen(token), digest);
	s = auth_seen(fa, digest);
	explicit_bzero(digest, sizeof(digest));
	if (s == NULL) {
		http_error(req, 503, "temporarily_unavailable", "too many distinct tokens");
		return;
	}
	s->requests++;
	if (s->revoked) {
		auth_reject(fa, req, true, "the token was revoked");
		return;
	}
	if (s->valid_until_ms > timeutil_mono_ms()) {
		auth_pass(fa, s, req, then);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->req = req;
	w->then = then;
	TAILQ_INSERT_TAIL(&s->waiters, w, entry);
	if (!s->introspecting)
		auth_introspect(fa, s, token);
}

/* Revokes the last token that passed; returns how many were revoked (0 or 1). */
size_t
auth_revoke_current(struct fakeapi *fa)
{
	if (fa->current == NULL || fa->current->revoked)
		return 0;
	fa->current->revoked = true;
	log_info("revoked token %s", fa->current->fp);
	return 1;
}

/* Revokes every token seen so far; returns how many were not already. */
size_t
auth_revoke_all(struct fakeapi *fa)
{
	struct seen *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &fa->seen, entry) {
		if (!s->revoked) {
			s->revoked = true;
			n++;
		}
	}
	log_info("revoked %zu tokens", n);
	return n;
}

/* Zeroes the per-token counts; tokens and their revocation stay. */
void
auth_forget_counts(struct fakeapi *fa)
{
	struct seen *s;

	TAILQ_FOREACH(s, &fa->seen, entry)
		s->requests = s->authorized = 0;
}

/* Forgets every token and waiter; leaves the waiting requests to evhttp. */
void
auth_free(struct fakeapi *fa)
{
	struct seen *s;
	struct waiter *w;

	while ((s = TAILQ_FIRST(&fa->seen)) != NULL) {
		while ((w = TAILQ_FIRST(&s->waiters)) != NULL) {
			TAILQ_REMOVE(&s->waiters, w, entry);
			free(w);
		}
		TAILQ_REMOVE(&fa->seen, s, entry);
		explicit_bzero(s, sizeof(*s));
		free(s);
	}
	fa->n_seen = 0;
	fa->current = NULL;
}
