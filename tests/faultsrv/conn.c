/*
 * conn.c: one connection to the fault port, and what the fault of the
 * moment (taken when it was accepted) does to it: relayed to --to as it
 * is, held without an answer, its answer stopped after the headers,
 * trickled, or cut off (FIN or RST) a few body bytes after the headers.
 * The answer's header block ends at its first blank line; nothing else of
 * HTTP is looked at.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "faultsrv.h"

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct faultsrv *fs;
	enum fault fault;
	struct bufferevent *client;
	struct bufferevent *up;		/* NULL when nothing is relayed */
	bool up_connected;
	bool up_done;			/* the upstream closed its end */
	int hdr_state;			/* bytes of "\r\n\r\n" matched so far */
	bool in_body;			/* the answer's headers went through */
	long long body_left;		/* cut, reset: body bytes still to pass */
	bool closing;			/* close once the client's output is out */
	struct evbuffer *pending;	/* trickle: what is still to go */
	struct event *tick;		/* trickle */
};

static void
conn_free(struct conn *c, bool reset)
{
	struct faultsrv *fs = c->fs;

	if (reset) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(bufferevent_getfd(c->client), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	TAILQ_REMOVE(&fs->conns, c, entry);
	fs->c.active--;
	bufferevent_free(c->client);
	if (c->up != NULL)
		bufferevent_free(c->up);
	if (c->tick != NULL)
		event_free(c->tick);
	if (c->pending != NULL)
		evbuffer_free(c->pending);
	free(c);
}

/* Ends c once what it has for its client is out (FIN, or RST for reset). */
static void
conn_finish(struct conn *c)
{
	c->closing = true;
	if (c->up != NULL)
		bufferevent_disable(c->up, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0)
		conn_free(c, c->fault == FAULT_RESET);
}

/* Moves n bytes of in to the client. */
static void
conn_pass(struct conn *c, struct evbuffer *in, size_t n)
{
	evbuffer_remove_buffer(in, bufferevent_get_output(c->client), n);
	c->fs->c.bytes_down += n;
}

/*
 * How many of the bytes at the front of in still belong to the answer's
 * header block, its blank line included; sets in_body at its end.
 */
static size_t
conn_headers_span(struct conn *c, struct evbuffer *in)
{
	static const char end[] = "\r\n\r\n";
	size_t len = evbuffer_get_length(in), i;
	const unsigned char *p;

	if (c->in_body)
		return 0;
	p = evbuffer_pullup(in, -1);
	for (i = 0; i < len && !c->in_body; i++) {
		if (p[i] == end[c->hdr_state])
			c->hdr_state++;
		else
			c->hdr_state = p[i] == '\r' ? 1 : 0;
		if (c->hdr_state == 4)
			c->in_body = true;
	}
	return i;
}

static void
conn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (evbuffer_get_length(c->pending) > 0) {
		conn_pass(c, c->pending, 1);
		if (!c->up_done && evbuffer_get_length(c->pending) < TRICKLE_BUFFER_MAX)
			bufferevent_enable(c->up, EV_READ);
	}
	if (evbuffer_get_length(c->pending) == 0 && c->up_done) {
		event_del(c->tick);
		conn_finish(c);
	}
}

/* What the upstream answered, as the connection's fault has it. */
static void
conn_up_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	if (c->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	switch (c->fault) {
	case FAULT_STALL:
		conn_pass(c, in, conn_headers_span(c, in));
		if (c->in_body) {
			/* Held back by TCP from here: the upstream stops too. */
			bufferevent_disable(bev, EV_READ);
			evbuffer_drain(in, evbuffer_get_length(in));
		}
		break;
	case FAULT_CUT:
	case FAULT_RESET:
		conn_pass(c, in, conn_headers_span(c, in));
		if (!c->in_body)
			break;
		n = evbuffer_get_length(in);
		if ((long long)n > c->body_left)
			n = (size_t)c->body_left;
		conn_pass(c, in, n);
		c->body_left -= (long long)n;
		if (c->body_left == 0)
			conn_finish(c);
		break;
	case FAULT_TRICKLE:
		evbuffer_add_buffer(c->pending, in);
		if (evbuffer_get_length(c->pending) >= TRICKLE_BUFFER_MAX)
			bufferevent_disable(bev, EV_READ);
		break;
	default:
		conn_pass(c, in, evbuffer_get_length(in));
		break;
	}
}

static void
conn_up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		c->up_connected = true;
		return;
	}
	if (!c->up_connected) {
		c->fs->c.upstream_failed++;
		log_info("cannot reach 127.0.0.1:%u: closing the client's connection", c->fs->to);
		conn_free(c, false);
		return;
	}
	c->up_done = true;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	switch (c->fault) {
	case FAULT_STALL:
		break;		/* the client is held all the same */
	case FAULT_TRICKLE:
		if (evbuffer_get_length(c->pending) == 0)
			conn_finish(c);
		break;
	default:
		if (!c->closing)
			conn_finish(c);
		break;
	}
}

static void
conn_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	if (c->up != NULL && !c->up_done)
		bufferevent_write_buffer(c->up, in);
	else
		evbuffer_drain(in, n);
	c->fs->c.bytes_up += n;
}

static void
conn_client_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing)
		conn_free(c, c->fault == FAULT_RESET);
}

static void
conn_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!c->closing)
			c->fs->c.client_closed++;
		conn_free(c, false);
	}
}

static struct bufferevent *
conn_bev(struct faultsrv *fs, int fd)
{
	struct bufferevent *b = bufferevent_socket_new(fs->base, fd, BEV_OPT_CLOSE_ON_FREE);

	if (b == NULL)
		log_fatal("out of memory");
	return b;
}

void
conn_accept(struct faultsrv *fs, int fd)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)fs->to) };

	c->fs = fs;
	c->fault = fs->fault;
	c->body_left = fs->cut;
	c->client = conn_bev(fs, fd);
	TAILQ_INSERT_TAIL(&fs->conns, c, entry);
	fs->c.connections++;
	if (++fs->c.active > fs->c.max_active)
		fs->c.max_active = fs->c.active;
	bufferevent_setcb(c->client, conn_client_read_cb, conn_client_write_cb,
	    conn_client_event_cb, c);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
	if (c->fault == FAULT_BLACKHOLE)
		return;

	if (c->fault == FAULT_TRICKLE) {
		struct timeval tv = timeutil_ms_to_tv(fs->rate_ms);

		c->pending = evbuffer_new();
		c->tick = event_new(fs->base, -1, EV_PERSIST, conn_tick_cb, c);
		if (c->pending == NULL || c->tick == NULL || event_add(c->tick, &tv) < 0)
			log_fatal("out of memory");
	}
	c->up = conn_bev(fs, -1);
	bufferevent_setcb(c->up, conn_up_read_cb, NULL, conn_up_event_cb, c);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	(void)inet_pton(AF_INET, fs->addr, &sa.sin_addr);
	if (fs->to == 0 ||
	    bufferevent_socket_connect(c->up, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fs->c.upstream_failed++;
		conn_free(c, false);
	}
}

void
conn_close_all(struct faultsrv *fs)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&fs->conns)) != NULL)
		conn_free(c, false);
}
