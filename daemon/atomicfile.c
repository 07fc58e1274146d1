/*
 * Atomic replacement of a file in a directory held open: a temporary made
 * beside it with O_EXCL and O_NOFOLLOW, written, owned, synced, renamed over
 * the old one, and the directory synced.  See atomicfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "cleanup.h"
#include "xmalloc.h"

static int
atomicfile_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "uid:gid" as asked, for messages. */
static char *
atomicfile_owner_text(const struct atomicfile_owner *owner)
{
	if (owner->uid == (uid_t)-1)
		return xasprintf(":%u", (unsigned)owner->gid);
	if (owner->gid == (gid_t)-1)
		return xasprintf("%u", (unsigned)owner->uid);
	return xasprintf("%u:%u", (unsigned)owner->uid, (unsigned)owner->gid);
}

/* A new temporary ".BASE.XXXXXX" in dfd, opened for writing; its name in tmp. */
static int
atomicfile_create_temp(int dfd, const char *base, char **ret_tmp)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	for (int tries = 0; tries < 100; tries++) {
		unsigned char rnd[6];
		char suffix[7];
		ssize_t n = getrandom(rnd, sizeof(rnd), 0);
		char *tmp;
		int fd;

		if (n != (ssize_t)sizeof(rnd))
			return n < 0 ? -errno : -EIO;
		for (size_t i = 0; i < sizeof(rnd); i++)
			suffix[i] = chars[rnd[i] % (sizeof(chars) - 1)];
		suffix[6] = '\0';
		tmp = xasprintf(".%s.%s", base, suffix);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*ret_tmp = tmp;
			return fd;
		}
		free(tmp);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int
atomicfile_replace(int dfd, const char *dir, const char *base, const void *data, size_t len,
		   mode_t mode, const struct atomicfile_owner *owner, char **cause)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	int fd, r;

	path = strcmp(dir, "/") == 0 ? xasprintf("/%s", base) : xasprintf("%s/%s", dir, base);
	if (*base == '\0' || strchr(base, '/') != NULL) {
		*cause = xasprintf("%s: not a file name", path);
		return -EINVAL;
	}
	fd = atomicfile_create_temp(dfd, base, &tmp);
	if (fd < 0) {
		*cause = xasprintf("cannot create a temporary file in %s: %s", dir, strerror(-fd));
		return fd;
	}
	r = atomicfile_write_all(fd, data, len);
	if (r < 0) {
		*cause = xasprintf("cannot write %s/%s: %s", dir, tmp, strerror(-r));
		goto fail;
	}
	/* Owner first: it may be refused, and the mode is ours until then. */
	if (owner != NULL && fchown(fd, owner->uid, owner->gid) < 0) {
		int e = errno;
		_cleanup_free_ char *who = atomicfile_owner_text(owner);

		r = -e;
		*cause = xasprintf("cannot give %s to %s: %s%s", path, who, strerror(e),
				   e == EPERM && geteuid() != 0 ?
					   " (only root can; tokenbrokerd does not run as root)" :
					   "");
		goto fail;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		*cause = xasprintf("cannot write %s/%s: %s", dir, tmp, strerror(errno));
		goto fail;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		*cause = xasprintf("cannot write %s/%s: %s", dir, tmp, strerror(errno));
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		r = -errno;
		*cause = xasprintf("cannot rename %s/%s to %s: %s", dir, tmp, path,
				   strerror(errno));
		goto fail;
	}
	/* Renamed: from here on there is no temporary to remove. */
	if (fsync(dfd) < 0) {
		r = -errno;
		*cause = xasprintf("cannot sync directory %s: %s", dir, strerror(errno));
		return r;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	return r;
}
