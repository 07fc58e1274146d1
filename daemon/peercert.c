/*
 * Recording the server's certificate during a handshake.  libcurl sets the
 * verification mode of its SSL_CTX before it calls CURLOPT_SSL_CTX_FUNCTION;
 * peercert_watch keeps that mode and adds a verify callback, which sees
 * every certificate of the chain with OpenSSL's verdict on it and returns
 * that verdict unchanged.  The record is found again from the SSL_CTX by
 * an ex_data index of our own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "peercert.h"
#include "text.h"
#include "xmalloc.h"

#define PEERCERT_NAME_MAX 256 /* bytes of one DNS name shown */

static int peercert_index = -1;

/* len bytes that need not end in a NUL (a BIO's, an ASN1_STRING's) as a string. */
static char *
peercert_dup(const void *p, size_t len)
{
	char *s = xmalloc(len + 1);

	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* A name as one line, RFC 2253 ("CN=localhost,O=Example"); caller frees. */
static char *
peercert_name(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long len;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &data);
		s = peercert_dup(data, (size_t)(len > 0 ? len : 0));
	}
	BIO_free(b);
	return s;
}

static char *
peercert_time(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[64];

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return NULL;
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return xstrdup(buf);
}

/* The DNS names and IP addresses of subjectAltName, or NULL for none. */
static char *
peercert_alt_names(X509 *cert)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char *list = NULL;

	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN], *item = NULL, *l;

		if (g->type == GEN_DNS) {
			/* the server's words, to a terminal: no control characters */
			char *dns = text_sanitize((const char *)ASN1_STRING_get0_data(g->d.dNSName),
						  (size_t)ASN1_STRING_length(g->d.dNSName),
						  PEERCERT_NAME_MAX);

			item = xasprintf("DNS:%s", dns);
			free(dns);
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);

			if ((len == 4 || len == 16) &&
			    inet_ntop(len == 4 ? AF_INET : AF_INET6, a, ip, sizeof(ip)) != NULL)
				item = xasprintf("IP:%s", ip);
		}
		if (item == NULL)
			continue;
		l = list != NULL ? xasprintf("%s, %s", list, item) : xstrdup(item);
		free(list);
		free(item);
		list = l;
	}
	GENERAL_NAMES_free(gens);
	return list;
}

static enum peercert_problem
peercert_problem_of(int err)
{
	switch (err) {
	case X509_V_OK:
		return PEERCERT_OK;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return PEERCERT_UNTRUSTED;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return PEERCERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return PEERCERT_NOT_YET_VALID;
	default:
		return PEERCERT_OTHER;
	}
}

static void
peercert_record(struct peercert *pc, X509 *cert, int err)
{
	peercert_clear(pc);
	pc->seen = true;
	pc->problem = peercert_problem_of(err);
	if (err != X509_V_OK)
		pc->problem_text = xstrdup(X509_verify_cert_error_string(err));
	pc->subject = peercert_name(X509_get_subject_name(cert));
	pc->issuer = peercert_name(X509_get_issuer_name(cert));
	pc->names = peercert_alt_names(cert);
	pc->not_before = peercert_time(X509_get0_notBefore(cert));
	pc->not_after = peercert_time(X509_get0_notAfter(cert));
}

/*
 * OpenSSL's verify callback: the first failure wins; without one, the
 * server's own certificate (depth 0, seen last) is kept.
 */
static int
peercert_verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct peercert *pc;
	X509 *cert = X509_STORE_CTX_get_current_cert(x);

	if (ssl == NULL || cert == NULL)
		return ok;
	pc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), peercert_index);
	if (pc == NULL || (pc->seen && pc->problem != PEERCERT_OK))
		return ok;
	if (!ok)
		peercert_record(pc, cert, X509_STORE_CTX_get_error(x));
	else if (X509_STORE_CTX_get_error_depth(x) == 0)
		peercert_record(pc, cert, X509_V_OK);
	return ok;
}

int
peercert_watch(void *ssl_ctx, struct peercert *out)
{
	SSL_CTX *ctx = ssl_ctx;

	if (peercert_index < 0)
		peercert_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (peercert_index < 0 || SSL_CTX_set_ex_data(ctx, peercert_index, out) != 1)
		return -ENOMEM;
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), peercert_verify_cb);
	return 0;
}

void
peercert_clear(struct peercert *pc)
{
	if (pc == NULL)
		return;
	free(pc->problem_text);
	free(pc->subject);
	free(pc->issuer);
	free(pc->names);
	free(pc->not_before);
	free(pc->not_after);
	memset(pc, 0, sizeof(*pc));
}

void
peercert_move(struct peercert *dst, struct peercert *src)
{
	peercert_clear(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}
