/*
 * Atomic replacement of a file: a reader opening it finds the complete old
 * content or the complete new one, never a mix and never a half-written
 * file, and a crash leaves one or the other.  Everything happens relative
 * to a directory fd the caller opened (safedir_open), never by path.
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
 * Replaces the entry base (a file name, no slash) of the directory dfd
 * with len bytes of data.  They go to a new temporary ".BASE.XXXXXX" in
 * that directory (random name, O_EXCL, O_NOFOLLOW), which is given owner
 * (when not NULL) and then mode, synced, closed and renamed over base;
 * then the directory is synced.  dir is the directory's name, for
 * messages only.  The caller opens and closes dfd.  On a failure before the
 * rename the temporary is removed and base is untouched.  0, or -errno
 * with *cause, which names the file or directory at fault.
 */
int atomicfile_replace(int dfd, const char *dir, const char *base, const void *data,
		       size_t len, mode_t mode, const struct atomicfile_owner *owner,
		       char **cause);

#endif
