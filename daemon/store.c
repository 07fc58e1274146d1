/*
 * Persistence: one text file per credential, state_dir/NAME.token, and one
 * per token variant, state_dir/NAME@ID.token (the record's name is
 * NAME@ID, see store.h).  Version
 * 1 of the format is, line by line, each "key value" and in this order:
 *
 *	tokenbroker-token 1
 *	name NAME
 *	fingerprint HEX			(conf_token_fingerprint of the settings)
 *	expires_at_ms N			(unix ms)
 *	lifetime_ms N
 *	token_type TYPE
 *	scope SCOPE			(only when there is one)
 *	token TOKEN
 *	sha256 HEX			(of every byte before this line)
 *
 * Values are printable (no control characters), so a line never breaks;
 * the final checksum catches a truncated or altered file.  The parser
 * accepts exactly this and nothing else.  The token only ever lives in
 * buffers that are wiped before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "cleanup.h"
#include "digest.h"
#include "safedir.h"
#include "secbuf.h"
#include "secret.h"
#include "store.h"
#include "text.h"
#include "tokenbroker.h"
#include "xmalloc.h"

#define STORE_MAGIC "tokenbroker-token"
#define STORE_VERSION "1"
/*
 * The largest state file, for store_save and store_load alike: room for
 * the largest token an upstream answer can carry (the whole body, at most
 * TOKEN_BODY_MAX bytes, with its type and scope) and the other lines.
 */
#define STORE_FILE_MAX (TOKEN_BODY_MAX + 4096)
#define STORE_INT_DIGITS 18 /* fits int64_t whatever the digits */
#define STORE_INT_MAX 999999999999999999LL

/* "key value\n" */
static void
store_line(struct secbuf *b, const char *key, const char *v, size_t len)
{
	secbuf_str(b, key);
	secbuf_add(b, " ", 1);
	secbuf_add(b, v, len);
	secbuf_add(b, "\n", 1);
}


static bool
store_is_hex64(const char *s, size_t len)
{
	return len == 64 && strspn(s, "0123456789abcdef") >= 64;
}

/* A record's name: a credential's, or NAME@ID for a variant (store.h). */
static bool
store_name_valid(const char *name)
{
	const char *at = strchr(name, '@');
	char cred[TOKENBROKER_NAME_MAX + 1];
	size_t len;

	if (at == NULL)
		return tokenbroker_name_valid(name);
	len = (size_t)(at - name);
	if (len > TOKENBROKER_NAME_MAX || strlen(at + 1) != STORE_VARIANT_ID_LEN ||
	    strspn(at + 1, "0123456789abcdef") != STORE_VARIANT_ID_LEN)
		return false;
	memcpy(cred, name, len);
	cred[len] = '\0';
	return tokenbroker_name_valid(cred);
}

/* NAME.token, the file's name in state_dir. */
static char *
store_file_name(const char *name)
{
	return xasprintf("%s.token", name);
}

static char *
store_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s.token", dir, name);
}

/* The file's content for rec, into b. */
static int
store_format(struct secbuf *b, const char *name, const char *fingerprint,
	     const struct token *rec, char **cause)
{
	char num[32], sum[65];
	const struct secret *t = rec->access_token;

	if (t == NULL || t->len == 0 || !text_printable(t->data, t->len)) {
		*cause = xasprintf("cannot save the token of %s: %s", name,
				   t == NULL || t->len == 0 ? "it is empty" :
							      "it contains control characters");
		return -EINVAL;
	}
	if (rec->token_type == NULL || *rec->token_type == '\0' ||
	    !text_printable(rec->token_type, strlen(rec->token_type)) ||
	    (rec->scope != NULL && !text_printable(rec->scope, strlen(rec->scope)))) {
		*cause = xasprintf("cannot save the token of %s: its type or scope is not "
				   "printable text",
				   name);
		return -EINVAL;
	}
	if (fingerprint == NULL || !store_is_hex64(fingerprint, strlen(fingerprint))) {
		*cause = xasprintf("cannot save the token of %s: invalid fingerprint", name);
		return -EINVAL;
	}
	if (rec->expires_wall_ms <= 0 || rec->lifetime_ms <= 0 ||
	    rec->expires_wall_ms > STORE_INT_MAX || rec->lifetime_ms > STORE_INT_MAX) {
		*cause = xasprintf("cannot save the token of %s: invalid expiry or lifetime",
				   name);
		return -EINVAL;
	}
	secbuf_str(b, STORE_MAGIC " " STORE_VERSION "\n");
	store_line(b, "name", name, strlen(name));
	store_line(b, "fingerprint", fingerprint, 64);
	snprintf(num, sizeof(num), "%lld", (long long)rec->expires_wall_ms);
	store_line(b, "expires_at_ms", num, strlen(num));
	snprintf(num, sizeof(num), "%lld", (long long)rec->lifetime_ms);
	store_line(b, "lifetime_ms", num, strlen(num));
	store_line(b, "token_type", rec->token_type, strlen(rec->token_type));
	if (rec->scope != NULL)
		store_line(b, "scope", rec->scope, strlen(rec->scope));
	store_line(b, "token", t->data, t->len);
	digest_sha256_hex(b->data, b->len, sum);
	store_line(b, "sha256", sum, 64);
	if (b->len > STORE_FILE_MAX) {
		*cause = xasprintf("cannot save the token of %s: the file would be larger than "
				   "%d bytes",
				   name, STORE_FILE_MAX);
		return -EFBIG;
	}
	return 0;
}

/*
 * Writes into a temporary beside the file, then renames it over the file
 * (atomicfile_replace): a crash leaves the old file or the new one, never a
 * mix.  On failure the temporary is removed and the old file is untouched.
 * state_dir is opened by the safe walk (safedir_open) and created, mode
 * 0700, when it is missing.
 */
int
store_save(const char *dir, const char *name, const char *fingerprint,
	   const struct token *rec, char **cause)
{
	struct secbuf b = { NULL, 0, 0 };
	_cleanup_free_ char *file = NULL, *sdcause = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	if (!store_name_valid(name)) {
		*cause = xstrdup("cannot save a token: invalid credential name");
		return -EINVAL;
	}
	r = store_format(&b, name, fingerprint, rec, cause);
	if (r < 0)
		goto out;
	dfd = safedir_open(dir, SAFEDIR_CREATE, &sdcause);
	if (dfd < 0) {
		*cause = xasprintf("state_dir: %s", sdcause);
		r = dfd;
		goto out;
	}
	file = store_file_name(name);
	r = atomicfile_replace(dfd, dir, file, b.data, b.len, 0600, NULL, cause);
out:
	secbuf_clear(&b);
	return r;
}

/* The parser's place in a file's bytes. */
struct store_parse {
	const char *p;
	const char *end;
	const char *path;
	char **cause;
};

/*
 * The next line, which must be "key VALUE" with a printable value; *v and
 * *len are the value.  Returns 1, 0 when the next line has another key
 * (nothing consumed), or -EINVAL with *cause.
 */
static int
store_field(struct store_parse *sp, const char *key, const char **v, size_t *len)
{
	size_t klen = strlen(key);
	const char *nl = memchr(sp->p, '\n', (size_t)(sp->end - sp->p));

	if (nl == NULL) {
		*sp->cause = xasprintf("%s is truncated", sp->path);
		return -EINVAL;
	}
	if ((size_t)(nl - sp->p) <= klen || memcmp(sp->p, key, klen) != 0 ||
	    sp->p[klen] != ' ')
		return 0;
	*v = sp->p + klen + 1;
	*len = (size_t)(nl - *v);
	if (!text_printable(*v, *len)) {
		*sp->cause = xasprintf("%s: %s holds control characters", sp->path, key);
		return -EINVAL;
	}
	sp->p = nl + 1;
	return 1;
}

/* As store_field, for a field that must be there. */
static int
store_need(struct store_parse *sp, const char *key, const char **v, size_t *len)
{
	int r = store_field(sp, key, v, len);

	if (r == 0) {
		*sp->cause = xasprintf("%s: %s is missing or out of place", sp->path, key);
		return -EINVAL;
	}
	return r;
}

/* A whole number from 1 to 10^18 - 1, without sign or leading zero. */
static int
store_need_int(struct store_parse *sp, const char *key, int64_t *ret)
{
	const char *v;
	size_t len;
	int64_t n = 0;
	int r;

	r = store_need(sp, key, &v, &len);
	if (r < 0)
		return r;
	if (len == 0 || len > STORE_INT_DIGITS || v[0] == '0' || strspn(v, "0123456789") < len) {
		*sp->cause = xasprintf("%s: %s is not a valid number", sp->path, key);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		n = n * 10 + (v[i] - '0');
	*ret = n;
	return 0;
}

/*
 * Checks the frame every state file shares: "MAGIC VERSION" first, text
 * only, and a last line "sha256 HEX" over every byte before it.  On
 * success sp covers the lines between the two.
 */
static int
store_frame(struct store_parse *sp, const char *buf, size_t len, const char *magic)
{
	const char *path = sp->path, *v, *last;
	char **cause = sp->cause;
	size_t vlen, mlen = strlen(magic);
	char sum[65];
	int r;

	if (len == 0) {
		*cause = xasprintf("%s is empty", path);
		return -EINVAL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		*cause = xasprintf("%s is not a text file", path);
		return -EINVAL;
	}
	if (len <= mlen || memcmp(buf, magic, mlen) != 0 || buf[mlen] != ' ') {
		*cause = xasprintf("%s is not a tokenbroker state file", path);
		return -EINVAL;
	}
	if ((r = store_need(sp, magic, &v, &vlen)) < 0)
		return r;
	if (vlen != strlen(STORE_VERSION) || memcmp(v, STORE_VERSION, vlen) != 0) {
		*cause = xasprintf("%s has an unknown format version", path);
		return -EINVAL;
	}
	/* The last line is the checksum of everything before it. */
	if (buf[len - 1] != '\n') {
		*cause = xasprintf("%s is truncated", path);
		return -EINVAL;
	}
	for (last = buf + len - 1; last > buf && last[-1] != '\n'; last--)
		;
	if ((size_t)(buf + len - last) != 7 + 64 + 1 || memcmp(last, "sha256 ", 7) != 0 ||
	    !store_is_hex64(last + 7, 64)) {
		*cause = xasprintf("%s is truncated (no checksum)", path);
		return -EINVAL;
	}
	digest_sha256_hex(buf, (size_t)(last - buf), sum);
	if (memcmp(sum, last + 7, 64) != 0) {
		*cause = xasprintf("%s does not match its checksum (truncated or altered)", path);
		return -EINVAL;
	}
	sp->end = last;
	return 0;
}

/* The "name" line, into ret_name (STORE_NAME_MAX + 1 bytes). */
static int
store_need_name(struct store_parse *sp, char *ret_name)
{
	const char *v;
	size_t vlen;
	int r;

	if ((r = store_need(sp, "name", &v, &vlen)) < 0)
		return r;
	if (vlen == 0 || vlen > STORE_NAME_MAX) {
		*sp->cause = xasprintf("%s: invalid name", sp->path);
		return -EINVAL;
	}
	memcpy(ret_name, v, vlen);
	ret_name[vlen] = '\0';
	return 0;
}

/*
 * Checks the whole of buf (len bytes, the file's content) and fills rec.
 * The name and fingerprint are returned for the caller to compare.
 */
static int
store_parse(const char *buf, size_t len, const char *path, struct token *rec,
	    char *ret_name, char *ret_fp, char **cause)
{
	struct store_parse sp = { buf, buf + len, path, cause };
	const char *v;
	size_t vlen;
	int r;

	if ((r = store_frame(&sp, buf, len, STORE_MAGIC)) < 0 ||
	    (r = store_need_name(&sp, ret_name)) < 0)
		return r;
	if ((r = store_need(&sp, "fingerprint", &v, &vlen)) < 0)
		return r;
	if (!store_is_hex64(v, vlen)) {
		*cause = xasprintf("%s: invalid fingerprint", path);
		return -EINVAL;
	}
	memcpy(ret_fp, v, 64);
	ret_fp[64] = '\0';
	if ((r = store_need_int(&sp, "expires_at_ms", &rec->expires_wall_ms)) < 0 ||
	    (r = store_need_int(&sp, "lifetime_ms", &rec->lifetime_ms)) < 0)
		return r;
	if ((r = store_need(&sp, "token_type", &v, &vlen)) < 0)
		return r;
	if (vlen == 0) {
		*cause = xasprintf("%s: empty token_type", path);
		return -EINVAL;
	}
	rec->token_type = xstrndup(v, vlen);
	if ((r = store_field(&sp, "scope", &v, &vlen)) < 0)
		return r;
	if (r > 0)
		rec->scope = xstrndup(v, vlen);
	if ((r = store_need(&sp, "token", &v, &vlen)) < 0)
		return r;
	if (vlen == 0) {
		*cause = xasprintf("%s: empty token", path);
		return -EINVAL;
	}
	rec->access_token = secret_new(v, vlen);
	if (sp.p != sp.end) {
		*cause = xasprintf("%s: unexpected line after the token", path);
		return -EINVAL;
	}
	return 0;
}


/* Removes a file found stale; says so in *cause, which names why. */
static int
store_stale(int dfd, const char *file, const char *path, char **cause, const char *why)
{
	if (unlinkat(dfd, file, 0) < 0 && errno != ENOENT)
		*cause = xasprintf("%s %s; cannot remove it: %s", path, why, strerror(errno));
	else
		*cause = xasprintf("%s %s; removed", path, why);
	return -ESTALE;
}

/*
 * state_dir opened by the safe walk (created with SAFEDIR_CREATE in
 * flags); path is the file about to be used there, for messages.  The fd,
 * or -errno with *cause.
 */
static int
store_open_dir(const char *dir, const char *path, unsigned flags, char **cause)
{
	_cleanup_free_ char *sdcause = NULL;
	int dfd = safedir_open(dir, flags, &sdcause);

	if (dfd == -ENOENT && !(flags & SAFEDIR_CREATE))
		*cause = xasprintf("%s does not exist", path);
	else if (dfd < 0)
		*cause = xasprintf("state_dir: %s", sdcause);
	return dfd;
}

/*
 * Reads the state file `file` of the directory dfd (path names it in
 * messages): a regular file, not a link, owned by owner, mode 0600 or
 * stricter, at most STORE_FILE_MAX bytes.  0 with the content in *ret_buf
 * (*ret_len bytes in a buffer of *ret_size, which the caller frees with
 * secret_free_buf), or -errno with *cause.
 */
static int
store_read(int dfd, const char *file, const char *path, uid_t owner, char **ret_buf,
	   size_t *ret_len, size_t *ret_size, char **cause)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (errno == ENOENT)
			*cause = xasprintf("%s does not exist", path);
		else if (errno == ELOOP)
			*cause = xasprintf("%s is a symbolic link; ignored", path);
		else
			*cause = xasprintf("cannot open %s: %s", path, strerror(errno));
		return r == -ELOOP ? -EPERM : r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		*cause = xasprintf("cannot stat %s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s is not a regular file; ignored", path);
		return -EINVAL;
	}
	if (st.st_uid != owner) {
		*cause = xasprintf("%s is owned by uid %u, not by uid %u; ignored", path,
				   (unsigned)st.st_uid, (unsigned)owner);
		return -EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		*cause = xasprintf("%s has mode %04o, open to group or others; ignored", path,
				   (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (st.st_size > STORE_FILE_MAX) {
		*cause = xasprintf("%s is larger than %d bytes; ignored", path, STORE_FILE_MAX);
		return -EINVAL;
	}
	r = secret_read_fd(fd, STORE_FILE_MAX, ret_buf, ret_len, ret_size);
	if (r == -EFBIG) {
		*cause = xasprintf("%s is larger than %d bytes; ignored", path, STORE_FILE_MAX);
		return -EINVAL;
	}
	if (r < 0) {
		*cause = xasprintf("cannot read %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

int
store_load(const char *dir, const char *name, const char *fingerprint, int64_t now_wall_ms,
	   int64_t min_left_ms, struct token **ret, char **cause)
{
	_cleanup_free_ char *path = NULL, *file = NULL;
	_cleanup_close_ int dfd = -1;
	struct token *rec = NULL;
	char fname[STORE_NAME_MAX + 1], fp[65];
	char *buf = NULL;
	size_t len = 0, size = 0;
	int r;

	if (!store_name_valid(name)) {
		*cause = xstrdup("cannot load a token: invalid credential name");
		return -EINVAL;
	}
	path = store_path(dir, name);
	file = store_file_name(name);
	dfd = store_open_dir(dir, path, 0, cause);
	if (dfd < 0)
		return dfd;
	r = store_read(dfd, file, path, geteuid(), &buf, &len, &size, cause);
	if (r < 0)
		return r;
	rec = xcalloc(1, sizeof(*rec));
	r = store_parse(buf, len, path, rec, fname, fp, cause);
	if (r < 0)
		goto out;
	if (strcmp(fname, name) != 0) {
		*cause = xasprintf("%s belongs to another credential; ignored", path);
		r = -EINVAL;
		goto out;
	}
	if (fingerprint == NULL || strcmp(fp, fingerprint) != 0) {
		r = store_stale(dfd, file, path, cause, "was made with other settings");
		goto out;
	}
	if (rec->expires_wall_ms <= now_wall_ms) {
		r = store_stale(dfd, file, path, cause, "holds an expired token");
		goto out;
	}
	if (rec->expires_wall_ms - now_wall_ms <= min_left_ms) {
		r = store_stale(dfd, file, path, cause, "holds a token about to expire");
		goto out;
	}
	/* Files from before lifetimes were kept: what is left is the lifetime. */
	if (rec->lifetime_ms <= 0)
		rec->lifetime_ms = rec->expires_wall_ms - now_wall_ms;
	digest_fingerprint(rec->access_token->data, rec->access_token->len, rec->fingerprint);
	*ret = TAKE_PTR(rec);
	r = 0;
out:
	explicit_bzero(fp, sizeof(fp));
	secret_free_buf(buf, size);
	token_free(rec);
	return r;
}

int
store_remove(const char *dir, const char *name)
{
	_cleanup_free_ char *file = NULL, *cause = NULL;
	_cleanup_close_ int dfd = -1;

	if (!store_name_valid(name))
		return -EINVAL;
	dfd = safedir_open(dir, 0, &cause);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	file = store_file_name(name);
	if (unlinkat(dfd, file, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Best effort: the removal is done either way. */
	(void)fsync(dfd);
	return 0;
}

/*
 * Refresh tokens.  A rotating refresh token is the one secret the daemon
 * cannot get back when it loses it, so each new one is in state_dir before
 * anything else happens: state_dir/NAME.refresh, in the frame of the token
 * files (magic line, checksum last):
 *
 *	tokenbroker-refresh 1
 *	name NAME
 *	refresh_token TOKEN
 *	sha256 HEX
 *
 * `tokenbrokerd --test`, run as the daemon's user, may spend and rotate it
 * beside the running daemon: a lock file (NAME.refresh.lock, flock) keeps
 * the two from sending the same token at once, and each reads the file
 * before it sends.
 */
#define STORE_REFRESH_MAGIC "tokenbroker-refresh"

static char *
store_refresh_name(const char *name, const char *suffix)
{
	return xasprintf("%s.refresh%s", name, suffix);
}

/*
 * state_dir opened for NAME.refresh+suffix, whose name and path are
 * returned (caller frees); what says what the caller was doing.  The
 * directory's fd, or -errno with *cause.
 */
static int
store_refresh_open(const char *dir, const char *name, const char *suffix, unsigned flags,
		   const char *what, char **ret_file, char **ret_path, char **cause)
{
	if (!tokenbroker_name_valid(name)) {
		*cause = xasprintf("cannot %s a refresh token: invalid credential name", what);
		return -EINVAL;
	}
	*ret_file = store_refresh_name(name, suffix);
	*ret_path = xasprintf("%s/%s", dir, *ret_file);
	return store_open_dir(dir, *ret_path, flags, cause);
}

int
store_save_refresh(const char *dir, const char *name, const struct secret *rt, char **cause)
{
	struct secbuf b = { NULL, 0, 0 };
	_cleanup_free_ char *file = NULL, *path = NULL;
	_cleanup_close_ int dfd = -1;
	char sum[65];
	int r;

	if (rt == NULL || rt->len == 0 || rt->len > TOKEN_BODY_MAX ||
	    !text_printable(rt->data, rt->len)) {
		*cause = xasprintf("cannot save the refresh token of %s: it is empty, too long or "
				   "holds control characters",
				   name);
		return -EINVAL;
	}
	dfd = store_refresh_open(dir, name, "", SAFEDIR_CREATE, "save", &file, &path, cause);
	if (dfd < 0)
		return dfd;
	secbuf_str(&b, STORE_REFRESH_MAGIC " " STORE_VERSION "\n");
	store_line(&b, "name", name, strlen(name));
	store_line(&b, "refresh_token", rt->data, rt->len);
	digest_sha256_hex(b.data, b.len, sum);
	store_line(&b, "sha256", sum, 64);
	r = atomicfile_replace(dfd, dir, file, b.data, b.len, 0600, NULL, cause);
	secbuf_clear(&b);
	return r;
}

int
store_refresh_mtime(const char *dir, const char *name, int64_t *ret_mtime_ns)
{
	_cleanup_free_ char *file = store_refresh_name(name, ""), *cause = NULL;
	_cleanup_close_ int dfd = -1;
	struct stat st;

	if (!tokenbroker_name_valid(name))
		return -EINVAL;
	dfd = safedir_open(dir, 0, &cause);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*ret_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}

/* Reads and checks the refresh record `file` (path in messages) of dfd. */
static int
store_refresh_parse(int dfd, const char *name, const char *file, const char *path,
		    struct secret **ret, char **cause)
{
	char fname[STORE_NAME_MAX + 1];
	struct store_parse sp = { NULL, NULL, path, cause };
	char *buf = NULL;
	size_t len = 0, size = 0, vlen;
	const char *v;
	int r;

	r = store_read(dfd, file, path, geteuid(), &buf, &len, &size, cause);
	if (r < 0)
		return r;
	sp.p = buf;
	sp.end = buf + len;
	if ((r = store_frame(&sp, buf, len, STORE_REFRESH_MAGIC)) < 0 ||
	    (r = store_need_name(&sp, fname)) < 0 ||
	    (r = store_need(&sp, "refresh_token", &v, &vlen)) < 0)
		goto out;
	if (strcmp(fname, name) != 0) {
		*cause = xasprintf("%s belongs to another credential", path);
		r = -EINVAL;
	} else if (vlen == 0) {
		*cause = xasprintf("%s: empty refresh_token", path);
		r = -EINVAL;
	} else if (sp.p != sp.end) {
		*cause = xasprintf("%s: unexpected line after the refresh token", path);
		r = -EINVAL;
	} else {
		*ret = secret_new(v, vlen);
		r = 0;
	}
out:
	secret_free_buf(buf, size);
	return r;
}

int
store_load_refresh(const char *dir, const char *name, struct secret **ret, char **cause)
{
	_cleanup_free_ char *path = NULL, *file = NULL;
	_cleanup_close_ int dfd = -1;

	dfd = store_refresh_open(dir, name, "", 0, "load", &file, &path, cause);
	if (dfd < 0)
		return dfd;
	return store_refresh_parse(dfd, name, file, path, ret, cause);
}

int
store_lock_refresh(const char *dir, const char *name, char **cause)
{
	_cleanup_free_ char *file = NULL, *path = NULL;
	_cleanup_close_ int dfd = -1;
	int fd, r;

	dfd = store_refresh_open(dir, name, ".lock", SAFEDIR_CREATE, "lock", &file, &path, cause);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, file, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		*cause = xasprintf("cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		*cause = errno == EWOULDBLOCK ?
				 xasprintf("another process is renewing with this refresh token "
					   "(it holds %s; a tokenbrokerd --test?)",
					   path) :
				 xasprintf("cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

int
store_pick_refresh(const char *dir, const char *name, const struct secret *file_token,
		   int64_t file_mtime_ns, struct secret **ret, bool *ret_from_state, char **cause)
{
	_cleanup_free_ char *why = NULL, *path = NULL, *file = NULL;
	_cleanup_close_ int dfd = -1;
	struct stat st;
	int r;

	/* One walk of state_dir: the kept file's age, then (when it wins) its token. */
	dfd = store_refresh_open(dir, name, "", 0, "load", &file, &path, &why);
	r = dfd < 0 ? dfd : fstatat(dfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (file_token != NULL &&
	    (r == -ENOENT || (r == 0 && file_mtime_ns > (int64_t)st.st_mtim.tv_sec * 1000000000 +
								st.st_mtim.tv_nsec))) {
		*ret = secret_dup(file_token);
		*ret_from_state = false;
		return 0;
	}
	if (dfd >= 0) {
		free(why);
		why = NULL;
		r = store_refresh_parse(dfd, name, file, path, ret, &why);
	}
	if (r == 0) {
		*ret_from_state = true;
		return 0;
	}
	if (r == -ENOENT)
		*cause = xstrdup("no refresh token: put one in refresh_token_file and reload");
	else
		*cause = xasprintf("%s: put a new refresh token in refresh_token_file and reload "
				   "(a file newer than the kept one wins)",
				   why);
	return r;
}
