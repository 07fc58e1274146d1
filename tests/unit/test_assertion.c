/*
 * assertion.c and the requests that carry one: a private_key_jwt assertion
 * taken apart as a server would (base64url, JSON, the signature checked
 * with the public key for RS256, PS256 and ES256), and the body fields of
 * private_key_jwt, client_assertion and tls_client_auth.  Assertions are
 * checked without being printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "assertion.h"
#include "base64.h"
#include "json.h"
#include "request.h"
#include "secret.h"
#include "xmalloc.h"

#define AUDIENCE "https://idp.example.com/oauth2/token"
#define CLIENT "client-\"1\"" /* a quote, to see it escaped */

static EVP_PKEY *rsa_key, *ec_key;

static int
group_setup(void **state)
{
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return rsa_key != NULL && ec_key != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	return 0;
}

/* One decoded part of a compact JWS. */
static char *
part(const char *jwt, int n, size_t *ret_len)
{
	const char *p = jwt, *end;
	char *out = NULL;

	for (int i = 0; i < n; i++) {
		p = strchr(p, '.');
		assert_non_null(p);
		p++;
	}
	end = strchr(p, '.');
	if (end == NULL)
		end = p + strlen(p);
	assert_int_equal(base64_decode(p, (size_t)(end - p), true, &out, ret_len), 0);
	return out;
}

static struct json *
part_json(const char *jwt, int n)
{
	struct json *j = NULL;
	char *cause = NULL, *text;
	size_t len;

	text = part(jwt, n, &len);
	if (json_parse(text, len, &j, &cause) < 0)
		fail_msg("part %d is not JSON: %s", n, cause);
	free(text);
	assert_int_equal(j->type, JSON_OBJECT);
	return j;
}

static int64_t
claim_int(const struct json *claims, const char *name)
{
	const struct json *v = json_get(claims, name);
	int64_t n = 0;

	assert_non_null(v);
	assert_int_equal(v->type, JSON_NUMBER);
	assert_int_equal(json_int64(v, &n), 0);
	return n;
}

/* Checks the signature over the first two parts with the public key. */
static void
verify_signature(const char *jwt, EVP_PKEY *key, enum assertion_alg alg)
{
	const char *second_dot = strrchr(jwt, '.');
	unsigned char *sig, *der = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t sig_len;
	int der_len;

	sig = (unsigned char *)part(jwt, 2, &sig_len);
	if (alg == ASSERTION_ALG_ES256) {
		ECDSA_SIG *es = ECDSA_SIG_new();

		assert_int_equal(sig_len, 64);
		assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
						BN_bin2bn(sig + 32, 32, NULL)),
				 1);
		der_len = i2d_ECDSA_SIG(es, &der);
		assert_true(der_len > 0);
		ECDSA_SIG_free(es);
		free(sig);
		sig = der;
		sig_len = (size_t)der_len;
	} else {
		assert_int_equal(sig_len, 256);
	}
	assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key), 1);
	if (alg == ASSERTION_ALG_PS256) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	if (EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)jwt,
			     (size_t)(second_dot - jwt)) != 1)
		fail_msg("the signature does not verify");
	EVP_MD_CTX_free(md);
	if (alg == ASSERTION_ALG_ES256)
		OPENSSL_free(sig);
	else
		free(sig);
}

/*
 * Signs an assertion and checks everything a server checks; returns its
 * jti (caller frees).
 */
static char *
check_assertion(EVP_PKEY *key, enum assertion_alg alg, const char *want_alg, const char *kid,
		const char *x5t, int64_t lifetime_ms)
{
	struct assertion_opts o = {
		.key = key, .alg = alg, .kid = kid, .x5t_s256 = x5t, .client_id = CLIENT,
		.audience = AUDIENCE, .lifetime_ms = lifetime_ms,
	};
	struct assertion_claims c;
	struct secret *jwt = NULL;
	struct json *h, *cl;
	const struct json *aud;
	char *cause = NULL, *jti;
	int64_t now = (int64_t)time(NULL), iat, exp;
	int dots = 0;

	if (assertion_sign(&o, now, &jwt, &c, &cause) < 0)
		fail_msg("assertion_sign: %s", cause);
	for (size_t i = 0; i < jwt->len; i++)
		dots += jwt->data[i] == '.';
	assert_int_equal(dots, 2);
	assert_null(strpbrk(jwt->data, "+/= \n"));

	h = part_json(jwt->data, 0);
	assert_string_equal(json_get_string(h, "alg"), want_alg);
	assert_string_equal(json_get_string(h, "typ"), "JWT");
	if (x5t != NULL) {
		assert_string_equal(json_get_string(h, "x5t#S256"), x5t);
		assert_null(json_get(h, "kid"));
	} else if (kid != NULL) {
		assert_string_equal(json_get_string(h, "kid"), kid);
	} else {
		assert_null(json_get(h, "kid"));
	}
	json_free(h);

	cl = part_json(jwt->data, 1);
	assert_string_equal(json_get_string(cl, "iss"), CLIENT);
	assert_string_equal(json_get_string(cl, "sub"), CLIENT);
	aud = json_get(cl, "aud");
	assert_non_null(aud);
	assert_int_equal(aud->type, JSON_STRING);
	assert_string_equal(aud->text, AUDIENCE);
	jti = xstrdup(json_get_string(cl, "jti"));
	assert_int_equal(strlen(jti), 32);
	assert_string_equal(jti, c.jti);
	iat = claim_int(cl, "iat");
	exp = claim_int(cl, "exp");
	assert_true(iat <= now - 4);
	assert_true(iat >= now - 10);
	assert_int_equal(exp - iat, lifetime_ms / 1000);
	assert_int_equal(c.iat, iat);
	assert_int_equal(c.exp, exp);
	json_free(cl);

	verify_signature(jwt->data, key, alg == ASSERTION_ALG_AUTO ?
						 (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC ?
							  ASSERTION_ALG_ES256 :
							  ASSERTION_ALG_RS256) :
						 alg);
	secret_free(jwt);
	return jti;
}

static void
test_rs256(void **state)
{
	char *a = check_assertion(rsa_key, ASSERTION_ALG_RS256, "RS256", NULL, NULL, 60000);
	char *b = check_assertion(rsa_key, ASSERTION_ALG_AUTO, "RS256", "key-1", NULL, 300000);

	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
test_ps256(void **state)
{
	char *a = check_assertion(rsa_key, ASSERTION_ALG_PS256, "PS256", "k\"2", NULL, 60000);
	char *b = check_assertion(rsa_key, ASSERTION_ALG_PS256, "PS256", NULL, NULL, 1000);

	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
test_es256(void **state)
{
	char *a = check_assertion(ec_key, ASSERTION_ALG_ES256, "ES256", NULL, "abc-_x", 60000);
	char *b = check_assertion(ec_key, ASSERTION_ALG_AUTO, "ES256", NULL, NULL, 3600000);

	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

/* A key as PEM text, for assertion_key_parse. */
static char *
key_pem(EVP_PKEY *key, size_t *ret_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	/* not strndup: the BIO's data has no terminating NUL to stop at */
	out = xmalloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*ret_len = (size_t)n;
	BIO_free(bio);
	return out;
}

static void
test_key_parse(void **state)
{
	EVP_PKEY *k = NULL, *small;
	enum assertion_alg alg;
	char *cause = NULL, *pem;
	size_t len;

	pem = key_pem(rsa_key, &len);
	assert_int_equal(assertion_key_parse(pem, len, &k, &cause), 0);
	assert_int_equal(assertion_key_alg(k, ASSERTION_ALG_AUTO, &alg, &cause), 0);
	assert_int_equal(alg, ASSERTION_ALG_RS256);
	assert_int_equal(assertion_key_alg(k, ASSERTION_ALG_PS256, &alg, &cause), 0);
	assert_int_equal(alg, ASSERTION_ALG_PS256);
	assert_int_equal(assertion_key_alg(k, ASSERTION_ALG_ES256, &alg, &cause), -EINVAL);
	assert_string_equal(cause, "ES256 needs an EC P-256 key; client_key is an RSA key (use "
				   "RS256 or PS256)");
	free(cause);
	EVP_PKEY_free(k);
	secret_free_str(pem);

	pem = key_pem(ec_key, &len);
	assert_int_equal(assertion_key_parse(pem, len, &k, &cause), 0);
	assert_int_equal(assertion_key_alg(k, ASSERTION_ALG_AUTO, &alg, &cause), 0);
	assert_int_equal(alg, ASSERTION_ALG_ES256);
	assert_int_equal(assertion_key_alg(k, ASSERTION_ALG_RS256, &alg, &cause), -EINVAL);
	assert_string_equal(cause, "RS256 needs an RSA key; client_key is an EC P-256 key (use "
				   "ES256)");
	free(cause);
	EVP_PKEY_free(k);
	secret_free_str(pem);

	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	pem = key_pem(small, &len);
	assert_int_equal(assertion_key_parse(pem, len, &k, &cause), -EINVAL);
	assert_string_equal(cause, "an RSA key of 1024 bits; RFC 7518 wants at least 2048");
	free(cause);
	EVP_PKEY_free(small);
	secret_free_str(pem);

	small = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	pem = key_pem(small, &len);
	assert_int_equal(assertion_key_parse(pem, len, &k, &cause), -EINVAL);
	assert_string_equal(cause, "not an RSA or EC P-256 key");
	free(cause);
	EVP_PKEY_free(small);
	secret_free_str(pem);

	assert_int_equal(assertion_key_parse("nonsense", 8, &k, &cause), -EINVAL);
	assert_string_equal(cause, "not a PEM private key (RSA or EC P-256, not encrypted)");
	free(cause);
}

/* x5t#S256 against X509_digest, a way that shares no code with it. */
static void
test_x5t(void **state)
{
	char path[] = "/tmp/test_assertion.XXXXXX";
	X509 *x = X509_new();
	unsigned char md[32];
	unsigned int n = 0;
	char *got = NULL, *want, *cause = NULL;
	FILE *fp;
	int fd;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, ec_key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"client", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, ec_key, EVP_sha256()) > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_int_equal(PEM_write_X509(fp, x), 1);
	fclose(fp);

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	want = base64url_encode(md, n);
	assert_int_equal(assertion_cert_x5t(path, &got, &cause), 0);
	assert_string_equal(got, want);
	assert_int_equal(strlen(got), 43);
	free(got);
	free(want);
	X509_free(x);
	unlink(path);

	assert_true(assertion_cert_x5t(path, &got, &cause) < 0);
	assert_non_null(strstr(cause, path));
	free(cause);
}

/* The form field name's value in a body, decoded; NULL when absent. */
static char *
field(const struct secret *body, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = body->data;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			char *out = xmalloc(len), *o = out;

			for (const char *q = p + nlen + 1; q < p + len; q++) {
				if (*q == '%') {
					unsigned v;

					assert_int_equal(sscanf(q + 1, "%2x", &v), 1);
					*o++ = (char)v;
					q += 2;
				} else {
					*o++ = *q == '+' ? ' ' : *q;
				}
			}
			*o = '\0';
			return out;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

static void
test_request_private_key_jwt(void **state)
{
	struct request_opts o = {
		.token_url = AUDIENCE,
		.auth_method = AUTH_PRIVATE_KEY_JWT,
		.client_id = "app",
		.assertion = { .key = ec_key, .client_id = "app", .audience = AUDIENCE,
			       .lifetime_ms = 60000 },
	};
	struct token_request *r1 = NULL, *r2 = NULL;
	char *cause = NULL, *a1, *a2, *v;

	assert_int_equal(request_build(&o, NULL, &r1, &cause), 0);
	assert_int_equal(request_build(&o, NULL, &r2, &cause), 0);
	assert_null(r1->authorization);
	assert_true(r1->assertion.signed_here);
	assert_string_not_equal(r1->assertion.claims.jti, r2->assertion.claims.jti);
	v = field(r1->body, "client_assertion_type");
	assert_string_equal(v, ASSERTION_TYPE);
	free(v);
	v = field(r1->body, "client_id");
	assert_string_equal(v, "app");
	free(v);
	assert_null(field(r1->body, "client_secret"));
	a1 = field(r1->body, "client_assertion");
	a2 = field(r2->body, "client_assertion");
	assert_non_null(a1);
	assert_non_null(a2);
	assert_true(strcmp(a1, a2) != 0);
	verify_signature(a1, ec_key, ASSERTION_ALG_ES256);
	secret_free_str(a1);
	secret_free_str(a2);
	request_free(r1);
	request_free(r2);

	o.assertion.key = NULL;
	assert_int_equal(request_build(&o, NULL, &r1, &cause), -EINVAL);
	assert_string_equal(cause, "auth_method private_key_jwt needs client_id and client_key");
	free(cause);
}

static void
write_text(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_request_client_assertion(void **state)
{
	char dir[] = "/tmp/test_assertion.XXXXXX", *path, *cause = NULL, *v;
	struct request_opts o = {
		.token_url = AUDIENCE,
		.auth_method = AUTH_CLIENT_ASSERTION,
	};
	struct token_request *r = NULL;

	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/sa-token", dir);
	o.client_assertion_file = path;

	write_text(path, 0600, "eyJhbGciOi.first.sig\n");
	assert_int_equal(request_build(&o, NULL, &r, &cause), 0);
	v = field(r->body, "client_assertion");
	assert_string_equal(v, "eyJhbGciOi.first.sig");
	free(v);
	v = field(r->body, "client_assertion_type");
	assert_string_equal(v, ASSERTION_TYPE);
	free(v);
	assert_null(field(r->body, "client_id"));
	assert_string_equal(r->assertion.file, path);
	assert_false(r->assertion.signed_here);
	request_free(r);

	/* Read again at every request: a rotated file is what is sent. */
	write_text(path, 0600, "eyJhbGciOi.second.sig");
	o.client_id = "app";
	assert_int_equal(request_build(&o, NULL, &r, &cause), 0);
	v = field(r->body, "client_assertion");
	assert_string_equal(v, "eyJhbGciOi.second.sig");
	free(v);
	v = field(r->body, "client_id");
	assert_string_equal(v, "app");
	free(v);
	request_free(r);

	write_text(path, 0600, "\n");
	assert_int_equal(request_build(&o, NULL, &r, &cause), -ENODATA);
	v = xasprintf("client_assertion_file %s: empty", path);
	assert_string_equal(cause, v);
	free(v);
	free(cause);

	write_text(path, 0640, "x");
	assert_int_equal(request_build(&o, NULL, &r, &cause), -EACCES);
	assert_non_null(strstr(cause, "readable by group or others"));
	free(cause);

	unlink(path);
	assert_int_equal(request_build(&o, NULL, &r, &cause), -ENOENT);
	v = xasprintf("client_assertion_file %s: No such file or directory", path);
	assert_string_equal(cause, v);
	free(v);
	free(cause);
	rmdir(dir);
	free(path);
}

static void
test_request_tls_client_auth(void **state)
{
	struct request_opts o = {
		.token_url = AUDIENCE,
		.auth_method = AUTH_TLS_CLIENT_AUTH,
		.client_id = "app",
	};
	struct token_request *r = NULL;
	char *cause = NULL, *v;

	assert_int_equal(request_build(&o, NULL, &r, &cause), 0);
	assert_null(r->authorization);
	v = field(r->body, "client_id");
	assert_string_equal(v, "app");
	free(v);
	assert_null(field(r->body, "client_secret"));
	assert_null(field(r->body, "client_assertion"));
	request_free(r);

	o.client_id = NULL;
	assert_int_equal(request_build(&o, NULL, &r, &cause), -EINVAL);
	assert_string_equal(cause, "auth_method tls_client_auth needs client_id");
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_ps256),
		cmocka_unit_test(test_es256),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_x5t),
		cmocka_unit_test(test_request_private_key_jwt),
		cmocka_unit_test(test_request_client_assertion),
		cmocka_unit_test(test_request_tls_client_auth),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
