/*
 * faultsrv: a TCP relay in front of a local server (fakeidp, fakeapi) that
 * misbehaves on request, as networks and servers do: for tokenbroker's
 * fault tests.  Everything that connects to its fault port gets the fault
 * of the moment; /control on a second port changes it.  It speaks no HTTP
 * on the fault port beyond finding the end of an answer's header block.
 *
 * usage: faultsrv [--to PORT] [--listen ADDR] [--port N] [--port-file FILE]
 *                 [--control-port-file FILE] [--mode MODE] [--cut N]
 *                 [--rate-ms MS] [--quiet] [--help]
 *
 *   --to          the port on ADDR that connections are relayed to (0, the
 *                 default: none, and a relay closes the client at once)
 *   --listen      IPv4 loopback address only, 127.0.0.0/8 or localhost
 *                 (default 127.0.0.1); the relay connects to the same one
 *   --port        the fault port; 0 (default) picks an ephemeral one
 *   --port-file   the fault port and a newline, written atomically once
 *                 listening (after --control-port-file); then "listening
 *                 on 127.0.0.1:PORT" goes to stdout (not with --quiet)
 *   --control-port-file   the control port, written the same way: /stats
 *                 and /control are there, on plain HTTP
 *   --mode, --cut, --rate-ms   as mode=, cut= and rate_ms= of /control
 *   --quiet       nothing on stdout or stderr but errors
 * SIGTERM and SIGINT end it with status 0; usage errors exit 2, setup
 * errors 1.
 *
 * Modes (what a connection gets, fixed when it is accepted):
 *   pass       relayed to --to both ways, byte for byte, until either side
 *              closes (the default)
 *   refuse     nothing listens on the fault port: connecting is refused by
 *              the kernel (RST); the port is bound again when the mode
 *              changes (SO_REUSEADDR), so it stays the same
 *   backlog    the fault port listens with a backlog of 0 and one
 *              connection of faultsrv's own sitting in its accept queue,
 *              never accepted: the queue is full, so the kernel drops
 *              every SYN and a client's connect() times out.  Works on
 *              loopback with no network and no firewall rules.
 *   blackhole  accepted; what the client sends is read and dropped; no
 *              answer, ever, until the client goes away
 *   stall      relayed; of the answer only its header block goes to the
 *              client, then nothing (the upstream is no longer read, so
 *              TCP holds it back too) until the client goes away
 *   trickle    relayed; the answer goes to the client one byte every
 *              rate_ms (at most 64 KiB are held; the upstream is read as
 *              they go)
 *   cut        relayed; the answer's header block and cut bytes of what
 *              follows go to the client, then the connection is closed
 *              (FIN): an answer cut off mid-body
 *   reset      as cut, but the connection is reset (RST, SO_LINGER 0):
 *              bytes not yet taken by the client's kernel are lost
 *
 * Control port:
 *   GET /stats  {"mode","port","to","cut","rate_ms","connections"
 *       (accepted),"active" (open now),"max_active","client_closed"
 *       (connections the client closed first),"upstream_failed" (relays
 *       that could not reach --to),"bytes_up" (client to upstream),
 *       "bytes_down" (to the client),"syns"} since the last reset.  syns
 *       counts connection attempts to the fault port as SYN packets on
 *       the loopback interface (a retransmission, the same source port
 *       within a minute, is not another attempt; faultsrv's own backlog
 *       connection is not counted): refused and dropped attempts too.  It
 *       needs CAP_NET_RAW (a packet socket); without it syns is -1.
 *   GET or POST /control?k=v&...  200 {"ok":true}; 400 and nothing
 *       changed when a key or value is bad:
 *         mode=NAME     the mode for connections from now on; every open
 *                       connection is closed first, as by a restart
 *         to=PORT       the relay target from now on (1-65535); also
 *                       closes every open connection
 *         cut=N         body bytes a cut or reset lets through (default 16)
 *         rate_ms=N     trickle: one byte per N ms (1-60000, default 1000)
 *         reset=1       counters to zero (applies first)
 *   anything else: 404.
 *
 * main.c owns the options, the fault port's listener in each mode, the
 * control port and the order of setup and shutdown; conn.c the
 * connections and what each mode does to them; syn.c counting attempts.
 * The HTTP helpers of the control port are fakeidp's (serve.c, http.c,
 * json.c, form.c, util.c).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "xmalloc.h"
#include "faultsrv.h"

static const char *const fault_names[FAULT_N] = {
	[FAULT_PASS] = "pass",
	[FAULT_REFUSE] = "refuse",
	[FAULT_BACKLOG] = "backlog",
	[FAULT_BLACKHOLE] = "blackhole",
	[FAULT_STALL] = "stall",
	[FAULT_TRICKLE] = "trickle",
	[FAULT_CUT] = "cut",
	[FAULT_RESET] = "reset",
};

static int
fault_from_name(const char *name)
{
	for (int f = 0; f < FAULT_N; f++)
		if (strcmp(name, fault_names[f]) == 0)
			return f;
	return -1;
}

/* Whether connections are accepted in mode f (refuse and backlog take none). */
static bool
fault_accepts(enum fault f)
{
	return f != FAULT_REFUSE && f != FAULT_BACKLOG;
}

/* --- the fault port -------------------------------------------------- */

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct faultsrv *fs = arg;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		conn_accept(fs, fd);
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
		log_warn("accept: %s", strerror(errno));
}

static struct sockaddr_in
fault_sockaddr(const struct faultsrv *fs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)fs->port) };

	(void)inet_pton(AF_INET, fs->addr, &sa.sin_addr);
	return sa;
}

/*
 * Listens on the fault port (the one it had, or a new one when 0) with
 * backlog; a port in TIME_WAIT or just let go is waited for a little.
 */
static void
listener_open(struct faultsrv *fs, int backlog)
{
	struct sockaddr_in sa = fault_sockaddr(fs);
	socklen_t len = sizeof(sa);
	int one = 1, tries = 0;

	fs->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fs->lfd < 0)
		log_fatal("socket: %s", strerror(errno));
	(void)setsockopt(fs->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	while (bind(fs->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE || ++tries == 50)
			log_fatal("cannot bind %s port %u: %s", fs->addr, fs->port, strerror(errno));
		usleep(20 * 1000);
	}
	if (listen(fs->lfd, backlog) < 0)
		log_fatal("listen: %s", strerror(errno));
	if (getsockname(fs->lfd, (struct sockaddr *)&sa, &len) < 0)
		log_fatal("getsockname: %s", strerror(errno));
	fs->port = ntohs(sa.sin_port);
}

/* Fills the backlog-0 queue with one connection of our own, never accepted. */
static void
listener_fill(struct faultsrv *fs)
{
	struct sockaddr_in sa = fault_sockaddr(fs);
	struct pollfd p;
	socklen_t len = sizeof(sa);
	int err = 0;

	fs->filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fs->filler < 0)
		log_fatal("socket: %s", strerror(errno));
	if (connect(fs->filler, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		log_fatal("cannot fill the accept queue: %s", strerror(errno));
	p = (struct pollfd){ .fd = fs->filler, .events = POLLOUT };
	len = sizeof(err);
	if (poll(&p, 1, 2000) != 1 ||
	    getsockopt(fs->filler, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		log_fatal("cannot fill the accept queue: %s", strerror(err != 0 ? err : ETIMEDOUT));
	len = sizeof(sa);
	if (getsockname(fs->filler, (struct sockaddr *)&sa, &len) == 0)
		syn_ignore(fs->syn, ntohs(sa.sin_port));
}

static void
listener_close(struct faultsrv *fs)
{
	if (fs->accept_ev != NULL)
		event_free(fs->accept_ev);
	fs->accept_ev = NULL;
	if (fs->lfd >= 0)
		close(fs->lfd);
	fs->lfd = -1;
	if (fs->filler >= 0)
		close(fs->filler);
	fs->filler = -1;
}

/* The fault port as mode f has it: listening and accepting, full, or none. */
static void
listener_set(struct faultsrv *fs, enum fault f)
{
	if (fs->lfd >= 0 && fault_accepts(f) && fault_accepts(fs->fault))
		return;		/* accepting before and after: the same socket */
	listener_close(fs);
	if (f == FAULT_REFUSE)
		return;
	listener_open(fs, f == FAULT_BACKLOG ? 0 : LISTEN_BACKLOG);
	if (f == FAULT_BACKLOG) {
		listener_fill(fs);
		return;
	}
	fs->accept_ev = event_new(fs->base, fs->lfd, EV_READ | EV_PERSIST, accept_cb, fs);
	if (fs->accept_ev == NULL || event_add(fs->accept_ev, NULL) < 0)
		log_fatal("out of memory");
}

static void
fault_set(struct faultsrv *fs, enum fault f)
{
	conn_close_all(fs);
	listener_set(fs, f);
	fs->fault = f;
}

/* --- the control port ------------------------------------------------ */

static void
fault_stats(struct faultsrv *fs, struct evhttp_request *req)
{
	yajl_gen g = json_new();

	json_str(g, "mode", fault_names[fs->fault]);
	json_int(g, "port", fs->port);
	json_int(g, "to", fs->to);
	json_int(g, "cut", fs->cut);
	json_int(g, "rate_ms", fs->rate_ms);
	json_int(g, "connections", (long long)fs->c.connections);
	json_int(g, "active", fs->c.active);
	json_int(g, "max_active", fs->c.max_active);
	json_int(g, "client_closed", (long long)fs->c.client_closed);
	json_int(g, "upstream_failed", (long long)fs->c.upstream_failed);
	json_int(g, "bytes_up", (long long)fs->c.bytes_up);
	json_int(g, "bytes_down", (long long)fs->c.bytes_down);
	json_int(g, "syns", syn_count(fs->syn));
	http_json(req, 200, json_finish(g));
}

/* A /control request, checked whole before anything applies. */
struct control {
	int mode;		/* -1: not given */
	long long to, cut, rate_ms;	/* -1: not given */
	bool reset;
};

static int
control_value(struct control *c, const char *name, const char *value)
{
	if (strcmp(name, "mode") == 0)
		return (c->mode = fault_from_name(value)) < 0 ? -EINVAL : 0;
	if (strcmp(name, "to") == 0)
		return util_parse_ll(value, 1, 65535, &c->to);
	if (strcmp(name, "cut") == 0)
		return util_parse_ll(value, 0, CUT_MAX, &c->cut);
	if (strcmp(name, "rate_ms") == 0)
		return util_parse_ll(value, 1, RATE_MS_MAX, &c->rate_ms);
	if (strcmp(name, "reset") == 0)
		return util_parse_bool(value, &c->reset);
	return -ENOENT;
}

static void
fault_control(struct faultsrv *fs, struct evhttp_request *req)
{
	const char *query = http_query(req);
	struct form f = { 0 };
	struct control c = { .mode = -1, .to = -1, .cut = -1, .rate_ms = -1 };
	_cleanup_free_ char *why = NULL;
	yajl_gen g;

	if (!http_allow(req, EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST", "use GET or POST"))
		return;
	if (query != NULL && form_parse(query, strlen(query), &f) < 0)
		why = xstrdup("the query is not k=v&k=v");
	for (size_t i = 0; i < f.n && why == NULL; i++) {
		int r = control_value(&c, f.name[i], f.value[i]);
		char name[81];

		util_log_safe(f.name[i], name);
		if (r == -ENOENT)
			why = xasprintf("unknown key %s", name);
		else if (r < 0)
			why = xasprintf("bad value for %s", name);
	}
	form_clear(&f);
	if (why != NULL) {
		http_error(req, 400, "invalid_request", why);
		return;
	}
	if (c.reset) {
		unsigned int active = fs->c.active;

		memset(&fs->c, 0, sizeof(fs->c));
		fs->c.active = fs->c.max_active = active;
		syn_reset(fs->syn);
	}
	if (c.cut >= 0)
		fs->cut = c.cut;
	if (c.rate_ms >= 0)
		fs->rate_ms = c.rate_ms;
	if (c.to >= 0) {
		conn_close_all(fs);
		fs->to = (unsigned int)c.to;
	}
	if (c.mode >= 0)
		fault_set(fs, (enum fault)c.mode);
	log_info("mode %s, to %u", fault_names[fs->fault], fs->to);
	g = json_new();
	json_bool(g, "ok", true);
	http_json(req, 200, json_finish(g));
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct faultsrv *fs = arg;
	const char *path = http_path(req);

	if (strcmp(path, "/stats") == 0)
		fault_stats(fs, req);
	else if (strcmp(path, "/control") == 0)
		fault_control(fs, req);
	else
		http_error(req, 404, "not_found", "faultsrv's control port serves /stats and /control");
}

/* --- setup ----------------------------------------------------------- */

static void
usage(FILE *f, int status)
{
	fprintf(f, "%s",
	    "usage: faultsrv [--to PORT] [--listen ADDR] [--port N] [--port-file FILE]\n"
	    "                [--control-port-file FILE] [--mode MODE] [--cut N]\n"
	    "                [--rate-ms MS] [--quiet]\n");
	exit(status);
}

struct options {
	const char *listen;
	long long port;
	const char *port_file;
	const char *control_port_file;
	bool quiet;
};

/* A number option within [min, max], or a usage error naming it. */
static long long
option_number(const char *name, const char *arg, long long min, long long max)
{
	long long v;

	if (util_parse_ll(arg, min, max, &v) < 0) {
		fprintf(stderr, "faultsrv: bad %s %s\n", name, arg);
		usage(stderr, 2);
	}
	return v;
}

static void
options_parse(int argc, char **argv, struct faultsrv *fs, struct options *o)
{
	enum {
		OPT_TO = 256, OPT_LISTEN, OPT_PORT, OPT_PORT_FILE, OPT_CONTROL_PORT_FILE,
		OPT_MODE, OPT_CUT, OPT_RATE_MS, OPT_QUIET, OPT_HELP,
	};
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "control-port-file", required_argument, NULL, OPT_CONTROL_PORT_FILE },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "cut", required_argument, NULL, OPT_CUT },
		{ "rate-ms", required_argument, NULL, OPT_RATE_MS },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c, f;

	o->listen = "127.0.0.1";
	fs->cut = CUT_DEFAULT;
	fs->rate_ms = RATE_MS_DEFAULT;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			fs->to = (unsigned int)option_number("--to", optarg, 0, 65535);
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_PORT:
			o->port = option_number("--port", optarg, 0, 65535);
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_CONTROL_PORT_FILE:
			o->control_port_file = optarg;
			break;
		case OPT_MODE:
			if ((f = fault_from_name(optarg)) < 0) {
				fprintf(stderr, "faultsrv: unknown mode %s\n", optarg);
				usage(stderr, 2);
			}
			fs->fault = (enum fault)f;
			break;
		case OPT_CUT:
			fs->cut = option_number("--cut", optarg, 0, CUT_MAX);
			break;
		case OPT_RATE_MS:
			fs->rate_ms = option_number("--rate-ms", optarg, 1, RATE_MS_MAX);
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_HELP:
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
}

int
main(int argc, char **argv)
{
	struct faultsrv fs = { .lfd = -1, .filler = -1 };
	struct options o = { 0 };
	struct event *sigs[2];
	struct evhttp *control;
	struct in_addr a4;
	unsigned int control_port;
	enum fault first;

	TAILQ_INIT(&fs.conns);
	options_parse(argc, argv, &fs, &o);
	serve_init("faultsrv", o.quiet);
	fs.addr = serve_address(o.listen);
	if (fs.addr == NULL || inet_pton(AF_INET, fs.addr, &a4) != 1) {
		fprintf(stderr, "faultsrv: --listen takes an IPv4 loopback address, not %s\n",
		    o.listen);
		usage(stderr, 2);
	}
	fs.port = (unsigned int)o.port;
	fs.base = event_base_new();
	if (fs.base == NULL)
		log_fatal("cannot set up libevent");

	/* Bound once to learn the port (and count SYNs to it), then as the mode wants. */
	first = fs.fault;
	fs.fault = FAULT_PASS;
	listener_set(&fs, FAULT_PASS);
	fs.syn = syn_open(fs.base, fs.port);
	fault_set(&fs, first);

	control = evhttp_new(fs.base);
	if (control == NULL)
		log_fatal("cannot set up libevent");
	evhttp_set_gencb(control, request_cb, &fs);
	control_port = serve_bind(control, fs.addr, 0);

	serve_signals(fs.base, sigs);
	/* The control port first: a test waits for --port-file alone. */
	if (o.control_port_file != NULL)
		serve_port_file(o.control_port_file, control_port);
	serve_announce(o.port_file, fs.addr, fs.port, o.quiet);

	if (event_base_dispatch(fs.base) < 0)
		log_fatal("event loop failed");

	conn_close_all(&fs);
	listener_close(&fs);
	syn_free(fs.syn);
	evhttp_free(control);
	event_free(sigs[0]);
	event_free(sigs[1]);
	event_base_free(fs.base);
	free(fs.addr);
	libevent_global_shutdown();
	return 0;
}
