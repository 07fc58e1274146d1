/*
 * tokens.c: the tokens fakeidp issued, kept as SHA-256 digests in a ring of
 * TOKENS_MAX with their expiry and lineage; looking one up; /introspect.
 */

#include <string.h>

#include "secret.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "fakeidp.h"

void
tokens_generate(char out[TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[(TOKEN_LEN - (sizeof(TOKEN_PREFIX) - 1)) / 2];
	char *p = out + sizeof(TOKEN_PREFIX) - 1;

	util_random_bytes(raw, sizeof(raw));
	memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	for (size_t i = 0; i < sizeof(raw); i++) {
		*p++ = hex[raw[i] >> 4];
		*p++ = hex[raw[i] & 0xf];
	}
	*p = '\0';
	explicit_bzero(raw, sizeof(raw));
}

/* Remembers a token; the oldest is forgotten beyond TOKENS_MAX. */
void
tokens_remember(struct fakeidp *fk, const char *token, long long lifetime, unsigned long lineage)
{
	struct issued *t = &fk->tokens[fk->tokens_next];

	SHA256((const unsigned char *)token, strlen(token), t->digest);
	t->expires_mono_ms = timeutil_mono_ms() + lifetime * 1000;
	t->expires_wall_ms = timeutil_wall_ms() + lifetime * 1000;
	t->lineage = lineage;
	fk->tokens_next = (fk->tokens_next + 1) % TOKENS_MAX;
	if (fk->tokens_count < TOKENS_MAX)
		fk->tokens_count++;
}

/* The unexpired token equal to s, or NULL. */
const struct issued *
tokens_find(const struct fakeidp *fk, const char *s)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const struct issued *found = NULL;
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0 || len > TOKEN_MAX)
		return NULL;
	SHA256((const unsigned char *)s, len, digest);
	for (size_t i = 0; i < fk->tokens_count; i++) {
		const struct issued *t = &fk->tokens[i];

		if (memcmp(t->digest, digest, sizeof(digest)) == 0) {
			found = t->expires_mono_ms > timeutil_mono_ms() ? t : NULL;
			break;
		}
	}
	explicit_bzero(digest, sizeof(digest));
	return found;
}

/* Whether a lineage still has an unexpired token. */
bool
tokens_lineage_alive(const struct fakeidp *fk, unsigned long lineage)
{
	int64_t now = timeutil_mono_ms();

	for (size_t i = 0; lineage != 0 && i < fk->tokens_count; i++)
		if (fk->tokens[i].lineage == lineage && fk->tokens[i].expires_mono_ms > now)
			return true;
	return false;
}

void
tokens_clear(struct fakeidp *fk)
{
	explicit_bzero(fk->tokens, TOKENS_MAX * sizeof(*fk->tokens));
	fk->tokens_next = 0;
	fk->tokens_count = 0;
}

void
tokens_introspect(struct fakeidp *fk, struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *query = http_query(req);
	struct form q = { 0 }, body = { 0 };
	const struct issued *t;
	const char *token;
	yajl_gen g;

	if (!http_allow(req, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST", "use GET or POST"))
		return;
	if (query != NULL)
		(void)form_parse(query, strlen(query), &q);
	token = form_get(&q, "token");
	if (token == NULL && cmd == EVHTTP_REQ_POST) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		char *text = xmalloc(len + 1);

		evbuffer_copyout(in, text, len);
		text[len] = '\0';
		(void)form_parse(text, len, &body);
		secret_free_buf(text, len + 1);
		token = form_get(&body, "token");
	}

	g = json_new();
	t = tokens_find(fk, token);
	json_bool(g, "active", t != NULL);
	if (t != NULL) {
		json_int(g, "expires_in", (t->expires_mono_ms - timeutil_mono_ms()) / 1000);
		json_int(g, "exp", t->expires_wall_ms / 1000);
		json_int(g, "exp_ms", t->expires_wall_ms);
	}
	form_clear(&q);
	form_clear(&body);
	http_json(req, 200, json_finish(g));
}
