/*
 * assertion.c: client authentication without a secret.  A client assertion
 * (RFC 7523 section 2.2) is checked as a strict server checks it: the
 * type, a compact JWS whose RS256, PS256 or ES256 signature verifies with
 * --client-public-key, iss and sub the client id, aud a single string
 * equal to the token endpoint's URL (or --assertion-audience), exp in the
 * future, iat not in it, and a jti never seen before.  A TLS client
 * certificate (RFC 8705 tls_client_auth) counts when it verified against
 * --client-ca.  What was seen goes to /stats, never the assertion.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base64.h"
#include "cleanup.h"
#include "digest.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeidp.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* A PEM public key, or the key of a PEM certificate; exits when neither. */
EVP_PKEY *
assertion_public_key(const char *path)
{
	FILE *fp = fopen(path, "re");
	EVP_PKEY *key;
	X509 *cert;

	if (fp == NULL)
		log_fatal("cannot open %s: %s", path, strerror(errno));
	key = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	if (key == NULL) {
		rewind(fp);
		cert = PEM_read_X509(fp, NULL, NULL, NULL);
		if (cert != NULL) {
			key = X509_get_pubkey(cert);
			X509_free(cert);
		}
	}
	fclose(fp);
	if (key == NULL)
		log_fatal("%s: no PEM public key or certificate", path);
	return key;
}

/* One base64url part of the JWS, parsed as a JSON object; NULL if not. */
static struct json *
part_json(const char *s, size_t len)
{
	struct json *j = NULL;
	char *text = NULL, *cause = NULL;
	size_t n;

	if (base64_decode(s, len, true, &text, &n) < 0)
		return NULL;
	if (json_parse(text, n, &j, &cause) < 0) {
		free(cause);
		j = NULL;
	}
	free(text);
	if (j != NULL && j->type != JSON_OBJECT)
		j = json_free(j);
	return j;
}

static void
copy_string(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s != NULL ? s : "");
}

/* Whether sig verifies over tbs with key for alg (JWS forms of the signature). */
static bool
signature_ok(EVP_PKEY *key, const char *alg, const char *tbs, size_t tbs_len,
    const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	bool ec = strcmp(alg, "ES256") == 0, pss = strcmp(alg, "PS256") == 0, ok = false;
	int der_len;

	if (md == NULL)
		return false;
	if (ec != (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC))
		goto out;
	if (ec) {
		ECDSA_SIG *es = ECDSA_SIG_new();

		if (sig_len != 64 || es == NULL ||
		    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)) != 1) {
			ECDSA_SIG_free(es);
			goto out;
		}
		der_len = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (der_len <= 0)
			goto out;
		sig = der;
		sig_len = (size_t)der_len;
	}
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	ok = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)tbs, tbs_len) == 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

/* The URL the client should have put in aud. */
static char *
expected_audience(const struct fakeidp *fk, struct evhttp_request *req)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	if (fk->assertion_audience != NULL)
		return xstrdup(fk->assertion_audience);
	return xasprintf("%s://%s%s", fk->ssl != NULL ? "https" : "http", host != NULL ? host : "",
	    http_path(req));
}

/* Remembers jti; false when it was seen before (a replay). */
static bool
jti_new(struct fakeidp *fk, const char *jti)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)jti, strlen(jti), d);
	for (size_t i = 0; i < fk->jtis_count; i++)
		if (memcmp(fk->jtis[i], d, sizeof(d)) == 0)
			return false;
	if (fk->jtis == NULL)
		fk->jtis = xcalloc(JTIS_MAX, sizeof(*fk->jtis));
	memcpy(fk->jtis[fk->jtis_next], d, sizeof(d));
	fk->jtis_next = (fk->jtis_next + 1) % JTIS_MAX;
	if (fk->jtis_count < JTIS_MAX)
		fk->jtis_count++;
	return true;
}

static bool
claim_int(const struct json *claims, const char *name, int64_t *ret)
{
	const struct json *v = json_get(claims, name);

	return v != NULL && v->type == JSON_NUMBER && json_int64(v, ret) == 0;
}

/* The checks of the claims; NULL when they pass. */
static const char *
claims_check(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    const struct json *claims, struct assertion_seen *a)
{
	const char *iss = json_get_string(claims, "iss");
	const char *sub = json_get_string(claims, "sub");
	const char *jti = json_get_string(claims, "jti");
	const char *body_id = form_get(&tr->form, "client_id");
	const struct json *aud = json_get(claims, "aud");
	_cleanup_free_ char *want = expected_audience(fk, req);
	int64_t now = (int64_t)time(NULL), iat, exp;

	copy_string(a->iss, sizeof(a->iss), iss);
	if (aud != NULL && aud->type == JSON_STRING)
		copy_string(a->aud, sizeof(a->aud), aud->text);
	if (iss == NULL || strcmp(iss, fk->client_id) != 0)
		return "iss is not the client id";
	if (sub == NULL || strcmp(sub, iss) != 0)
		return "sub is not the client id";
	if (body_id != NULL && strcmp(body_id, iss) != 0)
		return "client_id differs from the assertion's iss";
	if (aud == NULL || aud->type != JSON_STRING)
		return "aud is not a single string";
	if (strcmp(aud->text, want) != 0)
		return "aud is not this token endpoint";
	if (!claim_int(claims, "exp", &exp) || exp <= now)
		return "the assertion has expired (or has no exp)";
	if (claim_int(claims, "iat", &iat) && iat > now + ASSERTION_SKEW)
		return "iat is in the future";
	if (jti == NULL || *jti == '\0')
		return "no jti";
	if (!jti_new(fk, jti))
		return "jti replayed";
	a->jti_unique = true;
	return NULL;
}

/* Every check of the assertion; NULL when they pass. */
static const char *
verify(struct fakeidp *fk, struct evhttp_request *req, const struct token_req *tr,
    const char *jwt, struct assertion_seen *a)
{
	const char *dot1, *dot2, *alg, *err = NULL;
	struct json *header = NULL, *claims = NULL;
	char *sig = NULL;
	size_t sig_len;

	if (fk->client_pubkey == NULL)
		return "fakeidp was started without --client-public-key";
	dot1 = strchr(jwt, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return "not a compact JWS";
	header = part_json(jwt, (size_t)(dot1 - jwt));
	claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (header == NULL || claims == NULL) {
		err = "the header or the claims are not base64url JSON objects";
		goto out;
	}
	alg = json_get_string(header, "alg");
	copy_string(a->alg, sizeof(a->alg), alg);
	copy_string(a->kid, sizeof(a->kid), json_get_string(header, "kid"));
	copy_string(a->x5t, sizeof(a->x5t), json_get_string(header, "x5t#S256"));
	if (alg == NULL || (strcmp(alg, "RS256") != 0 && strcmp(alg, "PS256") != 0 &&
	    strcmp(alg, "ES256") != 0)) {
		err = "alg is not RS256, PS256 or ES256";
		goto out;
	}
	if (base64_decode(dot2 + 1, strlen(dot2 + 1), true, &sig, &sig_len) < 0 ||
	    !signature_ok(fk->client_pubkey, alg, jwt, (size_t)(dot2 - jwt),
	    (const unsigned char *)sig, sig_len)) {
		err = "the signature does not verify";
		goto out;
	}
	err = claims_check(fk, req, tr, claims, a);
out:
	free(sig);
	json_free(header);
	json_free(claims);
	return err;
}

void
assertion_check(struct fakeidp *fk, struct evhttp_request *req, struct token_req *tr)
{
	struct assertion_seen *a = &tr->assertion;
	const char *type = form_get(&tr->form, "client_assertion_type");
	const char *jwt = form_get(&tr->form, "client_assertion");

	a->present = true;
	if (jwt != NULL)
		digest_fingerprint(jwt, strlen(jwt), a->fp);
	if (type == NULL || strcmp(type, ASSERTION_TYPE) != 0)
		a->error = "client_assertion_type is not jwt-bearer";
	else if (jwt == NULL || *jwt == '\0')
		a->error = "no client_assertion";
	else
		a->error = verify(fk, req, tr, jwt, a);
	a->ok = a->error == NULL;
	if (a->ok)
		fk->stats.assertions++;
}

/* Whether the connection carries a client certificate that verified. */
void
assertion_tls(const struct fakeidp *fk, struct evhttp_request *req, struct token_req *tr)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL && fk->ssl != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;

	tr->assertion.tls_cert = ssl != NULL && SSL_get0_peer_certificate(ssl) != NULL &&
	    SSL_get_verify_result(ssl) == X509_V_OK;
}

void
assertion_clear(struct fakeidp *fk)
{
	EVP_PKEY_free(fk->client_pubkey);
	fk->client_pubkey = NULL;
	free(fk->assertion_audience);
	fk->assertion_audience = NULL;
	free(fk->jtis);
	fk->jtis = NULL;
	fk->jtis_next = fk->jtis_count = 0;
}
