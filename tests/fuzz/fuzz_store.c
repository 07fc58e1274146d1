/*
 * The persisted state (store.c): the input is a state file, a token's
 * (NAME.token, read by store_load) or a refresh token's (NAME.refresh,
 * store_load_refresh), as the first byte chooses, with the record's name
 * (a credential's or a variant's) and whether the harness ends the file
 * with the "sha256" line of what comes before it, so that mutations get
 * past the checksum to the parser proper.  The file is written mode 0600
 * in a directory of the harness's.
 *
 * Properties: a token loaded is non-empty printable text, its type
 * non-empty and printable, its scope printable, its expiry later than now
 * plus min_left and its lifetime positive, and the file names the record
 * asked for; a token file that loads is exactly the file store_save
 * writes for what was loaded (the parser takes that and nothing else); a
 * refresh token loaded is non-empty printable text; a refusal says why in
 * a printable message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "fuzz.h"
#include "secret.h"
#include "store.h"
#include "text.h"
#include "xmalloc.h"

#define FINGERPRINT "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define NOW_MS 1767225600000LL

static const char *const names[] = { "api", "api@0123456789abcdef", "a.b-c_d" };
static const int64_t min_lefts[] = { 0, 30000, 1 };
static const char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fuzz_tmpdir("store");
	return 0;
}

static char *
read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = xmalloc(TOKEN_BODY_MAX + 8192);
	size_t n;

	FUZZ_CHECK(f != NULL, "store_save wrote no file");
	n = fread(buf, 1, TOKEN_BODY_MAX + 8192, f);
	fclose(f);
	*ret_len = n;
	return buf;
}

/* The token loaded, saved again, is the file it was loaded from. */
static void
check_saved_again(const char *name, const struct token *t, const char *content, size_t len)
{
	char *cause = NULL, *path, *again;
	size_t again_len;

	/* over the file loaded, which content holds */
	FUZZ_CHECK(store_save(dir, name, FINGERPRINT, t, &cause) == 0,
		   "a token loaded cannot be saved: %s", cause);
	path = xasprintf("%s/%s.token", dir, name);
	again = read_all(path, &again_len);
	FUZZ_CHECK(again_len == len && memcmp(again, content, len) == 0,
		   "the file loaded is not the file saved from what it gave");
	(void)unlink(path);
	free(path);
	free(again);
}

static void
check_token(const char *name, const struct token *t, int64_t min_left)
{
	const struct secret *v = t->access_token;

	FUZZ_CHECK(v != NULL && v->len > 0 && strlen(v->data) == v->len &&
			   text_printable(v->data, v->len),
		   "the token is not non-empty printable text");
	FUZZ_CHECK(t->token_type != NULL && t->token_type[0] != '\0' &&
			   text_printable(t->token_type, strlen(t->token_type)),
		   "the token type is not non-empty printable text");
	FUZZ_CHECK(t->scope == NULL || text_printable(t->scope, strlen(t->scope)),
		   "the scope is not printable");
	FUZZ_CHECK(t->expires_wall_ms - NOW_MS > min_left, "a token with %lld ms left",
		   (long long)(t->expires_wall_ms - NOW_MS));
	FUZZ_CHECK(t->lifetime_ms > 0, "a lifetime that is not positive");
	FUZZ_CHECK(fuzz_hex(t->fingerprint, 6), "the fingerprint is not 6 hex digits");
}

/* The "name" line of a file that loaded: the record asked for. */
static void
check_name_line(const char *content, size_t len, const char *name)
{
	const char *line = memchr(content, '\n', len);
	size_t n = strlen(name);

	FUZZ_CHECK(line != NULL && (size_t)(content + len - line) > n + 6 &&
			   memcmp(line + 1, "name ", 5) == 0 && memcmp(line + 6, name, n) == 0 &&
			   line[6 + n] == '\n',
		   "the file loaded names another record");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t b = fuzz_byte(&in);
	bool refresh = b & 1, checksum = b & 2;
	const char *name = names[(b >> 2) % 3];
	int64_t min_left = min_lefts[(b >> 4) % 3];
	char *content, *path, *cause = NULL, sum[65];
	struct token *t = NULL;
	struct secret *rt = NULL;
	size_t len;
	int r;

	if (refresh && strchr(name, '@') != NULL)
		name = "api";
	content = fuzz_rest(&in, &len);
	if (checksum) {
		digest_sha256_hex(content, len, sum);
		content = xreallocarray(content, len + 7 + 64 + 2, 1);
		len += (size_t)sprintf(content + len, "sha256 %s\n", sum);
	}
	path = xasprintf("%s/%s.%s", dir, name, refresh ? "refresh" : "token");
	fuzz_write_file(path, content, len, 0600);

	if (refresh) {
		r = store_load_refresh(dir, name, &rt, &cause);
		if (r == 0) {
			FUZZ_CHECK(rt != NULL && rt->len > 0 && strlen(rt->data) == rt->len &&
					   text_printable(rt->data, rt->len),
				   "the refresh token is not non-empty printable text");
			check_name_line(content, len, name);
			secret_free(rt);
		}
	} else {
		r = store_load(dir, name, FINGERPRINT, NOW_MS, min_left, &t, &cause);
		if (r == 0) {
			check_token(name, t, min_left);
			check_name_line(content, len, name);
			check_saved_again(name, t, content, len);
			token_free(t);
		}
	}
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ESTALE || r == -EPERM, "returned %d", r);
		FUZZ_CHECK(cause != NULL && text_printable(cause, strlen(cause)),
			   "a refusal without a printable cause");
		free(cause);
	}
	(void)unlink(path);
	free(path);
	free(content);
	return 0;
}
