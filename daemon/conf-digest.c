/*
 * A credential's digests: SHA-256 over every setting that shapes its token
 * request, so that a reload can tell a credential that changed (and must
 * fetch anew) from one that did not (and keeps its token); and the
 * narrower fingerprint a persisted token carries, of what the upstream
 * grants from, so that a restart reuses a token only for the same client.
 * A proxy's listener digest, so that a reload keeps a listening socket
 * whose address and permissions did not change.  Each field goes
 * in as its tag, a NUL, a presence byte and a 64-bit length before its
 * bytes, so no two settings feed the same stream.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "conf-int.h"
#include "digest.h"
#include "profile.h"
#include "secret.h"
#include "xmalloc.h"

static EVP_MD_CTX *
conf_digest_begin(void)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort(); /* only out of memory gets here */
	return md;
}

/* Finishes md into out (64 hex digits) and frees it. */
static void
conf_digest_end(EVP_MD_CTX *md, char out[65])
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(md, bin, &len) != 1 || len != 32)
		abort();
	EVP_MD_CTX_free(md);
	digest_hex(bin, 32, out);
	explicit_bzero(bin, sizeof(bin));
}

static void
conf_digest_put(EVP_MD_CTX *md, const char *tag, const void *data, size_t len)
{
	unsigned char hdr[9];
	uint64_t n = len;

	hdr[0] = data != NULL;
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(n >> (8 * i));
	EVP_DigestUpdate(md, tag, strlen(tag) + 1);
	EVP_DigestUpdate(md, hdr, sizeof(hdr));
	if (data != NULL && len > 0)
		EVP_DigestUpdate(md, data, len);
}

static void
conf_digest_str(EVP_MD_CTX *md, const char *tag, const char *s)
{
	conf_digest_put(md, tag, s, s != NULL ? strlen(s) : 0);
}

static void
conf_digest_secret(EVP_MD_CTX *md, const char *tag, const struct secret *s)
{
	conf_digest_put(md, tag, s != NULL ? s->data : NULL, s != NULL ? s->len : 0);
}

static void
conf_digest_int(EVP_MD_CTX *md, const char *tag, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	conf_digest_str(md, tag, buf);
}

static void
conf_digest_pairs(EVP_MD_CTX *md, const char *tag, const struct request_pairs *pairs)
{
	conf_digest_int(md, tag, (int64_t)pairs->n);
	for (size_t i = 0; i < pairs->n; i++) {
		conf_digest_str(md, "name", pairs->v[i].name);
		conf_digest_str(md, "value", pairs->v[i].value);
	}
}

/*
 * The public half of a signing key (so a new key in the same file is a new
 * setting); the private half never goes into a digest.
 */
static void
conf_digest_pubkey(EVP_MD_CTX *md, EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int len = key != NULL ? i2d_PUBKEY(key, &der) : 0;

	conf_digest_put(md, "assertion_key", len > 0 ? der : NULL, len > 0 ? (size_t)len : 0);
	OPENSSL_free(der);
}

/*
 * Fills cc->digest (64 hex digits) from everything but the name, where it
 * stands, who may fetch it, lazy, and which variants callers may ask for
 * and how many are kept for how long (allow_scopes and the like,
 * max_variants, variant_idle): those do not change what a token is or how
 * it is obtained.
 */
void
conf_digest_cred(struct cred_conf *cc)
{
	EVP_MD_CTX *md = conf_digest_begin();

	conf_digest_str(md, "profile", cc->profile->name);
	conf_digest_str(md, "token_url", cc->token_url);
	conf_digest_str(md, "issuer", cc->issuer);
	conf_digest_str(md, "base_url", cc->base_url);
	conf_digest_int(md, "auth_method", cc->auth_method);
	conf_digest_str(md, "grant_type", cc->grant_type);
	conf_digest_str(md, "client_id", cc->client_id);
	conf_digest_secret(md, "client_secret", cc->client_secret);
	conf_digest_str(md, "username", cc->username);
	conf_digest_secret(md, "password", cc->password);
	conf_digest_str(md, "scope", cc->scope);
	conf_digest_str(md, "audience", cc->audience);
	conf_digest_str(md, "resource", cc->resource);
	conf_digest_int(md, "body_format", cc->body_format);
	conf_digest_str(md, "assertion_file", cc->assertion_file);
	conf_digest_str(md, "refresh_token_file", cc->refresh_token_file);
	conf_digest_secret(md, "refresh_token", cc->refresh_token);
	conf_digest_str(md, "subject_token_file", cc->subject_token_file);
	conf_digest_str(md, "subject_token_type", cc->subject_token_type);
	conf_digest_str(md, "actor_token_file", cc->actor_token_file);
	conf_digest_str(md, "actor_token_type", cc->actor_token_type);
	conf_digest_str(md, "requested_token_type", cc->requested_token_type);
	conf_digest_int(md, "scope_separator", cc->scope_separator);
	conf_digest_pairs(md, "params", &cc->params);
	conf_digest_pairs(md, "query", &cc->query);
	conf_digest_pairs(md, "headers", &cc->headers);
	conf_digest_int(md, "response_format", cc->response_format);
	conf_digest_str(md, "token_path", cc->token_path);
	conf_digest_str(md, "expires_in_path", cc->expires_in_path);
	conf_digest_str(md, "token_type_path", cc->token_type_path);
	conf_digest_str(md, "expires_at_path", cc->expires_at_path);
	conf_digest_int(md, "default_lifetime", cc->default_lifetime_ms);
	conf_digest_int(md, "refresh_before.share", cc->refresh_before.share);
	conf_digest_int(md, "refresh_before.ms", cc->refresh_before.ms);
	conf_digest_int(md, "refresh_before.permille", cc->refresh_before.permille);
	conf_digest_int(md, "min_valid", cc->min_valid_ms);
	conf_digest_int(md, "reauth_with_token", cc->reauth_with_token);
	conf_digest_str(md, "reauth_token_param", cc->reauth_token_param);
	conf_digest_str(md, "api_version", cc->api_version);
	conf_digest_int(md, "requested_lifetime", cc->requested_lifetime_ms);
	conf_digest_int(md, "timeout", cc->timeout_ms);
	conf_digest_int(md, "connect_timeout", cc->connect_timeout_ms);
	conf_digest_int(md, "backoff_min", cc->backoff_min_ms);
	conf_digest_int(md, "backoff_max", cc->backoff_max_ms);
	conf_digest_str(md, "ca_file", cc->ca_file);
	conf_digest_str(md, "client_cert", cc->client_cert);
	conf_digest_str(md, "client_key", cc->client_key);
	conf_digest_int(md, "tls_verify", cc->tls_verify);
	conf_digest_str(md, "proxy", cc->proxy);
	conf_digest_int(md, "assertion_alg", cc->assertion_alg);
	conf_digest_str(md, "assertion_kid", cc->assertion_kid);
	conf_digest_str(md, "assertion_x5t", cc->assertion_x5t);
	conf_digest_str(md, "assertion_audience", cc->assertion_audience);
	conf_digest_int(md, "assertion_lifetime", cc->assertion_lifetime_ms);
	conf_digest_str(md, "client_assertion_file", cc->client_assertion_file);
	conf_digest_pubkey(md, cc->assertion_key);
	conf_digest_end(md, cc->digest);
}

static bool
conf_ids_same(const struct conf_ids *a, const struct conf_ids *b)
{
	return a->any == b->any && a->n == b->n &&
	       (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

/* NULL-terminated lists of words, or NULL. */
static bool
conf_words_same(char *const *a, char *const *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	for (; *a != NULL && *b != NULL; a++, b++) {
		if (strcmp(*a, *b) != 0)
			return false;
	}
	return *a == NULL && *b == NULL;
}

static bool
conf_str_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/*
 * Whether a and b are the same in every setting: the digest covers what
 * shapes the token request, and the rest is compared here.  Every field of
 * struct cred_conf is in one or the other; the size check below fails the
 * build when a field is added, so that it is put in one of them.
 */
#if defined(__x86_64__) && defined(__LP64__)
#define CONF_CRED_SIZE 712
_Static_assert(sizeof(struct cred_conf) == CONF_CRED_SIZE,
	       "a field was added to struct cred_conf: put it in conf_digest_cred or "
	       "conf_cred_same, then update CONF_CRED_SIZE");
#endif

bool
conf_cred_same(const struct cred_conf *a, const struct cred_conf *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->digest, b->digest) == 0 &&
	       a->refresh_token_mtime_ns == b->refresh_token_mtime_ns &&
	       conf_ids_same(&a->allow_users, &b->allow_users) &&
	       conf_ids_same(&a->allow_groups, &b->allow_groups) &&
	       conf_words_same(a->allow_units, b->allow_units) && a->lazy == b->lazy &&
	       conf_words_same(a->allow_scopes, b->allow_scopes) &&
	       conf_words_same(a->allow_audiences, b->allow_audiences) &&
	       conf_words_same(a->allow_resources, b->allow_resources) &&
	       a->max_variants == b->max_variants && a->variant_idle_ms == b->variant_idle_ms &&
	       a->persist == b->persist && conf_str_same(a->sink, b->sink) &&
	       a->sink_file == b->sink_file && a->sink_line == b->sink_line &&
	       a->sink_mode == b->sink_mode && a->sink_owner_set == b->sink_owner_set &&
	       a->sink_uid == b->sink_uid && a->sink_gid == b->sink_gid &&
	       a->sink_format == b->sink_format;
}

/*
 * Fills pc->listen_digest from what the listening socket is: for TCP the
 * numeric address and the port (so "localhost:8081" and "127.0.0.1:8081"
 * are the same listener), for a Unix socket its path, mode and group.
 */
void
conf_digest_proxy_listen(struct proxy_conf *pc)
{
	EVP_MD_CTX *md = conf_digest_begin();

	conf_digest_int(md, "unix", pc->listen_unix);
	if (pc->listen_unix) {
		conf_digest_str(md, "path", pc->listen);
		conf_digest_int(md, "socket_mode", pc->socket_mode);
		conf_digest_int(md, "socket_group",
				pc->socket_group_set ? (int64_t)pc->socket_group : -1);
	} else {
		conf_digest_str(md, "host", pc->listen_host);
		conf_digest_int(md, "port", pc->listen_port);
	}
	conf_digest_end(md, pc->listen_digest);
}

/* Each pair as prefix+name and its value, in order. */
static void
conf_digest_prefixed(EVP_MD_CTX *md, const char *prefix, const struct request_pairs *pairs)
{
	for (size_t i = 0; i < pairs->n; i++) {
		char *key = xasprintf("%s%s", prefix, pairs->v[i].name);

		conf_digest_str(md, key, pairs->v[i].value);
		free(key);
	}
}

void
conf_token_fingerprint(const struct cred_conf *cc, char out[65])
{
	/* Changing any of this invalidates every persisted token. */
	static const char domain[] = "tokenbroker store fingerprint 2";
	EVP_MD_CTX *ctx = conf_digest_begin();
	char num[24];

	EVP_DigestUpdate(ctx, domain, sizeof(domain));
	conf_digest_str(ctx, "token_url", cc->token_url);
	/* By name: renumbering the enum must not invalidate every file. */
	conf_digest_str(ctx, "auth_method", conf_auth_method_name(cc->auth_method));
	conf_digest_str(ctx, "grant_type", cc->grant_type);
	conf_digest_str(ctx, "client_id", cc->client_id);
	conf_digest_str(ctx, "username", cc->username);
	conf_digest_str(ctx, "scope", cc->scope);
	/* Everything else that shapes what the upstream grants. */
	conf_digest_str(ctx, "client_secret",
			cc->client_secret != NULL ? cc->client_secret->data : NULL);
	conf_digest_str(ctx, "password", cc->password != NULL ? cc->password->data : NULL);
	conf_digest_prefixed(ctx, "param.", &cc->params);
	conf_digest_prefixed(ctx, "query.", &cc->query);
	conf_digest_prefixed(ctx, "header.", &cc->headers);
	snprintf(num, sizeof(num), "%lld", (long long)cc->requested_lifetime_ms);
	conf_digest_str(ctx, "requested_lifetime", num);
	/*
	 * Who the client is when it proves it with a key or an assertion; only
	 * when set, so that the fingerprints of the other credentials (and
	 * the tokens persisted under them) stay what they were.
	 */
	if (cc->assertion_key != NULL)
		conf_digest_pubkey(ctx, cc->assertion_key);
	if (cc->client_assertion_file != NULL)
		conf_digest_str(ctx, "client_assertion_file", cc->client_assertion_file);
	if (cc->assertion_audience != NULL)
		conf_digest_str(ctx, "assertion_audience", cc->assertion_audience);
	/* Where the token endpoint is found: only when set, as above. */
	if (cc->issuer != NULL)
		conf_digest_str(ctx, "issuer", cc->issuer);
	/* What the token is for: only when set, as above. */
	if (cc->audience != NULL)
		conf_digest_str(ctx, "audience", cc->audience);
	if (cc->resource != NULL)
		conf_digest_str(ctx, "resource", cc->resource);
	/* Whose token is exchanged, or asserted: the same. */
	if (cc->assertion_file != NULL)
		conf_digest_str(ctx, "assertion_file", cc->assertion_file);
	if (cc->refresh_token_file != NULL)
		conf_digest_str(ctx, "refresh_token_file", cc->refresh_token_file);
	if (cc->subject_token_file != NULL)
		conf_digest_str(ctx, "subject_token_file", cc->subject_token_file);
	if (cc->actor_token_file != NULL)
		conf_digest_str(ctx, "actor_token_file", cc->actor_token_file);
	if (cc->requested_token_type != NULL)
		conf_digest_str(ctx, "requested_token_type", cc->requested_token_type);
	conf_digest_end(ctx, out);
}
