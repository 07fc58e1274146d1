/*
 * The hints of tokenbrokerd --test: one table of causes, each with what to
 * change, matched against a failed token request.  A new cause is a row
 * (hint.c), a test that produces it (tests/integration/hints.t) and a line
 * of the table in tokenbrokerd(8).
 */
#ifndef TB_HINT_H
#define TB_HINT_H

#include "conf.h"
#include "http.h"

/* One failed token request, as the hints read it (all borrowed). */
struct hint_case {
	const struct cred_conf *cc;
	const struct http_result *res;
	const char *error; /* the upstream's error code (RFC 6749 "error"), or NULL */
	const char *url;   /* the URL requested */
};

/*
 * The hint for c: the first row of the table that matches, its text with
 * the case's values filled in (host, port, the certificate's names...).
 * Returns NULL when no row fits; else the text, which the caller frees,
 * and the row's cause name in *ret_cause (static) when ret_cause is not
 * NULL.
 */
char *hint_for(const struct hint_case *c, const char **ret_cause);

#endif
