/*
 * Who is at the other end of a loopback TCP connection: the uid owning the
 * client's socket, from the kernel's socket table (NETLINK_SOCK_DIAG, as
 * identd-style lookups do), and the systemd unit a process belongs to.
 * For a Unix listener SO_PEERCRED says who at once; a TCP peer has no such
 * thing, and which process holds its socket is not known (allow_units is
 * for Unix listeners).
 *
 * Each call blocks briefly on the kernel; none waits on another process.
 */
#ifndef TB_SOCKDIAG_H
#define TB_SOCKDIAG_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The uid owning the other end of fd, an accepted TCP connection from a
 * loopback address (IPv4 or IPv6), and the inode of that socket.  Returns 0,
 * -ENOENT when the kernel has no such socket (the client is gone, or is
 * not on this host), or -errno.
 *
 * Only a socket that a process still holds counts: one the client has
 * closed (orphaned, or in TIME-WAIT, which the kernel reports as uid 0) or
 * that is not synchronized with ours is -ENOENT.  -EINVAL when fd is not a
 * TCP connection between loopback addresses, -EAFNOSUPPORT when it is not
 * IPv4 or IPv6, -ETIMEDOUT when the kernel does not answer, -EBADMSG when
 * its answer does not parse.  ret_inode may be NULL.
 */
int sockdiag_peer_uid(int fd, uid_t *ret_uid, uint64_t *ret_inode);

/*
 * The systemd unit pid belongs to, from /proc/PID/cgroup (see
 * sockdiag_cgroup_unit).  *ret_unit is the caller's to free.  Returns 0,
 * -ENOENT when the process is gone or in no unit, or -errno.
 */
int sockdiag_pid_unit(pid_t pid, char **ret_unit);

/*
 * The systemd unit in text, the contents of a /proc/PID/cgroup file: from
 * its cgroup v2 line ("0::/system.slice/foo.service" gives "foo.service"),
 * or from the "name=systemd" one where systemd runs on cgroup v1 (the v2
 * line then says "/").  The unit is the first component of the path that
 * is not a slice, as systemd's sd_pid_get_unit() has it, and must be a
 * .service or a .scope: "session-2.scope" for a login session,
 * "user@1000.service" for whatever runs under a user's manager.  Never a
 * deeper component: below a unit with Delegate= (user@.service,
 * containers) its owner names the cgroups, and could call one
 * "billing.service".  Returns 0 with *ret_unit the caller's to free,
 * -ENOENT when there is no such unit (the root cgroup, a cgroup removed
 * since, a malformed file).
 */
int sockdiag_cgroup_unit(const char *text, char **ret_unit);

#endif
