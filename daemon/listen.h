/*
 * The listening socket and its connections: creating the Unix socket (or
 * taking the one socket activation hands over), accepting with the caps
 * (max_clients, per uid, root's slots, the descriptor reserve), refusing
 * past them with a canned 503, the idle limits, and who the peer of each
 * connection is (SO_PEERCRED, SO_PEERGROUPS).  What a request asks for is
 * api.c's: it serves on the evhttp this module accepts for.
 */
#ifndef TB_LISTEN_H
#define TB_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/http.h>

#include "conf.h"

#define LISTEN_MAX_GROUPS 256
/*
 * Idle upstream connections the proxies keep for reuse, all together
 * (http_set_max_idle): kept back from the clients' descriptors.
 */
#define LISTEN_PROXY_IDLE_MAX 64

struct listen;
struct metrics;

/*
 * Who is at the other end of a connection, read when it was accepted: on a
 * Unix socket from SO_PEERCRED and SO_PEERGROUPS; on loopback TCP the uid
 * that owns the client's socket (sockdiag.h), with no pid and no groups.
 */
struct listen_peer {
	uid_t uid;
	pid_t pid;		       /* 0 on TCP */
	gid_t gids[LISTEN_MAX_GROUPS]; /* primary first, then supplementary; none on TCP */
	size_t ngids;
	bool tcp;
};

/* A listener's settings (strings copied). */
struct listen_opts {
	const char *what;     /* for messages: "proxy billing" */
	const char *path;     /* a Unix socket to create, or NULL for TCP */
	const char *tcp_host; /* numeric loopback address */
	uint16_t tcp_port;
	mode_t mode;	      /* of the Unix socket */
	bool group_set;
	gid_t group;
	unsigned max_clients;
	unsigned max_clients_per_uid;
	/*
	 * Descriptors the clients of every listener together may hold
	 * (listen_fd_cap), and how many each client of this one holds: 1,
	 * or 2 where each has an upstream connection too (a proxy's).
	 */
	unsigned fd_cap;
	unsigned fds_per_client;
	int64_t client_timeout_ms;
	/* A connection over the caps was answered 503 (may be NULL). */
	void (*refused)(void *arg);
	void *refused_arg;
};

/*
 * Accepts for http on activated_fd when it is >= 0 (socket activation),
 * else on a socket it creates at dc->socket with its mode and group: a
 * stale socket file is replaced, one another process answers on is an
 * error.  dc and metrics are borrowed (refusals are counted there as 503s);
 * http is the caller's and must outlive the listener.  Returns NULL with
 * *cause set (caller frees).
 */
struct listen *listen_new(struct event_base *base, const struct daemon_conf *dc,
			  struct evhttp *http, int activated_fd, struct metrics *metrics,
			  char **cause);
/*
 * A listener with o's settings: on activated_fd when it is >= 0, else on
 * the Unix socket o->path (created as for the daemon's socket) or the TCP
 * address o->tcp_host:o->tcp_port.  Returns NULL with *cause set.
 */
struct listen *listen_new_opts(struct event_base *base, const struct listen_opts *o,
			       struct evhttp *http, int activated_fd, char **cause);
/* New caps, timeouts and, for a Unix socket it created, mode and group. */
void listen_set_opts(struct listen *ls, const struct listen_opts *o);

/*
 * Takes a reloaded [daemon] (borrowed): caps and timeouts, and the socket's
 * mode and group apply at once; a new socket path needs a restart (returns
 * 1 and logs it), else 0.
 */
int listen_set_conf(struct listen *ls, const struct daemon_conf *dc);
/* Stops accepting for good; connections open stay until they close. */
void listen_shutdown(struct listen *ls);
/*
 * Closes the socket (removing the file it created) and every connection it
 * admitted (their holds are told, see listen_hold), then frees.  The evhttp
 * stays the caller's, to free afterwards.  Takes NULL.
 */
struct listen *listen_free(struct listen *ls);

/*
 * The peer of req's connection, or NULL when it was not admitted (over the
 * caps).  Valid until the connection closes.  The first request on a
 * connection brings its idle limit from the short first-request one up to
 * client_timeout.  From its admission a connection has the short limit to
 * send its first request whole, however it trickles, or it is closed; this
 * stops that clock until listen_request_done.
 */
const struct listen_peer *listen_conn_of(struct listen *ls, struct evhttp_request *req);
/*
 * req was answered (its on_complete callback): the connection's next
 * request must come whole within client_timeout, or it is closed.
 */
void listen_request_done(struct listen *ls, struct evhttp_request *req);
/* Connections admitted and open now. */
unsigned listen_clients(const struct listen *ls);

/*
 * Holds peer's connection (peer from listen_conn_of) for an answer that
 * comes later: when the client hangs up (EV_CLOSED, seen without reading its
 * data) the connection is closed, and when it closes for that or any other
 * reason gone_cb(arg) is called once; the hold has then ended and the
 * request must not be answered (it goes with its connection).  One hold a
 * connection.
 */
void listen_hold(const struct listen_peer *peer, void (*gone_cb)(void *arg), void *arg);
/*
 * The systemd unit of the peer's process, from its cgroup (*ret_unit, the
 * caller's to free): 0, -ENOENT when not known (a TCP peer, no unit),
 * -ESRCH when the process that connected is gone (its pid may be
 * another's now), or -errno.
 */
int listen_peer_unit(const struct listen_peer *peer, char **ret_unit);
/*
 * Whether peer's process runs in one of units (NULL-terminated; NULL: any
 * unit will do).  Root always does.
 */
bool listen_peer_in_units(const struct listen_peer *peer, char *const *units);

/*
 * As listen_hold, but told only when the connection closes (a failed
 * write, evhttp's timeouts, a free), not when the client merely hangs up:
 * for a request that is answered as it goes, whose writes find out.
 */
void listen_watch(const struct listen_peer *peer, void (*gone_cb)(void *arg), void *arg);
/* Ends the hold on peer's connection, if there is one: it was answered. */
void listen_release(const struct listen_peer *peer);

/*
 * Descriptors kept back from clients for upstream requests, state, sinks
 * and reloads: a base plus a few for each of upstream_concurrency.
 */
unsigned listen_fd_reserve(const struct daemon_conf *dc);
/*
 * Clients the open-file limit (RLIMIT_NOFILE, as it is now) leaves room
 * for: the limit less listen_fd_reserve(), or half the limit when it is
 * less than twice the reserve.  UINT_MAX when unlimited.
 */
unsigned listen_fd_cap(const struct daemon_conf *dc);

#endif
