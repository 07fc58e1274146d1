/*
 * The listening socket and the connections on it, up to the point where a
 * request is read: the socket file (umask, mode, group, a stale one
 * replaced) or the one socket activation hands over; the accept path
 * (evhttp's bufferevent hook, admission, peer credentials); the caps
 * (max_clients, per uid, root's slots, the descriptor reserve) and the
 * canned 503 for a connection past them; pausing on EMFILE; the idle
 * limits and the deadline for a whole request; a record per admitted
 * connection, and holds on the ones a request waits on.  What the requests
 * say is api.c's.
 *
 * The holds are here, not in api.c, because what they track is the
 * connection's life: EV_CLOSED on its socket and evhttp's close callback,
 * which this module already owns for the caps' counts.  api.c keeps what
 * the wait is for (the credential, the answer owed) and is told when the
 * connection goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "sockdiag.h"
#include "timeutil.h"
#include "xmalloc.h"

#define LISTEN_ACCEPT_PAUSE_MS 1000
/*
 * A connection has this long (or client_timeout when that is shorter) to
 * start its first request: idle connections are what a local user would
 * hold to crowd others out.
 */
#define LISTEN_HELLO_TIMEOUT_MS 5000
/* Connections accepted in one turn of the loop before they are admitted. */
#define LISTEN_ACCEPT_BATCH 32
/*
 * Descriptors kept out of the clients' reach: a base for stdio, the
 * listener, the event loop, the journal, configuration reloads, state and
 * sink files, plus a batch of connections not yet admitted and the
 * refusals lingering below, the upstream connections the proxies keep for
 * reuse; and per upstream transfer its socket (and one kept for reuse),
 * the resolver's socketpair.  (A proxied request's own upstream connection
 * is counted with its client: listen_opts.fds_per_client.)
 */
#define LISTEN_FD_RESERVE_BASE \
	(48 + LISTEN_ACCEPT_BATCH + LISTEN_LINGER_MAX + LISTEN_PROXY_IDLE_MAX)
#define LISTEN_FD_PER_TRANSFER 4
/* Slots (at most, and at most 1/16 of the total) only root may take. */
#define LISTEN_ROOT_SLOTS 16
/*
 * A refused connection is answered 503 and closed; up to this many wait a
 * moment for the client to finish sending its request, so that it reads the
 * answer instead of a broken pipe.  Beyond that they are closed at once.
 */
#define LISTEN_LINGER_MAX 16
#define LISTEN_LINGER_MS 1000
#define LISTEN_LINGER_BYTES 16384
#define LISTEN_REFUSE_LOG_MS 1000

/* A client connection, known from its admission until it closes. */
struct listen_conn {
	struct listen_peer peer; /* first: listen_hold finds the record from it */
	struct listen *ls;
	struct evhttp_connection *evcon;
	int fd;
	bool hello; /* no request yet: the short idle limit applies */
	bool busy;  /* a request is being handled */
	/*
	 * Its next request must have come whole by deadline_ms (evhttp's
	 * timeouts only limit silence, which a byte now and then defeats):
	 * set at the admission and after each answer.  The timer is armed once
	 * and looks when it fires: moving it for every request of a busy
	 * keep-alive connection would cost more than the request.
	 */
	int64_t deadline_ms;
	struct event *deadline;
	/* A hold (listen_hold): a request waits on this connection. */
	void (*gone_cb)(void *arg);
	void *gone_arg;
	struct event *closed; /* the client hung up */
};

/* A refused connection, answered, waiting briefly for its client to close. */
struct listen_linger {
	int fd;
	size_t drained;
	int64_t until_ms; /* monotonic */
	struct event *ev;
};

struct listen_uid {
	uid_t uid;
	unsigned n;
};

struct listen {
	struct event_base *base;
	struct listen_opts o; /* its strings are ours: what, path, tcp_host */
	char *conf_path;      /* the daemon's socket as configured (listen_set_conf) */
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct evconnlistener *listener;
	struct event *resume; /* re-enables accepting after EMFILE */
	char *path;	      /* socket file we created, removed at exit */
	struct listen_conn **conns; /* by fd */
	size_t nconns_slots;
	unsigned clients;
	struct listen_uid *uids; /* connections per uid, for max_clients_per_uid */
	size_t nuids;
	/*
	 * Connections evhttp accepted in this turn of the loop, not yet
	 * admitted: their bufferevents, each holding a reference of ours.
	 */
	struct bufferevent **fresh;
	size_t nfresh, fresh_slots;
	struct event *admit; /* admits the fresh ones once evhttp is done */
	unsigned fd_cap;     /* descriptors all listeners' clients may hold (listen_opts) */
	struct listen_linger linger[LISTEN_LINGER_MAX];
	unsigned refused;    /* refusals not logged yet */
	int64_t refused_logged_ms;
	bool tcp; /* an AF_INET or AF_INET6 socket: no SO_PEERCRED */
	bool listening;
	bool paused; /* out of descriptors: not accepting for a moment */
	bool stopping;
	struct listen *next; /* in listen_servers */
};

unsigned
listen_fd_reserve(const struct daemon_conf *dc)
{
	return LISTEN_FD_RESERVE_BASE + LISTEN_FD_PER_TRANSFER * dc->upstream_concurrency;
}

unsigned
listen_fd_cap(const struct daemon_conf *dc)
{
	struct rlimit rl;
	unsigned reserve = listen_fd_reserve(dc);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= (rlim_t)UINT_MAX)
		return UINT_MAX;
	if (rl.rlim_cur >= 2 * (rlim_t)reserve)
		return (unsigned)(rl.rlim_cur - reserve);
	return (unsigned)(rl.rlim_cur / 2);
}

unsigned
listen_clients(const struct listen *ls)
{
	return ls->clients;
}

/* Connections of uid open now. */
static unsigned
listen_uid_conns(const struct listen *ls, uid_t uid)
{
	for (size_t i = 0; i < ls->nuids; i++)
		if (ls->uids[i].uid == uid)
			return ls->uids[i].n;
	return 0;
}

/* Counts a connection of uid in (delta 1) or out (-1); returns the new count. */
static unsigned
listen_uid_count(struct listen *ls, uid_t uid, int delta)
{
	size_t i;

	for (i = 0; i < ls->nuids && ls->uids[i].uid != uid; i++)
		;
	if (i == ls->nuids) {
		ls->uids = xreallocarray(ls->uids, ls->nuids + 1, sizeof(*ls->uids));
		ls->uids[ls->nuids++] = (struct listen_uid){ uid, 0 };
	}
	ls->uids[i].n += (unsigned)delta;
	if (ls->uids[i].n == 0)
		ls->uids[i] = ls->uids[--ls->nuids];
	else
		return ls->uids[i].n;
	return 0;
}

/* Descriptors one client of ls holds. */
static unsigned
listen_fds_per_client(const struct listen *ls)
{
	return ls->o.fds_per_client > 1 ? ls->o.fds_per_client : 1;
}

/* Clients served at once: max_clients, or fewer when descriptors are short. */
static unsigned
listen_cap(const struct listen *ls)
{
	unsigned max = ls->o.max_clients, fds = ls->fd_cap / listen_fds_per_client(ls);

	return fds < max ? fds : max;
}

/*
 * The listeners in this process, for the descriptor budget they share.
 * And evhttp_bind_listener makes the listener's user data its struct
 * evhttp, so the accept error callback gets that, not our struct listen:
 * it finds its own here.
 */
static struct listen *listen_servers;

/* Descriptors the clients of every listener hold now. */
static unsigned
listen_fds_used(void)
{
	unsigned n = 0;

	for (const struct listen *l = listen_servers; l != NULL; l = l->next)
		n += l->clients * listen_fds_per_client(l);
	return n;
}

/*
 * Accepts unless stopping or out of descriptors, or until
 * LISTEN_ACCEPT_BATCH connections accepted in this turn wait to be
 * admitted: past the caps a connection is still accepted, to be answered
 * and closed at once, but a burst must not take every descriptor before
 * admission sorts it out.
 */
static void
listen_update(struct listen *ls)
{
	bool want = !ls->stopping && !ls->paused && ls->nfresh < LISTEN_ACCEPT_BATCH;

	if (ls->listener == NULL || want == ls->listening)
		return;
	if (want)
		evconnlistener_enable(ls->listener);
	else
		evconnlistener_disable(ls->listener);
	ls->listening = want;
}

/*
 * Ends conn's hold, if any; with tell, its callback is called (after, so
 * that it may free what the hold pointed at).
 */
static void
listen_unhold(struct listen_conn *conn, bool tell)
{
	void (*gone)(void *) = conn->gone_cb;
	void *arg = conn->gone_arg;

	if (conn->closed != NULL)
		event_free(conn->closed);
	conn->closed = NULL;
	conn->gone_cb = NULL;
	conn->gone_arg = NULL;
	if (tell && gone != NULL)
		gone(arg);
}

/*
 * evhttp closes a connection (the client left, a timeout, an error, our
 * own free): called once for each admitted connection, which it frees.
 */
static void
listen_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct listen_conn *conn = arg;
	struct listen *ls = conn->ls;

	/* evhttp may report a close twice (a reset, then the free): count one. */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	listen_uid_count(ls, conn->peer.uid, -1);
	listen_unhold(conn, true);
	event_free(conn->deadline);
	if ((size_t)conn->fd < ls->nconns_slots && ls->conns[conn->fd] == conn)
		ls->conns[conn->fd] = NULL;
	ls->clients--;
	free(conn);
	listen_update(ls);
}

/* A client that has not sent a whole request in time is closed. */
static void
listen_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listen_conn *conn = arg;
	int64_t left = conn->busy ? conn->ls->o.client_timeout_ms :
				    conn->deadline_ms - timeutil_mono_ms();

	if (left > 0) {
		struct timeval tv = timeutil_ms_to_tv(left);

		evtimer_add(conn->deadline, &tv);
		return;
	}
	log_debug("%s: uid %u sent no whole request in time: closed", conn->ls->o.what,
		  (unsigned)conn->peer.uid);
	evhttp_connection_free(conn->evcon);
}

/* The client hung up while a request waited: its holder is told, it goes. */
static void
listen_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listen_conn *conn = arg;
	struct evhttp_connection *evcon = conn->evcon;

	/*
	 * EV_CLOSED also fires when the peer only shuts down its writing side;
	 * libevent 2.1's evhttp drops such a connection as well, whether or
	 * not a request waits on it, so it is treated as gone.
	 */
	log_debug("uid %u hung up while waiting", (unsigned)conn->peer.uid);
	listen_unhold(conn, true);
	evhttp_connection_free(evcon);
}

void
listen_hold(const struct listen_peer *peer, void (*gone_cb)(void *arg), void *arg)
{
	struct listen_conn *conn = (struct listen_conn *)peer;

	conn->gone_cb = gone_cb;
	conn->gone_arg = arg;
	/* EV_CLOSED: told when the peer hangs up, without reading its data. */
	conn->closed = event_new(conn->ls->base, conn->fd, EV_CLOSED, listen_closed_cb, conn);
	if (conn->closed != NULL)
		event_add(conn->closed, NULL);
}

/* Linux 6.5's SO_PEERPIDFD, for headers from before it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int
listen_peer_unit(const struct listen_peer *peer, char **ret_unit)
{
	const struct listen_conn *conn = (const struct listen_conn *)peer;
	socklen_t len = sizeof(int);
	int pidfd = -1, r;

	*ret_unit = NULL;
	if (peer->tcp || peer->pid <= 0)
		return -ENOENT;
	/*
	 * A pidfd of the process that connected: once the cgroup of its pid is
	 * read, the pidfd says whether that process still lives, so that the
	 * pid was not reused by another meanwhile.  Without it (an older
	 * kernel) the pid alone.
	 */
	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1;
	r = sockdiag_pid_unit(peer->pid, ret_unit);
	if (r == 0 && pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 &&
	    errno == ESRCH) {
		free(*ret_unit);
		*ret_unit = NULL;
		r = -ESRCH;
	}
	if (pidfd >= 0)
		close(pidfd);
	return r;
}

bool
listen_peer_in_units(const struct listen_peer *peer, char *const *units)
{
	_cleanup_free_ char *unit = NULL;

	if (units == NULL || peer->uid == 0)
		return true;
	if (listen_peer_unit(peer, &unit) < 0)
		return false;
	for (char *const *u = units; *u != NULL; u++)
		if (strcmp(*u, unit) == 0)
			return true;
	return false;
}

void
listen_watch(const struct listen_peer *peer, void (*gone_cb)(void *arg), void *arg)
{
	struct listen_conn *conn = (struct listen_conn *)peer;

	conn->gone_cb = gone_cb;
	conn->gone_arg = arg;
}

void
listen_release(const struct listen_peer *peer)
{
	listen_unhold((struct listen_conn *)peer, false);
}

/*
 * Reads the peer's uid, gid, pid and groups; on TCP its uid from the
 * kernel's socket table.
 */
static int
listen_conn_peer(struct listen *ls, struct listen_conn *conn)
{
	struct listen_peer *p = &conn->peer;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[LISTEN_MAX_GROUPS];
	int r;

	if (ls->tcp) {
		p->tcp = true;
		if ((r = sockdiag_peer_uid(conn->fd, &p->uid, NULL)) < 0)
			errno = -r;
		return r;
	}
	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	p->uid = cred.uid;
	p->pid = cred.pid;
	p->gids[0] = cred.gid;
	p->ngids = 1;
	len = sizeof(groups);
	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t) && p->ngids < LISTEN_MAX_GROUPS; i++)
			p->gids[p->ngids++] = groups[i];
	}
	return 0;
}

/*
 * Why one more connection of uid may not be served, or NULL.  Root may
 * take every slot and has no per-uid cap, so it is answered while others
 * hold all theirs; other uids leave LISTEN_ROOT_SLOTS to root, and hold at
 * most max_clients_per_uid each.  When the descriptor limit is what makes
 * the cap, one uid also holds at most half the rest, so it cannot shut out
 * every other user by itself.  The descriptors are one budget for the
 * clients of every listener (the API's and the proxies'), with root's
 * share of it kept back from the others too: a flood of one listener
 * takes neither the upstream renewals' descriptors nor root's slots on
 * another.
 */
static const char *
listen_over_cap(const struct listen *ls, uid_t uid)
{
	unsigned cap = listen_cap(ls), root = cap / 16, per_uid;
	unsigned used = listen_fds_used() + listen_fds_per_client(ls);
	unsigned root_fds = ls->fd_cap / 16;

	if (root > LISTEN_ROOT_SLOTS)
		root = LISTEN_ROOT_SLOTS;
	if (root_fds > LISTEN_ROOT_SLOTS)
		root_fds = LISTEN_ROOT_SLOTS;
	if (ls->clients >= cap || used > ls->fd_cap)
		return "too many clients";
	if (uid == 0)
		return NULL;
	if (ls->clients >= cap - root || used > ls->fd_cap - root_fds)
		return "too many clients";
	per_uid = ls->o.max_clients_per_uid;
	if (cap < ls->o.max_clients && per_uid > (cap - root) / 2)
		per_uid = (cap - root) / 2 > 0 ? (cap - root) / 2 : 1;
	if (listen_uid_conns(ls, uid) >= per_uid)
		return "too many connections from this uid";
	return NULL;
}

/* Refusals are logged at most once a second, with how many there were. */
static void
listen_refuse_log(struct listen *ls, uid_t uid, const char *why)
{
	int64_t now = timeutil_mono_ms();

	ls->refused++;
	if (ls->refused_logged_ms != 0 && now - ls->refused_logged_ms < LISTEN_REFUSE_LOG_MS)
		return;
	log_notice("refused %u connection%s over the client limits (the last from uid %u: %s)",
		   ls->refused, ls->refused == 1 ? "" : "s", (unsigned)uid, why);
	ls->refused = 0;
	ls->refused_logged_ms = now;
}

static void
listen_linger_end(struct listen_linger *l)
{
	if (l->ev == NULL)
		return;
	event_free(l->ev);
	l->ev = NULL;
	close(l->fd);
	l->fd = -1;
}

/* A refused client's late request is read and dropped until it closes. */
static void
listen_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listen_linger *l = arg;
	char junk[4096];
	ssize_t n;

	if (what & EV_READ) {
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n > 0)
			l->drained += (size_t)n;
		if ((n > 0 && l->drained < LISTEN_LINGER_BYTES) ||
		    (n < 0 && (errno == EAGAIN || errno == EINTR))) {
			int64_t left = l->until_ms - timeutil_mono_ms();
			struct timeval tv = timeutil_ms_to_tv(left > 0 ? left : 0);

			/* The same deadline, however the client trickles. */
			if (left > 0 && event_add(l->ev, &tv) == 0)
				return;
		}
	}
	listen_linger_end(l);
}

/*
 * Answers a connection over the limits with 503 too_many_clients and stops
 * writing to it.  Unless LISTEN_LINGER_MAX others already do, a duplicate
 * of fd stays open for a moment, so that a client still sending its request
 * reads the answer rather than a broken pipe.  The caller closes fd.
 */
static void
listen_refuse(struct listen *ls, int fd, const char *why)
{
	struct timeval tv = timeutil_ms_to_tv(LISTEN_LINGER_MS);
	const char *const fields[] = { "error", "too_many_clients", "message", why };
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *body;
	size_t blen;
	char head[256], junk[4096];
	struct iovec iov[3];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
	struct listen_linger *l = NULL;
	size_t drained = 0;
	ssize_t got;
	int n;

	if (g == NULL)
		log_fatal("out of memory");
	yajl_gen_map_open(g);
	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		yajl_gen_string(g, (const unsigned char *)fields[i], strlen(fields[i]));
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &body, &blen);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
		     "Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     blen + 1);
	iov[0] = (struct iovec){ head, (size_t)n };
	iov[1] = (struct iovec){ (void *)body, blen };
	iov[2] = (struct iovec){ (void *)"\n", 1 };
	/* What already came is read first: closing over unread data resets. */
	while (drained < LISTEN_LINGER_BYTES &&
	       (got = recv(fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		drained += (size_t)got;
	(void)sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	yajl_gen_free(g);
	shutdown(fd, SHUT_WR);
	if (ls->o.refused != NULL)
		ls->o.refused(ls->o.refused_arg);
	for (size_t i = 0; i < LISTEN_LINGER_MAX && l == NULL; i++)
		if (ls->linger[i].ev == NULL)
			l = &ls->linger[i];
	if (l == NULL || ls->stopping || (l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return;
	l->drained = drained;
	l->until_ms = timeutil_mono_ms() + LISTEN_LINGER_MS;
	l->ev = event_new(ls->base, l->fd, EV_READ, listen_linger_cb, l);
	if (l->ev == NULL || event_add(l->ev, &tv) < 0) {
		if (l->ev != NULL)
			event_free(l->ev);
		l->ev = NULL;
		close(l->fd);
		l->fd = -1;
	}
}

/*
 * Admits or refuses one connection evhttp accepted: reads who the peer is,
 * checks the caps, and either records it (counted until its close callback)
 * with the short first-request idle limit, or answers 503 and closes it.
 * busy is a connection whose request is being handled: not freed under
 * its handler, which answers it (it has no record).  Drops our reference
 * to bev.
 */
static void
listen_admit_one(struct listen *ls, struct bufferevent *bev, struct evhttp_connection *busy)
{
	void *cbarg = NULL;
	struct evhttp_connection *evcon;
	struct listen_conn *conn;
	struct timeval tv;
	int64_t hello_ms;
	const char *why;
	int fd;

	/* evhttp makes the connection its bufferevent's callback argument. */
	bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
	fd = bufferevent_getfd(bev);
	bufferevent_decref(bev);
	/* Already gone (its callbacks are cleared when evhttp drops it). */
	if ((evcon = cbarg) == NULL || fd < 0)
		return;
	conn = xcalloc(1, sizeof(*conn));
	conn->ls = ls;
	conn->evcon = evcon;
	conn->fd = fd;
	if (listen_conn_peer(ls, conn) < 0) {
		/* A TCP client gone already (a port probe) is nobody to warn about. */
		if (ls->tcp && errno == ENOENT)
			log_debug("%s: a client hung up before it was admitted", ls->o.what);
		else
			log_warn("%s: cannot tell who a client is: %s", ls->o.what, strerror(errno));
		free(conn);
		if (evcon != busy)
			evhttp_connection_free(evcon);
		return;
	}
	if ((why = listen_over_cap(ls, conn->peer.uid)) != NULL) {
		listen_refuse_log(ls, conn->peer.uid, why);
		free(conn);
		if (evcon != busy) {
			listen_refuse(ls, fd, why);
			evhttp_connection_free(evcon);
		}
		return;
	}
	if ((size_t)fd >= ls->nconns_slots) {
		size_t n = (size_t)fd + 64;

		ls->conns = xreallocarray(ls->conns, n, sizeof(*ls->conns));
		memset(ls->conns + ls->nconns_slots, 0,
		       (n - ls->nconns_slots) * sizeof(*ls->conns));
		ls->nconns_slots = n;
	}
	ls->conns[fd] = conn;
	ls->clients++;
	listen_uid_count(ls, conn->peer.uid, 1);
	conn->hello = true;
	hello_ms = ls->o.client_timeout_ms < LISTEN_HELLO_TIMEOUT_MS ? ls->o.client_timeout_ms
								    : LISTEN_HELLO_TIMEOUT_MS;
	tv = timeutil_ms_to_tv(hello_ms);
	evhttp_connection_set_timeout_tv(evcon, &tv);
	if ((conn->deadline = evtimer_new(ls->base, listen_deadline_cb, conn)) == NULL)
		log_fatal("out of memory");
	conn->deadline_ms = timeutil_mono_ms() + hello_ms;
	evtimer_add(conn->deadline, &tv);
	evhttp_connection_set_closecb(evcon, listen_conn_close_cb, conn);
}

/* Admits every connection accepted since the last time; busy: as above. */
static void
listen_admit_pending(struct listen *ls, struct evhttp_connection *busy)
{
	/* listen_admit_one never accepts, so the list does not grow under us. */
	for (size_t i = 0; i < ls->nfresh; i++)
		listen_admit_one(ls, ls->fresh[i], busy);
	ls->nfresh = 0;
	listen_update(ls);
}

static void
listen_admit_cb(evutil_socket_t fd, short what, void *arg)
{
	listen_admit_pending(arg, NULL);
}

/*
 * evhttp's constructor for an accepted connection's bufferevent: the one
 * point where libevent 2.1 lets us see a connection before its first
 * request.  The fd is not set yet, so the bufferevent is kept (with a
 * reference of ours) and looked at by listen_admit_cb, made active now: it
 * runs later in this same turn of the loop, before any read on the new
 * connection.  Stops accepting when a batch waits (listen_update()).
 */
static struct bufferevent *
listen_bev_cb(struct event_base *base, void *arg)
{
	struct listen *ls = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

	if (bev == NULL)
		log_fatal("out of memory");
	if (ls->nfresh == ls->fresh_slots) {
		ls->fresh_slots = ls->fresh_slots * 2 + 16;
		ls->fresh = xreallocarray(ls->fresh, ls->fresh_slots, sizeof(*ls->fresh));
	}
	bufferevent_incref(bev);
	ls->fresh[ls->nfresh++] = bev;
	event_active(ls->admit, EV_TIMEOUT, 1);
	listen_update(ls);
	return bev;
}

/* The record of req's connection, or NULL when it has none (not admitted). */
static struct listen_conn *
listen_conn_find(struct listen *ls, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	struct listen_conn *conn;

	if (fd < 0 || (size_t)fd >= ls->nconns_slots || (conn = ls->conns[fd]) == NULL ||
	    conn->evcon != evcon)
		return NULL;
	return conn;
}

const struct listen_peer *
listen_conn_of(struct listen *ls, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct listen_conn *conn;

	/* Admission runs before any request can arrive; this is in case not. */
	if (ls->nfresh > 0)
		listen_admit_pending(ls, evcon);
	if ((conn = listen_conn_find(ls, req)) == NULL)
		return NULL;
	conn->busy = true;
	if (conn->hello) {
		struct timeval tv = timeutil_ms_to_tv(ls->o.client_timeout_ms);

		conn->hello = false;
		evhttp_connection_set_timeout_tv(evcon, &tv);
	}
	return &conn->peer;
}

void
listen_request_done(struct listen *ls, struct evhttp_request *req)
{
	struct listen_conn *conn = listen_conn_find(ls, req);

	if (conn != NULL) {
		conn->busy = false;
		conn->deadline_ms = timeutil_mono_ms() + ls->o.client_timeout_ms;
	}
}

static void
listen_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listen *ls = arg;

	ls->paused = false;
	listen_update(ls);
}

/* accept() failed: out of descriptors pauses accepting instead of spinning. */
static void
listen_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listen *ls;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = timeutil_ms_to_tv(LISTEN_ACCEPT_PAUSE_MS);

	for (ls = listen_servers; ls != NULL && ls->listener != lev; ls = ls->next)
		;
	log_warn("cannot accept a client: %s; pausing for %dms", strerror(err),
		 LISTEN_ACCEPT_PAUSE_MS);
	if (ls == NULL) {
		evconnlistener_disable(lev);
		return;
	}
	ls->paused = true;
	listen_update(ls);
	evtimer_add(ls->resume, &tv);
}

/* Whether something answers on the socket at path. */
static bool
listen_socket_live(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	return connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
}

/*
 * Creates the listening socket at the configured path: owner-only while it
 * is bound (umask), then the configured group and mode.  Returns the fd, or
 * -errno with *cause set.
 */
static int
listen_socket_create(const struct listen_opts *o, char **cause)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	int r;

	if (strlen(o->path) >= sizeof(sa.sun_path)) {
		*cause = xasprintf("socket path %s is too long", o->path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, o->path);
	if (lstat(o->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*cause = xasprintf("%s exists and is not a socket", o->path);
			return -EEXIST;
		}
		if (listen_socket_live(&sa)) {
			*cause = xasprintf("another daemon is listening on %s", o->path);
			return -EADDRINUSE;
		}
		if (unlink(o->path) < 0 && errno != ENOENT) {
			*cause = xasprintf("cannot remove stale socket %s: %s", o->path,
					   strerror(errno));
			return -errno;
		}
		log_info("replaced stale socket %s", o->path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = xasprintf("cannot create socket: %s", strerror(errno));
		return -errno;
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0) {
		r = -errno;
		*cause = xasprintf("cannot bind %s: %s", o->path, strerror(errno));
		return r;
	}
	if ((o->group_set && chown(o->path, (uid_t)-1, o->group) < 0) ||
	    chmod(o->path, o->mode) < 0) {
		r = -errno;
		*cause = xasprintf("cannot set owner or mode of %s: %s", o->path,
				   strerror(errno));
		unlink(o->path);
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		*cause = xasprintf("cannot listen on %s: %s", o->path, strerror(errno));
		unlink(o->path);
		return r;
	}
	return TAKE_FD(fd);
}

/* A TCP socket listening on o's loopback address. Returns the fd, or -errno. */
static int
listen_tcp_create(const struct listen_opts *o, char **cause)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sslen;
	_cleanup_close_ int fd = -1;
	int one = 1, r;

	if (inet_pton(AF_INET, o->tcp_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(o->tcp_port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, o->tcp_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(o->tcp_port);
		sslen = sizeof(*sin6);
	} else {
		*cause = xasprintf("%s is not a numeric address", o->tcp_host);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = xasprintf("cannot create socket: %s", strerror(errno));
		return -errno;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		*cause = xasprintf("cannot listen on %s%s%s:%u: %s", ss.ss_family == AF_INET6 ? "[" : "",
				   o->tcp_host, ss.ss_family == AF_INET6 ? "]" : "",
				   (unsigned)o->tcp_port, strerror(errno));
		return r;
	}
	return TAKE_FD(fd);
}

/* Slow or idle clients: evhttp closes a connection quiet for client_timeout. */
static void
listen_set_timeout(struct listen *ls)
{
	struct timeval tv = timeutil_ms_to_tv(ls->o.client_timeout_ms);

	evhttp_set_timeout_tv(ls->http, &tv);
}

static bool
listen_fd_is_inet(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* The daemon's socket's settings as a listener's. */
static void
listen_daemon_opts(const struct daemon_conf *dc, struct listen_opts *o)
{
	*o = (struct listen_opts){
		.what = "the socket",
		.path = dc->socket,
		.mode = dc->socket_mode,
		.group_set = dc->socket_group_set,
		.group = dc->socket_group,
		.max_clients = dc->max_clients,
		.max_clients_per_uid = dc->max_clients_per_uid,
		.fd_cap = listen_fd_cap(dc),
		.fds_per_client = 1,
		.client_timeout_ms = dc->client_timeout_ms,
	};
}

/* Copies o into ls, owning its strings. */
static void
listen_take_opts(struct listen *ls, const struct listen_opts *o)
{
	char *what = xstrdup(o->what != NULL ? o->what : "listener");
	char *path = o->path != NULL ? xstrdup(o->path) : NULL;
	char *host = o->tcp_host != NULL ? xstrdup(o->tcp_host) : NULL;

	free((char *)ls->o.what);
	free((char *)ls->o.path);
	free((char *)ls->o.tcp_host);
	ls->o = *o;
	ls->o.what = what;
	ls->o.path = path;
	ls->o.tcp_host = host;
	ls->fd_cap = o->fd_cap;
}

struct listen *
listen_new_opts(struct event_base *base, const struct listen_opts *o, struct evhttp *http,
		int activated_fd, char **cause)
{
	struct listen *ls = xcalloc(1, sizeof(*ls));
	int fd = activated_fd;

	ls->base = base;
	ls->http = http;
	listen_take_opts(ls, o);
	for (size_t i = 0; i < LISTEN_LINGER_MAX; i++)
		ls->linger[i].fd = -1;
	if (fd < 0) {
		fd = o->path != NULL ? listen_socket_create(o, cause) : listen_tcp_create(o, cause);
		if (fd < 0)
			return listen_free(ls);
		if (o->path != NULL)
			ls->path = xstrdup(o->path);
	} else {
		evutil_make_socket_nonblocking(fd);
	}
	ls->tcp = listen_fd_is_inet(fd);
	/*
	 * Backlog 0: the socket listens already (SOMAXCONN, or the .socket
	 * unit's Backlog=); -1 would make it listen again with 128, which a
	 * burst of connections fills, failing other clients' connect().
	 */
	ls->listener = evconnlistener_new(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
					  LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	ls->listening = true;
	ls->resume = evtimer_new(base, listen_resume_cb, ls);
	ls->admit = event_new(base, -1, 0, listen_admit_cb, ls);
	if (ls->listener == NULL || ls->resume == NULL || ls->admit == NULL ||
	    (ls->bound = evhttp_bind_listener(http, ls->listener)) == NULL) {
		*cause = xstrdup("cannot set up the HTTP server");
		if (ls->listener == NULL)
			close(fd);
		return listen_free(ls);
	}
	evconnlistener_set_error_cb(ls->listener, listen_accept_error_cb);
	ls->next = listen_servers;
	listen_servers = ls;
	evhttp_set_bevcb(http, listen_bev_cb, ls);
	listen_set_timeout(ls);
	return ls;
}

/* The API's 503s past the caps are counted with its answers. */
static void
listen_count_refused(void *arg)
{
	metrics_count_request(arg, 503);
}

struct listen *
listen_new(struct event_base *base, const struct daemon_conf *dc, struct evhttp *http,
	   int activated_fd, struct metrics *metrics, char **cause)
{
	struct listen_opts o;
	struct listen *ls;

	listen_daemon_opts(dc, &o);
	o.refused = listen_count_refused;
	o.refused_arg = metrics;
	if ((ls = listen_new_opts(base, &o, http, activated_fd, cause)) != NULL)
		ls->conf_path = xstrdup(dc->socket);
	return ls;
}

void
listen_set_opts(struct listen *ls, const struct listen_opts *o)
{
	if (ls->path != NULL &&
	    ((o->group_set && chown(ls->path, (uid_t)-1, o->group) < 0) ||
	     chmod(ls->path, o->mode) < 0))
		log_warn("cannot set owner or mode of %s: %s", ls->path, strerror(errno));
	listen_take_opts(ls, o);
	listen_set_timeout(ls);
	listen_update(ls);
}

int
listen_set_conf(struct listen *ls, const struct daemon_conf *dc)
{
	struct listen_opts o;
	int r = 0;

	listen_daemon_opts(dc, &o);
	o.refused = ls->o.refused;
	o.refused_arg = ls->o.refused_arg;
	if (ls->path != NULL) {
		if (strcmp(ls->conf_path, dc->socket) != 0) {
			log_warn("socket: %s -> %s needs a restart; still listening on %s",
				 ls->conf_path, dc->socket, ls->path);
			r = 1;
		}
	} else if (strcmp(ls->conf_path, dc->socket) != 0 || ls->o.mode != dc->socket_mode ||
		   ls->o.group_set != dc->socket_group_set || ls->o.group != dc->socket_group) {
		log_notice("socket settings are ignored under socket activation: the .socket "
			   "unit sets them");
	}
	o.path = ls->o.path; /* the socket stays where it is */
	listen_set_opts(ls, &o);
	return r;
}

void
listen_shutdown(struct listen *ls)
{
	ls->stopping = true;
	listen_update(ls);
}

struct listen *
listen_free(struct listen *ls)
{
	if (ls == NULL)
		return NULL;
	for (struct listen **p = &listen_servers; *p != NULL; p = &(*p)->next) {
		if (*p == ls) {
			*p = ls->next;
			break;
		}
	}
	ls->stopping = true;
	/* Fresh connections are evhttp's; only our references go. */
	for (size_t i = 0; i < ls->nfresh; i++)
		bufferevent_decref(ls->fresh[i]);
	ls->nfresh = 0;
	free(ls->fresh);
	for (size_t i = 0; i < LISTEN_LINGER_MAX; i++)
		listen_linger_end(&ls->linger[i]);
	if (ls->bound != NULL) {
		/* evhttp's since the bind: it frees the listener (and closes fd). */
		evhttp_del_accept_socket(ls->http, ls->bound);
	} else if (ls->listener != NULL) {
		evconnlistener_free(ls->listener);
	}
	ls->listener = NULL;
	if (ls->http != NULL)
		evhttp_set_bevcb(ls->http, NULL, NULL);
	/* Close callbacks free the records and tell the holds. */
	for (size_t fd = 0; fd < ls->nconns_slots; fd++)
		if (ls->conns[fd] != NULL)
			evhttp_connection_free(ls->conns[fd]->evcon);
	if (ls->resume != NULL)
		event_free(ls->resume);
	if (ls->admit != NULL)
		event_free(ls->admit);
	if (ls->path != NULL) {
		unlink(ls->path);
		free(ls->path);
	}
	free(ls->conns);
	free(ls->uids);
	free((char *)ls->o.what);
	free((char *)ls->o.path);
	free((char *)ls->o.tcp_host);
	free(ls->conf_path);
	free(ls);
	return NULL;
}
