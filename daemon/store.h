/*
 * Persistence (persist = yes): a credential's token kept in
 * state_dir/NAME.token so that a restart reuses it while it is valid, which
 * is what keeps an Oracle SBC configuration lock across a restart.  Files
 * are mode 0600, written atomically (temporary file, fsync, rename, fsync
 * of the directory), and carry a fingerprint of the settings that produced
 * the token, so a token is never reused for other settings.
 */
#ifndef TB_STORE_H
#define TB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "secret.h"
#include "token.h"
#include "tokenbroker.h"

/*
 * A record's name: a credential's name for its token, NAME@ID for one of
 * its variants (ID: STORE_VARIANT_ID_LEN lowercase hex digits), whose "@"
 * no credential's name has.
 */
#define STORE_VARIANT_ID_LEN 16
#define STORE_NAME_MAX (TOKENBROKER_NAME_MAX + 1 + STORE_VARIANT_ID_LEN)

/*
 * Writes token rec (its value, type, scope, expiry and lifetime) for
 * record name (see STORE_NAME_MAX) into dir atomically.  dir is opened by safedir_open
 * (every directory on the way owned by root or us and writable by no one
 * else; its last component created, mode 0700, when
 * missing).  0, or -errno with *cause (caller frees) naming the file and
 * the failure: -EFBIG when the file would be larger than store_load reads,
 * -EPERM when a directory on the way is not safe.
 */
int store_save(const char *dir, const char *name, const char *fingerprint,
	       const struct token *rec, char **cause);

/*
 * Reads the record of name.  Returns 0 with *ret, a token not yet
 * placed on the monotonic clock (token_place), when the file is intact,
 * ours, mode 0600 or stricter, its fingerprint matches and the token has
 * more than min_left_ms left at now_wall_ms; -ENOENT when there is no file;
 * -ESTALE when it expired or was made with other settings (the file is
 * removed); -EINVAL or -EPERM when it is corrupt, truncated, over-permissive,
 * a symbolic link or not owned by us, or when dir is not safe as store_save
 * wants it (left alone; *cause says why).  The file is opened relative to
 * dir's fd, never by path.  Never crashes on any content.
 */
int store_load(const char *dir, const char *name, const char *fingerprint, int64_t now_wall_ms,
	       int64_t min_left_ms, struct token **ret, char **cause);

/* Removes name's file if there is one; 0 or -errno. */
int store_remove(const char *dir, const char *name);

/*
 * A credential's refresh token in state_dir/NAME.refresh (grant_type
 * refresh_token), kept like the token files: mode 0600, atomic, fsynced,
 * checksummed.
 */
int store_save_refresh(const char *dir, const char *name, const struct secret *rt,
		       char **cause);
/*
 * Reads it: 0 and *ret, -ENOENT when there is none, or -errno with *cause
 * (corrupt, over-permissive, owned by someone else, a link).
 */
int store_load_refresh(const char *dir, const char *name, struct secret **ret, char **cause);
/* Its modification time in ns since the epoch: 0, or -ENOENT and the like. */
int store_refresh_mtime(const char *dir, const char *name, int64_t *ret_mtime_ns);
/*
 * The refresh token to spend now: file_token (refresh_token_file as read
 * at load, modified at file_mtime_ns) when state_dir keeps none or an
 * older one, else the kept one.  0 with *ret (caller frees) and whether it
 * came from state_dir, or -errno with *cause saying what to do.
 */
int store_pick_refresh(const char *dir, const char *name, const struct secret *file_token,
		       int64_t file_mtime_ns, struct secret **ret, bool *ret_from_state,
		       char **cause);
/*
 * Takes the credential's refresh lock (flock on NAME.refresh.lock, never
 * waiting): the fd to close when the renewal is over, -EWOULDBLOCK when
 * another process holds it, or -errno; *cause says which.
 */
int store_lock_refresh(const char *dir, const char *name, char **cause);

#endif
