/*
 * The one token type: what a token endpoint granted (the value, its type,
 * the granted scope, its lifetime and expiry) and where the daemon placed
 * it in time.  The response parser makes one, the credential keeps it and
 * hands it out, the store persists it and reads it back, and a sink
 * writes it for programs that cannot use the socket.
 */
#ifndef TB_TOKEN_H
#define TB_TOKEN_H

#include <stdint.h>

#include "secret.h"

/*
 * The most of an upstream's answer that is read (http) and parsed
 * (response): so also the longest token there can be (store, sink).
 */
#define TOKEN_BODY_MAX (1024 * 1024)

/* How a list of scopes is written on the wire: "a b" or "a,b". */
enum scope_separator {
	SCOPE_SEP_SPACE,
	SCOPE_SEP_COMMA,
};

/*
 * What a user of a token derived from it and keeps beside it (the socket
 * API's rendered answer, api.c), valid while key holds; free(data) when
 * the token goes.
 */
struct token_memo {
	void *data;
	int64_t key;
	void (*free)(void *data);
};

struct token {
	struct secret *access_token;
	char *token_type;	  /* never NULL: "Bearer" when the server gave none */
	char *scope;		  /* granted (else configured), space-separated; or NULL */
	int64_t lifetime_ms;	  /* > 0, as granted */
	int64_t expires_wall_ms;  /* unix ms; 0 until known (a relative lifetime) */
	int64_t expires_mono_ms;  /* on the monotonic clock, once placed */
	int64_t obtained_mono_ms; /* expires_mono_ms - lifetime_ms */
	uint64_t generation;	  /* counts a credential's tokens: newer is larger */
	char fingerprint[7];	  /* first 6 hex of SHA-256 of the value: safe to log */
	struct token_memo *memo;  /* never NULL from token_new */
};

/*
 * A token of value access_token (taken: freed with the token), type
 * token_type (copied; NULL or empty means "Bearer") and scope (copied, may
 * be NULL); times zero.
 */
struct token *token_new(struct secret *access_token, const char *token_type, const char *scope);
/* Wipes the value and frees; takes NULL; returns NULL. */
struct token *token_free(struct token *t);

/*
 * Places t on both clocks: it expires at expires_wall_ms when that is
 * known (the upstream's absolute expiry, a persisted token), else
 * lifetime_ms after sent_mono_ms, the moment its request was sent (the
 * safe side).  now_* are the clocks' readings.
 */
void token_place(struct token *t, int64_t sent_mono_ms, int64_t now_mono_ms,
		 int64_t now_wall_ms);

/* ms t has left on the stricter of the two clocks. */
int64_t token_left(const struct token *t, int64_t now_mono_ms, int64_t now_wall_ms);

#endif
