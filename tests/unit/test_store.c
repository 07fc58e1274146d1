/*
 * store.c: a saved token comes back intact; a failed save leaves the old
 * file; every kind of bad file is refused with the documented code and
 * never crashes; expiry, min_left and the fingerprint decide reuse.  Tokens
 * here are test values and are compared, never printed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "conf.h"
#include "secret.h"
#include "store.h"
#include "xmalloc.h"

#define NOW 1700000000000LL
#define HOUR (3600LL * 1000)
#define TOKEN "eyJhbGciOi.test-token_value+/="
#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* store.c's limit on a state file, for save and load alike. */
#define FILE_MAX (1024 * 1024 + 4096)
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

#define FREE(p)             \
	do {                \
		free(p);    \
		(p) = NULL; \
	} while (0)

static char test_dir[64];

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup_dir(void **state)
{
	strcpy(test_dir, "/tmp/test_store.XXXXXX");
	return mkdtemp(test_dir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	chmod(test_dir, 0700);
	nftw(test_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static char *
file_path(const char *name)
{
	return xasprintf("%s/%s.token", test_dir, name);
}

static struct token *
record_new(const char *token, const char *type, const char *scope, int64_t expires,
	   int64_t lifetime)
{
	struct token *rec = xcalloc(1, sizeof(*rec));

	rec->access_token = secret_from_str(token);
	rec->token_type = xstrdup(type);
	rec->scope = scope != NULL ? xstrdup(scope) : NULL;
	rec->expires_wall_ms = expires;
	rec->lifetime_ms = lifetime;
	return rec;
}

static void
assert_token(const struct token *rec, const char *want)
{
	assert_non_null(rec->access_token);
	assert_int_equal(rec->access_token->len, strlen(want));
	if (memcmp(rec->access_token->data, want, strlen(want)) != 0)
		fail_msg("the token differs");
}

static void
write_raw(const char *path, mode_t mode, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The file's whole content (NUL-terminated too), or NULL. */
static char *
read_raw(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = xmalloc(128 * 1024);
	ssize_t n;

	if (fd < 0) {
		free(buf);
		return NULL;
	}
	n = read(fd, buf, 128 * 1024 - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	*ret_len = (size_t)n;
	return buf;
}

/* Entries of dir other than . and ..; with dot, only hidden ones. */
static int
count_entries(const char *dir, bool dot)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!dot || e->d_name[0] == '.')
			n++;
	}
	closedir(d);
	return n;
}

/* text followed by the checksum line a valid file ends with. */
static char *
with_sum(const char *text)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char sum[65];

	assert_int_equal(EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++) {
		sum[2 * i] = hex[md[i] >> 4];
		sum[2 * i + 1] = hex[md[i] & 0xf];
	}
	sum[64] = '\0';
	return xasprintf("%ssha256 %s\n", text, sum);
}

/* The body of a valid file for "api" with FP_A, before the checksum. */
static char *
body(const char *expires, const char *extra_before_token)
{
	return xasprintf("tokenbroker-token 1\n"
			 "name api\n"
			 "fingerprint " FP_A "\n"
			 "expires_at_ms %s\n"
			 "lifetime_ms 3600000\n"
			 "token_type Bearer\n"
			 "%s"
			 "token " TOKEN "\n",
			 expires, extra_before_token);
}

static int
load(const char *name, const char *fp, int64_t now, int64_t min_left,
     struct token **rec, char **cause)
{
	*rec = NULL;
	*cause = NULL;
	return store_load(test_dir, name, fp, now, min_left, rec, cause);
}

static void
test_round_trip(void **state)
{
	_cleanup_free_ char *dir = xasprintf("%s/state", test_dir), *path = NULL,
			    *cause = NULL;
	struct token *rec = record_new(TOKEN, "Bearer", "read write", NOW + HOUR, HOUR);
	struct token *got = NULL;
	struct stat st;

	/* A missing state_dir is created, mode 0700. */
	assert_int_equal(store_save(dir, "api", FP_A, rec, &cause), 0);
	assert_null(cause);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	path = xasprintf("%s/api.token", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(count_entries(dir, false), 1);

	assert_int_equal(store_load(dir, "api", FP_A, NOW, 0, &got, &cause), 0);
	assert_null(cause);
	assert_token(got, TOKEN);
	assert_string_equal(got->token_type, "Bearer");
	assert_string_equal(got->scope, "read write");
	assert_int_equal(got->expires_wall_ms, NOW + HOUR);
	assert_int_equal(got->lifetime_ms, HOUR);
	got = token_free(got);
	token_free(rec);

	/* Replaced by the next save; no scope stays no scope. */
	rec = record_new("second-token", "MAC", NULL, NOW + 2 * HOUR, 2 * HOUR);
	assert_int_equal(store_save(dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(store_load(dir, "api", FP_A, NOW, 0, &got, &cause), 0);
	assert_token(got, "second-token");
	assert_string_equal(got->token_type, "MAC");
	assert_null(got->scope);
	assert_int_equal(got->expires_wall_ms, NOW + 2 * HOUR);
	assert_int_equal(count_entries(dir, false), 1);
	got = token_free(got);

	/* An empty scope is not the same as none. */
	free(rec->scope);
	rec->scope = xstrdup("");
	assert_int_equal(store_save(dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(store_load(dir, "api", FP_A, NOW, 0, &got, &cause), 0);
	assert_string_equal(got->scope, "");
	got = token_free(got);

	/* Each credential has its own file. */
	assert_int_equal(store_save(dir, "other.cred-1", FP_B, rec, &cause), 0);
	assert_int_equal(count_entries(dir, false), 2);
	assert_int_equal(store_load(dir, "api", FP_A, NOW, 0, &got, &cause), 0);
	got = token_free(got);
	assert_int_equal(store_load(dir, "other.cred-1", FP_B, NOW, 0, &got, &cause), 0);
	got = token_free(got);
	token_free(rec);
}

/* What cannot be written back exactly is not written at all. */
static void
test_save_refuses(void **state)
{
	static const char *const tokens[] = { "a\nb", "a\rb", "tab\there", "del\x7f", "" };
	_cleanup_free_ char *cause = NULL;
	struct token *rec = record_new(TOKEN, "Bearer", NULL, NOW + HOUR, HOUR);

	for (size_t i = 0; i < ELEMENTSOF(tokens); i++) {
		secret_free(rec->access_token);
		rec->access_token = secret_from_str(tokens[i]);
		assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), -EINVAL);
		assert_non_null(cause);
		FREE(cause);
	}
	secret_free(rec->access_token);
	rec->access_token = secret_from_str(TOKEN);

	free(rec->token_type);
	rec->token_type = xstrdup("Bearer\nx");
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), -EINVAL);
	FREE(cause);
	free(rec->token_type);
	rec->token_type = xstrdup("Bearer");
	rec->scope = xstrdup("a\nb");
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), -EINVAL);
	FREE(cause);
	FREE(rec->scope);
	assert_int_equal(store_save(test_dir, "api", "abc", rec, &cause), -EINVAL);
	FREE(cause);
	assert_int_equal(store_save(test_dir, "api", FP_A "0", rec, &cause), -EINVAL);
	FREE(cause);
	assert_int_equal(store_save(test_dir, "../api", FP_A, rec, &cause), -EINVAL);
	FREE(cause);
	assert_int_equal(store_save(test_dir, "", FP_A, rec, &cause), -EINVAL);
	FREE(cause);
	rec->lifetime_ms = 0;
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), -EINVAL);
	FREE(cause);
	assert_int_equal(count_entries(test_dir, false), 0);
	token_free(rec);
}

/*
 * A token as large as an upstream answer can carry is saved and read back;
 * one that would make a file store_load refuses is not saved at all.
 */
static void
test_large_token(void **state)
{
	_cleanup_free_ char *cause = NULL, *big = xmalloc(FILE_MAX + 1);
	struct token *rec, *got = NULL;

	/* 100 KiB, over the 64 KiB that used to be read back. */
	memset(big, 'T', 100 * 1024);
	big[100 * 1024] = '\0';
	rec = record_new(big, "Bearer", "read", NOW + HOUR, HOUR);
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	assert_null(cause);
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
	assert_token(got, big);
	got = token_free(got);
	token_free(rec);

	/* The whole of a 1 MiB response body as the token still fits. */
	memset(big, 'U', 1024 * 1024);
	big[1024 * 1024] = '\0';
	rec = record_new(big, "Bearer", NULL, NOW + HOUR, HOUR);
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
	assert_token(got, big);
	got = token_free(got);
	token_free(rec);

	/* Larger than what is read back: refused, the old file stays. */
	memset(big, 'V', FILE_MAX);
	big[FILE_MAX] = '\0';
	rec = record_new(big, "Bearer", NULL, NOW + HOUR, HOUR);
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), -EFBIG);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "larger than"));
	FREE(cause);
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
	assert_int_equal(got->access_token->len, 1024 * 1024);
	assert_int_equal(count_entries(test_dir, true), 0);
	got = token_free(got);
	token_free(rec);
}

/*
 * A state_dir another user could change is refused for saving and loading,
 * naming the directory at fault; a symbolic link at a file is never
 * followed, nor is one in place of a directory owned by someone else.
 */
static void
test_unsafe_dir(void **state)
{
	_cleanup_free_ char *cause = NULL, *grp = NULL, *grpstate = NULL, *nob = NULL,
			    *nobstate = NULL, *link = NULL, *real = NULL, *want = NULL;
	struct token *rec = record_new(TOKEN, "Bearer", NULL, NOW + HOUR, HOUR);
	struct token *got = NULL;

	/* Its group could swap the files: refused, also when the parent is at fault. */
	grp = xasprintf("%s/grp", test_dir);
	grpstate = xasprintf("%s/state", grp);
	assert_int_equal(mkdir(grp, 0700), 0);
	assert_int_equal(chmod(grp, 0770), 0);
	assert_int_equal(store_save(grp, "api", FP_A, rec, &cause), -EPERM);
	want = xasprintf("%s: writable by group (mode 0770): chmod g-w %s", grp, grp);
	assert_non_null(strstr(cause, want));
	FREE(cause);
	assert_int_equal(store_save(grpstate, "api", FP_A, rec, &cause), -EPERM);
	assert_non_null(strstr(cause, want));
	FREE(cause);
	assert_int_equal(count_entries(grp, false), 0);
	/* Made safe, it works; loading from it made unsafe again is refused. */
	assert_int_equal(chmod(grp, 0700), 0);
	assert_int_equal(store_save(grpstate, "api", FP_A, rec, &cause), 0);
	assert_int_equal(chmod(grp, 0770), 0);
	assert_int_equal(store_load(grpstate, "api", FP_A, NOW, 0, &got, &cause), -EPERM);
	assert_null(got);
	assert_non_null(strstr(cause, want));
	FREE(cause);
	assert_int_equal(chmod(grp, 0700), 0);

	/* A link owned by root (or us) to a safe directory is followed. */
	link = xasprintf("%s/link", test_dir);
	assert_int_equal(symlink("grp/state", link), 0);
	assert_int_equal(store_load(link, "api", FP_A, NOW, 0, &got, &cause), 0);
	assert_token(got, TOKEN);
	got = token_free(got);

	if (geteuid() != 0) {
		token_free(rec);
		return;
	}
	/* An ancestor owned by another user, who could swap what is below it. */
	nob = xasprintf("%s/nob", test_dir);
	nobstate = xasprintf("%s/state", nob);
	assert_int_equal(mkdir(nob, 0755), 0);
	assert_int_equal(mkdir(nobstate, 0700), 0);
	assert_int_equal(chown(nob, 65534, 65534), 0);
	assert_int_equal(store_save(nobstate, "api", FP_A, rec, &cause), -EPERM);
	FREE(want);
	want = xasprintf("%s: owned by uid 65534 (nobody), must be owned by root: chown root %s",
			 nob, nob);
	assert_non_null(strstr(cause, want));
	FREE(cause);
	assert_int_equal(count_entries(nobstate, false), 0);
	/* The swap itself: the state directory replaced by a link elsewhere. */
	real = xasprintf("%s/grp/state", test_dir);
	assert_int_equal(rmdir(nobstate), 0);
	assert_int_equal(symlink(real, nobstate), 0);
	assert_int_equal(lchown(nobstate, 65534, 65534), 0);
	assert_int_equal(chown(nob, 0, 0), 0);
	assert_int_equal(store_load(nobstate, "api", FP_A, NOW, 0, &got, &cause), -EPERM);
	assert_null(got);
	FREE(want);
	want = xasprintf("%s: symbolic link owned by uid 65534 (nobody)", nobstate);
	assert_non_null(strstr(cause, want));
	FREE(cause);
	assert_int_equal(store_remove(nobstate, "api"), -EPERM);
	assert_int_equal(store_load(real, "api", FP_A, NOW, 0, &got, &cause), 0);
	got = token_free(got);
	token_free(rec);
}

/* A save that fails half-way leaves the old file and no temporary. */
static void
test_atomic(void **state)
{
	_cleanup_free_ char *path = file_path("api"), *before = NULL, *after = NULL,
			    *cause = NULL, *notdir = NULL, *deep = NULL;
	struct token *a = record_new("old-token", "Bearer", NULL, NOW + HOUR, HOUR);
	struct token *b = record_new("new-token-that-is-longer", "Bearer", "s", NOW + HOUR,
					    HOUR);
	struct token *got = NULL;
	struct rlimit saved, small;
	size_t blen, alen;

	assert_int_equal(store_save(test_dir, "api", FP_A, a, &cause), 0);
	before = read_raw(path, &blen);
	assert_non_null(before);

	/* A file size limit makes the write fail even for root. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 16;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(store_save(test_dir, "api", FP_A, b, &cause), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(cause);
	assert_non_null(strstr(cause, test_dir));
	FREE(cause);
	after = read_raw(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	assert_int_equal(count_entries(test_dir, true), 0);
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
	assert_token(got, "old-token");
	got = token_free(got);

	/* A read-only directory stops anyone but root. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(test_dir, 0500), 0);
		assert_int_equal(store_save(test_dir, "api", FP_A, b, &cause), -EACCES);
		assert_non_null(cause);
		FREE(cause);
		assert_int_equal(chmod(test_dir, 0700), 0);
		assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
		assert_token(got, "old-token");
		got = token_free(got);
	}

	/* state_dir is a file, or its parent is missing (mkdir is tried once). */
	notdir = xasprintf("%s/api.token", test_dir);
	assert_int_equal(store_save(notdir, "api", FP_A, b, &cause), -ENOTDIR);
	assert_non_null(strstr(cause, notdir));
	FREE(cause);
	deep = xasprintf("%s/no/such/dir", test_dir);
	assert_int_equal(store_save(deep, "api", FP_A, b, &cause), -ENOENT);
	assert_non_null(strstr(cause, deep));
	assert_non_null(strstr(cause, "cannot create"));
	FREE(cause);
	token_free(a);
	token_free(b);
}

/* One bad file: the code wanted, a cause, no record, the file left alone. */
static void
check_bad(const char *what, const void *content, size_t len, mode_t mode, int want)
{
	_cleanup_free_ char *path = file_path("api"), *cause = NULL;
	struct token *rec = NULL;
	struct stat st;
	int r;

	write_raw(path, mode, content, len);
	r = load("api", FP_A, NOW, 0, &rec, &cause);
	if (r != want)
		fail_msg("%s: got %d, want %d", what, r, want);
	assert_null(rec);
	if (cause == NULL)
		fail_msg("%s: no cause", what);
	if (strstr(cause, TOKEN) != NULL)
		fail_msg("%s: the cause holds the token", what);
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
}

static void
test_corrupt(void **state)
{
	_cleanup_free_ char *good = NULL, *b = NULL, *f = NULL, *big = NULL;
	static const char *const bad_numbers[] = {
		"-5", "12a", "0123", "0", "", " 5", "99999999999999999999", "1e12", "+5", "0x10",
	};
	static const char *const bad_extras[] = {
		"scope a\rb\n",	    /* a control character */
		"scope\n",	    /* no value */
		"colour blue\n",    /* an unknown key */
		"token_type x\n",   /* twice */
		"name api\n",	    /* out of place */
	};
	unsigned char binary[256];
	size_t len;

	b = body("1700003600000", "");
	good = with_sum(b);
	len = strlen(good);

	check_bad("empty", "", 0, 0600, -EINVAL);
	/* Cut anywhere: detected, whatever the length. */
	for (size_t cut = 1; cut < len; cut++) {
		char what[48];

		snprintf(what, sizeof(what), "truncated at %zu", cut);
		check_bad(what, good, cut, 0600, -EINVAL);
	}
	check_bad("garbage", "hello world\n", 12, 0600, -EINVAL);
	check_bad("garbage without newline", "hello", 5, 0600, -EINVAL);
	for (size_t i = 0; i < sizeof(binary); i++)
		binary[i] = (unsigned char)(i * 7 + 3);
	check_bad("binary", binary, sizeof(binary), 0600, -EINVAL);
	/* A NUL inside an otherwise good file. */
	f = xstrdup(good);
	f[30] = '\0';
	check_bad("NUL", f, len, 0600, -EINVAL);
	FREE(f);
	big = xmalloc(FILE_MAX + 1);
	memset(big, 'a', FILE_MAX + 1);
	check_bad("huge", big, FILE_MAX + 1, 0600, -EINVAL);
	FREE(big);
	/* A good file padded to just over the limit (inside the scope line). */
	{
		_cleanup_free_ char *pad = xmalloc(FILE_MAX + 1);
		_cleanup_free_ char *pb = NULL, *pf = NULL;

		memset(pad, 'x', FILE_MAX);
		pad[FILE_MAX] = '\0';
		pb = xasprintf("scope %s\n", pad);
		FREE(b);
		b = body("1700003600000", pb);
		pf = with_sum(b);
		check_bad("huge but well formed", pf, strlen(pf), 0600, -EINVAL);
	}

	/* Altered without fixing the checksum: one byte in the token. */
	f = xstrdup(good);
	*strstr(f, "test-token") = 'T';
	check_bad("altered", f, len, 0600, -EINVAL);
	FREE(f);
	/* Trailing bytes after the checksum. */
	f = xasprintf("%sx\n", good);
	check_bad("trailing line", f, strlen(f), 0600, -EINVAL);
	FREE(f);
	/* Wrong version, with a checksum that fits. */
	FREE(b);
	b = body("1700003600000", "");
	b[18] = '2';
	f = with_sum(b);
	check_bad("version 2", f, strlen(f), 0600, -EINVAL);
	FREE(f);
	for (size_t i = 0; i < ELEMENTSOF(bad_numbers); i++) {
		FREE(b);
		b = body(bad_numbers[i], "");
		f = with_sum(b);
		check_bad(bad_numbers[i], f, strlen(f), 0600, -EINVAL);
		FREE(f);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad_extras); i++) {
		FREE(b);
		b = body("1700003600000", bad_extras[i]);
		f = with_sum(b);
		check_bad(bad_extras[i], f, strlen(f), 0600, -EINVAL);
		FREE(f);
	}
	/* A field missing; an empty token. */
	f = with_sum("tokenbroker-token 1\nname api\nfingerprint " FP_A "\n"
		     "expires_at_ms 1700003600000\nlifetime_ms 3600000\ntoken " TOKEN "\n");
	check_bad("no token_type", f, strlen(f), 0600, -EINVAL);
	FREE(f);
	f = with_sum("tokenbroker-token 1\nname api\nfingerprint " FP_A "\n"
		     "expires_at_ms 1700003600000\nlifetime_ms 3600000\ntoken_type Bearer\n"
		     "token \n");
	check_bad("empty token", f, strlen(f), 0600, -EINVAL);
	FREE(f);
	/* Another credential's file under this name. */
	FREE(b);
	b = body("1700003600000", "");
	memcpy(strstr(b, "name api"), "name apx", 8);
	f = with_sum(b);
	check_bad("other name", f, strlen(f), 0600, -EINVAL);
	FREE(f);
	/* A bad fingerprint field. */
	FREE(b);
	b = body("1700003600000", "");
	memcpy(strstr(b, FP_A), "AAAA", 4);
	f = with_sum(b);
	check_bad("uppercase fingerprint", f, strlen(f), 0600, -EINVAL);
	FREE(f);

	/* Over-permissive: refused; stricter than 0600: fine. */
	check_bad("mode 0644", good, len, 0644, -EPERM);
	check_bad("mode 0640", good, len, 0640, -EPERM);
	check_bad("mode 0602", good, len, 0602, -EPERM);
	{
		_cleanup_free_ char *path = file_path("api"), *cause = NULL;
		struct token *rec = NULL;

		write_raw(path, 0400, good, len);
		assert_int_equal(load("api", FP_A, NOW, 0, &rec, &cause), 0);
		assert_token(rec, TOKEN);
		token_free(rec);
		unlink(path);
	}
}

/* Bad files that are not bad content: owner, symlink, directory, FIFO. */
static void
test_bad_kinds(void **state)
{
	_cleanup_free_ char *b = body("1700003600000", ""), *good = with_sum(b),
			    *path = file_path("api"), *target = NULL, *cause = NULL,
			    *content = NULL;
	struct token *rec = NULL;
	struct stat st;
	size_t len;

	/* A symlink to a good file is not followed. */
	target = xasprintf("%s/elsewhere", test_dir);
	write_raw(target, 0600, good, strlen(good));
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(load("api", FP_A, NOW, 0, &rec, &cause), -EPERM);
	assert_null(rec);
	assert_non_null(cause);
	FREE(cause);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	unlink(path);
	/* Not even when it is stale: the target is left alone. */
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(load("api", FP_B, NOW, 0, &rec, &cause), -EPERM);
	FREE(cause);
	content = read_raw(target, &len);
	assert_int_equal(len, strlen(good));
	unlink(path);

	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(load("api", FP_A, NOW, 0, &rec, &cause), -EINVAL);
	assert_null(rec);
	FREE(cause);
	assert_int_equal(rmdir(path), 0);

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(load("api", FP_A, NOW, 0, &rec, &cause), -EINVAL);
	assert_null(rec);
	FREE(cause);
	unlink(path);

	if (geteuid() == 0) {
		write_raw(path, 0600, good, strlen(good));
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(load("api", FP_A, NOW, 0, &rec, &cause), -EPERM);
		assert_null(rec);
		assert_non_null(strstr(cause, "65534"));
		FREE(cause);
		assert_int_equal(stat(path, &st), 0);
		unlink(path);
	}

	/* No file, no directory. */
	assert_int_equal(load("api", FP_A, NOW, 0, &rec, &cause), -ENOENT);
	assert_null(rec);
	FREE(cause);
	assert_int_equal(store_load("/nonexistent/tokenbroker", "api", FP_A, NOW, 0, &rec,
				    &cause),
			 -ENOENT);
	FREE(cause);
	assert_int_equal(load("../api", FP_A, NOW, 0, &rec, &cause), -EINVAL);
	FREE(cause);
}

/* Random damage to a good file: refused every time, never a crash. */
static void
test_mutations(void **state)
{
	_cleanup_free_ char *b = body("1700003600000", "scope read write\n"),
			    *good = with_sum(b), *f = NULL;
	size_t len = strlen(good);
	unsigned seed = 12345;

	f = xmalloc(len);
	for (int i = 0; i < 2000; i++) {
		size_t pos;
		unsigned char x;

		memcpy(f, good, len);
		seed = seed * 1103515245 + 12345;
		pos = (seed >> 8) % len;
		seed = seed * 1103515245 + 12345;
		x = (unsigned char)(1 + (seed >> 8) % 255);
		f[pos] = (char)(f[pos] ^ x);
		check_bad("mutation", f, len, 0600, -EINVAL);
	}
}

static void
test_expiry(void **state)
{
	_cleanup_free_ char *path = file_path("api"), *cause = NULL;
	struct token *rec = record_new(TOKEN, "Bearer", NULL, NOW + 60000, HOUR);
	struct token *got = NULL;
	struct stat st;

	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	/* More than min_left left: reused. */
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
	got = token_free(got);
	assert_int_equal(load("api", FP_A, NOW, 59999, &got, &cause), 0);
	got = token_free(got);
	assert_int_equal(load("api", FP_A, NOW + 59000, 999, &got, &cause), 0);
	got = token_free(got);
	/* Exactly min_left left is not more: stale, and removed. */
	assert_int_equal(load("api", FP_A, NOW, 60000, &got, &cause), -ESTALE);
	assert_null(got);
	assert_non_null(strstr(cause, "removed"));
	FREE(cause);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* Expired. */
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(load("api", FP_A, NOW + 60001, 0, &got, &cause), -ESTALE);
	assert_non_null(strstr(cause, "expired"));
	FREE(cause);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), -ENOENT);
	FREE(cause);

	/* Other settings: stale and removed. */
	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(load("api", FP_B, NOW, 0, &got, &cause), -ESTALE);
	assert_null(got);
	assert_non_null(strstr(cause, "other settings"));
	FREE(cause);
	assert_int_equal(stat(path, &st), -1);
	token_free(rec);
}

static void
test_remove(void **state)
{
	_cleanup_free_ char *path = file_path("api"), *cause = NULL;
	struct token *rec = record_new(TOKEN, "Bearer", NULL, NOW + HOUR, HOUR);
	struct stat st;

	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(store_save(test_dir, "keep", FP_A, rec, &cause), 0);
	assert_int_equal(store_remove(test_dir, "api"), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_entries(test_dir, false), 1);
	assert_int_equal(store_remove(test_dir, "api"), 0);
	assert_int_equal(store_remove("/nonexistent/tokenbroker", "api"), 0);
	assert_int_equal(store_remove(test_dir, "../keep"), -EINVAL);
	assert_int_equal(count_entries(test_dir, false), 1);
	token_free(rec);
	assert_null(token_free(NULL));
}

#define RT "rt-0123456789abcdef_refresh+/="

static void
assert_secret(const struct secret *s, const char *want)
{
	assert_non_null(s);
	assert_int_equal(s->len, strlen(want));
	if (memcmp(s->data, want, s->len) != 0)
		fail_msg("the refresh token differs");
}

static void
test_refresh_round_trip(void **state)
{
	_cleanup_free_ char *path = xasprintf("%s/api.refresh", test_dir), *cause = NULL;
	struct secret *rt = secret_from_str(RT), *rt2 = secret_from_str(RT "2"), *got = NULL;
	struct stat st;
	int64_t m1 = 0, m2 = 0;

	assert_int_equal(store_load_refresh(test_dir, "api", &got, &cause), -ENOENT);
	FREE(cause);
	assert_int_equal(store_refresh_mtime(test_dir, "api", &m1), -ENOENT);
	assert_int_equal(store_save_refresh(test_dir, "api", rt, &cause), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(store_load_refresh(test_dir, "api", &got, &cause), 0);
	assert_secret(got, RT);
	got = secret_free(got);
	assert_int_equal(store_refresh_mtime(test_dir, "api", &m1), 0);
	assert_true(m1 > 0);
	/* A rotation replaces it whole; nothing else is left in the directory. */
	assert_int_equal(store_save_refresh(test_dir, "api", rt2, &cause), 0);
	assert_int_equal(store_load_refresh(test_dir, "api", &got, &cause), 0);
	assert_secret(got, RT "2");
	got = secret_free(got);
	assert_int_equal(store_refresh_mtime(test_dir, "api", &m2), 0);
	assert_true(m2 >= m1);
	assert_int_equal(count_entries(test_dir, false), 1);
	/* Token files and refresh files do not mix. */
	assert_int_equal(store_load(test_dir, "api", FP_A, NOW, 0, &(struct token *){ NULL },
				    &cause), -ENOENT);
	FREE(cause);
	secret_free(rt);
	secret_free(rt2);
}

static void
test_refresh_refuses(void **state)
{
	_cleanup_free_ char *cause = NULL, *a = xasprintf("%s/a.refresh", test_dir),
			   *b = xasprintf("%s/b.refresh", test_dir);
	struct secret *bad = secret_new("rt\nx", 4), *empty = secret_new("", 0), *got = NULL;
	struct secret *rt = secret_from_str(RT);
	FILE *f;
	long n;

	assert_int_equal(store_save_refresh(test_dir, "a", bad, &cause), -EINVAL);
	assert_non_null(strstr(cause, "control characters"));
	FREE(cause);
	assert_int_equal(store_save_refresh(test_dir, "a", empty, &cause), -EINVAL);
	FREE(cause);
	assert_int_equal(store_save_refresh(test_dir, "../a", rt, &cause), -EINVAL);
	FREE(cause);
	assert_int_equal(count_entries(test_dir, false), 0);

	/* Another credential's file under this name is not taken. */
	assert_int_equal(store_save_refresh(test_dir, "a", rt, &cause), 0);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(store_load_refresh(test_dir, "b", &got, &cause), -EINVAL);
	assert_non_null(strstr(cause, "another credential"));
	FREE(cause);
	assert_null(got);

	/* Open to others: refused, and the message says so (never the token). */
	assert_int_equal(store_save_refresh(test_dir, "a", rt, &cause), 0);
	assert_int_equal(chmod(a, 0640), 0);
	assert_int_equal(store_load_refresh(test_dir, "a", &got, &cause), -EPERM);
	assert_non_null(strstr(cause, "mode 0640"));
	assert_null(strstr(cause, RT));
	FREE(cause);

	/* One byte changed: the checksum catches it. */
	assert_int_equal(chmod(a, 0600), 0);
	assert_non_null(f = fopen(a, "r+"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_int_equal(fseek(f, n - 70, SEEK_SET), 0);
	fputc('X', f);
	fclose(f);
	assert_int_equal(store_load_refresh(test_dir, "a", &got, &cause), -EINVAL);
	assert_non_null(strstr(cause, "checksum"));
	FREE(cause);
	assert_null(got);
	secret_free(bad);
	secret_free(empty);
	secret_free(rt);
}

static void
test_refresh_pick(void **state)
{
	_cleanup_free_ char *cause = NULL, *path = xasprintf("%s/api.refresh", test_dir);
	struct secret *file = secret_from_str(RT "-file"), *kept = secret_from_str(RT "-kept");
	struct secret *got = NULL;
	bool from_state = true;
	int64_t mtime = 0;
	FILE *f;

	/* Nothing kept yet: the file's. */
	assert_int_equal(store_pick_refresh(test_dir, "api", file, 1, &got, &from_state, &cause),
			 0);
	assert_secret(got, RT "-file");
	assert_false(from_state);
	got = secret_free(got);
	/* Nothing at all: says where to put one. */
	assert_int_equal(store_pick_refresh(test_dir, "api", NULL, 0, &got, &from_state, &cause),
			 -ENOENT);
	assert_non_null(strstr(cause, "refresh_token_file"));
	FREE(cause);

	/* A rotated one kept after the file was written: the kept one. */
	assert_int_equal(store_save_refresh(test_dir, "api", kept, &cause), 0);
	assert_int_equal(store_refresh_mtime(test_dir, "api", &mtime), 0);
	assert_int_equal(store_pick_refresh(test_dir, "api", file, mtime - 1, &got, &from_state,
					    &cause), 0);
	assert_secret(got, RT "-kept");
	assert_true(from_state);
	got = secret_free(got);
	/* A file newer than the kept one (a new token put there): the file's. */
	assert_int_equal(store_pick_refresh(test_dir, "api", file, mtime + 1, &got, &from_state,
					    &cause), 0);
	assert_secret(got, RT "-file");
	assert_false(from_state);
	got = secret_free(got);

	/* A damaged kept one is never replaced by an older file: it may be spent. */
	assert_non_null(f = fopen(path, "a"));
	fputs("x\n", f);
	fclose(f);
	assert_int_equal(store_refresh_mtime(test_dir, "api", &mtime), 0);
	assert_int_equal(store_pick_refresh(test_dir, "api", file, mtime - 1, &got, &from_state,
					    &cause), -EINVAL);
	assert_non_null(strstr(cause, "put a new refresh token in refresh_token_file"));
	FREE(cause);
	assert_null(got);
	assert_int_equal(store_pick_refresh(test_dir, "api", file, mtime + 1, &got, &from_state,
					    &cause), 0);
	assert_secret(got, RT "-file");
	got = secret_free(got);
	secret_free(file);
	secret_free(kept);
}

static void
test_refresh_lock(void **state)
{
	_cleanup_free_ char *cause = NULL, *path = xasprintf("%s/api.refresh.lock", test_dir);
	struct stat st;
	int fd, fd2;

	fd = store_lock_refresh(test_dir, "api", &cause);
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Held: another taker (another open of the file, as another process) is told. */
	assert_int_equal(store_lock_refresh(test_dir, "api", &cause), -EWOULDBLOCK);
	assert_non_null(strstr(cause, "another process"));
	FREE(cause);
	/* Other credentials are not held up. */
	fd2 = store_lock_refresh(test_dir, "other", &cause);
	assert_true(fd2 >= 0);
	close(fd2);
	close(fd);
	fd = store_lock_refresh(test_dir, "api", &cause);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_lock_refresh(test_dir, "a/b", &cause), -EINVAL);
	FREE(cause);
}

/*
 * A variant's record is NAME@ID, a file of its own beside its
 * credential's; a name of any other shape is refused before anything is
 * written, read or removed.
 */
static void
test_variant_names(void **state)
{
	static const char *const bad[] = {
		"api@0123456789abcde",	 /* 15 digits */
		"api@0123456789abcdef0", /* 17 */
		"api@0123456789ABCDEF",	 /* upper case */
		"@0123456789abcdef",	 /* no credential */
		"api@0123456789abcdef@0123456789abcdef",
		"a/b@0123456789abcdef",
		"api@../..",
	};
	const char *name = "api@0123456789abcdef";
	_cleanup_free_ char *path = file_path(name), *cause = NULL;
	struct token *rec = record_new(TOKEN, "Bearer", "read", NOW + HOUR, HOUR), *got = NULL;
	struct stat st;

	assert_int_equal(store_save(test_dir, "api", FP_A, rec, &cause), 0);
	assert_int_equal(store_save(test_dir, name, FP_B, rec, &cause), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(count_entries(test_dir, false), 2);
	assert_int_equal(load(name, FP_B, NOW, 0, &got, &cause), 0);
	assert_token(got, TOKEN);
	got = token_free(got);
	/* the credential's own record is another, with its own fingerprint */
	assert_int_equal(load("api", FP_A, NOW, 0, &got, &cause), 0);
	got = token_free(got);
	/* a 64-character credential name still has room for the id */
	{
		_cleanup_free_ char *longname = xasprintf("%0*d@0123456789abcdef", 64, 0);

		assert_int_equal(store_save(test_dir, longname, FP_B, rec, &cause), 0);
		assert_int_equal(load(longname, FP_B, NOW, 0, &got, &cause), 0);
		got = token_free(got);
		assert_int_equal(store_remove(test_dir, longname), 0);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(store_save(test_dir, bad[i], FP_B, rec, &cause), -EINVAL);
		FREE(cause);
		assert_int_equal(load(bad[i], FP_B, NOW, 0, &got, &cause), -EINVAL);
		FREE(cause);
		assert_int_equal(store_remove(test_dir, bad[i]), -EINVAL);
	}
	assert_int_equal(store_remove(test_dir, name), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_entries(test_dir, false), 1);
	token_free(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_save_refuses, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_large_token, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_unsafe_dir, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_atomic, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_bad_kinds, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_mutations, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_expiry, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_remove, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_refresh_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_refresh_refuses, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_refresh_pick, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_refresh_lock, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_variant_names, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
