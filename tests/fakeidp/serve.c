/*
 * serve.c: setting up a loopback HTTP server, for fakeidp and fakeapi
 * alike: the address check, binding, the port file a test waits for, the
 * descriptor limit, where libevent's own complaints go, SIGTERM and
 * SIGINT, and the announcement once listening.  Setup errors are fatal
 * here, as they are for the programs.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "fakeidp.h"

static void
serve_libevent_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_err("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		log_warn("libevent: %s", msg);
}

/* Many clients at once must not run out of descriptors before they do. */
static void
serve_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * What a fake server sets up first: its log (errors only when quiet),
 * libevent's complaints into it, no SIGPIPE, as many descriptors as it
 * may have.
 */
void
serve_init(const char *prog, bool quiet)
{
	log_init(prog, quiet ? LOG_ERR : LOG_INFO);
	event_set_log_callback(serve_libevent_log_cb);
	signal(SIGPIPE, SIG_IGN);
	serve_raise_fd_limit();
}

/*
 * Checks that addr is loopback and returns it numeric ("localhost" is
 * 127.0.0.1) in a new string; NULL otherwise.
 */
char *
serve_address(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(addr, "localhost") == 0)
		return xstrdup("127.0.0.1");
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127 ? xstrdup(addr) : NULL;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ? xstrdup(addr) : NULL;
	return NULL;
}

/* Writes the port and a newline to path atomically (temp file, rename). */
void
serve_port_file(const char *path, unsigned int port)
{
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
	char line[16];
	int fd, n;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		log_fatal("cannot write port file %s: %s", path, strerror(errno));
	n = snprintf(line, sizeof(line), "%u\n", port);
	if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0) {
		int e = errno;

		unlink(tmp);
		log_fatal("cannot write port file %s: %s", path, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		log_fatal("cannot rename %s to %s: %s", tmp, path, strerror(e));
	}
}

/* Binds http to addr and port (0: any) and returns the port it got. */
unsigned int
serve_bind(struct evhttp *http, const char *addr, long long port)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	bound = evhttp_bind_socket_with_handle(http, addr, (uint16_t)port);
	if (bound == NULL)
		log_fatal("cannot listen on %s port %lld: %s", addr, port, strerror(errno));
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sslen) < 0)
		log_fatal("getsockname: %s", strerror(errno));
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static void
serve_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d, exiting", (int)sig);
	event_base_loopexit(arg, NULL);
}

/* SIGTERM and SIGINT end base's loop; ret gets the two events, to free. */
void
serve_signals(struct event_base *base, struct event *ret[2])
{
	ret[0] = evsignal_new(base, SIGTERM, serve_signal_cb, base);
	ret[1] = evsignal_new(base, SIGINT, serve_signal_cb, base);
	if (ret[0] == NULL || ret[1] == NULL || event_add(ret[0], NULL) < 0 ||
	    event_add(ret[1], NULL) < 0)
		log_fatal("cannot set up signal handling");
}

/*
 * Once listening on addr (numeric) and port: the port file when one is
 * asked for, then "listening on ADDR:PORT" on stdout unless quiet.
 */
void
serve_announce(const char *port_file, const char *addr, unsigned int port, bool quiet)
{
	if (port_file != NULL)
		serve_port_file(port_file, port);
	if (quiet)
		return;
	if (strchr(addr, ':') != NULL)
		printf("listening on [%s]:%u\n", addr, port);
	else
		printf("listening on %s:%u\n", addr, port);
	fflush(stdout);
}
