/*
 * The token type's life: made from a granted value, placed in time, and
 * wiped when freed.  See token.h.
 */
#include <stdlib.h>

#include "digest.h"
#include "token.h"
#include "xmalloc.h"

struct token *
token_new(struct secret *access_token, const char *token_type, const char *scope)
{
	struct token *t = xcalloc(1, sizeof(*t));

	t->access_token = access_token;
	t->token_type = xstrdup(token_type != NULL && token_type[0] != '\0' ? token_type : "Bearer");
	t->scope = scope != NULL ? xstrdup(scope) : NULL;
	t->memo = xcalloc(1, sizeof(*t->memo));
	digest_fingerprint(access_token->data, access_token->len, t->fingerprint);
	return t;
}

struct token *
token_free(struct token *t)
{
	if (t == NULL)
		return NULL;
	if (t->memo != NULL && t->memo->free != NULL)
		t->memo->free(t->memo->data);
	free(t->memo);
	secret_free(t->access_token);
	free(t->token_type);
	free(t->scope);
	free(t);
	return NULL;
}

void
token_place(struct token *t, int64_t sent_mono_ms, int64_t now_mono_ms, int64_t now_wall_ms)
{
	if (t->expires_wall_ms > 0) {
		/* An absolute expiry is the upstream's word: keep it as it is. */
		t->expires_mono_ms = now_mono_ms + (t->expires_wall_ms - now_wall_ms);
	} else {
		t->expires_mono_ms = sent_mono_ms + t->lifetime_ms;
		t->expires_wall_ms = now_wall_ms - (now_mono_ms - sent_mono_ms) + t->lifetime_ms;
	}
	t->obtained_mono_ms = t->expires_mono_ms - t->lifetime_ms;
}

int64_t
token_left(const struct token *t, int64_t now_mono_ms, int64_t now_wall_ms)
{
	int64_t mono_left = t->expires_mono_ms - now_mono_ms;
	int64_t wall_left = t->expires_wall_ms - now_wall_ms;

	return mono_left < wall_left ? mono_left : wall_left;
}
