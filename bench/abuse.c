/*
 * loadgen's hostile clients.  Each of C connections plays a script, the
 * bytes its mode sends:
 *
 *   idle     nothing
 *   slow     the request's head, one byte every dribble_s, its end never
 *            sent (more "X-Slow: 1" header lines instead): slowloris
 *   garbage  random bytes, as fast as the server takes them
 *   bighead  the request with header lines added up to head_size bytes
 *   hangup   the request, then a hang-up after hangup_s, the answer unread
 *   noread   the request over and over (pipelined) as fast as the server
 *            takes it, answers never read
 *
 * and reads what comes back (except noread, which only notices the
 * server's close), taking the status of the first answer.  When the server
 * closes the connection (or resets it, or a write fails) the connection is
 * counted closed, with how long the server held it; after reopen_s a new
 * one starts the script again.  hangup's connections close on their own
 * and are counted apart.  Connections are raw non-blocking sockets with an
 * event each, not bufferevents: what is sent, and when, is the point.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abuse.h"
#include "util.h"

#define ABUSE_CODES 1000
#define ABUSE_RETRY_S 0.001   /* after EAGAIN from connect: backlog full */
#define ABUSE_GARBAGE_LEN 4096
#define ABUSE_NOREAD_LEN 65536 /* requests repeated up to this, then again */
#define ABUSE_WRITE_MAX 65536  /* bytes written in one go */
#define ABUSE_SLOW_LINE "X-Slow: 1\r\n"
#define ABUSE_BIG_LINE_LEN 1000

static const char *const abuse_names[ABUSE_MODES] = {
	[ABUSE_IDLE] = "idle",	       [ABUSE_SLOW] = "slow",
	[ABUSE_GARBAGE] = "garbage",   [ABUSE_BIGHEAD] = "bighead",
	[ABUSE_HANGUP] = "hangup",     [ABUSE_NOREAD] = "noread",
};

/*
 * The bytes a connection sends: data[0..len), then, when endless,
 * data[loop..len) over and over.
 */
struct abuse_script {
	char *data;
	size_t len;
	size_t loop;
	bool endless;
};

struct abuse_conn {
	struct abuse *a;
	int fd;		      /* -1 between connections */
	struct event *io;     /* the socket: readable, writable, closed */
	struct event *timer;  /* dribble, hang-up, reopen, connect retry */
	bool connecting;      /* TCP: connect() not finished */
	bool open;	      /* connected, counted in opened */
	uint64_t sent;	      /* script bytes sent on this connection */
	uint64_t opened_ns;
	char head[12];	      /* the answer's first bytes: "HTTP/1.1 503" */
	size_t headlen;
};

struct abuse {
	struct event_base *base;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct abuse_opts o;
	struct abuse_script script;
	struct abuse_conn *conns;
	bool stopping;

	uint64_t opened;
	uint64_t closed; /* by the server */
	uint64_t hungup; /* by us (hangup) */
	uint64_t connect_errors;
	uint64_t connect_retries;
	uint64_t bytes_sent;
	uint64_t codes[ABUSE_CODES];
	uint64_t unanswered; /* closed before any status line came */
	uint64_t open_at_end;
	double held_sum_s;
	double held_max_s;
};

static void abuse_conn_connect(struct abuse_conn *c);
static void abuse_io_cb(evutil_socket_t fd, short what, void *arg);
static void abuse_conn_opened(struct abuse_conn *c);

static void *
abuse_alloc(size_t n)
{
	void *p = calloc(1, n);

	if (p == NULL) {
		fputs("loadgen: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

int
abuse_mode_from_name(const char *name)
{
	for (int i = 0; i < ABUSE_MODES; i++)
		if (strcmp(name, abuse_names[i]) == 0)
			return i;
	return -1;
}

const char *
abuse_mode_name(enum abuse_mode mode)
{
	return abuse_names[mode];
}

/* data is len bytes of script followed by what the script repeats. */
static void
abuse_script_set(struct abuse_script *s, char *data, size_t len, size_t loop, bool endless)
{
	s->data = data;
	s->len = len;
	s->loop = loop;
	s->endless = endless;
}

/* The script of o's mode, built once and shared by every connection. */
static void
abuse_script_make(struct abuse_script *s, const struct abuse_opts *o)
{
	/* o->request ends with the blank line; without it the head goes on. */
	size_t open_len = o->request_len - 2, n;
	uint64_t x = util_now_ns() | 1;
	char *d;

	switch (o->mode) {
	case ABUSE_IDLE:
		abuse_script_set(s, NULL, 0, 0, false);
		break;
	case ABUSE_SLOW:
		n = open_len + strlen(ABUSE_SLOW_LINE);
		d = abuse_alloc(n);
		memcpy(d, o->request, open_len);
		memcpy(d + open_len, ABUSE_SLOW_LINE, strlen(ABUSE_SLOW_LINE));
		abuse_script_set(s, d, n, open_len, true);
		break;
	case ABUSE_GARBAGE:
		d = abuse_alloc(ABUSE_GARBAGE_LEN);
		for (size_t i = 0; i < ABUSE_GARBAGE_LEN; i++)
			d[i] = (char)(util_random(&x) >> 56);
		abuse_script_set(s, d, ABUSE_GARBAGE_LEN, 0, true);
		break;
	case ABUSE_BIGHEAD:
		n = o->head_size > o->request_len ? o->head_size : o->request_len;
		d = abuse_alloc(n);
		memcpy(d, o->request, open_len);
		/* "X-Big-N: aaa...\r\n" lines up to the end, then the blank line */
		for (size_t at = open_len, line = 0; at < n - 2; line++) {
			int w = snprintf(d + at, n - 2 - at, "X-Big-%zu: ", line);
			size_t end = at + ABUSE_BIG_LINE_LEN < n - 2 ? at + ABUSE_BIG_LINE_LEN : n - 2;

			at = w > 0 && at + (size_t)w < end ? at + (size_t)w : at;
			memset(d + at, 'a', end - at);
			if (end - at >= 2)
				memcpy(d + end - 2, "\r\n", 2);
			at = end;
		}
		memcpy(d + n - 2, "\r\n", 2);
		abuse_script_set(s, d, n, 0, false);
		break;
	case ABUSE_HANGUP:
		d = abuse_alloc(o->request_len);
		memcpy(d, o->request, o->request_len);
		abuse_script_set(s, d, o->request_len, 0, false);
		break;
	case ABUSE_NOREAD:
		n = (ABUSE_NOREAD_LEN / o->request_len + 1) * o->request_len;
		d = abuse_alloc(n);
		for (size_t at = 0; at < n; at += o->request_len)
			memcpy(d + at, o->request, o->request_len);
		abuse_script_set(s, d, n, 0, true);
		break;
	default:
		abort();
	}
}

/*
 * The next piece of c's script, at most max bytes, or NULL when the script
 * is over; *ret_len its length.
 */
static const char *
abuse_next(const struct abuse_conn *c, size_t max, size_t *ret_len)
{
	const struct abuse_script *s = &c->a->script;
	size_t at, left;

	if (c->sent < s->len) {
		at = (size_t)c->sent;
	} else if (s->endless && s->len > s->loop) {
		at = s->loop + (size_t)((c->sent - s->len) % (s->len - s->loop));
	} else {
		return NULL;
	}
	left = s->len - at;
	*ret_len = left < max ? left : max;
	return s->data + at;
}

/* The modes that read what the server sends (noread only watches for its close). */
static bool
abuse_reads(const struct abuse *a)
{
	return a->o.mode != ABUSE_NOREAD;
}

/* The modes that send as fast as the server takes it. */
static bool
abuse_floods(const struct abuse *a)
{
	return a->o.mode == ABUSE_GARBAGE || a->o.mode == ABUSE_BIGHEAD ||
	       a->o.mode == ABUSE_NOREAD || a->o.mode == ABUSE_HANGUP;
}

/*
 * (Re)sets what wakes c: the server's answer (or, for noread, its close),
 * and with writing, the socket taking more.
 */
static void
abuse_conn_watch(struct abuse_conn *c, bool writing)
{
	struct abuse *a = c->a;
	short what = EV_PERSIST | (abuse_reads(a) ? EV_READ : EV_CLOSED) | (writing ? EV_WRITE : 0);

	if (c->io != NULL)
		event_free(c->io);
	c->io = event_new(a->base, c->fd, what, abuse_io_cb, c);
	if (c->io == NULL || event_add(c->io, NULL) < 0) {
		fputs("loadgen: cannot watch a socket\n", stderr);
		exit(1);
	}
}

/* c's timer fires after seconds. */
static void
abuse_conn_after(struct abuse_conn *c, double seconds)
{
	struct timeval tv = util_tv(seconds);

	evtimer_add(c->timer, &tv);
}

/* Drops c's socket and its events; a new connection follows after reopen_s. */
static void
abuse_conn_reset(struct abuse_conn *c)
{
	struct abuse *a = c->a;

	if (c->io != NULL) {
		event_free(c->io);
		c->io = NULL;
	}
	evtimer_del(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->open = false;
	c->connecting = false;
	c->sent = 0;
	c->headlen = 0;
	if (!a->stopping)
		abuse_conn_after(c, a->o.reopen_s);
}

/* Seconds c has been open. */
static double
abuse_held_s(const struct abuse_conn *c)
{
	return (double)(util_now_ns() - c->opened_ns) / 1e9;
}

static void
abuse_held(struct abuse *a, double s)
{
	a->held_sum_s += s;
	if (s > a->held_max_s)
		a->held_max_s = s;
}

/* The server closed c (or reset it, or refused a write). */
static void
abuse_conn_closed(struct abuse_conn *c)
{
	struct abuse *a = c->a;
	int code;

	a->closed++;
	abuse_held(a, abuse_held_s(c));
	if (c->headlen == sizeof(c->head) && memcmp(c->head, "HTTP/1.", 7) == 0 &&
	    (code = atoi(c->head + 9)) > 0 && code < ABUSE_CODES)
		a->codes[code]++;
	else
		a->unanswered++;
	abuse_conn_reset(c);
}

/* Reads what came; false when the server closed c (then it is reset). */
static bool
abuse_conn_read(struct abuse_conn *c)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			size_t k = sizeof(c->head) - c->headlen;

			if (k > (size_t)n)
				k = (size_t)n;
			memcpy(c->head + c->headlen, buf, k);
			c->headlen += k;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		abuse_conn_closed(c);
		return false;
	}
}

/*
 * Sends the script's next bytes (one with slow, else as many as the socket
 * takes); false when the server closed c (then it is reset).  Stops asking
 * for EV_WRITE once the script is over.
 */
static bool
abuse_conn_write(struct abuse_conn *c, size_t max)
{
	struct abuse *a = c->a;
	const char *p;
	size_t len;
	ssize_t n;

	while ((p = abuse_next(c, max, &len)) != NULL) {
		n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			abuse_conn_closed(c);
			return false;
		}
		c->sent += (uint64_t)n;
		a->bytes_sent += (uint64_t)n;
		if (max == 1)
			return true;
	}
	/* All sent: from now on only the server's answer or its close. */
	if (abuse_floods(a))
		abuse_conn_watch(c, false);
	return true;
}

static void
abuse_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct abuse_conn *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->connecting) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			c->a->connect_errors++;
			abuse_conn_reset(c);
			return;
		}
		c->connecting = false;
		abuse_conn_opened(c);
		return;
	}
	if ((what & EV_CLOSED) && !abuse_reads(c->a)) {
		abuse_conn_closed(c);
		return;
	}
	if ((what & EV_READ) && !abuse_conn_read(c))
		return;
	if ((what & EV_WRITE) && abuse_floods(c->a))
		(void)abuse_conn_write(c, ABUSE_WRITE_MAX);
}

/* The timer: a new connection, the next dribbled byte, or the hang-up. */
static void
abuse_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct abuse_conn *c = arg;
	struct abuse *a = c->a;

	(void)fd;
	(void)what;
	if (a->stopping)
		return;
	if (c->fd < 0) {
		abuse_conn_connect(c);
	} else if (a->o.mode == ABUSE_HANGUP) {
		a->hungup++;
		abuse_held(a, abuse_held_s(c));
		abuse_conn_reset(c);
	} else if (a->o.mode == ABUSE_SLOW && c->open && abuse_conn_write(c, 1)) {
		abuse_conn_after(c, a->o.dribble_s);
	}
}

/* c is connected: counted, watched, and its script begins. */
static void
abuse_conn_opened(struct abuse_conn *c)
{
	struct abuse *a = c->a;

	c->open = true;
	c->opened_ns = util_now_ns();
	a->opened++;
	abuse_conn_watch(c, abuse_floods(a));
	if (a->o.mode == ABUSE_SLOW)
		abuse_conn_after(c, a->o.dribble_s);
	else if (a->o.mode == ABUSE_HANGUP)
		abuse_conn_after(c, a->o.hangup_s);
}

/* Opens c's next connection, or retries shortly when the backlog is full. */
static void
abuse_conn_connect(struct abuse_conn *c)
{
	struct abuse *a = c->a;
	int fd;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		a->connect_errors++;
		abuse_conn_reset(c);
		return;
	}
	if (connect(fd, (struct sockaddr *)&a->sa, a->salen) < 0) {
		if (errno == EINPROGRESS) {
			c->connecting = true;
		} else {
			close(fd);
			if (errno == EAGAIN) {
				a->connect_retries++;
				abuse_conn_after(c, ABUSE_RETRY_S);
			} else {
				a->connect_errors++;
				abuse_conn_reset(c);
			}
			return;
		}
	}
	c->fd = fd;
	if (c->connecting)
		abuse_conn_watch(c, true); /* writable: connected, or failed */
	else
		abuse_conn_opened(c);
}

struct abuse *
abuse_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
	  const struct abuse_opts *o)
{
	struct abuse *a = abuse_alloc(sizeof(*a));

	a->base = base;
	memcpy(&a->sa, sa, salen);
	a->salen = salen;
	a->o = *o;
	abuse_script_make(&a->script, o);
	a->conns = abuse_alloc(o->connections * sizeof(*a->conns));
	for (unsigned i = 0; i < o->connections; i++) {
		a->conns[i].a = a;
		a->conns[i].fd = -1;
		a->conns[i].timer = evtimer_new(base, abuse_timer_cb, &a->conns[i]);
		if (a->conns[i].timer == NULL) {
			fputs("loadgen: cannot create a timer\n", stderr);
			exit(1);
		}
	}
	return a;
}

void
abuse_start(struct abuse *a)
{
	for (unsigned i = 0; i < a->o.connections; i++)
		abuse_conn_connect(&a->conns[i]);
}

void
abuse_stop(struct abuse *a)
{
	a->stopping = true;
	for (unsigned i = 0; i < a->o.connections; i++) {
		struct abuse_conn *c = &a->conns[i];

		if (c->open) {
			a->open_at_end++;
			/* held so far: a connection never closed counts for the longest */
			if (abuse_held_s(c) > a->held_max_s)
				a->held_max_s = abuse_held_s(c);
		}
		abuse_conn_reset(c);
	}
}

void
abuse_report(const struct abuse *a, double elapsed_s, FILE *f)
{
	uint64_t ended = a->closed + a->hungup;
	double mean = ended > 0 ? a->held_sum_s / (double)ended : 0;
	const char *sep = "";

	fprintf(f, "loadgen: --abuse %s, %u connection%s for %.1f s\n", abuse_names[a->o.mode],
		a->o.connections, a->o.connections == 1 ? "" : "s", elapsed_s);
	fprintf(f,
		"connections: %llu opened, %llu closed by the server, %llu hung up, %llu open at "
		"the end, %llu connect errors, %llu connects retried (backlog full)\n",
		(unsigned long long)a->opened, (unsigned long long)a->closed,
		(unsigned long long)a->hungup, (unsigned long long)a->open_at_end,
		(unsigned long long)a->connect_errors, (unsigned long long)a->connect_retries);
	fprintf(f, "held:        mean %.3f s, max %.3f s (until the close)\n", mean, a->held_max_s);
	fprintf(f, "answers:    ");
	for (int i = 0; i < ABUSE_CODES; i++)
		if (a->codes[i] > 0)
			fprintf(f, " %d: %llu", i, (unsigned long long)a->codes[i]);
	fprintf(f, " none: %llu\n", (unsigned long long)a->unanswered);
	fprintf(f,
		"result: abuse=%s connections=%u opened=%llu closed=%llu hungup=%llu "
		"open_at_end=%llu connect_errors=%llu retries=%llu bytes_sent=%llu "
		"held_mean_s=%.3f held_max_s=%.3f elapsed_s=%.3f codes=",
		abuse_names[a->o.mode], a->o.connections, (unsigned long long)a->opened,
		(unsigned long long)a->closed, (unsigned long long)a->hungup,
		(unsigned long long)a->open_at_end, (unsigned long long)a->connect_errors,
		(unsigned long long)a->connect_retries, (unsigned long long)a->bytes_sent, mean,
		a->held_max_s, elapsed_s);
	for (int i = 0; i < ABUSE_CODES; i++) {
		if (a->codes[i] > 0) {
			fprintf(f, "%s%d:%llu", sep, i, (unsigned long long)a->codes[i]);
			sep = ",";
		}
	}
	fprintf(f, "%snone:%llu\n", sep, (unsigned long long)a->unanswered);
	fflush(f);
}

bool
abuse_connected(const struct abuse *a)
{
	return a->opened > 0;
}

struct abuse *
abuse_free(struct abuse *a)
{
	if (a == NULL)
		return NULL;
	for (unsigned i = 0; i < a->o.connections; i++) {
		if (a->conns[i].io != NULL)
			event_free(a->conns[i].io);
		if (a->conns[i].fd >= 0)
			close(a->conns[i].fd);
		event_free(a->conns[i].timer);
	}
	free(a->conns);
	free(a->script.data);
	free(a);
	return NULL;
}
