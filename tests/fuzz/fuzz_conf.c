/*
 * The configuration loader: the input is the text of the main file,
 * written to a file of mode 0600 in a directory of its own (no conf.d/)
 * and loaded with conf_load, as the daemon loads it.
 *
 * Properties: every error and warning is "FILE:LINE: message" (or "FILE:
 * message" for the file as a whole) with FILE the file loaded, LINE one of
 * its lines, and a message that is printable (no control character);
 * a refused configuration has at least one error, an accepted one none.
 * An accepted configuration has credentials and proxies with valid,
 * distinct names, a digest of 64 hex digits that loading again gives
 * again, an http(s) token_url, positive timeouts and lifetimes and a
 * backoff_min within backoff_max; its proxies name a credential it has
 * and an upstream without a trailing "/".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "text.h"
#include "tokenbroker.h"

#define CONF_TEXT_MAX (64 * 1024)

static char path[512];
static size_t path_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsetenv("CREDENTIALS_DIRECTORY");
	snprintf(path, sizeof(path), "%s/tokenbroker.conf", fuzz_tmpdir("conf"));
	path_len = strlen(path);
	return 0;
}

/* Lines of the text as the loader counts them. */
static unsigned
count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size > 0 && data[size - 1] != '\n');
}

static void
check_messages(const struct conf_errors *m, const char *what, unsigned lines)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *s = m->v[i], *rest;
		unsigned long line;
		char *end;

		FUZZ_CHECK(strncmp(s, path, path_len) == 0 && s[path_len] == ':',
			   "%s %zu does not start with FILE:", what, i);
		rest = s + path_len + 1;
		if (*rest != ' ') {
			line = strtoul(rest, &end, 10);
			FUZZ_CHECK(end > rest && *end == ':' && line >= 1 && line <= lines,
				   "%s %zu has no valid LINE (%u lines)", what, i, lines);
			rest = end + 1;
		}
		FUZZ_CHECK(rest[0] == ' ' && rest[1] != '\0', "%s %zu has no message", what, i);
		FUZZ_CHECK(text_printable(s, strlen(s)), "%s %zu holds a control character", what,
			   i);
	}
}

static void
check_cred(const struct conf *conf, const struct cred_conf *cc)
{
	FUZZ_CHECK(tokenbroker_name_valid(cc->name) && conf_find(conf, cc->name) == cc,
		   "a credential's name is invalid or not unique");
	FUZZ_CHECK(fuzz_hex(cc->digest, 64), "a digest that is not 64 hex digits");
	/* None when it comes from the issuer's discovery document. */
	if (cc->token_url != NULL)
		FUZZ_CHECK(strncmp(cc->token_url, "https://", 8) == 0 ||
				   strncmp(cc->token_url, "http://", 7) == 0,
			   "token_url is not http(s)");
	FUZZ_CHECK(cc->default_lifetime_ms > 0 && cc->timeout_ms > 0 && cc->connect_timeout_ms > 0,
		   "a lifetime or timeout that is not positive");
	FUZZ_CHECK(cc->backoff_min_ms > 0 && cc->backoff_min_ms <= cc->backoff_max_ms,
		   "backoff_min %lld, backoff_max %lld", (long long)cc->backoff_min_ms,
		   (long long)cc->backoff_max_ms);
	FUZZ_CHECK(cc->min_valid_ms >= 0, "a negative min_valid");
	FUZZ_CHECK(cc->refresh_before.share
			   ? cc->refresh_before.permille >= 10 && cc->refresh_before.permille <= 900
			   : cc->refresh_before.ms > 0,
		   "refresh_before out of bounds");
}

static void
check_proxy(const struct conf *conf, const struct proxy_conf *pc)
{
	size_t len = strlen(pc->upstream);

	FUZZ_CHECK(tokenbroker_name_valid(pc->name) && conf_find_proxy(conf, pc->name) == pc,
		   "a proxy's name is invalid or not unique");
	FUZZ_CHECK(conf_find(conf, pc->credential) != NULL, "a proxy of an unknown credential");
	FUZZ_CHECK(len > 0 && pc->upstream[len - 1] != '/', "an upstream ending in /");
	FUZZ_CHECK(strncmp(pc->upstream, "https://", 8) == 0 ||
			   strncmp(pc->upstream, "http://", 7) == 0,
		   "an upstream that is not http(s)");
	FUZZ_CHECK(pc->listen_unix || pc->listen_port > 0, "a TCP listener without a port");
	FUZZ_CHECK(pc->timeout_ms > 0 && pc->max_request_body > 0, "a proxy limit not positive");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs = { 0 }, warns = { 0 }, errs2 = { 0 };
	struct conf *conf = NULL, *again = NULL;
	unsigned lines;
	int r;

	if (size > CONF_TEXT_MAX)
		return 0;
	lines = count_lines(data, size);
	fuzz_write_file(path, data, size, 0600);
	r = conf_load(path, &conf, &errs, &warns);
	check_messages(&errs, "error", lines);
	check_messages(&warns, "warning", lines);
	if (r < 0) {
		FUZZ_CHECK(conf == NULL && errs.n > 0, "refused without an error");
		goto out;
	}
	FUZZ_CHECK(r == 0 && conf != NULL && errs.n == 0, "accepted with an error");
	for (size_t i = 0; i < conf->ncreds; i++)
		check_cred(conf, conf->creds[i]);
	for (size_t i = 0; i < conf->nproxies; i++)
		check_proxy(conf, conf->proxies[i]);

	/* The same text again: the same credentials, the same digests. */
	FUZZ_CHECK(conf_load(path, &again, &errs2, NULL) == 0, "accepted once, then refused");
	FUZZ_CHECK(again->ncreds == conf->ncreds, "another number of credentials");
	for (size_t i = 0; i < conf->ncreds; i++)
		FUZZ_CHECK(strcmp(again->creds[i]->digest, conf->creds[i]->digest) == 0,
			   "another digest for the same text");
	conf_free(again);
out:
	conf_free(conf);
	conf_errors_clear(&errs);
	conf_errors_clear(&errs2);
	conf_errors_clear(&warns);
	return 0;
}
