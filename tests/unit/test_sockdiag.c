/*
 * sockdiag.c against the running kernel: the uid and inode of a loopback
 * TCP client's socket over IPv4, IPv6 and a dual-stack listener, another
 * user's client (as root), clients that have closed, sockets that are not
 * loopback TCP; the process holding a socket; the systemd unit in a
 * cgroup file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockdiag.h"

#define NOBODY 65534

/* A listener, a client connected to it and the accepted end. */
struct conn {
	int listener;
	int client;
	int server;
};

/*
 * Listens on addr (port 0: any) of family.  Returns the socket, or -1 when
 * the host cannot (no IPv6): the caller skips.
 */
static int
listen_on(int family, const char *addr, struct sockaddr_storage *ret_sa, socklen_t *ret_len)
{
	struct sockaddr_storage sa = { 0 };
	socklen_t len;
	int fd, off = 0;

	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_sa = sa;
	*ret_len = len;
	return fd;
}

/*
 * A connection to a listener on addr, from a client of client_family
 * (IPv4 clients reach a dual-stack listener on ::ffff:127.0.0.1).  False
 * when the host cannot.
 */
static bool
conn_open(struct conn *c, int family, const char *addr, int client_family)
{
	struct sockaddr_storage sa;
	socklen_t len;

	c->listener = listen_on(family, addr, &sa, &len);
	if (c->listener < 0)
		return false;
	if (client_family != family) {
		struct sockaddr_in s4 = { .sin_family = AF_INET };

		s4.sin_port = ((struct sockaddr_in6 *)&sa)->sin6_port;
		s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(s4);
		memcpy(&sa, &s4, sizeof(s4));
	}
	c->client = socket(client_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->client >= 0);
	assert_int_equal(connect(c->client, (struct sockaddr *)&sa, len), 0);
	c->server = accept4(c->listener, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c->server >= 0);
	return true;
}

static void
conn_close(struct conn *c)
{
	if (c->client >= 0)
		close(c->client);
	close(c->server);
	close(c->listener);
}

static uint64_t
inode_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_ino;
}

/* The connection's client is this process: its uid and socket's inode. */
static void
assert_own_peer(int family, const char *addr, int client_family)
{
	struct conn c;
	uid_t uid = (uid_t)-1;
	uint64_t ino = 0;

	if (!conn_open(&c, family, addr, client_family))
		skip();
	assert_int_equal(sockdiag_peer_uid(c.server, &uid, &ino), 0);
	assert_int_equal(uid, getuid());
	assert_int_equal(ino, inode_of(c.client));
	/* ours, not the accepted socket's */
	assert_int_not_equal(ino, inode_of(c.server));
	/* ret_inode is optional */
	uid = (uid_t)-1;
	assert_int_equal(sockdiag_peer_uid(c.server, &uid, NULL), 0);
	assert_int_equal(uid, getuid());
	conn_close(&c);
}

static void
test_peer_ipv4(void **state)
{
	assert_own_peer(AF_INET, "127.0.0.1", AF_INET);
}

static void
test_peer_ipv4_other_loopback(void **state)
{
	assert_own_peer(AF_INET, "127.0.0.53", AF_INET);
}

static void
test_peer_ipv6(void **state)
{
	assert_own_peer(AF_INET6, "::1", AF_INET6);
}

/* A dual-stack listener sees its IPv4 clients as ::ffff:127.0.0.1. */
static void
test_peer_v4_mapped(void **state)
{
	assert_own_peer(AF_INET6, "::ffff:127.0.0.1", AF_INET);
}

/* Every read and write whole, or the test fails. */
static void
xread(int fd, void *buf, size_t n)
{
	assert_int_equal(read(fd, buf, n), (ssize_t)n);
}

static void
xwrite(int fd, const void *buf, size_t n)
{
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

/* A client of another user, in a child that setuid()s before connecting. */
static void
test_peer_other_user(void **state)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int lfd, server, to_parent[2], to_child[2];
	uint64_t child_ino = 0, ino = 0;
	uid_t uid = (uid_t)-1;
	pid_t child;
	char *unit = NULL;
	int status;

	if (geteuid() != 0)
		skip();
	lfd = listen_on(AF_INET, "127.0.0.1", &sa, &len);
	assert_true(lfd >= 0);
	assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct stat st;
		char done;
		int fd;

		close(lfd);
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(2);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) < 0 || fstat(fd, &st) < 0)
			_exit(3);
		child_ino = (uint64_t)st.st_ino;
		if (write(to_parent[1], &child_ino, sizeof(child_ino)) != sizeof(child_ino))
			_exit(4);
		/* holds the socket until the parent has looked */
		_exit(read(to_child[0], &done, 1) == 1 ? 0 : 5);
	}
	close(to_parent[1]);
	close(to_child[0]);
	xread(to_parent[0], &child_ino, sizeof(child_ino));
	server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(server >= 0);

	assert_int_equal(sockdiag_peer_uid(server, &uid, &ino), 0);
	assert_int_equal(uid, NOBODY);
	assert_int_equal(ino, child_ino);
	/* whatever the host's cgroups are, the child is in the test's unit */
	if (sockdiag_pid_unit(child, &unit) == 0) {
		char *mine = NULL;

		assert_int_equal(sockdiag_pid_unit(getpid(), &mine), 0);
		assert_string_equal(unit, mine);
		free(mine);
		free(unit);
	}

	xwrite(to_child[1], "x", 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(to_parent[0]);
	close(to_child[1]);
	close(server);
	close(lfd);
}

/*
 * What sockdiag_peer_uid says of a client that is gone: our end is no
 * connection any more, or the kernel has no socket of the client's held
 * by a process.
 */
static void
assert_gone(int r)
{
	if (r != -ENOTCONN && r != -ENOENT)
		fail_msg("got %d (%s), wanted -ENOTCONN or -ENOENT", r, strerror(-r));
}

/*
 * A client that closed its socket: the kernel keeps the connection going
 * (FIN-WAIT, later TIME-WAIT) with no process holding it, inode 0, and in
 * TIME-WAIT uid 0.  That is no uid to trust: -ENOENT.  One that only shut
 * its sending side still holds its socket, and is who it was.
 */
static void
test_peer_closed(void **state)
{
	struct conn c;
	uid_t uid = (uid_t)-1;
	uint64_t ino = 0;

	assert_true(conn_open(&c, AF_INET, "127.0.0.1", AF_INET));
	assert_int_equal(shutdown(c.client, SHUT_WR), 0);
	assert_int_equal(sockdiag_peer_uid(c.server, &uid, &ino), 0);
	assert_int_equal(uid, getuid());
	assert_int_equal(ino, inode_of(c.client));

	close(c.client);
	c.client = -1;
	uid = (uid_t)-1;
	assert_int_equal(sockdiag_peer_uid(c.server, &uid, &ino), -ENOENT);
	assert_int_equal(uid, (uid_t)-1); /* untouched */
	conn_close(&c);

	/*
	 * Both sides closed: ours is no connection any more (-ENOTCONN), or,
	 * while the kernel has not yet seen the client's FIN (it may defer
	 * that under load), theirs is in TIME-WAIT or orphaned.
	 */
	assert_true(conn_open(&c, AF_INET6, "::ffff:127.0.0.1", AF_INET));
	close(c.client);
	c.client = -1;
	assert_int_equal(shutdown(c.server, SHUT_WR), 0);
	assert_gone(sockdiag_peer_uid(c.server, &uid, &ino));
	assert_int_equal(uid, (uid_t)-1);
	conn_close(&c);
}

/* A client that reset the connection: gone with its socket. */
static void
test_peer_reset(void **state)
{
	struct conn c;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uid_t uid;

	assert_true(conn_open(&c, AF_INET, "127.0.0.1", AF_INET));
	assert_int_equal(setsockopt(c.client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(c.client);
	c.client = -1;
	assert_gone(sockdiag_peer_uid(c.server, &uid, NULL));
	conn_close(&c);
}

/* What is not a loopback TCP connection is refused, not looked up. */
static void
test_peer_not_tcp(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_storage ls;
	socklen_t len = sizeof(sa);
	int sv[2], p[2], u1, u2, lfd;
	uid_t uid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sockdiag_peer_uid(sv[0], &uid, NULL), -EAFNOSUPPORT);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(sockdiag_peer_uid(p[0], &uid, NULL), -ENOTSOCK);
	close(p[0]);
	close(p[1]);

	/* UDP between loopback addresses */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u1 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	u2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(u1, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(u1, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(connect(u2, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(sockdiag_peer_uid(u2, &uid, NULL), -EINVAL);
	close(u1);
	close(u2);

	/* a listener has no peer */
	lfd = listen_on(AF_INET, "127.0.0.1", &ls, &len);
	assert_true(lfd >= 0);
	assert_int_equal(sockdiag_peer_uid(lfd, &uid, NULL), -ENOTCONN);
	close(lfd);
}

/* The unit in text, or NULL when there is none (-ENOENT). */
static char *
unit_of(const char *text)
{
	char *unit = NULL;
	int r = sockdiag_cgroup_unit(text, &unit);

	if (r == -ENOENT) {
		assert_null(unit);
		return NULL;
	}
	assert_int_equal(r, 0);
	assert_non_null(unit);
	return unit;
}

static void
assert_unit(const char *text, const char *want)
{
	char *unit = unit_of(text);

	if (want == NULL) {
		if (unit != NULL)
			fail_msg("%s: got %s, wanted none", text, unit);
		return;
	}
	if (unit == NULL)
		fail_msg("%s: got none, wanted %s", text, want);
	assert_string_equal(unit, want);
	free(unit);
}

static void
test_cgroup_unit(void **state)
{
	/* cgroup v2 */
	assert_unit("0::/system.slice/foo.service\n", "foo.service");
	assert_unit("0::/system.slice/foo.service", "foo.service");
	assert_unit("0::/system.slice/foo.service/worker\n", "foo.service");
	assert_unit("0::/system.slice/system-getty.slice/getty@tty1.service\n",
		    "getty@tty1.service");
	assert_unit("0::/system.slice/foo\\x2dbar.service\n", "foo\\x2dbar.service");
	assert_unit("0::/init.scope\n", "init.scope");
	assert_unit("0::/machine.slice/docker-0123abcd.scope\n", "docker-0123abcd.scope");
	assert_unit("0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope");
	/* below a delegated unit its owner names the cgroups: not trusted */
	assert_unit("0::/user.slice/user-1000.slice/user@1000.service/app.slice/billing.service\n",
		    "user@1000.service");
	assert_unit("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
		    "user@1000.service");

	/* no unit */
	assert_unit("0::/\n", NULL);
	assert_unit("0::/system.slice\n", NULL);
	assert_unit("0::/system.slice/foo.socket\n", NULL);
	assert_unit("0::/system.slice/foo.socket/x.service\n", NULL);
	assert_unit("0::/system.slice/foo.service (deleted)\n", NULL);
	assert_unit("0::/system.slice/a b.service\n", NULL);
	assert_unit("0::/system.slice/.service\n", NULL);
	assert_unit("0::system.slice/foo.service\n", NULL);
	assert_unit("0::\n", NULL);
	assert_unit("", NULL);
	assert_unit("\n\n", NULL);
	assert_unit("garbage\n", NULL);
	assert_unit("1:cpu:/system.slice/foo.service\n", NULL);

	/* cgroup v1 hosts: the v2 line says "/", systemd's hierarchy knows */
	assert_unit("12:pids:/system.slice/cron.service\n"
		    "4:memory:/system.slice/cron.service\n"
		    "1:name=systemd:/system.slice/cron.service\n"
		    "0::/\n",
		    "cron.service");
	assert_unit("3:cpu,cpuacct:/\n1:name=systemd:/system.slice/cron.service\n", "cron.service");
	assert_unit("9:name=systemd:/\n4:memory:/other/place\n0::/\n", NULL);
	/* hybrid: both say the same; a v2 path wins anyway */
	assert_unit("1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n",
		    "b.service");
	/* a path may hold colons */
	assert_unit("0::/system.slice/x:y.service\n", "x:y.service");
}

static void
test_pid_unit(void **state)
{
	char *unit = NULL;
	pid_t child;
	int r, status;

	/* this host's own: a unit, or none (a container) */
	r = sockdiag_pid_unit(getpid(), &unit);
	if (r == 0) {
		size_t n = strlen(unit);

		assert_true((n > 8 && strcmp(unit + n - 8, ".service") == 0) ||
			    (n > 6 && strcmp(unit + n - 6, ".scope") == 0));
		free(unit);
		unit = NULL;
	} else {
		assert_int_equal(r, -ENOENT);
	}

	/* a process that is gone */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(sockdiag_pid_unit(child, &unit), -ENOENT);
	assert_null(unit);
	assert_int_equal(sockdiag_pid_unit(0, &unit), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_ipv4),
		cmocka_unit_test(test_peer_ipv4_other_loopback),
		cmocka_unit_test(test_peer_ipv6),
		cmocka_unit_test(test_peer_v4_mapped),
		cmocka_unit_test(test_peer_other_user),
		cmocka_unit_test(test_peer_closed),
		cmocka_unit_test(test_peer_reset),
		cmocka_unit_test(test_peer_not_tcp),
		cmocka_unit_test(test_cgroup_unit),
		cmocka_unit_test(test_pid_unit),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
