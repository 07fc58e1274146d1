/*
 * Directories the daemon writes into (sinks, state_dir), opened so that no
 * other user can redirect what is written there: the path is walked from /
 * one component at a time, each opened relative to the last without
 * following a symbolic link, and each checked on the opened directory
 * itself.  What is then written goes through the returned fd, never through
 * the path again, so swapping a directory for a link after the check
 * changes nothing.
 */
#ifndef TB_SAFEDIR_H
#define TB_SAFEDIR_H

#include <stdbool.h>
#include <sys/types.h>

/* safedir_open's flags. */
#define SAFEDIR_CREATE 0x1 /* create the last component (mode 0700) when missing */

/*
 * Opens the directory at path (absolute) for reading, by the walk described
 * above.  Every directory on the way, / and path itself included, must be
 * owned by root or by the daemon's effective uid and writable by no one
 * else: not by its group, not by others.  One exception, for ancestors only:
 * a directory owned by root with the sticky bit (/tmp) may be writable by
 * everyone, since no one but root and the owner of an entry can rename or
 * remove that entry, and the next component is held to the rules above.  A
 * symbolic link on the way is followed only when it is owned by root or the
 * daemon's uid (its directory already passed, so no one else can replace
 * it), and its target is walked under the same rules; at most 40 of them.
 * Returns the fd (O_RDONLY | O_DIRECTORY, the caller closes), or -errno
 * with *cause naming the component at fault and what to change: -EPERM for
 * an unsafe one, -ENOENT, -ENOTDIR, -ELOOP or what open failed with.
 */
int safedir_open(const char *path, unsigned flags, char **cause);

/* Whether uid may own what the daemon trusts: root or the daemon's euid. */
bool safedir_trusted_uid(uid_t uid);

/*
 * "uid N (NAME)" for a message, and the owners allowed in words ("root" or
 * "root or NAME"); the caller frees both.
 */
char *safedir_uid_text(uid_t uid);
char *safedir_trusted_text(void);

#endif
