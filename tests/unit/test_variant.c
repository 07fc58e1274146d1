/*
 * The key of a token variant: what a request asks for, checked against the
 * credential's allow_* and made canonical (scopes sorted, each once, "+"
 * or a space between them), the main token when it asks for the
 * configured values, the refusals a caller reads (naming what is not
 * allowed and the key that would allow it), the bounds, and the id and
 * fingerprint its persisted token goes by.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "variant.h"
#include "xmalloc.h"

static char *scopes[] = { "read", "write", "admin", NULL };
static char *audiences[] = { "billing", "ledger", NULL };
static char *resources[] = { "https://api.example.com/", NULL };

/* A credential with scope "write read", no audience or resource configured. */
static struct cred_conf
conf_base(void)
{
	struct cred_conf cc;

	memset(&cc, 0, sizeof(cc));
	cc.name = "api";
	cc.scope = "write  read";
	cc.allow_scopes = scopes;
	cc.allow_audiences = audiences;
	cc.allow_resources = resources;
	cc.max_variants = 32;
	return cc;
}

/* The key of the request, which must be a variant. */
static struct variant_key *
key_ok(const struct cred_conf *cc, const char *scope, const char *audience, const char *resource)
{
	struct variant_key *k = NULL;
	char *cause = NULL;
	int r = variant_key_new(cc, scope, audience, resource, &k, &cause);

	if (r != 0)
		fail_msg("variant_key_new: %d: %s", r, cause != NULL ? cause : "(no cause)");
	assert_null(cause);
	return k;
}

/* The request is refused with exactly msg. */
static void
key_refused(const struct cred_conf *cc, const char *scope, const char *audience,
	    const char *resource, const char *msg)
{
	struct variant_key *k = NULL;
	char *cause = NULL;

	assert_int_equal(variant_key_new(cc, scope, audience, resource, &k, &cause), -EINVAL);
	assert_null(k);
	assert_non_null(cause);
	assert_string_equal(cause, msg);
	free(cause);
}

/* The request is for the main token. */
static void
key_main(const struct cred_conf *cc, const char *scope, const char *audience, const char *resource)
{
	struct variant_key *k = NULL;
	char *cause = NULL;

	assert_int_equal(variant_key_new(cc, scope, audience, resource, &k, &cause), 1);
	assert_null(k);
	assert_null(cause);
}

static void
test_normalised(void **state)
{
	struct cred_conf cc = conf_base();
	struct variant_key *a, *b;

	/* One variant whatever the order, the separator and repetitions. */
	a = key_ok(&cc, "write admin", NULL, NULL);
	b = key_ok(&cc, "admin+write+admin", NULL, NULL);
	assert_string_equal(a->scope, "admin write");
	assert_string_equal(a->text, "scope=admin+write");
	assert_string_equal(a->text, b->text);
	assert_null(a->audience);
	assert_null(a->resource);
	variant_key_free(b);
	b = key_ok(&cc, "  +admin  write+", NULL, NULL);
	assert_string_equal(a->text, b->text);
	variant_key_free(b);
	variant_key_free(a);

	/* What is not asked for is the configured value (scopes sorted too). */
	a = key_ok(&cc, NULL, "billing", NULL);
	assert_string_equal(a->scope, "read write");
	assert_string_equal(a->audience, "billing");
	assert_string_equal(a->text, "scope=read+write audience=billing");
	variant_key_free(a);
	a = key_ok(&cc, "read", "ledger", "https://api.example.com/");
	assert_string_equal(a->text,
			    "scope=read audience=ledger resource=https://api.example.com/");
	variant_key_free(a);

	/* No scope configured: none unless asked. */
	cc.scope = NULL;
	a = key_ok(&cc, NULL, NULL, "https://api.example.com/");
	assert_null(a->scope);
	assert_string_equal(a->text, "resource=https://api.example.com/");
	variant_key_free(a);
}

static void
test_main_token(void **state)
{
	struct cred_conf cc = conf_base();

	key_main(&cc, NULL, NULL, NULL);
	/* The configured scope, in any order or spelling: the main token. */
	key_main(&cc, "read write", NULL, NULL);
	key_main(&cc, "write+read+write", NULL, NULL);
	/* The configured values are always allowed, even when no allow_* names them. */
	cc.allow_scopes = NULL;
	cc.allow_audiences = NULL;
	cc.allow_resources = NULL;
	cc.audience = "internal";
	cc.resource = "urn:example:r";
	key_main(&cc, "read write", "internal", "urn:example:r");
	/* and one of them beside a variant's value */
	cc.allow_audiences = audiences;
	variant_key_free(key_ok(&cc, "read write", "billing", "urn:example:r"));
}

static void
test_refused(void **state)
{
	struct cred_conf cc = conf_base();

	key_refused(&cc, "read delete", NULL, NULL,
		    "scope \"delete\" is not allowed for credential \"api\" (allow_scopes would "
		    "allow it)");
	key_refused(&cc, "x read delete", NULL, NULL,
		    "scopes \"delete x\" are not allowed for credential \"api\" (allow_scopes "
		    "would allow them)");
	key_refused(&cc, NULL, "payroll", NULL,
		    "audience \"payroll\" is not allowed for credential \"api\" (allow_audiences "
		    "would allow it)");
	key_refused(&cc, NULL, NULL, "https://other.example.com/",
		    "resource \"https://other.example.com/\" is not allowed for credential \"api\" "
		    "(allow_resources would allow it)");
	/* An allow list of one kind allows nothing of another. */
	cc.allow_audiences = NULL;
	key_refused(&cc, NULL, "billing", NULL,
		    "credential \"api\" lets no caller choose the audience: set allow_audiences "
		    "to let callers ask for one");
	/* No allow_* at all: no variants, and the message says which key to set. */
	cc.allow_scopes = NULL;
	cc.allow_resources = NULL;
	key_refused(&cc, "admin", NULL, NULL,
		    "credential \"api\" takes no token variants: set allow_scopes in its "
		    "configuration to let callers ask for a scope");
	key_refused(&cc, NULL, NULL, "https://api.example.com/",
		    "credential \"api\" takes no token variants: set allow_resources in its "
		    "configuration to let callers ask for a resource");
}

static void
test_bounds(void **state)
{
	struct cred_conf cc = conf_base();
	char *big = xmalloc(VARIANT_VALUE_MAX + 2), *many = NULL;

	memset(big, 'a', VARIANT_VALUE_MAX + 1);
	big[VARIANT_VALUE_MAX + 1] = '\0';
	key_refused(&cc, big, NULL, NULL, "scope is longer than 1024 bytes");
	key_refused(&cc, NULL, big, NULL, "audience is longer than 1024 bytes");
	key_refused(&cc, NULL, NULL, big, "resource is longer than 1024 bytes");
	free(big);

	/* 65 scopes (all of them allowed words, were they fewer) */
	many = xstrdup("read");
	for (int i = 1; i < VARIANT_SCOPES_MAX + 1; i++) {
		char *m = xasprintf("%s+read", many);

		free(many);
		many = m;
	}
	key_refused(&cc, many, NULL, NULL, "scope has more than 64 scopes");
	free(many);

	key_refused(&cc, "", NULL, NULL, "scope is empty (leave it out for the configured scope)");
	key_refused(&cc, "+ +", NULL, NULL,
		    "scope is empty (leave it out for the configured scope)");
	key_refused(&cc, NULL, "", NULL,
		    "audience is empty (leave it out for the configured audience)");
	key_refused(&cc, "read\"", NULL, NULL,
		    "scope holds a character no scope may (RFC 6749 3.3)");
	key_refused(&cc, "read\twrite", NULL, NULL,
		    "scope holds a character no scope may (RFC 6749 3.3)");
	key_refused(&cc, NULL, "billing ledger", NULL,
		    "audience must be one value (it holds a space; a \"+\" in the query is one, "
		    "send %2B)");
	key_refused(&cc, NULL, "bill\x01", NULL, "audience must be printable ASCII");
	key_refused(&cc, NULL, NULL, "https://api.example.com/\xc3\xa9",
		    "resource must be printable ASCII");
}

static void
test_allowed_after_reload(void **state)
{
	struct cred_conf cc = conf_base();
	static char *fewer[] = { "read", NULL };
	struct variant_key *k = key_ok(&cc, "read admin", "billing", NULL);

	assert_true(variant_key_allowed(&cc, k));
	cc.allow_scopes = fewer;
	assert_false(variant_key_allowed(&cc, k));
	cc.allow_scopes = scopes;
	cc.allow_audiences = NULL;
	assert_false(variant_key_allowed(&cc, k));
	variant_key_free(k);
}

/* The text tells keys apart even where their values hold "+" or "%". */
static void
test_text_unambiguous(void **state)
{
	static char *odd[] = { "a+b", "a%2Bb", NULL };
	struct cred_conf cc = conf_base();
	struct variant_key *a, *b, *c;

	cc.allow_audiences = odd;
	cc.audience = "a b"; /* configured: two audiences */
	a = key_ok(&cc, "admin", NULL, NULL);
	b = key_ok(&cc, "admin", "a+b", NULL);
	c = key_ok(&cc, "admin", "a%2Bb", NULL);
	assert_string_equal(a->text, "scope=admin audience=a+b");
	assert_string_equal(b->text, "scope=admin audience=a%2Bb");
	assert_string_equal(c->text, "scope=admin audience=a%252Bb");
	variant_key_free(a);
	variant_key_free(b);
	variant_key_free(c);
}

/*
 * A configured value the variant takes may hold what a request may not (a
 * control character, bytes that are not UTF-8): the text, for logs and
 * metrics, writes them %XX.
 */
static void
test_text_printable(void **state)
{
	struct cred_conf cc = conf_base();
	struct variant_key *k;

	cc.scope = "read\x1b[2J write\xd7 caf\xc3\xa9";
	k = key_ok(&cc, NULL, "billing", NULL);
	assert_string_equal(k->text, "scope=caf%C3%A9+read%1B[2J+write%D7 audience=billing");
	variant_key_free(k);
}

static void
test_id_and_fingerprint(void **state)
{
	struct cred_conf cc = conf_base();
	struct variant_key *a = key_ok(&cc, "admin", NULL, NULL);
	struct variant_key *a2 = key_ok(&cc, "admin+admin", NULL, NULL);
	struct variant_key *b = key_ok(&cc, "write", NULL, NULL);
	char ida[STORE_VARIANT_ID_LEN + 1], ida2[STORE_VARIANT_ID_LEN + 1];
	char idb[STORE_VARIANT_ID_LEN + 1];
	char conf_fp[65], fpa[65], fpa2[65], fpb[65], fpc[65];

	variant_key_id(a, ida);
	variant_key_id(a2, ida2);
	variant_key_id(b, idb);
	assert_int_equal(strlen(ida), STORE_VARIANT_ID_LEN);
	assert_int_equal(strspn(ida, "0123456789abcdef"), STORE_VARIANT_ID_LEN);
	assert_string_equal(ida, ida2);
	assert_string_not_equal(ida, idb);
	/* Pinned: persisted variants are found by it after an upgrade. */
	assert_string_equal(ida, "2ed76b1c01cf31c6");

	conf_token_fingerprint(&cc, conf_fp);
	variant_key_fingerprint(a, conf_fp, fpa);
	variant_key_fingerprint(a2, conf_fp, fpa2);
	variant_key_fingerprint(b, conf_fp, fpb);
	assert_string_equal(fpa, fpa2);
	/* never the main token's, nor another variant's */
	assert_string_not_equal(fpa, conf_fp);
	assert_string_not_equal(fpa, fpb);
	/* and it follows the credential's settings */
	cc.client_id = "other";
	conf_token_fingerprint(&cc, conf_fp);
	variant_key_fingerprint(a, conf_fp, fpc);
	assert_string_not_equal(fpa, fpc);

	variant_key_free(a);
	variant_key_free(a2);
	variant_key_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalised),
		cmocka_unit_test(test_main_token),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_allowed_after_reload),
		cmocka_unit_test(test_text_unambiguous),
		cmocka_unit_test(test_text_printable),
		cmocka_unit_test(test_id_and_fingerprint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
