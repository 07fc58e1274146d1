#ifndef TB_SOCKDIAG_H
#define TB_SOCKDIAG_H
#include <stdint.h>
#include <sys/types.h>
int sockdiag_peer_uid(int fd, uid_t *ret_uid, uint64_t *ret_inode);
int sockdiag_pid_unit(pid_t pid, char **ret_unit);
int sockdiag_inode_pid(uint64_t inode, pid_t *ret_pid);
#endif
