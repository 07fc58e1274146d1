/*
 * The key of a token variant (variant_key_new): what a request asks of a
 * credential, against what the credential allows.  The input's first
 * byte says which of the credential's keys are given and which of the
 * request's parameters are; then come, line by line, the credential's
 * scope, audience, resource, allow_scopes, allow_audiences and
 * allow_resources (a [credential] with them is loaded as the daemon loads
 * one; an input whose section it refuses is skipped), and then, separated
 * by NUL bytes, the request's scope, audience and resource as the API
 * hands them over (decoded: any byte but NUL).
 *
 * Properties: the answer is a variant, the main token or a refusal; a
 * refusal's message is printable and valid UTF-8; a variant's canonical
 * text is non-empty printable ASCII (it goes into logs, metrics labels
 * and JSON), whatever bytes the configured values hold; asking again
 * with the canonical values of what the request gave (the scopes joined by
 * spaces, or by '+' as a query writes them) gives the same key; the
 * credential allows it; its id is 16 hex digits; asking for nothing is
 * the main token.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "text.h"
#include "variant.h"
#include "xmalloc.h"

static const char *const conf_keys[] = { "scope",	 "audience",	    "resource",
					 "allow_scopes", "allow_audiences", "allow_resources" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *what, const char *s)
{
	if (s == NULL)
		return;
	FUZZ_CHECK(s[0] != '\0', "an empty %s", what);
	FUZZ_CHECK(text_printable(s, strlen(s)), "a control character in the %s", what);
	FUZZ_CHECK(text_utf8_valid(s, strlen(s)), "the %s is not UTF-8", what);
}

/* The scope with its spaces written as '+', as a query string carries it. */
static char *
plus_joined(const char *scope)
{
	char *s = xstrdup(scope);

	for (char *p = s; *p != '\0'; p++)
		if (*p == ' ')
			*p = '+';
	return s;
}

static void
check_again(const struct cred_conf *cc, const struct variant_key *k, const char *scope,
	    const char *audience, const char *resource)
{
	struct variant_key *again = NULL;
	char *cause = NULL;
	int r = variant_key_new(cc, scope, audience, resource, &again, &cause);

	FUZZ_CHECK(r == 0, "the canonical values asked again give %d: %s", r,
		   cause != NULL ? cause : "");
	FUZZ_CHECK(strcmp(again->text, k->text) == 0, "the canonical values give another key");
	variant_key_free(again);
}

static void
check_variant(const struct cred_conf *cc, const struct variant_key *k, const char *scope,
	      const char *audience, const char *resource)
{
	char id[STORE_VARIANT_ID_LEN + 1], *plus;

	check_text("key's text", k->text);
	for (const char *p = k->text; *p != '\0'; p++)
		FUZZ_CHECK(*p > 0x20 && *p < 0x7f ? true : *p == ' ',
			   "a byte the text should encode");
	FUZZ_CHECK(variant_key_allowed(cc, k), "a key the credential does not allow");
	variant_key_id(k, id);
	FUZZ_CHECK(fuzz_hex(id, STORE_VARIANT_ID_LEN), "an id that is not 16 hex digits");

	check_again(cc, k, scope != NULL ? k->scope : NULL, audience != NULL ? k->audience : NULL,
		    resource != NULL ? k->resource : NULL);
	if (scope != NULL) {
		plus = plus_joined(k->scope);
		check_again(cc, k, plus, audience != NULL ? k->audience : NULL,
			    resource != NULL ? k->resource : NULL);
		free(plus);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t b = fuzz_byte(&in), given = fuzz_byte(&in);
	char *text = xasprintf("[credential \"c\"]\n"
			       "token_url = https://idp.example.com/token\n"
			       "auth_method = none\n"),
	     *v, *ask[3], *cause = NULL;
	const struct conf *conf;
	const struct cred_conf *cc;
	struct variant_key *k = NULL;
	bool bad = false;
	int r;

	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		size_t len;
		char *t;

		v = fuzz_field(&in, '\n', 300, &len);
		bad = bad || strlen(v) != len;
		if (b & (1u << i)) {
			t = xasprintf("%s%s = %s\n", text, conf_keys[i], v);
			free(text);
			text = t;
		}
		free(v);
	}
	for (size_t i = 0; i < 3; i++)
		ask[i] = fuzz_field(&in, '\0', 2048, NULL);
	conf = bad ? NULL : fuzz_conf(text);
	if (bad)
		free(text);
	if (conf == NULL)
		goto out;
	cc = conf->creds[0];
	for (size_t i = 0; i < 3; i++) {
		if (!(given & (1u << i))) {
			free(ask[i]);
			ask[i] = NULL;
		}
	}

	r = variant_key_new(cc, ask[0], ask[1], ask[2], &k, &cause);
	if (r == 0) {
		FUZZ_CHECK(k != NULL && cause == NULL, "a variant without a key");
		check_variant(cc, k, ask[0], ask[1], ask[2]);
		variant_key_free(k);
	} else if (r == 1) {
		FUZZ_CHECK(k == NULL && cause == NULL, "a key for the main token");
	} else {
		FUZZ_CHECK(r == -EINVAL && k == NULL, "returned %d", r);
		FUZZ_CHECK(cause != NULL && fuzz_sanitized(cause) && cause[0] != '\0',
			   "a refusal without a printable message");
		free(cause);
	}
	FUZZ_CHECK(variant_key_new(cc, NULL, NULL, NULL, &k, &cause) == 1,
		   "asking for nothing is not the main token");
out:
	for (size_t i = 0; i < 3; i++)
		free(ask[i]);
	return 0;
}
