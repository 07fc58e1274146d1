/*
 * The safe walk to a directory: see safedir.h for the rules.  Every step
 * holds an O_PATH fd of the directory checked last and opens the next
 * component relative to it with O_NOFOLLOW, so what is checked is what is
 * used; the path string is never resolved by the kernel in one go.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "safedir.h"
#include "xmalloc.h"

#define SAFEDIR_MAX_LINKS 40

bool
safedir_trusted_uid(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

char *
safedir_uid_text(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		return xasprintf("uid %u (%s)", (unsigned)uid, pw->pw_name);
	return xasprintf("uid %u", (unsigned)uid);
}

char *
safedir_trusted_text(void)
{
	uid_t euid = geteuid();
	struct passwd *pw;

	if (euid == 0)
		return xstrdup("root");
	pw = getpwuid(euid);
	if (pw != NULL)
		return xasprintf("root or %s", pw->pw_name);
	return xasprintf("root or uid %u", (unsigned)euid);
}

/*
 * Checks what st describes, found at shown (a directory, or a link on the
 * way); last: it is the directory asked for, where the sticky bit does not
 * excuse a write permission.  0, or -EPERM with *cause.
 */
static int
safedir_check(const struct stat *st, const char *shown, bool last, char **cause)
{
	mode_t m = st->st_mode;
	const char *who, *fix;

	if (!safedir_trusted_uid(st->st_uid)) {
		_cleanup_free_ char *owner = safedir_uid_text(st->st_uid);
		_cleanup_free_ char *allowed = safedir_trusted_text();

		*cause = xasprintf("%s: %sowned by %s, must be owned by %s: chown root %s", shown,
				   S_ISLNK(m) ? "symbolic link " : "", owner, allowed, shown);
		return -EPERM;
	}
	if (S_ISLNK(m) || (m & (S_IWGRP | S_IWOTH)) == 0)
		return 0;
	if (!last && (m & S_ISVTX) != 0 && st->st_uid == 0)
		return 0;
	if ((m & S_IWGRP) != 0 && (m & S_IWOTH) != 0) {
		who = "group and others";
		fix = "go-w";
	} else if ((m & S_IWOTH) != 0) {
		who = "others";
		fix = "o-w";
	} else {
		who = "group";
		fix = "g-w";
	}
	if ((m & S_ISVTX) != 0) {
		/* /tmp and the like: not to be changed, but not to be written into. */
		_cleanup_free_ char *allowed = safedir_trusted_text();

		*cause = xasprintf("%s: writable by %s (mode %04o; the sticky bit is not enough "
				   "for the directory itself): use a directory only %s can write",
				   shown, who, (unsigned)(m & 07777), allowed);
		return -EPERM;
	}
	*cause = xasprintf("%s: writable by %s (mode %04o): chmod %s %s", shown, who,
			   (unsigned)(m & 07777), fix, shown);
	return -EPERM;
}

/* Whether nothing but slashes is left of p. */
static bool
safedir_rest_empty(const char *p)
{
	return p[strspn(p, "/")] == '\0';
}

/* Opens / as the walk's start, checked; last: / is the directory asked for. */
static int
safedir_open_root(bool last, char **cause)
{
	struct stat st;
	int fd, r;

	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		*cause = xasprintf("cannot open /: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = safedir_check(&st, "/", last, cause);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* "parent/name" for messages, where "" is /. */
static char *
safedir_join(const char *parent, const char *name)
{
	return xasprintf("%s/%s", parent, name);
}

int
safedir_open(const char *path, unsigned flags, char **cause)
{
	_cleanup_free_ char *todo = NULL, *shown = NULL;
	_cleanup_close_ int fd = -1;
	const char *p;
	int links = 0, r;

	if (path == NULL || path[0] != '/') {
		*cause = xasprintf("\"%s\" is not an absolute path", path != NULL ? path : "");
		return -EINVAL;
	}
	todo = xstrdup(path);
	shown = xstrdup(""); /* the directories walked so far; "" is / */
	p = todo;
	fd = safedir_open_root(safedir_rest_empty(p), cause);
	if (fd < 0)
		return fd;
	for (;;) {
		_cleanup_free_ char *name = NULL, *next = NULL;
		_cleanup_close_ int nfd = -1;
		struct stat st;
		size_t len;
		bool last;

		p += strspn(p, "/");
		if (*p == '\0')
			break;
		len = strcspn(p, "/");
		name = xstrndup(p, len);
		p += len;
		last = safedir_rest_empty(p);
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			char *slash = strrchr(shown, '/');

			if (slash != NULL)
				*slash = '\0';
			next = xstrdup(shown);
		} else {
			next = safedir_join(shown, name);
		}
		nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && last && (flags & SAFEDIR_CREATE) != 0) {
			if (mkdirat(fd, name, 0700) < 0 && errno != EEXIST) {
				r = -errno;
				*cause = xasprintf("cannot create %s: %s", next, strerror(errno));
				return r;
			}
			nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			r = -errno;
			if (errno == ENOENT && (flags & SAFEDIR_CREATE) != 0)
				*cause = xasprintf("cannot create %s: %s does not exist", path, next);
			else if (errno == ENOENT)
				*cause = xasprintf("%s does not exist", next);
			else
				*cause = xasprintf("cannot open %s: %s", next, strerror(errno));
			return r;
		}
		if (fstat(nfd, &st) < 0) {
			r = -errno;
			*cause = xasprintf("cannot stat %s: %s", next, strerror(errno));
			return r;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n;
			char *rest;

			r = safedir_check(&st, next, last, cause);
			if (r < 0)
				return r;
			if (++links > SAFEDIR_MAX_LINKS) {
				*cause = xasprintf("%s: too many symbolic links on the way", path);
				return -ELOOP;
			}
			n = readlinkat(nfd, "", target, sizeof(target));
			if (n < 0 || (size_t)n >= sizeof(target) || n == 0) {
				r = n < 0 ? -errno : -ENAMETOOLONG;
				*cause = xasprintf("cannot read symbolic link %s: %s", next,
						   strerror(-r));
				return r;
			}
			target[n] = '\0';
			/* The rest of the walk is the target, then what followed the link. */
			rest = xasprintf("%s%s", target, p);
			free(todo);
			todo = rest;
			p = todo;
			if (target[0] == '/') {
				close(fd);
				fd = safedir_open_root(safedir_rest_empty(p), cause);
				if (fd < 0)
					return fd;
				shown[0] = '\0';
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			*cause = xasprintf("%s is not a directory", next);
			return -ENOTDIR;
		}
		r = safedir_check(&st, next[0] != '\0' ? next : "/", last, cause);
		if (r < 0)
			return r;
		close(fd);
		fd = TAKE_FD(nfd);
		free(shown);
		shown = TAKE_PTR(next);
	}
	/* "." is this very directory, not a path looked up again. */
	r = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r < 0) {
		r = -errno;
		*cause = xasprintf("cannot open directory %s: %s", shown[0] != '\0' ? shown : "/",
				   strerror(errno));
	}
	return r;
}
