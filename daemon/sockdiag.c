/*
 * Who is at the other end of a loopback TCP connection.  Both ends of such a
 * connection are sockets of this host, so the kernel's socket table knows
 * the client's socket by the connection's four addresses, seen from its
 * side (its address and port as source, ours as destination), and says who
 * created it.  The question goes over NETLINK_SOCK_DIAG as an exact lookup
 * (a request without NLM_F_DUMP: the kernel's inet_diag_find_one_icsk),
 * which needs no privilege and is answered with one message, or an error,
 * before sendmsg() returns.
 *
 * From that socket's inode a walk of /proc finds a process holding it, and
 * from a process's cgroup its systemd unit, for allow_units.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "cleanup.h"
#include "sockdiag.h"
#include "xmalloc.h"

/*
 * The kernel answers an exact lookup while handling our sendmsg(), so the
 * answer is queued before we read: the timeout only bounds the unforeseen.
 */
#define SOCKDIAG_TIMEOUT_MS 250
/* Datagrams read (and interruptions taken) before giving up on an answer. */
#define SOCKDIAG_READS_MAX 8
#define SOCKDIAG_ANSWER_MAX 8192
/* A /proc/PID/cgroup file: one line a hierarchy, each at most a path. */
#define SOCKDIAG_CGROUP_MAX 65536
/* systemd's UNIT_NAME_MAX less its NUL. */
#define SOCKDIAG_UNIT_MAX 255

/* A TCP connection as the client's socket sees it; network byte order. */
struct sockdiag_conn {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint16_t sport;	/* the client's */
	uint16_t dport; /* ours */
	uint32_t src[4];
	uint32_t dst[4];
};

static bool
sockdiag_v4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

/*
 * The v4-mapped IPv6 address a (::ffff:a.b.c.d) as IPv4, into out[0]:
 * a dual-stack listener's IPv4 clients are IPv4 sockets to the kernel.
 */
static void
sockdiag_unmap(const struct in6_addr *a, uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	memcpy(&out[0], &a->s6_addr[12], 4);
}

/*
 * The connection fd is, from the client's side.  Returns 0, -EINVAL when
 * fd is not TCP or its peer is not a loopback address, -EAFNOSUPPORT for
 * families other than IPv4 and IPv6, or -errno.
 */
static int
sockdiag_conn_of(int fd, struct sockdiag_conn *ret)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer), ilen;
	struct sockdiag_conn c = { 0 };
	int proto;

	ilen = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &ilen) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return -errno;
	if (local.ss_family != peer.ss_family)
		return -EINVAL;
	if (local.ss_family != AF_INET && local.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (proto != IPPROTO_TCP)
		return -EINVAL;

	if (local.ss_family == AF_INET) {
		const struct sockaddr_in *l = (const struct sockaddr_in *)&local;
		const struct sockaddr_in *p = (const struct sockaddr_in *)&peer;

		if (!sockdiag_v4_loopback(&p->sin_addr))
			return -EINVAL;
		c.family = AF_INET;
		c.sport = p->sin_port;
		c.dport = l->sin_port;
		c.src[0] = p->sin_addr.s_addr;
		c.dst[0] = l->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *l = (const struct sockaddr_in6 *)&local;
		const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&peer;

		c.sport = p->sin6_port;
		c.dport = l->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&p->sin6_addr) && IN6_IS_ADDR_V4MAPPED(&l->sin6_addr)) {
			c.family = AF_INET;
			sockdiag_unmap(&p->sin6_addr, c.src);
			sockdiag_unmap(&l->sin6_addr, c.dst);
			if (!sockdiag_v4_loopback(&(struct in_addr){ .s_addr = c.src[0] }))
				return -EINVAL;
		} else {
			if (!IN6_IS_ADDR_LOOPBACK(&p->sin6_addr))
				return -EINVAL;
			c.family = AF_INET6;
			memcpy(c.src, &p->sin6_addr, sizeof(c.src));
			memcpy(c.dst, &l->sin6_addr, sizeof(c.dst));
		}
	}
	*ret = c;
	return 0;
}

/* Whether the kernel's answer m is about the socket c names. */
static bool
sockdiag_matches(const struct sockdiag_conn *c, const struct inet_diag_msg *m)
{
	size_t alen = c->family == AF_INET ? 4 : 16;

	return m->idiag_family == c->family && m->id.idiag_sport == c->sport &&
	       m->id.idiag_dport == c->dport && memcmp(m->id.idiag_src, c->src, alen) == 0 &&
	       memcmp(m->id.idiag_dst, c->dst, alen) == 0;
}

/*
 * Looks through one datagram of the kernel's answers (size bytes at buf)
 * for the one to request seq: 0 with *ret the record of the socket c names,
 * -ENOENT, another -errno from the kernel, 1 when the datagram held nothing
 * about seq (read on), or -EBADMSG for one that does not parse.
 */
static int
sockdiag_answer(const struct sockdiag_conn *c, uint32_t seq, const void *buf, size_t size,
		struct inet_diag_msg *ret)
{
	const struct nlmsghdr *h = buf;
	int len = (int)size; /* NLMSG_NEXT may take it below 0: the end */
	bool about_seq = false;

	for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_seq != seq)
			continue;
		about_seq = true;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			if (e->error > 0 || e->error < -4095) /* not an errno */
				return -EBADMSG;
			if (e->error < 0)
				return e->error;
			continue; /* an acknowledgement: not asked for, no answer */
		}
		if (h->nlmsg_type == NLMSG_DONE)
			return -ENOENT;
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ret)))
			return -EBADMSG;
		/* NLMSG_DATA is aligned for any struct, and the length is checked */
		if (sockdiag_matches(c, NLMSG_DATA(h))) {
			memcpy(ret, NLMSG_DATA(h), sizeof(*ret));
			return 0;
		}
	}
	if (len > 0)
		return -EBADMSG; /* a message cut short or a length that lies */
	/* an exact lookup is answered in one message: not ours, so none */
	return about_seq ? -ENOENT : 1;
}

/* Asks the kernel about the TCP socket c names.  Returns as sockdiag_answer. */
static int
sockdiag_lookup(const struct sockdiag_conn *c, struct inet_diag_msg *ret)
{
	static uint32_t seq;
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = { 0 };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 0, .tv_usec = SOCKDIAG_TIMEOUT_MS * 1000 };
	union {
		struct nlmsghdr h; /* aligns buf for the headers in it */
		char buf[SOCKDIAG_ANSWER_MAX];
	} answer;
	_cleanup_close_ int nl = -1;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	if (setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;

	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_seq = ++seq;
	req.r.sdiag_family = c->family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u; /* any: the state is judged on the answer */
	req.r.id.idiag_sport = c->sport;
	req.r.id.idiag_dport = c->dport;
	memcpy(req.r.id.idiag_src, c->src, sizeof(req.r.id.idiag_src));
	memcpy(req.r.id.idiag_dst, c->dst, sizeof(req.r.id.idiag_dst));
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;

	for (int i = 0; i < SOCKDIAG_READS_MAX; i++) {
		struct sockaddr_nl from = { 0 };
		struct iovec iov = { .iov_base = answer.buf, .iov_len = sizeof(answer.buf) };
		struct msghdr msg = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(nl, &msg, 0);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		if (msg.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue; /* not from the kernel */
		if (msg.msg_flags & MSG_TRUNC)
			return -EBADMSG;
		r = sockdiag_answer(c, req.h.nlmsg_seq, answer.buf, (size_t)n, ret);
		if (r <= 0)
			return r;
	}
	return -ETIMEDOUT;
}

/*
 * States in which the client's socket is the other end of an accepted
 * connection: synchronized with it.  TIME-WAIT (reported with uid 0),
 * SYN-SENT and the rest are not.
 */
static bool
sockdiag_state_connected(uint8_t state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

int
sockdiag_peer_uid(int fd, uid_t *ret_uid, uint64_t *ret_inode)
{
	struct sockdiag_conn c;
	struct inet_diag_msg m;
	int r;

	if ((r = sockdiag_conn_of(fd, &c)) < 0)
		return r;
	if ((r = sockdiag_lookup(&c, &m)) < 0)
		return r;
	/*
	 * Inode 0: no process holds the socket any more (closed, the kernel
	 * finishing the connection on its own); its uid is nobody's to trust.
	 */
	if (!sockdiag_state_connected(m.idiag_state) || m.idiag_inode == 0)
		return -ENOENT;
	*ret_uid = (uid_t)m.idiag_uid;
	if (ret_inode != NULL)
		*ret_inode = m.idiag_inode;
	return 0;
}

/* Whether s (n bytes) ends in suffix, with something before it. */
static bool
sockdiag_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	return n > sl && memcmp(s + n - sl, suffix, sl) == 0;
}

/* A unit name as systemd allows it: its characters, its length. */
static bool
sockdiag_unit_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > SOCKDIAG_UNIT_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(":-_.\\@", s[i]) == NULL)
			return false;
	return true;
}

/*
 * The unit in a cgroup path (len bytes, from its '/'): the first component
 * that is not a slice.  Returns as sockdiag_cgroup_unit.
 */
static int
sockdiag_path_unit(const char *path, size_t len, char **ret_unit)
{
	const char *p = path, *end = path + len;

	/* a cgroup removed while a process (a zombie) still names it */
	if (len == 0 || path[0] != '/' || sockdiag_ends_with(path, len, " (deleted)"))
		return -ENOENT;
	while (p < end) {
		const char *c = p + 1, *ce = memchr(c, '/', (size_t)(end - c));
		size_t cl;

		if (ce == NULL)
			ce = end;
		cl = (size_t)(ce - c);
		p = ce;
		if (cl == 0)
			continue;
		if (!sockdiag_unit_name_ok(c, cl))
			return -ENOENT;
		if (sockdiag_ends_with(c, cl, ".slice"))
			continue;
		if (!sockdiag_ends_with(c, cl, ".service") && !sockdiag_ends_with(c, cl, ".scope"))
			return -ENOENT;
		*ret_unit = xstrndup(c, cl);
		return 0;
	}
	return -ENOENT; /* the root cgroup, or only slices */
}

/* Whether the comma-separated controller list s (n bytes) holds name. */
static bool
sockdiag_has_controller(const char *s, size_t n, const char *name)
{
	size_t nl = strlen(name);

	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t l = comma != NULL ? (size_t)(comma - s) : n;

		if (l == nl && memcmp(s, name, nl) == 0)
			return true;
		if (comma == NULL)
			break;
		n -= l + 1;
		s = comma + 1;
	}
	return false;
}

int
sockdiag_cgroup_unit(const char *text, char **ret_unit)
{
	const char *v2 = NULL, *v1 = NULL;
	size_t v2len = 0, v1len = 0;

	for (const char *line = text; *line != '\0';) {
		const char *eol = strchr(line, '\n');
		const char *c1, *c2;
		size_t len;

		if (eol == NULL)
			eol = line + strlen(line);
		len = (size_t)(eol - line);
		/* "ID:CONTROLLERS:PATH"; the path may itself hold colons */
		c1 = memchr(line, ':', len);
		c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2 != NULL) {
			if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
				v2 = c2 + 1;
				v2len = (size_t)(eol - v2);
			} else if (sockdiag_has_controller(c1 + 1, (size_t)(c2 - c1 - 1),
							   "name=systemd")) {
				v1 = c2 + 1;
				v1len = (size_t)(eol - v1);
			}
		}
		line = *eol == '\n' ? eol + 1 : eol;
	}
	/*
	 * Where systemd runs on cgroup v1 nothing is put in the v2 hierarchy:
	 * every process is in its root there.
	 */
	if (v2 != NULL && (v1 == NULL || !(v2len == 1 && v2[0] == '/')))
		return sockdiag_path_unit(v2, v2len, ret_unit);
	if (v1 != NULL)
		return sockdiag_path_unit(v1, v1len, ret_unit);
	return -ENOENT;
}

int
sockdiag_pid_unit(pid_t pid, char **ret_unit)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	char path[40];
	size_t len = 0;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	text = xmalloc(SOCKDIAG_CGROUP_MAX + 1);
	for (;;) {
		ssize_t n = read(fd, text + len, SOCKDIAG_CGROUP_MAX - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ESRCH: the process went between open and read */
			return errno == ESRCH ? -ENOENT : -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == SOCKDIAG_CGROUP_MAX)
			return -EFBIG;
	}
	text[len] = '\0';
	return sockdiag_cgroup_unit(text, ret_unit);
}
