/*
 * The error envelopes of token endpoints (response-env.c): the first byte
 * chooses JSON or XML and an HTTP status, the rest is the body.
 *
 * Properties: each part kept (code, description, hint) is absent or
 * non-empty sanitized text (printable, valid UTF-8) without blanks at its
 * ends and at most RESPONSE_TEXT_MAX bytes; the text a person reads is
 * there exactly when a code or a description is, sanitized and bounded;
 * an RFC 6749 "error" string is the code, and marks the body as an error;
 * a code that says the credential was refused makes the failure permanent,
 * as does any 4xx but 408, 425 and 429.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "json.h"
#include "response-int.h"

#define ENV_TEXT_MAX (3 * RESPONSE_TEXT_MAX + 32) /* "code: desc (hint: ...)" */

static const long statuses[] = { 200, 400, 401, 403, 404, 408, 425, 429, 499, 500, 503, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_part(const char *what, const char *s)
{
	if (s == NULL)
		return;
	FUZZ_CHECK(s[0] != '\0', "%s is empty", what);
	FUZZ_CHECK(fuzz_sanitized(s), "%s is not sanitized", what);
	FUZZ_CHECK(fuzz_trimmed(s), "%s has blanks at an end", what);
	FUZZ_CHECK(strlen(s) <= RESPONSE_TEXT_MAX, "%s is %zu bytes", what, strlen(s));
}

/* What RFC 6749 5.2 says a JSON body's error is, when it is one. */
static void
check_rfc6749(const struct response_doc *doc, const struct response_env *env)
{
	const struct json *e = json_get(doc->json, "error");
	char *expect;

	if (e == NULL || e->type != JSON_STRING || e->len == 0)
		return;
	FUZZ_CHECK(env->error_key && env->code_is_error && !env->code_last,
		   "an RFC 6749 error not taken as one");
	expect = response_text(e->text, e->len);
	FUZZ_CHECK((expect == NULL && env->code == NULL) ||
			   (expect != NULL && env->code != NULL && strcmp(expect, env->code) == 0),
		   "the code is not the error's text");
	free(expect);
}

static void
check_status(long status, const char *code)
{
	bool auth = response_env_auth_code(code);

	if (auth)
		FUZZ_CHECK(code != NULL && response_env_permanent(status, code, true),
			   "a refused credential is not permanent");
	if (status >= 400 && status <= 499 && status != 408 && status != 425 && status != 429)
		FUZZ_CHECK(response_env_permanent(status, code, auth), "HTTP %ld is not permanent",
			   status);
	if (code != NULL && strcasecmp(code, "invalid_scope") == 0)
		FUZZ_CHECK(response_env_permanent(status, code, auth),
			   "invalid_scope is not permanent");
	if (code == NULL && (status < 400 || status > 499 || status == 408 || status == 429))
		FUZZ_CHECK(!response_env_permanent(status, code, false),
			   "HTTP %ld without a code is permanent", status);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct response_doc doc = { 0 };
	struct response_env env = { 0 };
	char *cause = NULL, *text;
	uint8_t b = fuzz_byte(&in);
	long status = statuses[(b >> 1) % (sizeof(statuses) / sizeof(statuses[0]))];

	doc.fmt = b & 1 ? FMT_XML : FMT_JSON;
	if (response_doc_parse(&doc, (const char *)in.p, in.n, &cause) < 0) {
		free(cause);
		response_doc_clear(&doc);
		return 0;
	}
	response_env_read(&doc, &env);
	check_part("the code", env.code);
	check_part("the description", env.desc);
	check_part("the hint", env.hint);
	if (env.code_is_error || env.code_last)
		FUZZ_CHECK(env.error_key, "an error code without an error");
	if (env.code_last)
		FUZZ_CHECK(env.code_is_error, "an Xvid code that is not the error");
	if (doc.fmt == FMT_JSON)
		check_rfc6749(&doc, &env);

	text = response_env_text(&env);
	if (env.code == NULL && env.desc == NULL) {
		FUZZ_CHECK(text == NULL, "a text without a code or a description");
	} else {
		FUZZ_CHECK(text != NULL, "no text for a code or a description");
		FUZZ_CHECK(fuzz_sanitized(text) && strlen(text) <= ENV_TEXT_MAX,
			   "the text is not sanitized or too long");
		if (env.code != NULL)
			FUZZ_CHECK(strstr(text, env.code) != NULL, "the text leaves out the code");
		if (env.desc != NULL)
			FUZZ_CHECK(strstr(text, env.desc) != NULL,
				   "the text leaves out the description");
	}
	check_status(status, env.code_is_error ? env.code : NULL);
	free(text);
	response_env_clear(&env);
	response_doc_clear(&doc);
	return 0;
}
