/*
 * Client assertions: signing a JWT with libcrypto (RS256, PS256, ES256,
 * RFC 7518 section 3), loading the key it is signed with, the certificate
 * thumbprint some servers want as its key id, and reading a ready-made
 * assertion from a file.  The JSON of the header and the claims is made
 * with yajl, so a client_id or an audience is escaped as JSON wants.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <yajl/yajl_gen.h>

#include "assertion.h"
#include "base64.h"
#include "cleanup.h"
#include "digest.h"
#include "secbuf.h"
#include "xmalloc.h"

#define ASSERTION_ES256_HALF 32

const char *const assertion_alg_names[] = {
	[ASSERTION_ALG_AUTO] = "auto",
	[ASSERTION_ALG_RS256] = "RS256",
	[ASSERTION_ALG_PS256] = "PS256",
	[ASSERTION_ALG_ES256] = "ES256",
	NULL,
};

const char *
assertion_alg_name(enum assertion_alg alg)
{
	if ((unsigned)alg >= ELEMENTSOF(assertion_alg_names) - 1)
		return "?";
	return assertion_alg_names[alg];
}

static void
assertion_gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void
assertion_gen_pair(yajl_gen g, const char *key, const char *value)
{
	assertion_gen_str(g, key);
	assertion_gen_str(g, value);
}

/* A JSON object about to be written into b. */
static yajl_gen
assertion_gen_open(struct secbuf *b)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL)
		abort();
	yajl_gen_config(g, yajl_gen_print_callback, secbuf_yajl_cb, b);
	yajl_gen_map_open(g);
	return g;
}

/* Closes the object, frees g and b; returns b's text base64url-encoded. */
static char *
assertion_gen_close(yajl_gen g, struct secbuf *b)
{
	char *enc;

	yajl_gen_map_close(g);
	yajl_gen_free(g);
	enc = base64url_encode(b->data, b->len);
	secbuf_clear(b);
	return enc;
}

/* The JWS header as JSON, base64url-encoded; caller frees. */
static char *
assertion_header(const struct assertion_opts *o, enum assertion_alg alg)
{
	struct secbuf b = { 0 };
	yajl_gen g = assertion_gen_open(&b);

	assertion_gen_pair(g, "alg", assertion_alg_name(alg));
	assertion_gen_pair(g, "typ", "JWT");
	if (o->x5t_s256 != NULL)
		assertion_gen_pair(g, "x5t#S256", o->x5t_s256);
	else if (o->kid != NULL)
		assertion_gen_pair(g, "kid", o->kid);
	return assertion_gen_close(g, &b);
}

/* The claims as JSON, base64url-encoded; caller frees. */
static char *
assertion_claims_json(const struct assertion_opts *o, const struct assertion_claims *c)
{
	struct secbuf b = { 0 };
	yajl_gen g = assertion_gen_open(&b);

	assertion_gen_pair(g, "iss", o->client_id);
	assertion_gen_pair(g, "sub", o->client_id);
	/* A single string: some servers refuse an array here. */
	assertion_gen_pair(g, "aud", o->audience);
	assertion_gen_pair(g, "jti", c->jti);
	assertion_gen_str(g, "iat");
	yajl_gen_integer(g, c->iat);
	assertion_gen_str(g, "exp");
	yajl_gen_integer(g, c->exp);
	return assertion_gen_close(g, &b);
}

/*
 * An ECDSA signature in DER (what libcrypto makes) as the 64 bytes of R
 * and S, each left-padded to 32, that JWS wants (RFC 7518 section 3.4).
 */
static int
assertion_ecdsa_raw(const unsigned char *der, size_t len, unsigned char out[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int ok;

	if (sig == NULL)
		return -EINVAL;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, out, ASSERTION_ES256_HALF) == ASSERTION_ES256_HALF &&
	     BN_bn2binpad(s, out + ASSERTION_ES256_HALF, ASSERTION_ES256_HALF) ==
		     ASSERTION_ES256_HALF;
	ECDSA_SIG_free(sig);
	return ok ? 0 : -EINVAL;
}

/*
 * The signature over tbs, base64url-encoded; NULL on failure.  With the
 * (predictable) header and claims it is the assertion, so every buffer
 * that held it is wiped; the caller wipes what it returns.
 */
static char *
assertion_signature(EVP_PKEY *key, enum assertion_alg alg, const char *tbs, size_t tbs_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL, raw[2 * ASSERTION_ES256_HALF];
	size_t sig_len = 0, sig_size = 0;
	char *enc = NULL;

	if (md == NULL || EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1)
		goto out;
	if (alg == ASSERTION_ALG_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	if (EVP_DigestSign(md, NULL, &sig_size, (const unsigned char *)tbs, tbs_len) != 1)
		goto out;
	sig = xmalloc(sig_size);
	sig_len = sig_size;
	if (EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)tbs, tbs_len) != 1)
		goto out;
	if (alg == ASSERTION_ALG_ES256) {
		if (assertion_ecdsa_raw(sig, sig_len, raw) < 0)
			goto out;
		enc = base64url_encode(raw, sizeof(raw));
	} else {
		enc = base64url_encode(sig, sig_len);
	}
out:
	explicit_bzero(raw, sizeof(raw));
	if (sig != NULL)
		secret_free_buf(sig, sig_size);
	EVP_MD_CTX_free(md);
	return enc;
}

void
assertion_init(void)
{
	unsigned char b[16];

	/* The public generator (jti, PSS salts) and the private one (blinding, nonces). */
	if (RAND_bytes(b, sizeof(b)) != 1 || RAND_priv_bytes(b, sizeof(b)) != 1)
		ERR_clear_error(); /* assertion_sign will say so if it persists */
	explicit_bzero(b, sizeof(b));
}

int
assertion_sign(const struct assertion_opts *o, int64_t now_s, struct secret **ret,
	       struct assertion_claims *claims, char **cause)
{
	struct assertion_claims c;
	struct secbuf jwt = { 0 };
	unsigned char rnd[16];
	char *header, *body, *sig;
	enum assertion_alg alg = o->alg;

	if (o->key == NULL || o->client_id == NULL || o->audience == NULL) {
		*cause = xstrdup("private_key_jwt needs client_id, client_key and an audience");
		return -EINVAL;
	}
	if (alg == ASSERTION_ALG_AUTO)
		alg = EVP_PKEY_get_base_id(o->key) == EVP_PKEY_EC ? ASSERTION_ALG_ES256 :
								     ASSERTION_ALG_RS256;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		*cause = xstrdup("cannot make a jti: the random number generator failed");
		return -EIO;
	}
	memset(&c, 0, sizeof(c));
	digest_hex(rnd, sizeof(rnd), c.jti);
	c.iat = now_s - ASSERTION_SKEW_S;
	c.exp = c.iat + (o->lifetime_ms > 0 ? o->lifetime_ms : ASSERTION_LIFETIME_DEFAULT_MS) / 1000;

	header = assertion_header(o, alg);
	body = assertion_claims_json(o, &c);
	secbuf_str(&jwt, header);
	secbuf_add(&jwt, ".", 1);
	secbuf_str(&jwt, body);
	free(header);
	free(body);
	sig = assertion_signature(o->key, alg, jwt.data, jwt.len);
	if (sig == NULL) {
		secbuf_clear(&jwt);
		*cause = xasprintf("cannot sign the client assertion (%s)", assertion_alg_name(alg));
		return -EINVAL;
	}
	secbuf_add(&jwt, ".", 1);
	secbuf_str(&jwt, sig);
	secret_free_str(sig);
	*ret = secret_new(jwt.data, jwt.len);
	secbuf_clear(&jwt);
	if (claims != NULL)
		*claims = c;
	return 0;
}

/* Never prompts for a passphrase: an encrypted key is refused. */
static int
assertion_no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Whether key is an EC key on P-256. */
static bool
assertion_key_p256(EVP_PKEY *key)
{
	char group[64];
	size_t len = 0;

	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   &len) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int
assertion_key_parse(const char *pem, size_t len, EVP_PKEY **ret, char **cause)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key;
	int type;

	if (bio == NULL)
		abort();
	key = PEM_read_bio_PrivateKey(bio, NULL, assertion_no_passphrase_cb, NULL);
	BIO_free(bio);
	if (key == NULL) {
		*cause = xstrdup("not a PEM private key (RSA or EC P-256, not encrypted)");
		return -EINVAL;
	}
	type = EVP_PKEY_get_base_id(key);
	if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 2048) {
		*cause = xasprintf("an RSA key of %d bits; RFC 7518 wants at least 2048",
				   EVP_PKEY_get_bits(key));
		EVP_PKEY_free(key);
		return -EINVAL;
	}
	if (type != EVP_PKEY_RSA && !(type == EVP_PKEY_EC && assertion_key_p256(key))) {
		*cause = xstrdup("not an RSA or EC P-256 key");
		EVP_PKEY_free(key);
		return -EINVAL;
	}
	*ret = key;
	return 0;
}

int
assertion_key_alg(EVP_PKEY *key, enum assertion_alg want, enum assertion_alg *ret, char **cause)
{
	bool ec = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC;

	if (want == ASSERTION_ALG_AUTO) {
		*ret = ec ? ASSERTION_ALG_ES256 : ASSERTION_ALG_RS256;
		return 0;
	}
	if (ec != (want == ASSERTION_ALG_ES256)) {
		*cause = xasprintf("%s needs %s key; client_key is %s key (use %s)",
				   assertion_alg_name(want), ec ? "an RSA" : "an EC P-256",
				   ec ? "an EC P-256" : "an RSA", ec ? "ES256" : "RS256 or PS256");
		return -EINVAL;
	}
	*ret = want;
	return 0;
}

int
assertion_cert_x5t(const char *path, char **ret, char **cause)
{
	unsigned char *der = NULL, md[32];
	unsigned int md_len = 0;
	X509 *cert;
	FILE *fp;
	int len;

	fp = fopen(path, "re");
	if (fp == NULL) {
		int r = -errno;

		*cause = xasprintf("cannot open %s: %s", path, strerror(-r));
		return r;
	}
	cert = PEM_read_X509(fp, NULL, assertion_no_passphrase_cb, NULL);
	fclose(fp);
	if (cert == NULL) {
		*cause = xasprintf("%s: no PEM certificate in it", path);
		return -EINVAL;
	}
	len = i2d_X509(cert, &der);
	X509_free(cert);
	if (len <= 0 || EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		*cause = xasprintf("%s: cannot encode the certificate", path);
		return -EINVAL;
	}
	OPENSSL_free(der);
	*ret = base64url_encode(md, md_len);
	return 0;
}

int
assertion_read_file(const char *key, const char *path, struct secret **ret, int64_t *ret_mtime_ms,
		    char **cause)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0, size = 0;
	char *buf = NULL;
	int r;

	/* O_NONBLOCK: a FIFO put there must not stall the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		*cause = xasprintf("%s %s: %s", key, path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s %s: not a regular file", key, path);
		return -EINVAL;
	}
	if ((st.st_mode & 0066) != 0) {
		*cause = xasprintf("%s %s: %s by group or others (mode %04o); chmod 600 it", key,
				   path, (st.st_mode & 0044) != 0 ? "readable" : "writable",
				   (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	r = secret_read_fd(fd, ASSERTION_FILE_MAX, &buf, &len, &size);
	if (r < 0) {
		*cause = xasprintf("%s %s: %s", key, path,
				   r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return r;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		secret_free_buf(buf, size);
		*cause = xasprintf("%s %s: empty", key, path);
		return -ENODATA;
	}
	*ret = secret_new(buf, len);
	secret_free_buf(buf, size);
	*ret_mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	return 0;
}
