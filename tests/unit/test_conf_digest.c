/*
 * The fingerprint a persisted token carries: every setting that shapes
 * what the upstream grants changes it, nothing else does, and its value is
 * the same from one version to the next.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "conf.h"

static void
test_fingerprint(void **state)
{
	struct cred_conf base, cc;
	char a[65], b[65];

	memset(&base, 0, sizeof(base));
	base.name = "api";
	base.token_url = "https://idp.example.com/token";
	base.auth_method = AUTH_CLIENT_SECRET_BASIC;
	base.grant_type = "client_credentials";
	base.client_id = "app";
	base.scope = "read";
	base.token_path = "/access_token";

	conf_token_fingerprint(&base, a);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	conf_token_fingerprint(&base, b);
	assert_string_equal(a, b);

#define CHANGES(field, value)                                  \
	do {                                                   \
		cc = base;                                     \
		cc.field = value;                              \
		conf_token_fingerprint(&cc, b);                     \
		if (strcmp(a, b) == 0)                         \
			fail_msg("unchanged by %s", #field);   \
	} while (0)
	CHANGES(token_url, "https://idp.example.com/token2");
	CHANGES(auth_method, AUTH_CLIENT_SECRET_POST);
	CHANGES(grant_type, "password");
	CHANGES(client_id, "app2");
	CHANGES(username, "app");
	CHANGES(scope, "read write");
	CHANGES(scope, NULL);
	CHANGES(scope, "");
	CHANGES(client_id, NULL);
	CHANGES(client_assertion_file, "/run/secrets/token");
	CHANGES(assertion_audience, "https://idp.example.com");
	CHANGES(assertion_key, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	EVP_PKEY_free(cc.assertion_key);
#undef CHANGES

	/* A byte moved from one field to the next is another fingerprint. */
	cc = base;
	cc.client_id = "ap";
	cc.grant_type = "client_credentialsp";
	conf_token_fingerprint(&cc, b);
	assert_string_not_equal(a, b);

	/* What does not make the token does not count. */
	cc = base;
	cc.name = "other";
	cc.token_path = "/t";
	cc.lazy = true;
	cc.persist = true;
	conf_token_fingerprint(&cc, b);
	assert_string_equal(a, b);
}


/*
 * The value itself is pinned: persisted tokens carry it, so a change would
 * throw away every token kept across an upgrade.
 */
static void
test_fingerprint_stable(void **state)
{
	struct request_pair p[1] = { { "audience", "x" } };
	struct cred_conf cc;
	char out[65];

	memset(&cc, 0, sizeof(cc));
	cc.name = "api";
	cc.token_url = "https://idp.example.com/token";
	cc.auth_method = AUTH_CLIENT_SECRET_BASIC;
	cc.grant_type = "client_credentials";
	cc.client_id = "app";
	cc.scope = "read";
	cc.client_secret = secret_from_str("s3cret");
	cc.params.v = p;
	cc.params.n = 1;
	cc.requested_lifetime_ms = 7200000;
	conf_token_fingerprint(&cc, out);
	assert_string_equal(out, "86dda7a31dd4fed1d9ec85813efd63c38587d0b51b561351dca6cc389701e025");
	secret_free(cc.client_secret);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_fingerprint_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
