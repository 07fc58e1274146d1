/*
 * loadgen: a load generator for tokenbrokerd's socket API (HTTP/1.1 over a
 * Unix socket) and for its proxies (HTTP/1.1 over loopback TCP).  One
 * process, one libevent loop, non-blocking bufferevents.
 *
 * usage: loadgen {-s SOCKET | --tcp HOST:PORT} [-c CONNECTIONS]
 *                [-n REQUESTS | -d SECONDS] [-k] [--accept text|json]
 *                [-t TIMEOUT] [--max-time SECONDS] [--max-samples N]
 *                [--rate R] [--pipeline K] PATH
 *        loadgen {-s SOCKET | --tcp HOST:PORT} -c CONNECTIONS -d SECONDS
 *                --abuse idle|slow|garbage|bighead|hangup|noread
 *                [--dribble-ms MS] [--hangup-ms MS] [--reopen-ms MS]
 *                [--head-size BYTES] PATH
 *
 * Each of the C connections sends "GET PATH HTTP/1.1" and reads the whole
 * answer (Content-Length, chunked, or up to EOF when the server says
 * neither) before it sends the next request.  With -k a connection is kept
 * for the next request; without it every request opens a new connection
 * and asks the server to close it, and its latency includes the connect.
 * With -k and --pipeline K a connection sends K requests at once and then
 * reads their K answers (each one's latency from that write).  --rate R
 * paces the run to at most R requests a second over all connections (a
 * connection waits for its turn before its next request; the latency
 * counts from when it sends).  Over TCP (HOST a numeric address or a name,
 * IPv6 in brackets) the Host header is HOST:PORT as given, and Nagle is
 * off.
 *
 * With --abuse the C connections are hostile clients instead, for -d
 * seconds, each misbehaving in the one way MODE says, again on a new
 * connection each time the server closes one (after --reopen-ms, default
 * 100): idle sends nothing; slow dribbles a head for PATH one byte every
 * --dribble-ms (default 1000) and never ends it; garbage writes random
 * bytes; bighead sends one request for PATH with --head-size bytes of head
 * (default 1 MiB); hangup sends the request and hangs up after --hangup-ms
 * (default 100) without reading; noread pipelines requests and never reads
 * an answer.  bench/abuse.c says what is counted; the result line is
 *   result: abuse=MODE connections=C opened=N closed=N (by the server)
 *           hungup=N open_at_end=N connect_errors=N retries=N bytes_sent=N
 *           held_mean_s=S held_max_s=S elapsed_s=S codes=503:N,none:N
 * (held: how long the server kept a connection open; "none" counts closes
 * with no answer) and the exit status 0 when a connection could be made.
 *
 * The run is always bounded: -n stops after that many requests (or after
 * --max-time, default 120 s, counting the ones not answered as timeouts);
 * -d stops issuing after that many seconds and abandons requests then in
 * flight (not counted in the figures).  Neither given: -n 1000.  Each
 * request must be answered within -t seconds (default 10).  SIGINT and
 * SIGTERM end the run early, as if -d had run out, and it still reports.
 *
 * Latencies are kept in an array and sorted at the end: all of them with
 * -n; with -d a uniform reservoir sample of --max-samples (default 2000000)
 * when there are more (min, max and mean always count every answer).
 *
 * Bodies are discarded unread and wiped first: they carry tokens.
 *
 * The last line of the output is machine-readable:
 *   result: requests=N answered=N ok=N non2xx=N errors=N abandoned=N
 *           elapsed_s=S cpu_s=S rps=R min_us=.. p50_us=.. p90_us=.. p99_us=..
 *           max_us=.. mean_us=.. codes=200:N,503:N
 * (one line).  ok counts 2xx answers, non2xx other answers, errors requests
 * that got no answer (connect, I/O, malformed answer, timeout); rps is
 * answered / elapsed_s; cpu_s is loadgen's own CPU time (user + system).
 * samples is how many latencies the percentiles come from.  Exit status: 0
 * when there were answers and every request counted got a 2xx one, 1
 * otherwise, 2 on a usage error.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "abuse.h"
#include "http1.h"
#include "util.h"

#define LG_HEADER_MAX 16384
#define LG_BODY_MAX (64 * 1024 * 1024) /* a Content-Length, or a chunk */
#define LG_LINE_MAX 1024		/* a chunk's size line, a trailer line */
#define LG_CODES 1000
#define LG_RETRY_US 1000	      /* after EAGAIN from connect: backlog full */
#define LG_FAIL_PAUSE_US 10000 /* after a connect that failed outright */
#define LG_DEFAULT_REQUESTS 1000
#define LG_DEFAULT_TIMEOUT_S 10.0
#define LG_DEFAULT_MAX_TIME_S 120.0
#define LG_DEFAULT_MAX_SAMPLES 2000000
#define LG_MAX_CONNECTIONS 100000
#define LG_MAX_PIPELINE 1000
#define LG_DEFAULT_DRIBBLE_S 1.0
#define LG_DEFAULT_HANGUP_S 0.1
#define LG_DEFAULT_REOPEN_S 0.1
#define LG_DEFAULT_HEAD_SIZE (1024 * 1024)

enum lg_state {
	LG_IDLE,    /* no request in flight */
	LG_WAITING, /* request counted, connect retry pending */
	LG_PAUSED,  /* no request: a connect failed, next one after a pause */
	LG_PACED,   /* no request: --rate holds the next one back */
	LG_HEAD,    /* request sent, reading status line and headers */
	LG_BODY,    /* reading body_left more bytes */
	LG_BODY_EOF, /* reading the body up to EOF */
	LG_CHUNK_SIZE,	/* chunked: a chunk's size line; the chunked states last */
	LG_CHUNK_DATA,	/* chunked: body_left more bytes of the chunk */
	LG_CHUNK_CRLF,	/* chunked: the CRLF after a chunk */
	LG_CHUNK_TRAILER /* chunked: trailer lines up to an empty one */
};

enum lg_error {
	LG_ERR_CONNECT,
	LG_ERR_IO,
	LG_ERR_PARSE,
	LG_ERR_TIMEOUT,
	LG_ERR_MAX
};

static const char *const lg_error_names[LG_ERR_MAX] = { "connect", "io", "parse", "timeout" };

struct lg_conf {
	const char *socket;
	const char *tcp; /* HOST:PORT */
	const char *path;
	unsigned connections;
	uint64_t requests; /* 0: bounded by duration_s */
	double duration_s;
	double timeout_s;
	double max_time_s;
	size_t max_samples;
	bool keepalive;
	bool text;
	double rate;	   /* requests a second over all connections; 0: no limit */
	unsigned pipeline; /* requests sent at once on a connection */
	int abuse;	   /* an enum abuse_mode, or -1 */
	struct abuse_opts abuse_opts;
};

struct lg;

/* One client connection slot; bev is NULL between connections. */
struct lg_conn {
	struct lg *lg;
	struct bufferevent *bev;
	struct event *retry;
	enum lg_state state;
	uint64_t start_ns; /* when the current request began */
	uint64_t next_ns;  /* --rate: when the next one may */
	unsigned outstanding; /* requests sent and not answered yet */
	size_t body_left;
	int status;
	bool close_after; /* the server said Connection: close */
	bool connecting;  /* TCP: connect() not finished yet */
};

struct lg {
	struct event_base *base;
	struct lg_conf conf;
	struct sockaddr_storage sa; /* the Unix socket's or the TCP target's */
	socklen_t salen;
	const char *target; /* for messages */
	char *request;
	size_t request_len;
	struct lg_conn *conns;
	struct abuse *abuse; /* --abuse: hostile clients instead of conns */
	struct event *stop; /* end of -d, or --max-time */
	struct event *sigint;
	struct event *sigterm;
	bool interrupted;
	struct timeval timeout_tv;
	bool stopping;
	unsigned busy; /* connections with a request in flight */

	uint64_t t0_ns;
	uint64_t t_end_ns;
	uint64_t started;
	uint64_t answered;
	uint64_t ok;
	uint64_t errors[LG_ERR_MAX];
	uint64_t abandoned;
	uint64_t codes[LG_CODES];
	uint64_t connect_retries;

	uint64_t *samples; /* latencies in ns; a reservoir past max_samples */
	size_t nsamples;
	uint64_t min_ns;
	uint64_t max_ns;
	double sum_ns;
	uint64_t rng;
};

static void lg_conn_next(struct lg_conn *conn);
static void lg_conn_connect(struct lg_conn *conn);

static void
lg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
lg_die(const char *fmt, ...)
{
	va_list ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
lg_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		lg_die("out of memory");
	return p;
}

/* Stores one latency: every one while there is room, then a reservoir. */
static void
lg_sample(struct lg *lg, uint64_t ns)
{
	uint64_t seen = lg->answered; /* already counts this answer */

	if (ns < lg->min_ns)
		lg->min_ns = ns;
	if (ns > lg->max_ns)
		lg->max_ns = ns;
	lg->sum_ns += (double)ns;
	if (lg->nsamples < lg->conf.max_samples) {
		lg->samples[lg->nsamples++] = ns;
	} else {
		uint64_t j = util_random(&lg->rng) % seen;

		if (j < lg->nsamples)
			lg->samples[j] = ns;
	}
}

/* Ends the run: the loop stops once no callback is left to run. */
static void
lg_finish(struct lg *lg)
{
	if (lg->t_end_ns == 0)
		lg->t_end_ns = util_now_ns();
	event_base_loopbreak(lg->base);
}

static void
lg_conn_close(struct lg_conn *conn)
{
	if (conn->bev != NULL) {
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	conn->close_after = false;
	conn->connecting = false;
}

/* The current request is over, answered or not; go on with the next one. */
static void
lg_conn_done(struct lg_conn *conn, bool keep)
{
	conn->state = LG_IDLE;
	conn->lg->busy--;
	if (!keep)
		lg_conn_close(conn);
	lg_conn_next(conn);
}

/* The requests in flight on conn failed with e: each is counted. */
static void
lg_conn_fail(struct lg_conn *conn, enum lg_error e)
{
	conn->lg->errors[e] += conn->outstanding;
	conn->outstanding = 0;
	lg_conn_done(conn, false);
}

/*
 * A whole answer has been read: the next one of a pipelined batch is read
 * next, or the connection goes on with its next request.
 */
static void
lg_conn_answered(struct lg_conn *conn)
{
	struct lg *lg = conn->lg;
	uint64_t ns = util_now_ns() - conn->start_ns;

	lg->answered++;
	lg->codes[conn->status]++;
	if (conn->status >= 200 && conn->status < 300)
		lg->ok++;
	lg_sample(lg, ns);
	if (--conn->outstanding > 0) {
		conn->state = LG_HEAD;
		return;
	}
	lg_conn_done(conn, lg->conf.keepalive && !conn->close_after);
}

/* Discards n bytes of body, wiping them first. */
static void
lg_drain_wipe(struct evbuffer *in, size_t n)
{
	struct evbuffer_iovec v[16];
	size_t left = n;

	while (left > 0) {
		int nv = evbuffer_peek(in, (ev_ssize_t)left, NULL, v, 16);
		size_t done = 0;

		if (nv <= 0)
			break;
		for (int i = 0; i < nv && i < 16 && done < left; i++) {
			size_t len = v[i].iov_len;

			if (len > left - done)
				len = left - done;
			explicit_bzero(v[i].iov_base, len);
			done += len;
		}
		evbuffer_drain(in, done);
		left -= done;
	}
}

/*
 * Parses the status line and headers, the first len bytes of head (they end
 * in CRLF CRLF).  Returns 0, or -1 for a malformed answer.
 */
static int
lg_parse_head(struct lg_conn *conn, const char *head, size_t len)
{
	const char *p = head, *end = head + len - 2, *eol, *v;
	bool have_length = false, chunked = false;
	unsigned long long clen = 0;
	size_t vlen;

	eol = memchr(p, '\r', (size_t)(end - p));
	if (eol == NULL || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9' || (eol - p > 12 && p[12] != ' '))
		return -1;
	conn->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	conn->close_after = p[7] == '0';
	for (p = eol + 2; p < end; p = eol + 2) {
		size_t hl;

		if ((eol = memchr(p, '\r', (size_t)(end - p))) == NULL || eol[1] != '\n')
			return -1;
		hl = (size_t)(eol - p);
		if ((v = http1_header_value(p, hl, "Content-Length", &vlen)) != NULL) {
			char num[24], *e;

			if (vlen == 0 || vlen >= sizeof(num) || have_length)
				return -1;
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			errno = 0;
			clen = strtoull(num, &e, 10);
			if (*e != '\0' || errno != 0 || num[0] < '0' || num[0] > '9' ||
			    clen > LG_BODY_MAX)
				return -1;
			have_length = true;
		} else if ((v = http1_header_value(p, hl, "Connection", &vlen)) != NULL) {
			if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
				conn->close_after = true;
		} else if ((v = http1_header_value(p, hl, "Transfer-Encoding", &vlen)) != NULL) {
			/* chunked, the only coding a server may send unasked */
			if (chunked || vlen != 7 || strncasecmp(v, "chunked", 7) != 0)
				return -1;
			chunked = true;
		}
	}
	if (conn->status < 200)
		return -1; /* interim answers: never asked for */
	if (conn->status == 204 || conn->status == 304) {
		conn->body_left = 0;
		conn->state = LG_BODY;
	} else if (chunked) {
		conn->state = LG_CHUNK_SIZE; /* and any Content-Length is ignored */
	} else if (have_length) {
		conn->body_left = (size_t)clen;
		conn->state = LG_BODY;
	} else {
		conn->close_after = true;
		conn->state = LG_BODY_EOF;
	}
	return 0;
}

/*
 * The length of the CRLF-ended line at the start of in, without the CRLF:
 * -1 when it is not all there yet, -2 when it is longer than LG_LINE_MAX.
 */
static ev_ssize_t
lg_line(struct evbuffer *in)
{
	size_t eol_len = 0;
	struct evbuffer_ptr pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);

	if (pos.pos < 0)
		return evbuffer_get_length(in) > LG_LINE_MAX ? -2 : -1;
	return pos.pos > LG_LINE_MAX ? -2 : pos.pos;
}

/*
 * The size a chunk's size line (n bytes at the start of in) gives, before
 * any extension, or -1 when it is malformed.
 */
static long long
lg_chunk_size(struct evbuffer *in, size_t n)
{
	const char *line = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	long long size = 0;
	size_t i;

	for (i = 0; i < n && line[i] != ';' && line[i] != ' ' && line[i] != '\t'; i++) {
		int d = line[i] >= '0' && line[i] <= '9'   ? line[i] - '0'
			: line[i] >= 'a' && line[i] <= 'f' ? line[i] - 'a' + 10
			: line[i] >= 'A' && line[i] <= 'F' ? line[i] - 'A' + 10
							   : -1;

		if (d < 0 || size > LG_BODY_MAX)
			return -1;
		size = size * 16 + d;
	}
	return i == 0 || size > LG_BODY_MAX ? -1 : size;
}

/*
 * Takes the next piece of a chunked body from in.  Returns 1 when it did
 * and there is more to take, 0 when it needs more data, 2 when the body is
 * complete, -1 when it is malformed.
 */
static int
lg_chunked(struct lg_conn *conn, struct evbuffer *in)
{
	ev_ssize_t n;
	long long size;
	size_t len;

	switch (conn->state) {
	case LG_CHUNK_SIZE:
		if ((n = lg_line(in)) < 0)
			return n == -1 ? 0 : -1;
		if ((size = lg_chunk_size(in, (size_t)n)) < 0)
			return -1;
		evbuffer_drain(in, (size_t)n + 2);
		conn->body_left = (size_t)size;
		conn->state = size == 0 ? LG_CHUNK_TRAILER : LG_CHUNK_DATA;
		return 1;
	case LG_CHUNK_DATA:
		len = evbuffer_get_length(in);
		if (len > conn->body_left)
			len = conn->body_left;
		lg_drain_wipe(in, len);
		conn->body_left -= len;
		if (conn->body_left > 0)
			return 0;
		conn->state = LG_CHUNK_CRLF;
		return 1;
	case LG_CHUNK_CRLF:
		if (evbuffer_get_length(in) < 2)
			return 0;
		if (memcmp(evbuffer_pullup(in, 2), "\r\n", 2) != 0)
			return -1;
		evbuffer_drain(in, 2);
		conn->state = LG_CHUNK_SIZE;
		return 1;
	case LG_CHUNK_TRAILER:
		if ((n = lg_line(in)) < 0)
			return n == -1 ? 0 : -1;
		lg_drain_wipe(in, (size_t)n + 2);
		return n == 0 ? 2 : 1;
	default:
		return -1;
	}
}

/*
 * The answer is complete.  Anything after the last one expected means the
 * framing is off; after one of a pipelined batch it is the next.  Returns
 * whether there is more in to read.
 */
static bool
lg_conn_complete(struct lg_conn *conn, struct evbuffer *in)
{
	if (conn->outstanding > 1) {
		lg_conn_answered(conn);
		return evbuffer_get_length(in) > 0;
	}
	if (evbuffer_get_length(in) > 0) {
		lg_drain_wipe(in, evbuffer_get_length(in));
		lg_conn_fail(conn, LG_ERR_PARSE);
		return false;
	}
	lg_conn_answered(conn);
	return false;
}

/*
 * Takes what it can of the answer in in.  Returns true when an answer of
 * a pipelined batch ended and more of the next one is there to take.
 */
static bool
lg_read_answer(struct lg_conn *conn, struct evbuffer *in)
{
	if (conn->state == LG_HEAD) {
		struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		size_t hlen;
		int r;

		if (pos.pos < 0) {
			if (evbuffer_get_length(in) > LG_HEADER_MAX)
				lg_conn_fail(conn, LG_ERR_PARSE);
			return false;
		}
		hlen = (size_t)pos.pos + 4;
		if (hlen > LG_HEADER_MAX) {
			lg_conn_fail(conn, LG_ERR_PARSE);
			return false;
		}
		r = lg_parse_head(conn, (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen), hlen);
		evbuffer_drain(in, hlen);
		if (r < 0) {
			lg_conn_fail(conn, LG_ERR_PARSE);
			return false;
		}
	}
	if (conn->state == LG_BODY) {
		size_t n = evbuffer_get_length(in);

		if (n > conn->body_left)
			n = conn->body_left;
		lg_drain_wipe(in, n);
		conn->body_left -= n;
		if (conn->body_left == 0)
			return lg_conn_complete(conn, in);
	} else if (conn->state >= LG_CHUNK_SIZE) {
		int r;

		while ((r = lg_chunked(conn, in)) == 1)
			;
		if (r < 0)
			lg_conn_fail(conn, LG_ERR_PARSE);
		else if (r == 2)
			return lg_conn_complete(conn, in);
	} else if (conn->state == LG_BODY_EOF) {
		lg_drain_wipe(in, evbuffer_get_length(in));
	} else if ((conn->state == LG_IDLE || conn->state == LG_PACED) &&
		   evbuffer_get_length(in) > 0) {
		/* data nobody asked for on an idle connection */
		lg_drain_wipe(in, evbuffer_get_length(in));
		lg_conn_close(conn);
	}
	return false;
}

static void
lg_read_cb(struct bufferevent *bev, void *arg)
{
	struct lg_conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (lg_read_answer(conn, in))
		;
}

/*
 * A connect failed (error e): counted, and the connection pauses before
 * its next request so as not to spin on a dead server.
 */
static void
lg_conn_connect_failed(struct lg_conn *conn, int e)
{
	struct lg *lg = conn->lg;
	struct timeval tv;

	if (lg->errors[LG_ERR_CONNECT] == 0)
		fprintf(stderr, "loadgen: cannot connect to %s: %s\n", lg->target, strerror(e));
	lg->errors[LG_ERR_CONNECT] += conn->outstanding;
	conn->outstanding = 0;
	lg->busy--;
	lg_conn_close(conn);
	conn->connecting = false;
	conn->state = LG_PAUSED;
	tv = util_tv(LG_FAIL_PAUSE_US / 1e6);
	evtimer_add(conn->retry, &tv);
}

static void
lg_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lg_conn *conn = arg;

	if (what & BEV_EVENT_CONNECTED) {
		conn->connecting = false;
		return;
	}
	if (conn->connecting) {
		int e = evutil_socket_geterror(bufferevent_getfd(bev));

		lg_conn_connect_failed(conn, (what & BEV_EVENT_TIMEOUT) ? ETIMEDOUT
					     : e != 0			 ? e
									 : ECONNREFUSED);
		return;
	}
	if (conn->state == LG_BODY_EOF && (what & BEV_EVENT_EOF)) {
		lg_conn_answered(conn);
		return;
	}
	if (conn->state == LG_IDLE || conn->state == LG_PACED) {
		lg_conn_close(conn); /* the server closed a kept connection */
		return;
	}
	lg_conn_fail(conn, (what & BEV_EVENT_TIMEOUT) ? LG_ERR_TIMEOUT : LG_ERR_IO);
}

/*
 * The connect retry timer, the end of a pause after a failed connect, or
 * --rate letting the next request go.
 */
static void
lg_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *conn = arg;

	(void)fd;
	(void)what;
	if (conn->state == LG_PAUSED || conn->state == LG_PACED) {
		conn->state = LG_IDLE;
		lg_conn_next(conn);
	} else {
		lg_conn_connect(conn);
	}
}

/* Writes the outstanding requests, one or a pipelined batch. */
static void
lg_conn_send(struct lg_conn *conn)
{
	struct lg *lg = conn->lg;

	for (unsigned i = 0; i < conn->outstanding; i++)
		if (bufferevent_write(conn->bev, lg->request, lg->request_len) < 0)
			lg_die("out of memory");
}

/* Opens a new connection for the current request and sends it. */
static void
lg_conn_connect(struct lg_conn *conn)
{
	struct lg *lg = conn->lg;
	bool tcp = lg->sa.ss_family != AF_UNIX;
	struct timeval tv;
	int fd, one = 1;

	if (lg->stopping)
		return;
	fd = socket(lg->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		lg_die("cannot create a socket: %s", strerror(errno));
	if (tcp) {
		/* libevent connects, and says when (BEV_EVENT_CONNECTED) */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else if (connect(fd, (struct sockaddr *)&lg->sa, lg->salen) < 0) {
		int e = errno;

		close(fd);
		if (e == EAGAIN || e == EINTR) {
			/* the listen backlog is full: try again shortly */
			lg->connect_retries++;
			conn->state = LG_WAITING;
			tv = util_tv(LG_RETRY_US / 1e6);
			evtimer_add(conn->retry, &tv);
			return;
		}
		lg_conn_connect_failed(conn, e);
		return;
	}
	conn->bev = bufferevent_socket_new(lg->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (conn->bev == NULL)
		lg_die("cannot create a bufferevent");
	bufferevent_setcb(conn->bev, lg_read_cb, NULL, lg_event_cb, conn);
	bufferevent_set_timeouts(conn->bev, &lg->timeout_tv, &lg->timeout_tv);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	conn->state = LG_HEAD;
	if (tcp) {
		conn->connecting = true;
		if (bufferevent_socket_connect(conn->bev, (struct sockaddr *)&lg->sa,
					       (int)lg->salen) < 0) {
			lg_conn_connect_failed(conn, errno);
			return;
		}
	}
	lg_conn_send(conn);
}

/*
 * Under --rate, whether conn must wait for its turn (then its timer is
 * set); else takes the turn.  Each connection has rate / connections a
 * second, and one that fell behind does not make up for it in a burst.
 */
static bool
lg_conn_paced(struct lg_conn *conn)
{
	struct lg *lg = conn->lg;
	uint64_t now = util_now_ns(), interval;
	struct timeval tv;

	if (lg->conf.rate <= 0)
		return false;
	if (conn->next_ns > now) {
		conn->state = LG_PACED;
		tv = util_tv((double)(conn->next_ns - now) / 1e9);
		evtimer_add(conn->retry, &tv);
		return true;
	}
	interval = (uint64_t)((double)lg->conf.connections / lg->conf.rate * 1e9);
	/* From the turn it was given (timers fire late), unless well behind it. */
	if (conn->next_ns == 0 || now - conn->next_ns >= interval)
		conn->next_ns = now;
	conn->next_ns += interval;
	return false;
}

/* Starts conn's next request (or batch), or leaves it idle when the run is over. */
static void
lg_conn_next(struct lg_conn *conn)
{
	struct lg *lg = conn->lg;
	unsigned n = lg->conf.pipeline;

	if (lg->stopping || (lg->conf.requests > 0 && lg->started >= lg->conf.requests)) {
		lg_conn_close(conn);
		if (lg->busy == 0)
			lg_finish(lg);
		return;
	}
	if (lg_conn_paced(conn))
		return;
	if (lg->conf.requests > 0 && lg->conf.requests - lg->started < n)
		n = (unsigned)(lg->conf.requests - lg->started);
	lg->started += n;
	lg->busy++;
	conn->outstanding = n;
	conn->start_ns = util_now_ns();
	conn->status = 0;
	if (conn->bev == NULL) {
		lg_conn_connect(conn);
		return;
	}
	conn->state = LG_HEAD;
	lg_conn_send(conn);
}

/*
 * -d ran out or a signal came (requests in flight are abandoned), or
 * --max-time did (they are timeouts).
 */
static void
lg_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	if (what & EV_SIGNAL)
		lg->interrupted = true;
	if (lg->stopping)
		return;
	lg->stopping = true;
	lg->t_end_ns = util_now_ns();
	if (lg->abuse != NULL)
		abuse_stop(lg->abuse);
	for (unsigned i = 0; i < lg->conf.connections; i++) {
		struct lg_conn *conn = &lg->conns[i];

		if (conn->state != LG_IDLE && conn->state != LG_PAUSED &&
		    conn->state != LG_PACED) {
			if (lg->conf.requests > 0 && !lg->interrupted)
				lg->errors[LG_ERR_TIMEOUT] += conn->outstanding;
			else
				lg->abandoned += conn->outstanding;
			conn->outstanding = 0;
			conn->state = LG_IDLE;
			lg->busy--;
		}
		evtimer_del(conn->retry);
		lg_conn_close(conn);
	}
	lg_finish(lg);
}

static int
lg_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted samples, in microseconds. */
static double
lg_percentile_us(const struct lg *lg, unsigned p)
{
	size_t rank;

	if (lg->nsamples == 0)
		return 0;
	rank = (p * lg->nsamples + 99) / 100;
	if (rank < 1)
		rank = 1;
	if (rank > lg->nsamples)
		rank = lg->nsamples;
	return (double)lg->samples[rank - 1] / 1000.0;
}

static uint64_t
lg_errors(const struct lg *lg)
{
	uint64_t n = 0;

	for (int i = 0; i < LG_ERR_MAX; i++)
		n += lg->errors[i];
	return n;
}

static void
lg_report(struct lg *lg)
{
	double elapsed = (double)(lg->t_end_ns - lg->t0_ns) / 1e9;
	double rps = elapsed > 0 ? (double)lg->answered / elapsed : 0;
	double min_us = lg->answered > 0 ? (double)lg->min_ns / 1000.0 : 0;
	double mean_us = lg->answered > 0 ? lg->sum_ns / (double)lg->answered / 1000.0 : 0;
	double p50, p90, p99;
	uint64_t errors = lg_errors(lg);
	const char *sep = "";
	struct rusage ru;
	double cpu_s = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

	qsort(lg->samples, lg->nsamples, sizeof(*lg->samples), lg_cmp_u64);
	p50 = lg_percentile_us(lg, 50);
	p90 = lg_percentile_us(lg, 90);
	p99 = lg_percentile_us(lg, 99);

	printf("loadgen: GET %s (%s) on %s, %u connection%s, %s", lg->conf.path,
	       lg->conf.text ? "text/plain" : "application/json", lg->target,
	       lg->conf.connections,
	       lg->conf.connections == 1 ? "" : "s",
	       lg->conf.keepalive ? "keep-alive" : "one request per connection");
	if (lg->conf.pipeline > 1)
		printf(", %u pipelined", lg->conf.pipeline);
	if (lg->conf.rate > 0)
		printf(", at most %.1f requests/s", lg->conf.rate);
	printf("\n");
	printf("requests:   %" PRIu64 " sent, %" PRIu64 " answered (%" PRIu64 " 2xx), %" PRIu64
	       " errors, %" PRIu64 " abandoned at the end\n",
	       lg->started, lg->answered, lg->ok, errors, lg->abandoned);
	if (errors > 0) {
		printf("errors:    ");
		for (int i = 0; i < LG_ERR_MAX; i++)
			printf(" %s %" PRIu64, lg_error_names[i], lg->errors[i]);
		printf("\n");
	}
	printf("status:    ");
	for (int i = 0; i < LG_CODES; i++)
		if (lg->codes[i] > 0)
			printf(" %d: %" PRIu64, i, lg->codes[i]);
	printf("%s\n", lg->answered == 0 ? " none" : "");
	if (lg->connect_retries > 0)
		printf("connects:   %" PRIu64 " retried (listen backlog full)\n",
		       lg->connect_retries);
	printf("throughput: %.1f requests/s over %.3f s (loadgen used %.2f s of CPU)\n", rps,
	       elapsed, cpu_s);
	printf("latency:    min %.1f us, p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us, "
	       "mean %.1f us",
	       min_us, p50, p90, p99, (double)lg->max_ns / 1000.0, mean_us);
	if (lg->nsamples < lg->answered)
		printf(" (percentiles from a sample of %zu)", lg->nsamples);
	printf("\n");
	if (lg->interrupted)
		printf("interrupted: the figures cover the run up to the signal\n");
	printf("result: requests=%" PRIu64 " answered=%" PRIu64 " ok=%" PRIu64
	       " non2xx=%" PRIu64 " errors=%" PRIu64 " abandoned=%" PRIu64
	       " elapsed_s=%.6f cpu_s=%.3f rps=%.1f min_us=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f"
	       " max_us=%.1f mean_us=%.1f samples=%zu codes=",
	       lg->started, lg->answered, lg->ok, lg->answered - lg->ok, errors, lg->abandoned,
	       elapsed, cpu_s, rps, min_us, p50, p90, p99, (double)lg->max_ns / 1000.0, mean_us,
	       lg->nsamples);
	for (int i = 0; i < LG_CODES; i++) {
		if (lg->codes[i] > 0) {
			printf("%s%d:%" PRIu64, sep, i, lg->codes[i]);
			sep = ",";
		}
	}
	printf("%s\n", *sep == '\0' ? "none" : "");
	fflush(stdout);
}

static void
lg_usage(FILE *f)
{
	fputs("usage: loadgen {-s SOCKET | --tcp HOST:PORT} [-c CONNECTIONS]\n"
	      "               [-n REQUESTS | -d SECONDS] [-k] [--accept text|json]\n"
	      "               [-t TIMEOUT] [--max-time SECONDS] [--max-samples N]\n"
	      "               [--rate R] [--pipeline K] PATH\n"
	      "       loadgen {-s SOCKET | --tcp HOST:PORT} -c CONNECTIONS -d SECONDS\n"
	      "               --abuse idle|slow|garbage|bighead|hangup|noread\n"
	      "               [--dribble-ms MS] [--hangup-ms MS] [--reopen-ms MS]\n"
	      "               [--head-size BYTES] PATH\n"
	      "  -s, --socket       tokenbrokerd's Unix socket\n"
	      "  --tcp              or a TCP server (a proxy): HOST:PORT, [IPv6]:PORT\n"
	      "  -c, --connections  concurrent connections (default 1)\n"
	      "  -n, --requests     stop after this many requests (default 1000)\n"
	      "  -d, --duration     or after this many seconds\n"
	      "  -k, --keepalive    keep connections; else one request per connection\n"
	      "  --accept           text (text/plain) or json (default)\n"
	      "  -t, --timeout      seconds one request may take (default 10)\n"
	      "  --max-time         seconds a -n run may take (default 120)\n"
	      "  --max-samples      latencies kept for percentiles with -d (default 2000000)\n"
	      "  --rate             at most this many requests a second, all connections\n"
	      "  --pipeline         with -k: requests sent at once on a connection (default 1)\n"
	      "  --abuse            hostile clients instead, for -d seconds (see loadgen.c)\n"
	      "  --dribble-ms       slow: between two bytes (default 1000)\n"
	      "  --hangup-ms        hangup: from the request to the hang-up (default 100)\n"
	      "  --reopen-ms        abuse: before a new connection (default 100)\n"
	      "  --head-size        bighead: bytes of request head (default 1048576)\n",
	      f);
}

/* A number above 0 and at most max, of what (for the message), or exit 2. */
static double
lg_parse_positive(const char *opt, const char *s, double max, const char *what)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(d > 0) || d > max) {
		fprintf(stderr, "loadgen: %s: not a number of %s from 0 to %.0f: %s\n", opt, what,
			max, s);
		exit(2);
	}
	return d;
}

static double
lg_parse_seconds(const char *opt, const char *s)
{
	return lg_parse_positive(opt, s, 86400, "seconds");
}

static double
lg_parse_ms(const char *opt, const char *s)
{
	return lg_parse_positive(opt, s, 86400000, "milliseconds") / 1000;
}

static unsigned long long
lg_parse_count(const char *opt, const char *s, unsigned long long max)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] < '0' || s[0] > '9' || n < 1 ||
	    n > max) {
		fprintf(stderr, "loadgen: %s: not a number from 1 to %llu: %s\n", opt, max, s);
		exit(2);
	}
	return n;
}

/* Makes room for a descriptor per connection, as far as the hard limit allows. */
static void
lg_raise_nofile(unsigned connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connections + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		fprintf(stderr, "loadgen: warning: only %llu descriptors for %u connections\n",
			(unsigned long long)rl.rlim_cur, connections);
}

static void
lg_parse_args(struct lg_conf *c, int argc, char **argv)
{
	enum {
		OPT_ACCEPT = 256,
		OPT_MAX_TIME,
		OPT_MAX_SAMPLES,
		OPT_TCP,
		OPT_RATE,
		OPT_PIPELINE,
		OPT_ABUSE,
		OPT_DRIBBLE_MS,
		OPT_HANGUP_MS,
		OPT_REOPEN_MS,
		OPT_HEAD_SIZE
	};
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "tcp", required_argument, NULL, OPT_TCP },
		{ "connections", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "keepalive", no_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "accept", required_argument, NULL, OPT_ACCEPT },
		{ "max-time", required_argument, NULL, OPT_MAX_TIME },
		{ "max-samples", required_argument, NULL, OPT_MAX_SAMPLES },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "pipeline", required_argument, NULL, OPT_PIPELINE },
		{ "abuse", required_argument, NULL, OPT_ABUSE },
		{ "dribble-ms", required_argument, NULL, OPT_DRIBBLE_MS },
		{ "hangup-ms", required_argument, NULL, OPT_HANGUP_MS },
		{ "reopen-ms", required_argument, NULL, OPT_REOPEN_MS },
		{ "head-size", required_argument, NULL, OPT_HEAD_SIZE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	c->connections = 1;
	c->timeout_s = LG_DEFAULT_TIMEOUT_S;
	c->max_time_s = LG_DEFAULT_MAX_TIME_S;
	c->max_samples = LG_DEFAULT_MAX_SAMPLES;
	c->pipeline = 1;
	c->abuse = -1;
	c->abuse_opts.dribble_s = LG_DEFAULT_DRIBBLE_S;
	c->abuse_opts.hangup_s = LG_DEFAULT_HANGUP_S;
	c->abuse_opts.reopen_s = LG_DEFAULT_REOPEN_S;
	c->abuse_opts.head_size = LG_DEFAULT_HEAD_SIZE;
	while ((ch = getopt_long(argc, argv, "s:c:n:d:kt:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->socket = optarg;
			break;
		case OPT_TCP:
			c->tcp = optarg;
			break;
		case 'c':
			c->connections = (unsigned)lg_parse_count("-c", optarg, LG_MAX_CONNECTIONS);
			break;
		case 'n':
			c->requests = lg_parse_count("-n", optarg, 1000000000ull);
			break;
		case 'd':
			c->duration_s = lg_parse_seconds("-d", optarg);
			break;
		case 'k':
			c->keepalive = true;
			break;
		case 't':
			c->timeout_s = lg_parse_seconds("-t", optarg);
			break;
		case OPT_ACCEPT:
			if (strcmp(optarg, "text") == 0)
				c->text = true;
			else if (strcmp(optarg, "json") == 0)
				c->text = false;
			else {
				fprintf(stderr, "loadgen: --accept: text or json, not %s\n", optarg);
				exit(2);
			}
			break;
		case OPT_MAX_TIME:
			c->max_time_s = lg_parse_seconds("--max-time", optarg);
			break;
		case OPT_MAX_SAMPLES:
			c->max_samples = (size_t)lg_parse_count("--max-samples", optarg,
								 100000000ull);
			break;
		case OPT_RATE:
			c->rate = lg_parse_positive("--rate", optarg, 10000000, "requests a second");
			break;
		case OPT_PIPELINE:
			c->pipeline = (unsigned)lg_parse_count("--pipeline", optarg, LG_MAX_PIPELINE);
			break;
		case OPT_ABUSE:
			if ((c->abuse = abuse_mode_from_name(optarg)) < 0) {
				fprintf(stderr, "loadgen: --abuse: idle, slow, garbage, bighead, hangup "
						"or noread, not %s\n",
					optarg);
				exit(2);
			}
			break;
		case OPT_DRIBBLE_MS:
			c->abuse_opts.dribble_s = lg_parse_ms("--dribble-ms", optarg);
			break;
		case OPT_HANGUP_MS:
			c->abuse_opts.hangup_s = lg_parse_ms("--hangup-ms", optarg);
			break;
		case OPT_REOPEN_MS:
			c->abuse_opts.reopen_s = lg_parse_ms("--reopen-ms", optarg);
			break;
		case OPT_HEAD_SIZE:
			c->abuse_opts.head_size =
				(size_t)lg_parse_count("--head-size", optarg, 1024ull * 1024 * 1024);
			break;
		case 'h':
			lg_usage(stdout);
			exit(0);
		default:
			lg_usage(stderr);
			exit(2);
		}
	}
	if (argc - optind != 1 || (c->socket == NULL) == (c->tcp == NULL)) {
		lg_usage(stderr);
		exit(2);
	}
	c->path = argv[optind];
	if (c->path[0] != '/' || strpbrk(c->path, " \t\r\n") != NULL) {
		fprintf(stderr, "loadgen: PATH must start with / and hold no blanks: %s\n",
			c->path);
		exit(2);
	}
	if (c->requests > 0 && c->duration_s > 0) {
		fprintf(stderr, "loadgen: -n and -d exclude each other\n");
		exit(2);
	}
	if (c->pipeline > 1 && !c->keepalive) {
		fprintf(stderr, "loadgen: --pipeline needs -k\n");
		exit(2);
	}
	if (c->abuse >= 0 && (c->duration_s == 0 || c->requests > 0)) {
		fprintf(stderr, "loadgen: --abuse runs for -d seconds, not -n requests\n");
		exit(2);
	}
	if (c->requests == 0 && c->duration_s == 0)
		c->requests = LG_DEFAULT_REQUESTS;
	if (c->requests > 0) {
		c->max_samples = (size_t)c->requests;
		if (c->connections > c->requests)
			c->connections = (unsigned)c->requests;
	}
}

/*
 * The address of HOST:PORT (HOST a name, a numeric address, an IPv6 one in
 * brackets), or it exits with a usage error.
 */
static void
lg_resolve(const char *target, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *colon = strrchr(target, ':');
	char host[256];
	size_t hlen;
	int r;

	if (colon == NULL || colon == target || colon[1] == '\0') {
		fprintf(stderr, "loadgen: --tcp: HOST:PORT, not %s\n", target);
		exit(2);
	}
	hlen = (size_t)(colon - target);
	if (target[0] == '[' && colon[-1] == ']') {
		target++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		fprintf(stderr, "loadgen: --tcp: no usable host in %s\n", target);
		exit(2);
	}
	memcpy(host, target, hlen);
	host[hlen] = '\0';
	if ((r = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		fprintf(stderr, "loadgen: --tcp: %s: %s\n", host, gai_strerror(r));
		exit(2);
	}
	memcpy(ret, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	freeaddrinfo(res);
}

int
main(int argc, char **argv)
{
	struct lg lg = { 0 };
	struct timeval tv;
	int n;

	lg_parse_args(&lg.conf, argc, argv);
	if (lg.conf.tcp != NULL) {
		lg_resolve(lg.conf.tcp, &lg.sa, &lg.salen);
		lg.target = lg.conf.tcp;
	} else {
		struct sockaddr_un *sun = (struct sockaddr_un *)&lg.sa;

		if (strlen(lg.conf.socket) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "loadgen: socket path too long: %s\n", lg.conf.socket);
			exit(2);
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, lg.conf.socket);
		lg.salen = sizeof(*sun);
		lg.target = lg.conf.socket;
	}
	signal(SIGPIPE, SIG_IGN);
	lg_raise_nofile(lg.conf.connections);

	n = asprintf(&lg.request, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n%s\r\n",
		     lg.conf.path, lg.conf.tcp != NULL ? lg.conf.tcp : "localhost",
		     lg.conf.text ? "text/plain" : "application/json",
		     lg.conf.keepalive ? "" : "Connection: close\r\n");
	if (n < 0)
		lg_die("out of memory");
	lg.request_len = (size_t)n;
	if (lg.conf.abuse >= 0)
		lg.conf.max_samples = 1; /* no requests of its own */
	lg.samples = lg_calloc(lg.conf.max_samples, sizeof(*lg.samples));
	lg.min_ns = UINT64_MAX;
	lg.rng = util_now_ns() | 1;
	lg.timeout_tv = util_tv(lg.conf.timeout_s);

	if ((lg.base = event_base_new()) == NULL)
		lg_die("cannot create an event base");
	lg.conns = lg_calloc(lg.conf.connections, sizeof(*lg.conns));
	for (unsigned i = 0; i < lg.conf.connections; i++) {
		lg.conns[i].lg = &lg;
		lg.conns[i].retry = evtimer_new(lg.base, lg_retry_cb, &lg.conns[i]);
		if (lg.conns[i].retry == NULL)
			lg_die("cannot create a timer");
	}
	lg.stop = evtimer_new(lg.base, lg_stop_cb, &lg);
	lg.sigint = evsignal_new(lg.base, SIGINT, lg_stop_cb, &lg);
	lg.sigterm = evsignal_new(lg.base, SIGTERM, lg_stop_cb, &lg);
	if (lg.stop == NULL || lg.sigint == NULL || lg.sigterm == NULL ||
	    evsignal_add(lg.sigint, NULL) < 0 || evsignal_add(lg.sigterm, NULL) < 0)
		lg_die("cannot set up timers and signals");
	tv = util_tv(lg.conf.requests > 0 ? lg.conf.max_time_s : lg.conf.duration_s);
	evtimer_add(lg.stop, &tv);

	lg.t0_ns = util_now_ns();
	if (lg.conf.abuse >= 0) {
		struct abuse_opts *o = &lg.conf.abuse_opts;

		o->mode = (enum abuse_mode)lg.conf.abuse;
		o->connections = lg.conf.connections;
		o->request = lg.request;
		o->request_len = lg.request_len;
		lg.abuse = abuse_new(lg.base, (struct sockaddr *)&lg.sa, lg.salen, o);
		abuse_start(lg.abuse);
	} else {
		for (unsigned i = 0; i < lg.conf.connections && !lg.stopping; i++)
			lg_conn_next(&lg.conns[i]);
	}
	if (lg.t_end_ns == 0)
		event_base_dispatch(lg.base);
	if (lg.t_end_ns == 0)
		lg.t_end_ns = util_now_ns();

	if (lg.abuse != NULL) {
		abuse_report(lg.abuse, (double)(lg.t_end_ns - lg.t0_ns) / 1e9, stdout);
		n = abuse_connected(lg.abuse) ? 0 : 1;
		lg.abuse = abuse_free(lg.abuse);
	} else {
		lg_report(&lg);
		n = lg.ok > 0 && lg.ok == lg.started - lg.abandoned ? 0 : 1;
	}

	for (unsigned i = 0; i < lg.conf.connections; i++) {
		lg_conn_close(&lg.conns[i]);
		event_free(lg.conns[i].retry);
	}
	event_free(lg.stop);
	event_free(lg.sigint);
	event_free(lg.sigterm);
	event_base_free(lg.base);
	free(lg.conns);
	free(lg.samples);
	free(lg.request);
	return n;
}
