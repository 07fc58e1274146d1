/*
 * sink.c: what a legacy program finds in the file (each format, exactly),
 * with which mode and owner, and that a reader looping on it only ever
 * sees a complete token.  Tokens here are test values, compared and never
 * printed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "conf.h"
#include "secret.h"
#include "sink.h"
#include "xmalloc.h"

#define NOW 1700000000000LL
#define EXPIRES 1700000100000LL
#define TOKEN "eyJhbGciOi.test-token_value+/="

#define FREE(p)             \
	do {                \
		free(p);    \
		(p) = NULL; \
	} while (0)

struct fixture {
	char dir[64];
	char *path;
	struct sink_opts cc;
	struct secret *token;
};

/* sink_write for a token made of these parts (borrowed, not freed). */
static int
sink_write_parts(const struct sink_opts *cc, const struct secret *value, const char *type,
		 const char *scope, int64_t expires_wall_ms, int64_t now_wall_ms, char **cause)
{
	struct token t = {
		.access_token = (struct secret *)value,
		.token_type = (char *)type,
		.scope = (char *)scope,
		.expires_wall_ms = expires_wall_ms,
	};

	return sink_write(cc, &t, now_wall_ms, cause);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/test_sink.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->path = xasprintf("%s/token", f->dir);
	f->cc.name = "api";
	f->cc.path = f->path;
	f->cc.mode = 0600;
	f->cc.uid = (uid_t)-1;
	f->cc.gid = (gid_t)-1;
	f->cc.format = SINK_FORMAT_RAW;
	f->token = secret_from_str(TOKEN);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	secret_free(f->token);
	free(f->path);
	free(f);
	return 0;
}

/* The file's whole content, NUL-terminated; NULL if it cannot be opened. */
static char *
read_all(const char *path, size_t *ret_len)
{
	size_t cap = 8192, len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	buf = xmalloc(cap);
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	close(fd);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

/* The sink holds exactly want (compared, not printed). */
static void
assert_content(const char *path, const char *want)
{
	size_t len = 0;
	char *got = read_all(path, &len);

	bool same;

	assert_non_null(got);
	same = len == strlen(want) && memcmp(got, want, len) == 0;
	free(got);
	if (!same)
		fail_msg("%s does not hold what was expected", path);
}

/* Hidden entries (temporaries) left in dir. */
static int
count_hidden(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int
write_sink(struct fixture *f, const char *type, const char *scope)
{
	_cleanup_free_ char *cause = NULL;
	int r;

	r = sink_write_parts(&f->cc, f->token, type, scope, EXPIRES, NOW, &cause);
	if (r < 0 && cause == NULL)
		fail_msg("an error without a cause");
	return r;
}

static void
test_raw(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_content(f->path, TOKEN "\n");
	assert_int_equal(count_hidden(f->dir), 0);
}

static void
test_header(void **state)
{
	struct fixture *f = *state;

	f->cc.format = SINK_FORMAT_HEADER;
	assert_int_equal(write_sink(f, "bearer", "read"), 0);
	assert_content(f->path, "Authorization: Bearer " TOKEN "\n");
	assert_int_equal(write_sink(f, NULL, NULL), 0);
	assert_content(f->path, "Authorization: Bearer " TOKEN "\n");
	assert_int_equal(write_sink(f, "BEARER", NULL), 0);
	assert_content(f->path, "Authorization: Bearer " TOKEN "\n");
	assert_int_equal(write_sink(f, "MAC", NULL), 0);
	assert_content(f->path, "Authorization: MAC " TOKEN "\n");
}

static void
test_json(void **state)
{
	struct fixture *f = *state;

	f->cc.format = SINK_FORMAT_JSON;
	assert_int_equal(write_sink(f, "bearer", "read write"), 0);
	assert_content(f->path, "{\"name\":\"api\",\"access_token\":\"" TOKEN "\","
				"\"token_type\":\"Bearer\",\"expires_at\":1700000100,"
				"\"expires_in\":100,\"scope\":\"read write\"}\n");
	/* No scope: no key. */
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_content(f->path, "{\"name\":\"api\",\"access_token\":\"" TOKEN "\","
				"\"token_type\":\"Bearer\",\"expires_at\":1700000100,"
				"\"expires_in\":100}\n");
	/* Escaped as JSON needs. */
	secret_free(f->token);
	f->token = secret_from_str("a\"b\\c");
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_content(f->path, "{\"name\":\"api\",\"access_token\":\"a\\\"b\\\\c\","
				"\"token_type\":\"Bearer\",\"expires_at\":1700000100,"
				"\"expires_in\":100}\n");
	/* Not UTF-8: not written, the old content stays. */
	secret_free(f->token);
	f->token = secret_from_str("bad\xff");
	assert_int_equal(write_sink(f, "Bearer", NULL), -EINVAL);
	assert_content(f->path, "{\"name\":\"api\",\"access_token\":\"a\\\"b\\\\c\","
				"\"token_type\":\"Bearer\",\"expires_at\":1700000100,"
				"\"expires_in\":100}\n");
}

/* What a shell reads back from an env sink: $ACCESS_TOKEN's value. */
static char *
shell_value(const char *path, const char *var)
{
	_cleanup_free_ char *cmd = xasprintf(". '%s' && printf '%%s' \"$%s\"", path, var);
	char buf[512];
	size_t len;
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	len = fread(buf, 1, sizeof(buf) - 1, p);
	assert_int_equal(pclose(p), 0);
	buf[len] = '\0';
	return xstrdup(buf);
}

static void
test_env(void **state)
{
	static const char odd[] = "a$HOME\"b\\c`d'e f";
	struct fixture *f = *state;
	char *v;

	f->cc.format = SINK_FORMAT_ENV;
	assert_int_equal(write_sink(f, "bearer", "read"), 0);
	assert_content(f->path, "ACCESS_TOKEN=" TOKEN "\nEXPIRES_AT=1700000100\n"
				"TOKEN_TYPE=Bearer\n");
	v = shell_value(f->path, "ACCESS_TOKEN");
	if (strcmp(v, TOKEN) != 0)
		fail_msg("a shell reads another token back");
	free(v);
	v = shell_value(f->path, "EXPIRES_AT");
	assert_string_equal(v, "1700000100");
	free(v);

	/* Characters a shell or systemd would interpret: quoted, read back verbatim. */
	secret_free(f->token);
	f->token = secret_from_str(odd);
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_content(f->path, "ACCESS_TOKEN=\"a\\$HOME\\\"b\\\\c\\`d'e f\"\n"
				"EXPIRES_AT=1700000100\nTOKEN_TYPE=Bearer\n");
	v = shell_value(f->path, "ACCESS_TOKEN");
	if (strcmp(v, odd) != 0)
		fail_msg("a shell reads another token back");
	free(v);
}

/* What would break a line-based format is refused; the old file stays. */
static void
test_refused(void **state)
{
	static const char *const bad[] = { "a\nb", "a\rb", "tab\t", "", "del\x7f" };
	struct fixture *f = *state;
	_cleanup_free_ char *cause = NULL;
	struct sink_opts none;

	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	for (int fmt = SINK_FORMAT_RAW; fmt <= SINK_FORMAT_ENV; fmt++) {
		f->cc.format = (enum sink_format)fmt;
		for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
			secret_free(f->token);
			f->token = secret_from_str(bad[i]);
			assert_int_equal(write_sink(f, "Bearer", NULL), -EINVAL);
		}
		secret_free(f->token);
		f->token = secret_from_str(TOKEN);
		assert_int_equal(write_sink(f, "Bear er", NULL), -EINVAL);
		assert_int_equal(write_sink(f, "Bearer\n", NULL), -EINVAL);
		assert_int_equal(write_sink(f, "", NULL), -EINVAL);
	}
	f->cc.format = SINK_FORMAT_RAW;
	assert_content(f->path, TOKEN "\n");
	assert_int_equal(count_hidden(f->dir), 0);

	none = f->cc;
	none.path = NULL;
	assert_int_equal(sink_write_parts(&none, f->token, "Bearer", NULL, EXPIRES, NOW, &cause),
			 -EINVAL);
	assert_non_null(cause);
	FREE(cause);
	assert_int_equal(sink_clear(&none, &cause), -EINVAL);
	assert_non_null(cause);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	return st.st_mode & 07777;
}

static void
test_mode(void **state)
{
	struct fixture *f = *state;
	mode_t old;

	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(file_mode(f->path), 0600);
	/* Neither the umask nor the file replaced decides the mode. */
	assert_int_equal(chmod(f->path, 0666), 0);
	old = umask(0777);
	f->cc.mode = 0640;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	umask(old);
	assert_int_equal(file_mode(f->path), 0640);
	f->cc.mode = 0444;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(file_mode(f->path), 0444);
	/* A mode that does not let even us write does not stop the next write. */
	f->cc.mode = 0;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(file_mode(f->path), 0);
	f->cc.mode = 0600;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(file_mode(f->path), 0600);
	assert_content(f->path, TOKEN "\n");
}

static void
test_owner(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	if (geteuid() != 0) {
		print_message("not root: owner changes not tested\n");
		skip();
	}
	f->cc.owner_set = true;
	f->cc.uid = 65534;
	f->cc.gid = 65534;
	f->cc.mode = 0640;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* A group only: the user stays ours. */
	f->cc.uid = (uid_t)-1;
	f->cc.gid = 4242;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 4242);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* Cleared: same owner and mode, empty. */
	assert_int_equal(chown(f->path, 0, 0), 0);
	{
		_cleanup_free_ char *cause = NULL;

		assert_int_equal(sink_clear(&f->cc, &cause), 0);
	}
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_gid, 4242);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_size, 0);
}

/*
 * Not root, the owner cannot be given away: a clear failure, nothing
 * written.  As root this runs in a child that becomes nobody first.
 */
static int
owner_refused(struct fixture *f)
{
	_cleanup_free_ char *cause = NULL;
	struct stat st;
	int r;

	f->cc.owner_set = true;
	f->cc.uid = 0;
	f->cc.gid = (gid_t)-1;
	r = sink_write_parts(&f->cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause);
	if (r != -EPERM || cause == NULL || strstr(cause, "only root can") == NULL)
		return 1;
	if (stat(f->path, &st) == 0 || errno != ENOENT)
		return 2;
	return count_hidden(f->dir) == 0 ? 0 : 3;
}

static void
test_owner_not_root(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		assert_int_equal(owner_refused(f), 0);
		return;
	}
	assert_int_equal(chown(f->dir, 65534, 65534), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		_exit(owner_refused(f));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_clear(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *cause = NULL;
	struct stat st;

	f->cc.mode = 0640;
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(sink_clear(&f->cc, &cause), 0);
	assert_null(cause);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_hidden(f->dir), 0);
	/* Clearing what does not exist yet leaves an empty file too. */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(sink_clear(&f->cc, &cause), 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* And a token comes back after it. */
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_content(f->path, TOKEN "\n");
}

/* A symlink at the sink is replaced, never followed. */
static void
test_symlink_replaced(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *target = xasprintf("%s/target", f->dir);
	int fd;

	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep\n", 5), 5);
	close(fd);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(write_sink(f, "Bearer", NULL), 0);
	assert_int_equal(file_mode(f->path), 0600);
	assert_content(f->path, TOKEN "\n");
	assert_content(target, "keep\n");
}

static void
test_bad_places(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *cause = NULL, *missing = xasprintf("%s/nope", f->dir);
	_cleanup_free_ char *sink = xasprintf("%s/nope/token", f->dir);
	struct sink_opts cc = f->cc;

	/* A missing directory: the cause names it. */
	cc.path = sink;
	assert_int_equal(sink_write_parts(&cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause),
			 -ENOENT);
	assert_non_null(cause);
	assert_non_null(strstr(cause, missing));
	FREE(cause);
	assert_int_equal(sink_clear(&cc, &cause), -ENOENT);
	FREE(cause);

	/* A directory everyone may write has become unsafe since the load. */
	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(write_sink(f, "Bearer", NULL), -EPERM);
	assert_int_equal(chmod(f->dir, 0700), 0);

	/* Its group could race the temporary: refused too, naming what to change. */
	assert_int_equal(chmod(f->dir, 0770), 0);
	assert_int_equal(sink_write_parts(&f->cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause),
			 -EPERM);
	assert_non_null(strstr(cause, "writable by group (mode 0770): chmod g-w"));
	assert_non_null(strstr(cause, f->dir));
	FREE(cause);
	assert_int_equal(chmod(f->dir, 0700), 0);

	/* A directory at the sink's path: refused, nothing left behind. */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(write_sink(f, "Bearer", NULL), -EISDIR);
	assert_int_equal(count_hidden(f->dir), 0);
	assert_int_equal(rmdir(f->path), 0);
}

/*
 * The attack: a user who owns a directory above the sink's swaps the sink's
 * directory for a link to a directory of their choice.  Nothing is written
 * there, and the cause names the directory at fault.
 */
static void
test_swapped_directory(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *u = xasprintf("%s/u", f->dir), *sub = xasprintf("%s/u/sub", f->dir),
			    *old = xasprintf("%s/u/sub.old", f->dir),
			    *target = xasprintf("%s/target", f->dir), *cause = NULL,
			    *want = NULL, *linked = NULL, *path = NULL;
	struct sink_opts cc = f->cc;
	struct stat st;

	if (geteuid() != 0) {
		print_message("not root: other owners not tested\n");
		skip();
	}
	assert_int_equal(mkdir(u, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(target, 0700), 0);
	path = xasprintf("%s/environment", sub);
	cc.path = path;
	cc.owner_set = true;
	cc.uid = 65534;
	cc.gid = 65534;
	/* All root's: written. */
	assert_int_equal(sink_write_parts(&cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause), 0);
	/* u given to nobody, who swaps sub for a link to target. */
	assert_int_equal(chown(u, 65534, 65534), 0);
	assert_int_equal(rename(sub, old), 0);
	assert_int_equal(symlink(target, sub), 0);
	assert_int_equal(lchown(sub, 65534, 65534), 0);
	assert_int_equal(sink_write_parts(&cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause), -EPERM);
	want = xasprintf("%s: owned by uid 65534 (nobody), must be owned by root: chown root %s",
			 u, u);
	assert_non_null(cause);
	assert_non_null(strstr(cause, want));
	FREE(cause);
	assert_int_equal(sink_clear(&cc, &cause), -EPERM);
	FREE(cause);
	linked = xasprintf("%s/environment", target);
	assert_int_equal(lstat(linked, &st), -1);
	assert_int_equal(count_hidden(target), 0);
	/* u back to root: the link, still nobody's, is not followed either. */
	assert_int_equal(chown(u, 0, 0), 0);
	assert_int_equal(sink_write_parts(&cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause), -EPERM);
	assert_non_null(strstr(cause, "symbolic link owned by uid 65534"));
	FREE(cause);
	assert_int_equal(lstat(linked, &st), -1);
	/* A link root made is root's word: followed. */
	assert_int_equal(lchown(sub, 0, 0), 0);
	assert_int_equal(sink_write_parts(&cc, f->token, "Bearer", NULL, EXPIRES, NOW, &cause), 0);
	assert_int_equal(lstat(linked, &st), 0);
	assert_int_equal(st.st_uid, 65534);
}

/* The reader: counts complete reads of each token and anything else. */
struct reader {
	const char *path;
	atomic_bool stop;
	atomic_bool started;
	const char *a, *b;
	size_t alen, blen;
	unsigned long reads, seen_a, seen_b, bad;
};

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	char *buf = xmalloc(16384);

	while (!atomic_load(&rd->stop)) {
		size_t len = 0;
		int fd = open(rd->path, O_RDONLY | O_CLOEXEC);

		atomic_store(&rd->started, true);
		if (fd < 0) {
			rd->bad++;
			continue;
		}
		for (;;) {
			ssize_t n = read(fd, buf + len, 16384 - len);

			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(fd);
		rd->reads++;
		if (len == rd->alen && memcmp(buf, rd->a, len) == 0)
			rd->seen_a++;
		else if (len == rd->blen && memcmp(buf, rd->b, len) == 0)
			rd->seen_b++;
		else
			rd->bad++;
	}
	free(buf);
	return NULL;
}

static void
test_reader_never_sees_partial(void **state)
{
	struct fixture *f = *state;
	struct secret *ta, *tb;
	struct reader rd;
	char *cause = NULL;
	pthread_t th;
	char *long_token = xmalloc(8001);

	memset(long_token, 'L', 8000);
	long_token[8000] = '\0';
	ta = secret_from_str("short-token-A");
	tb = secret_from_str(long_token);
	memset(&rd, 0, sizeof(rd));
	rd.path = f->path;
	rd.a = "short-token-A\n";
	rd.alen = strlen(rd.a);
	rd.b = xasprintf("%s\n", long_token);
	rd.blen = strlen(rd.b);

	assert_int_equal(sink_write_parts(&f->cc, ta, "Bearer", NULL, EXPIRES, NOW, &cause), 0);
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	while (!atomic_load(&rd.started))
		usleep(100);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(sink_write_parts(&f->cc, i % 2 == 0 ? tb : ta, "Bearer", NULL,
					    EXPIRES, NOW, &cause),
				 0);
	}
	atomic_store(&rd.stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	print_message("reader: %lu reads, %lu short, %lu long, %lu bad\n", rd.reads, rd.seen_a,
		      rd.seen_b, rd.bad);
	assert_int_equal(rd.bad, 0);
	assert_true(rd.reads > 0);
	assert_int_equal(count_hidden(f->dir), 0);
	secret_free(ta);
	secret_free(tb);
	free(long_token);
	free((char *)rd.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_not_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_places, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_never_sees_partial, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
