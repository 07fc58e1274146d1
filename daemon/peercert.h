/*
 * The certificate a TLS server showed, as a person reads it: recorded
 * during the handshake for tokenbrokerd --test, so that a failed
 * verification can name the issuer, the host names and the dates.  Kept
 * apart from http.c: this is OpenSSL's side, that one libcurl's.
 */
#ifndef TB_PEERCERT_H
#define TB_PEERCERT_H

#include <stdbool.h>

/* What went wrong with the certificate, when something did. */
enum peercert_problem {
	PEERCERT_OK,
	PEERCERT_UNTRUSTED,   /* no trusted issuer (unknown CA, self-signed) */
	PEERCERT_EXPIRED,
	PEERCERT_NOT_YET_VALID,
	PEERCERT_OTHER,	      /* another verification error (text says which) */
};

/* All strings owned, NULL when not known. */
struct peercert {
	bool seen;		      /* a certificate was recorded */
	enum peercert_problem problem;
	char *problem_text;	      /* OpenSSL's words for it */
	char *subject;		      /* RFC 2253, e.g. CN=localhost */
	char *issuer;
	char *names;		      /* subjectAltName: "DNS:a, IP:127.0.0.1" */
	char *not_before;	      /* "2026-01-02 03:04:05 UTC" */
	char *not_after;
};

/*
 * Makes the handshakes of ssl_ctx (an OpenSSL SSL_CTX *, as libcurl's
 * CURLOPT_SSL_CTX_FUNCTION hands it over, before it connects) record into
 * out: the first certificate that failed verification, else the server's
 * own.  The verification itself is left as it was.  out must outlive the
 * handshake.  Returns 0 or -ENOMEM.
 */
int peercert_watch(void *ssl_ctx, struct peercert *out);
/* Frees what pc holds and zeroes it; takes NULL. */
void peercert_clear(struct peercert *pc);
/* Moves src's contents into dst (cleared first); src is left empty. */
void peercert_move(struct peercert *dst, struct peercert *src);

#endif
