/*
 * Atomic replacement of a file: a reader opening the path finds the
 * complete old content or the complete new one, never a mix and never a
 * half-written file, and a crash leaves one or the other.
 */
#ifndef TB_ATOMICFILE_H
#define TB_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* An owner to give the file; (uid_t)-1 or (gid_t)-1 leaves that one as is. */
struct atomicfile_owner {
	uid_t uid;
	gid_t gid;
};

/*
 * Replaces path with len bytes of data.  They go to a temporary file
 * ".BASE.XXXXXX" beside it, which is given owner (when not NULL) and then
 * mode, synced, closed and renamed over path; then the directory is synced.
 * dfd is that directory, open, and dir its name for messages: the caller
 * opens it, with whatever checks it wants, and closes it.  On a failure
 * before the rename the temporary is removed and path is untouched.
 * 0, or -errno with *cause, which names the file or directory at fault.
 */
int atomicfile_replace(const char *path, const void *data, size_t len, mode_t mode,
		       const struct atomicfile_owner *owner, int dfd, const char *dir,
		       char **cause);

#endif
