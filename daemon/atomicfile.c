#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

int
atomicfile_replace(const char *path, const void *data, size_t len, mode_t mode,
		   const struct atomicfile_owner *owner, int dfd, const char *dir,
		   char **cause)
{
	const char *base = strrchr(path, '/');
	_cleanup_free_ char *tmp = NULL;
	int fd, r;

	base = base != NULL ? base + 1 : path;
	tmp = xasprintf("%.*s.%s.XXXXXX", (int)(base - path), path, base);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		*cause = xasprintf("cannot create a temporary file in %s: %s", dir,
				   strerror(errno));
		return r;
	}
	r = atomicfile_write_all(fd, data, len);
	if (r < 0) {
		*cause = xasprintf("cannot write %s: %s", tmp, strerror(-r));
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
		*cause = xasprintf("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		*cause = xasprintf("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		*cause = xasprintf("cannot rename %s to %s: %s", tmp, path, strerror(errno));
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
	unlink(tmp);
	return r;
}
