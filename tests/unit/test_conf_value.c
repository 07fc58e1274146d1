/*
 * The configuration's value parsers (conf-value.c), one at a time: what
 * each accepts, what it makes of it, and the exact message a user reads
 * when it refuses (without the key, which the caller puts in front).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "conf-int.h"
#include "xmalloc.h"

static char test_dir[64];

/* Asserts that r failed with cause want, and frees the cause. */
static void
assert_refused(int r, char **cause, const char *want)
{
	assert_true(r < 0);
	assert_non_null(*cause);
	assert_string_equal(*cause, want);
	free(*cause);
	*cause = NULL;
}

/* A file in test_dir with content and mode; returns its path (caller frees). */
static char *
write_file(const char *name, const char *content, mode_t mode)
{
	char *path = xasprintf("%s/%s", test_dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static int
setup(void **state)
{
	snprintf(test_dir, sizeof(test_dir), "/tmp/test_conf_value.XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", test_dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void
test_words(void **state)
{
	char **w = conf_value_words(" a,b  c,,\td ");

	assert_string_equal(w[0], "a");
	assert_string_equal(w[1], "b");
	assert_string_equal(w[2], "c");
	assert_string_equal(w[3], "d");
	assert_null(w[4]);
	conf_value_words_free(w);
	w = conf_value_words(" , ");
	assert_non_null(w);
	assert_null(w[0]);
	conf_value_words_free(w);
	conf_value_words_free(NULL);
}

static void
test_bool(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "On", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	char *cause = NULL;
	bool b;

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		b = false;
		assert_int_equal(conf_value_bool(yes[i], &b, &cause), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		b = true;
		assert_int_equal(conf_value_bool(no[i], &b, &cause), 0);
		assert_false(b);
	}
	assert_refused(conf_value_bool("y", &b, &cause), &cause,
		       "invalid boolean \"y\" (use yes or no)");
	assert_refused(conf_value_bool("", &b, &cause), &cause,
		       "invalid boolean \"\" (use yes or no)");
}

static void
test_enum(void **state)
{
	static const char *const names[] = { "auto", "json", "xml", NULL };
	char *cause = NULL;
	int i = -1;

	assert_int_equal(conf_value_enum("xml", names, &i, &cause), 0);
	assert_int_equal(i, 2);
	assert_int_equal(conf_value_enum("auto", names, &i, &cause), 0);
	assert_int_equal(i, 0);
	/* Exact, with case. */
	assert_refused(conf_value_enum("JSON", names, &i, &cause), &cause,
		       "unknown value \"JSON\" (use auto, json, xml); did you mean json?");
	assert_int_equal(i, 0);
}

static void
test_uint(void **state)
{
	char *cause = NULL;
	unsigned n = 0;

	assert_int_equal(conf_value_uint("1", 1, 1024, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(conf_value_uint("1024", 1, 1024, &n, &cause), 0);
	assert_int_equal(n, 1024);
	assert_refused(conf_value_uint("0", 1, 1024, &n, &cause), &cause,
		       "0 is out of range (use 1 to 1024)");
	assert_refused(conf_value_uint("1025", 1, 1024, &n, &cause), &cause,
		       "1025 is out of range (use 1 to 1024)");
	assert_refused(conf_value_uint("-1", 1, 1024, &n, &cause), &cause,
		       "invalid number \"-1\" (use a whole number from 1 to 1024)");
	assert_refused(conf_value_uint("12k", 1, 1024, &n, &cause), &cause,
		       "invalid number \"12k\" (use a whole number from 1 to 1024)");
	assert_refused(conf_value_uint("1234567890", 1, 1024, &n, &cause), &cause,
		       "invalid number \"1234567890\" (use a whole number from 1 to 1024)");
	assert_int_equal(n, 1024);
}

static void
test_mode(void **state)
{
	char *cause = NULL;
	mode_t m = 0;

	assert_int_equal(conf_value_mode("0660", "0660", &m, &cause), 0);
	assert_int_equal(m, 0660);
	assert_int_equal(conf_value_mode("600", "0660", &m, &cause), 0);
	assert_int_equal(m, 0600);
	assert_refused(conf_value_mode("0680", "0640", &m, &cause), &cause,
		       "invalid mode \"0680\" (use octal, at most 0777, e.g. 0640)");
	assert_refused(conf_value_mode("1777", "0640", &m, &cause), &cause,
		       "invalid mode \"1777\" (use octal, at most 0777, e.g. 0640)");
	assert_refused(conf_value_mode("rw-", "0640", &m, &cause), &cause,
		       "invalid mode \"rw-\" (use octal, at most 0777, e.g. 0640)");
	assert_int_equal(m, 0600);
}

static void
test_duration(void **state)
{
	char *cause = NULL;
	int64_t ms = -1;

	assert_int_equal(conf_value_duration("90", 0, &ms, &cause), 0);
	assert_int_equal(ms, 90 * 1000);
	assert_int_equal(conf_value_duration("15m", 1, &ms, &cause), 0);
	assert_int_equal(ms, 15 * 60 * 1000);
	assert_int_equal(conf_value_duration("0", 0, &ms, &cause), 0);
	assert_int_equal(ms, 0);
	assert_refused(conf_value_duration("0", 1, &ms, &cause), &cause,
		       "must be greater than 0");
	assert_refused(conf_value_duration("500ms", 1000, &ms, &cause), &cause,
		       "must be at least 1s");
	assert_refused(conf_value_duration("soon", 0, &ms, &cause), &cause,
		       "invalid duration \"soon\" (use 90, 90s, 15m, 1h)");
	assert_refused(conf_value_duration("31d", 0, &ms, &cause), &cause,
		       "duration \"31d\" is too large (at most 30d)");
	assert_int_equal(ms, 0);
}

static void
test_size(void **state)
{
	char *cause = NULL;
	int64_t n = -1;

	assert_int_equal(conf_value_size("0", 0, 1 << 30, &n, &cause), 0);
	assert_int_equal(n, 0);
	assert_int_equal(conf_value_size("100", 0, 1 << 30, &n, &cause), 0);
	assert_int_equal(n, 100);
	assert_int_equal(conf_value_size("64k", 0, 1 << 30, &n, &cause), 0);
	assert_int_equal(n, 64 * 1024);
	assert_int_equal(conf_value_size("16M", 0, 1 << 30, &n, &cause), 0);
	assert_int_equal(n, 16 * 1024 * 1024);
	/* Leading zeros are no digits of the size; past 63 bits is too large whatever the bound. */
	assert_int_equal(conf_value_size("00000000000000016m", 0, 1 << 30, &n, &cause), 0);
	assert_int_equal(n, 16 * 1024 * 1024);
	assert_int_equal(conf_value_size("9223372036854775807", 0, INT64_MAX, &n, &cause), 0);
	assert_int_equal(n, INT64_MAX);
	assert_refused(conf_value_size("43242434324242421k", 0, INT64_MAX, &n, &cause), &cause,
		       "size \"43242434324242421k\" is too large (at most 9223372036854775807)");
	assert_refused(conf_value_size("9223372036854775808", 0, INT64_MAX, &n, &cause), &cause,
		       "size \"9223372036854775808\" is too large (at most 9223372036854775807)");
	assert_int_equal(conf_value_size("1g", 0, 1 << 30, &n, &cause), 0);
	assert_int_equal(n, 1 << 30);
	assert_refused(conf_value_size("1025m", 0, 1 << 30, &n, &cause), &cause,
		       "size \"1025m\" is too large (at most 1g)");
	assert_refused(conf_value_size("1073741825", 0, 1 << 30, &n, &cause), &cause,
		       "size \"1073741825\" is too large (at most 1g)");
	/* So many digits that they would overflow. */
	assert_refused(conf_value_size("99999999999999999999g", 0, 1 << 30, &n, &cause), &cause,
		       "size \"99999999999999999999g\" is too large (at most 1g)");
	assert_refused(conf_value_size("0", 1, 1 << 30, &n, &cause), &cause,
		       "must be greater than 0");
	assert_refused(conf_value_size("1k", 1536, 1 << 30, &n, &cause), &cause,
		       "must be at least 1536");
	assert_refused(conf_value_size("1.5m", 0, 1 << 30, &n, &cause), &cause,
		       "invalid size \"1.5m\" (use bytes, or k, m or g after a number, e.g. 16m)");
	assert_refused(conf_value_size("16mb", 0, 1 << 30, &n, &cause), &cause,
		       "invalid size \"16mb\" (use bytes, or k, m or g after a number, e.g. 16m)");
	assert_refused(conf_value_size("m", 0, 1 << 30, &n, &cause), &cause,
		       "invalid size \"m\" (use bytes, or k, m or g after a number, e.g. 16m)");
	assert_refused(conf_value_size("-1", 0, 1 << 30, &n, &cause), &cause,
		       "invalid size \"-1\" (use bytes, or k, m or g after a number, e.g. 16m)");
	assert_refused(conf_value_size("", 0, 1 << 30, &n, &cause), &cause,
		       "invalid size \"\" (use bytes, or k, m or g after a number, e.g. 16m)");
	assert_int_equal(n, 1 << 30);
}

static void
test_span(void **state)
{
	struct span sp;
	char *cause = NULL;

	assert_int_equal(conf_value_span("33%", &sp, &cause), 0);
	assert_true(sp.share);
	assert_int_equal(sp.permille, 330);
	assert_int_equal(conf_value_span("5m", &sp, &cause), 0);
	assert_false(sp.share);
	assert_int_equal(sp.ms, 5 * 60 * 1000);
	assert_refused(conf_value_span("95%", &sp, &cause), &cause,
		       "share \"95%\" must be between 1% and 90%");
	assert_refused(conf_value_span("0", &sp, &cause), &cause, "must be greater than 0");
	assert_refused(conf_value_span("half", &sp, &cause), &cause,
		       "invalid value \"half\" (use a share such as 33% or a duration such "
		       "as 5m)");
}

static void
test_user_group(void **state)
{
	char *cause = NULL;
	uint32_t id = 1;

	assert_int_equal(conf_value_user("root", &id, &cause), 0);
	assert_int_equal(id, 0);
	assert_int_equal(conf_value_user("4242", &id, &cause), 0);
	assert_int_equal(id, 4242);
	assert_int_equal(conf_value_group("root", &id, &cause), 0);
	assert_int_equal(id, 0);
	assert_refused(conf_value_user("no-such-user-here", &id, &cause), &cause,
		       "unknown user \"no-such-user-here\"");
	assert_refused(conf_value_group("no-such-group-here", &id, &cause), &cause,
		       "unknown group \"no-such-group-here\"");
	/* 2^32 - 1 means "unchanged" to chown: never an id. */
	assert_refused(conf_value_user("4294967295", &id, &cause), &cause,
		       "invalid uid 4294967295");
	assert_refused(conf_value_group("99999999999", &id, &cause), &cause,
		       "invalid gid 99999999999");
	assert_int_equal(id, 0);
}

static void
test_ids(void **state)
{
	struct conf_ids u = { false, NULL, 0 }, g = { false, NULL, 0 };
	char *cause = NULL;

	/* Space or comma separated; repeats once. */
	assert_int_equal(conf_value_ids("root, 7 7,root", CONF_IDS_USERS, &u, NULL, &cause), 0);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.v[0], 0);
	assert_int_equal(u.v[1], 7);
	/* Mixed: @name is a group, and so is a name that is no user. */
	assert_int_equal(conf_value_ids("@root 5", CONF_IDS_MIXED, &u, &g, &cause), 0);
	assert_int_equal(u.n, 1);
	assert_int_equal(u.v[0], 5);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0], 0);
	/* A refusal leaves what was there. */
	assert_refused(conf_value_ids("root nobody-at-all", CONF_IDS_GROUPS, NULL, &g, &cause),
		       &cause, "unknown group \"nobody-at-all\"");
	assert_int_equal(g.n, 1);
	assert_int_equal(conf_value_ids("", CONF_IDS_GROUPS, NULL, &g, &cause), 0);
	assert_int_equal(g.n, 0);
	conf_value_ids_clear(&u);
	conf_value_ids_clear(&g);
	assert_null(u.v);
	assert_int_equal(u.n, 0);
}

static void
test_url(void **state)
{
	static const char *const ok_tls[] = {
		"https://idp.example.com/token", "http://localhost:8080/token",
		"http://127.0.0.2/t",		 "http://[::1]:9/t",
		"http://[::ffff:127.0.0.1]/t",	 "HTTP://LOCALHOST./t",
	};
	char *cause = NULL;

	for (size_t i = 0; i < ELEMENTSOF(ok_tls); i++)
		assert_int_equal(conf_value_url(ok_tls[i], true, &cause), 0);
	assert_int_equal(conf_value_url("http://idp.example.com/", false, &cause), 0);
	assert_refused(conf_value_url("http://idp.example.com/", true, &cause), &cause,
		       "https:// is required unless the host is loopback");
	assert_refused(conf_value_url("http://128.0.0.1/", true, &cause), &cause,
		       "https:// is required unless the host is loopback");
	assert_refused(conf_value_url("ftp://idp.example.com/", false, &cause), &cause,
		       "must be an http:// or https:// URL");
	assert_refused(conf_value_url("idp.example.com/token", false, &cause), &cause,
		       "must be an http:// or https:// URL");
	assert_refused(conf_value_url("https:///token", false, &cause), &cause,
		       "the URL has no host");
	/* Never quoted back: it may hold a password. */
	assert_refused(conf_value_url("https://u:pw@idp.example.com/", false, &cause), &cause,
		       "user:password in the URL is not allowed (use auth_method)");
	assert_refused(conf_value_url("https://idp.example.com/\x01", false, &cause), &cause,
		       "invalid URL");
	/* evhttp takes these; libcurl, which would send them, does not. */
	assert_refused(conf_value_url("https://idp)x.example.com/token", false, &cause), &cause,
		       "not a URL libcurl can use: Bad hostname");
	assert_refused(conf_value_url("https://[::1/token", false, &cause), &cause,
		       "invalid URL");
}

static void
test_path(void **state)
{
	char *cause = NULL, *path = NULL;

	assert_int_equal(conf_value_path("/etc/secret", &path, &cause), 0);
	assert_string_equal(path, "/etc/secret");
	free(path);
	assert_refused(conf_value_path("etc/secret", &path, &cause), &cause,
		       "\"etc/secret\" is not an absolute path (or %d/NAME)");

	unsetenv("CREDENTIALS_DIRECTORY");
	assert_refused(conf_value_path("%d/key", &path, &cause), &cause,
		       "%d/key: $CREDENTIALS_DIRECTORY is not set (%d/ needs systemd's "
		       "LoadCredential=)");
	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/tokenbrokerd.service", 1);
	assert_int_equal(conf_value_path("%d/key", &path, &cause), 0);
	assert_string_equal(path, "/run/credentials/tokenbrokerd.service/key");
	free(path);
	assert_refused(conf_value_path("%d/", &path, &cause), &cause,
		       "\"%d/\" does not name a credential");
	assert_refused(conf_value_path("%d/a/b", &path, &cause), &cause,
		       "\"%d/a/b\" does not name a credential");
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void
test_socket_path(void **state)
{
	char *cause = NULL, *longest = xasprintf("/%0106d", 0), *over = xasprintf("/%0107d", 0);

	assert_int_equal(conf_value_socket_path("/run/tb/billing.sock", &cause), 0);
	assert_int_equal(conf_value_socket_path(longest, &cause), 0);
	assert_refused(conf_value_socket_path(over, &cause), &cause,
		       "path is too long for a unix socket (at most 107 bytes)");
	assert_refused(conf_value_socket_path("run/tb.sock", &cause), &cause,
		       "\"run/tb.sock\" is not an absolute path");
	free(longest);
	free(over);
}

/* A file read later: it exists now, is regular, and private when asked. */
static void
test_file(void **state)
{
	char *cause = NULL, *path = NULL, *want;
	char *pem = write_file("cert.pem", "PEM\n", 0644), *key = write_file("k.pem", "K\n", 0640);

	assert_int_equal(conf_value_file(pem, false, &path, &cause), 0);
	assert_string_equal(path, pem);
	free(path);
	want = xasprintf("%s is readable by group or others (mode 0640); chmod 600 it", key);
	assert_refused(conf_value_file(key, true, &path, &cause), &cause, want);
	free(want);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(conf_value_file(key, true, &path, &cause), 0);
	assert_string_equal(path, key);
	free(path);
	want = xasprintf("%s is not a regular file", test_dir);
	assert_refused(conf_value_file(test_dir, false, &path, &cause), &cause, want);
	free(want);
	assert_refused(conf_value_file("cert.pem", false, &path, &cause), &cause,
		       "\"cert.pem\" is not an absolute path (or %d/NAME)");
	free(pem);
	free(key);
}

static void
test_secret_file(void **state)
{
	struct secret *s = NULL;
	char *cause = NULL, *path, *want;

	/* Trailing line ends go; the rest is the secret. */
	path = write_file("ok", "s3cret \r\n\n", 0600);
	assert_int_equal(conf_value_secret_file(path, &s, &cause), 0);
	assert_int_equal(s->len, 7);
	assert_memory_equal(s->data, "s3cret ", 7);
	s = secret_free(s);
	free(path);

	path = write_file("empty", "\n", 0600);
	want = xasprintf("%s is empty", path);
	assert_refused(conf_value_secret_file(path, &s, &cause), &cause, want);
	free(want);
	free(path);

	path = write_file("shared", "s3cret\n", 0640);
	want = xasprintf("%s is readable by group or others (mode 0640); chmod 600 it", path);
	assert_refused(conf_value_secret_file(path, &s, &cause), &cause, want);
	free(want);
	free(path);

	path = write_file("writable", "s3cret\n", 0622);
	want = xasprintf("%s is writable by group or others (mode 0622); chmod 600 it", path);
	assert_refused(conf_value_secret_file(path, &s, &cause), &cause, want);
	free(want);
	free(path);

	want = xasprintf("%s is not a regular file", test_dir);
	assert_refused(conf_value_secret_file(test_dir, &s, &cause), &cause, want);
	free(want);

	path = xasprintf("%s/missing", test_dir);
	want = xasprintf("cannot open %s: No such file or directory", path);
	assert_refused(conf_value_secret_file(path, &s, &cause), &cause, want);
	free(want);
	free(path);
	assert_null(s);
}

static void
test_open_file(void **state)
{
	char *cause = NULL, *path = write_file("ca.pem", "PEM\n", 0644);
	struct stat st;
	int fd;

	/* Not private: any mode will do. */
	fd = conf_value_open_file(path, false, &st, &cause);
	assert_true(fd >= 0);
	assert_true(S_ISREG(st.st_mode));
	close(fd);
	free(path);
}

static void
test_denied_hint(void **state)
{
	char *hint;

	/* Only a refusal gets a hint. */
	hint = conf_value_denied_hint(ENOENT, "/etc/x", CONF_DENIED_FILE);
	assert_string_equal(hint, "");
	free(hint);
	hint = conf_value_denied_hint(EACCES, "/etc/x", CONF_DENIED_SECRET);
	assert_non_null(strstr(hint, "chmod 600 it, or hand it over with "
				     "LoadCredential=NAME:/etc/x"));
	free(hint);
	hint = conf_value_denied_hint(EACCES, "/etc/d", CONF_DENIED_DIR);
	assert_non_null(strstr(hint, "chmod 0750 it"));
	free(hint);
	hint = conf_value_denied_hint(EPERM, "/etc/f", CONF_DENIED_FILE);
	assert_non_null(strstr(hint, "chmod 0640 it"));
	free(hint);
}

static void
test_json_pointer(void **state)
{
	assert_true(conf_value_json_pointer_ok(""));
	assert_true(conf_value_json_pointer_ok("/access_token"));
	assert_true(conf_value_json_pointer_ok("/a~1b/c~0d/0"));
	assert_true(conf_value_json_pointer_ok("/"));
	assert_false(conf_value_json_pointer_ok("access_token"));
	assert_false(conf_value_json_pointer_ok("/a~2"));
	assert_false(conf_value_json_pointer_ok("/a~"));
}

static void
test_header(void **state)
{
	assert_true(conf_value_header_name_ok("Accept"));
	assert_true(conf_value_header_name_ok("X-Api_Key.v2!#$%&'*+^`|~"));
	assert_false(conf_value_header_name_ok(""));
	assert_false(conf_value_header_name_ok("X Api"));
	assert_false(conf_value_header_name_ok("X:Api"));
	assert_false(conf_value_header_name_ok("X-\xc3\xa9"));

	assert_true(conf_value_header_value_ok(""));
	assert_true(conf_value_header_value_ok("application/xml;\tq=1"));
	assert_true(conf_value_header_value_ok("caf\xc3\xa9"));
	assert_false(conf_value_header_value_ok("a\r\nInjected: 1"));
	assert_false(conf_value_header_value_ok("a\x7f"));
}

static void
test_name(void **state)
{
	char name[CONF_NAME_MAX + 2];

	assert_true(conf_value_name_ok("xibo"));
	assert_true(conf_value_name_ok("A-z_0.9"));
	assert_false(conf_value_name_ok(""));
	assert_false(conf_value_name_ok("my api"));
	assert_false(conf_value_name_ok("a/b"));
	assert_false(conf_value_name_ok("\"x\""));
	memset(name, 'a', CONF_NAME_MAX);
	name[CONF_NAME_MAX] = '\0';
	assert_true(conf_value_name_ok(name));
	name[CONF_NAME_MAX] = 'a';
	name[CONF_NAME_MAX + 1] = '\0';
	assert_false(conf_value_name_ok(name));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bool),	     cmocka_unit_test(test_enum),
		cmocka_unit_test(test_uint),	     cmocka_unit_test(test_mode),
		cmocka_unit_test(test_duration),     cmocka_unit_test(test_span),
		cmocka_unit_test(test_user_group),   cmocka_unit_test(test_ids),
		cmocka_unit_test(test_url),	     cmocka_unit_test(test_path),
		cmocka_unit_test(test_secret_file),  cmocka_unit_test(test_open_file),
		cmocka_unit_test(test_denied_hint),  cmocka_unit_test(test_json_pointer),
		cmocka_unit_test(test_header),	     cmocka_unit_test(test_name),
		cmocka_unit_test(test_size),	     cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_file),	     cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
