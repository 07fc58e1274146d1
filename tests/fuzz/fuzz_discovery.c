/*
 * Discovery documents (discovery.c): the input is a choice of the issuer
 * and of mtls, then a server's answer, parsed as the document that names
 * the token endpoint.
 *
 * Properties: the document is taken only when its issuer is exactly the
 * one asked for (discovery_issuer, which reads the same document, says so
 * too) and its endpoint is a URL token_url would take, and then it is
 * the token_endpoint or, with mtls, the alias; a refusal (-EBADMSG for no
 * JSON object, else -EINVAL) has a cause that is sanitized text; nothing
 * else is returned on refusal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "discovery.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const issuers[] = {
	"https://login.example.com",
	"https://login.example.com/realms/prod",
	"http://127.0.0.1:8080/t",
	"https://login.example.com/",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	const char *issuer = issuers[fuzz_choice(&in, sizeof(issuers) / sizeof(issuers[0]))];
	bool mtls = fuzz_byte(&in) & 1;
	size_t len;
	char *body = fuzz_rest(&in, &len), *url = (char *)"unset", *cause = NULL, *named;
	int r = discovery_parse(body, len, issuer, mtls, &url, &cause);

	named = discovery_issuer(body, len);
	if (r == 0) {
		char *why = NULL;

		FUZZ_CHECK(cause == NULL, "a cause beside a result");
		FUZZ_CHECK(named != NULL && strcmp(named, issuer) == 0,
			   "taken, but the document's issuer is %s", named ? named : "(none)");
		FUZZ_CHECK(conf_url_check(url, &why) == 0, "taken, but %s", why);
		FUZZ_CHECK(strstr(body, "token_endpoint") != NULL, "an endpoint from nowhere");
		free(url);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -EBADMSG, "refused with %d", r);
		FUZZ_CHECK(strcmp(url, "unset") == 0, "a result beside a refusal");
		FUZZ_CHECK(cause != NULL && fuzz_sanitized(cause), "the cause is not sanitized text");
		free(cause);
	}
	free(named);
	free(body);
	return 0;
}
