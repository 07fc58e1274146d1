/*
 * The client assertion of private_key_jwt (assertion_sign), made from
 * configuration values: the input's first byte chooses the key (an RSA
 * 2048 or an EC P-256 key, made once with a self-signed certificate),
 * assertion_alg, whether assertion_kid is a value or x5t and whether
 * assertion_audience and assertion_lifetime are given; then come, line by
 * line, client_id, assertion_audience, assertion_kid, assertion_lifetime
 * and the token_url's path.  A [credential] with them is loaded as the
 * daemon loads one (an input whose section it refuses is skipped) and its
 * assertion signed as a token request signs it, at a time from the input.
 *
 * Properties, checked as a server checks (OpenSSL's base64 and signature
 * verification, yajl's tree parser; nothing of assertion.c): three
 * base64url parts without padding; a header of exactly alg (the one
 * configured, else by the key), typ JWT and kid or x5t#S256 (the
 * certificate's SHA-256 thumbprint) as configured; claims of exactly iss
 * = sub = client_id, aud the audience (else token_url) as one string, jti
 * 32 hex digits never seen before, iat five seconds before now, exp iat
 * plus the lifetime and later than now; a signature that verifies with
 * the key's public half.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <yajl/yajl_tree.h>

#include "assertion.h"
#include "conf.h"
#include "fuzz.h"
#include "request.h"
#include "xmalloc.h"

#define JTI_SEEN_MAX 4096

struct key {
	const char *type;
	EVP_PKEY *pkey;
	char key_path[512];
	char cert_path[512];
	char x5t[64];
};

static struct key keys[2] = { { .type = "RSA" }, { .type = "EC" } };
static const char *const algs[] = { NULL, "RS256", "PS256", "ES256" };
static char jti_seen[JTI_SEEN_MAX][33];
static size_t jti_next;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* base64url without padding, by way of OpenSSL's base64. */
static void
b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (char *p = out; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* A key, its PEM file (mode 0600), a self-signed certificate and its thumbprint. */
static void
make_key(struct key *k, const char *dir)
{
	X509 *x = X509_new();
	unsigned char md[32];
	unsigned int mdlen = 0;
	FILE *f;

	k->pkey = strcmp(k->type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					      : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FUZZ_CHECK(k->pkey != NULL && x != NULL, "cannot make a %s key", k->type);
	snprintf(k->key_path, sizeof(k->key_path), "%s/%s.key", dir, k->type);
	snprintf(k->cert_path, sizeof(k->cert_path), "%s/%s.pem", dir, k->type);
	fuzz_write_file(k->key_path, "", 0, 0600);
	f = fopen(k->key_path, "w");
	FUZZ_CHECK(f != NULL && PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) == 1,
		   "cannot write the key");
	fclose(f);

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k->pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	FUZZ_CHECK(X509_sign(x, k->pkey, EVP_sha256()) > 0, "cannot sign the certificate");
	f = fopen(k->cert_path, "w");
	FUZZ_CHECK(f != NULL && PEM_write_X509(f, x) == 1, "cannot write the certificate");
	fclose(f);
	FUZZ_CHECK(X509_digest(x, EVP_sha256(), md, &mdlen) == 1, "no thumbprint");
	b64url(md, mdlen, k->x5t);
	X509_free(x);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fuzz_tmpdir("assertion");

	make_key(&keys[0], dir);
	make_key(&keys[1], dir);
	assertion_init();
	return 0;
}

/* A base64url part of len bytes decoded by OpenSSL; NULL when it is not one. */
static unsigned char *
part_decode(const char *s, size_t len, size_t *ret_len)
{
	size_t pad = (4 - len % 4) % 4, n = len + pad;
	char *std = xmalloc(n + 1);
	unsigned char *out = xmalloc(n + 1);
	int got;

	if (pad == 3 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < len) {
		free(std);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	memset(std + len, '=', pad);
	got = EVP_DecodeBlock(out, (unsigned char *)std, (int)n);
	free(std);
	FUZZ_CHECK(got >= 0, "a part that is not base64url");
	*ret_len = (size_t)got - pad;
	out[*ret_len] = '\0';
	return out;
}

/* A JSON object part, parsed by yajl's tree parser. */
static yajl_val
part_json(const char *s, size_t len, const char *what)
{
	size_t n = 0;
	unsigned char *text = part_decode(s, len, &n);
	char err[128];
	yajl_val v;

	FUZZ_CHECK(text != NULL, "the %s is not base64url", what);
	FUZZ_CHECK(strlen((char *)text) == n, "a NUL in the %s", what);
	v = yajl_tree_parse((char *)text, err, sizeof(err));
	FUZZ_CHECK(v != NULL && YAJL_IS_OBJECT(v), "the %s is not a JSON object: %s", what, err);
	free(text);
	return v;
}

/* The object has exactly the keys named, each once. */
static void
exact_keys(yajl_val v, const char *const *keys_want, size_t n, const char *what)
{
	FUZZ_CHECK(v->u.object.len == n, "the %s has %zu members, not %zu", what, v->u.object.len,
		   n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t j = 0; j < n; j++)
			found = found || strcmp(v->u.object.keys[j], keys_want[i]) == 0;
		FUZZ_CHECK(found, "the %s has no %s", what, keys_want[i]);
	}
}

static const char *
str_of(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_string);

	FUZZ_CHECK(v != NULL, "%s is not a string", key);
	return YAJL_GET_STRING(v);
}

static long long
int_of(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_number);

	FUZZ_CHECK(v != NULL && YAJL_IS_INTEGER(v), "%s is not an integer", key);
	return YAJL_GET_INTEGER(v);
}

/* The signature over the first two parts, checked with the key (JWS: raw R || S for ES256). */
static void
check_signature(EVP_PKEY *pkey, const char *alg, const char *jwt, size_t signed_len,
		const char *sig64)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig, *der = NULL;
	size_t sig_len = 0;
	int der_len;

	sig = part_decode(sig64, strlen(sig64), &sig_len);
	FUZZ_CHECK(sig != NULL, "the signature is not base64url");
	if (strcmp(alg, "ES256") == 0) {
		ECDSA_SIG *es = ECDSA_SIG_new();

		FUZZ_CHECK(sig_len == 64, "an ES256 signature of %zu bytes", sig_len);
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
		der_len = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		FUZZ_CHECK(der_len > 0, "cannot encode the signature");
		free(sig);
		sig = xmalloc((size_t)der_len);
		memcpy(sig, der, (size_t)der_len);
		sig_len = (size_t)der_len;
		OPENSSL_free(der);
	}
	FUZZ_CHECK(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1, "verify init");
	if (strcmp(alg, "PS256") == 0)
		FUZZ_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
				   EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) ==
					   1,
			   "PSS");
	FUZZ_CHECK(EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)jwt, signed_len) == 1,
		   "the %s signature does not verify", alg);
	EVP_MD_CTX_free(md);
	free(sig);
}

static void
check_jti(const char *jti)
{
	FUZZ_CHECK(fuzz_hex(jti, 32), "a jti that is not 32 hex digits");
	for (size_t i = 0; i < JTI_SEEN_MAX && jti_seen[i][0] != '\0'; i++)
		FUZZ_CHECK(strcmp(jti_seen[i], jti) != 0, "a jti used again");
	memcpy(jti_seen[jti_next], jti, 33);
	jti_next = (jti_next + 1) % JTI_SEEN_MAX;
}

static void
check_assertion(const struct key *k, const struct cred_conf *cc, const struct secret *jwt,
		int64_t now)
{
	static const char *const claim_keys[] = { "iss", "sub", "aud", "jti", "iat", "exp" };
	const char *header_keys[] = { "alg", "typ", "kid" };
	const char *s = jwt->data, *dot1, *dot2, *alg, *want_alg, *aud;
	yajl_val h, c;
	long long iat, exp;

	FUZZ_CHECK(strlen(s) == jwt->len, "a NUL in the assertion");
	dot1 = strchr(s, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	FUZZ_CHECK(dot2 != NULL && strchr(dot2 + 1, '.') == NULL, "not three parts");

	h = part_json(s, (size_t)(dot1 - s), "header");
	alg = str_of(h, "alg");
	want_alg = cc->assertion_alg != ASSERTION_ALG_AUTO ? algs[cc->assertion_alg]
		   : strcmp(k->type, "EC") == 0		   ? "ES256"
							   : "RS256";
	FUZZ_CHECK(strcmp(alg, want_alg) == 0, "alg %s, not %s", alg, want_alg);
	FUZZ_CHECK(strcmp(str_of(h, "typ"), "JWT") == 0, "typ is not JWT");
	if (cc->assertion_kid != NULL && strcmp(cc->assertion_kid, "x5t") == 0) {
		header_keys[2] = "x5t#S256";
		FUZZ_CHECK(strcmp(str_of(h, "x5t#S256"), k->x5t) == 0,
			   "not the certificate's x5t#S256");
	} else if (cc->assertion_kid != NULL) {
		FUZZ_CHECK(strcmp(str_of(h, "kid"), cc->assertion_kid) == 0,
			   "not the kid configured");
	}
	exact_keys(h, header_keys, cc->assertion_kid != NULL ? 3 : 2, "header");

	c = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "claims");
	exact_keys(c, claim_keys, 6, "claims");
	FUZZ_CHECK(strcmp(str_of(c, "iss"), cc->client_id) == 0 &&
			   strcmp(str_of(c, "sub"), cc->client_id) == 0,
		   "iss and sub are not client_id");
	aud = cc->assertion_audience != NULL ? cc->assertion_audience : cc->token_url;
	FUZZ_CHECK(strcmp(str_of(c, "aud"), aud) == 0, "aud is not the audience");
	check_jti(str_of(c, "jti"));
	iat = int_of(c, "iat");
	exp = int_of(c, "exp");
	FUZZ_CHECK(iat == now - 5, "iat %lld for now %lld", iat, (long long)now);
	FUZZ_CHECK(exp == iat + cc->assertion_lifetime_ms / 1000, "exp %lld for iat %lld", exp,
		   iat);
	FUZZ_CHECK(exp > now, "an assertion that has expired when it is made (lifetime %lld ms)",
		   (long long)cc->assertion_lifetime_ms);
	check_signature(k->pkey, alg, s, (size_t)(dot2 - s), dot2 + 1);
	yajl_tree_free(h);
	yajl_tree_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t b = fuzz_byte(&in);
	const struct key *k = &keys[b & 1];
	const char *alg = algs[(b >> 1) & 3];
	int kid_mode = ((b >> 3) & 3) % 3;
	bool has_aud = b & 0x20, has_lifetime = b & 0x40;
	char *client_id, *aud, *kid, *lifetime, *path, *text, *cause = NULL;
	const struct conf *conf;
	struct request_opts qo;
	struct secret *jwt = NULL;
	int64_t now;

	client_id = fuzz_field(&in, '\n', 200, NULL);
	aud = fuzz_field(&in, '\n', 200, NULL);
	kid = fuzz_field(&in, '\n', 200, NULL);
	lifetime = fuzz_field(&in, '\n', 32, NULL);
	path = fuzz_field(&in, '\n', 100, NULL);
	now = (int64_t)fuzz_u32(&in) + 1000000000;
	text = xasprintf("[credential \"c\"]\n"
			 "token_url = https://idp.example.com/%s\n"
			 "auth_method = private_key_jwt\n"
			 "client_id = %s\n"
			 "client_key = %s\n"
			 "client_cert = %s\n"
			 "%s%s%s"
			 "%s%s%s"
			 "%s%s%s"
			 "%s%s%s",
			 path, client_id, k->key_path, k->cert_path,
			 alg != NULL ? "assertion_alg = " : "", alg != NULL ? alg : "",
			 alg != NULL ? "\n" : "", kid_mode > 0 ? "assertion_kid = " : "",
			 kid_mode == 1	 ? kid
			 : kid_mode == 2 ? "x5t"
					 : "",
			 kid_mode > 0 ? "\n" : "", has_aud ? "assertion_audience = " : "",
			 has_aud ? aud : "", has_aud ? "\n" : "",
			 has_lifetime ? "assertion_lifetime = " : "", has_lifetime ? lifetime : "",
			 has_lifetime ? "\n" : "");
	if ((conf = fuzz_conf(text)) != NULL) {
		conf_request_opts(conf->creds[0], &qo);
		FUZZ_CHECK(assertion_sign(&qo.assertion, now, &jwt, NULL, &cause) == 0,
			   "a configuration that loads cannot sign: %s", cause);
		check_assertion(k, conf->creds[0], jwt, now);
		secret_free(jwt);
	}
	free(client_id);
	free(aud);
	free(kid);
	free(lifetime);
	free(path);
	return 0;
}
