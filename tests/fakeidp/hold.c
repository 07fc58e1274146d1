/*
 * hold.c: token requests whose answer waits (delay_ms, or for ever in mode
 * silent), each watching its client's socket so that one which goes away
 * frees its connection at once.
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include <event2/bufferevent.h>

#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "fakeidp.h"

/* 1 when the peer on fd has closed or reset its end, 0 otherwise. */
static int
hold_peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/* The client went away: drop the request with its connection. */
static void
hold_gone(struct hold *h)
{
	struct evhttp_connection *evcon = h->evcon;

	log_info("client went away while its token request was held");
	hold_free(h);
	evhttp_connection_free(evcon);
}

static void
hold_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold *h = arg;

	if (hold_peer_gone(h->fd))
		hold_gone(h);
}

/*
 * The socket of a held request is readable: either the client closed it,
 * or it sent more (a pipelined request, TLS records).  The latter would
 * keep a level-triggered event busy, so fall back to polling.
 */
static void
hold_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold *h = arg;
	struct timeval tv = timeutil_ms_to_tv(POLL_MS);

	if (hold_peer_gone(h->fd)) {
		hold_gone(h);
		return;
	}
	event_del(h->watch);
	h->poll = event_new(h->fk->base, -1, EV_PERSIST, hold_poll_cb, h);
	if (h->poll == NULL)
		log_fatal("out of memory");
	event_add(h->poll, &tv);
}

static void
hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold *h = arg;
	struct evhttp_request *req = h->req;
	struct evbuffer *body = h->body;
	int status = h->status;

	h->body = NULL;
	hold_free(h);
	http_send(req, status, body);
	evbuffer_free(body);
}

/*
 * libevent frees the connection under a held request (not expected: its
 * reading is off while a request waits).  A request it detached first is
 * ours to free.
 */
static void
hold_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct hold *h = arg;
	struct evhttp_request *req = h->req;

	h->evcon = NULL;
	hold_free(h);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

/*
 * Holds req: answers status/body (body taken over) after delay_ms, or
 * never when body is NULL.  -EBUSY when too many are held; the caller
 * still owns body then.
 */
int
hold_start(struct fakeidp *fk, struct evhttp_request *req, int status, struct evbuffer *body,
    long long delay_ms)
{
	struct hold *h;
	struct bufferevent *bev;

	if (fk->n_holds >= HOLDS_MAX)
		return -EBUSY;
	h = xcalloc(1, sizeof(*h));
	h->fk = fk;
	h->req = req;
	h->evcon = evhttp_request_get_connection(req);
	bev = evhttp_connection_get_bufferevent(h->evcon);
	h->fd = bufferevent_getfd(bev);
	h->status = status;
	h->body = body;
	h->watch = event_new(fk->base, h->fd, EV_READ | EV_PERSIST, hold_watch_cb, h);
	if (h->watch == NULL)
		log_fatal("out of memory");
	event_add(h->watch, NULL);
	if (body != NULL) {
		struct timeval tv = timeutil_ms_to_tv(delay_ms);

		h->timer = evtimer_new(fk->base, hold_timer_cb, h);
		if (h->timer == NULL)
			log_fatal("out of memory");
		evtimer_add(h->timer, &tv);
	}
	evhttp_connection_set_closecb(h->evcon, hold_close_cb, h);
	TAILQ_INSERT_TAIL(&fk->holds, h, entry);
	fk->n_holds++;
	return 0;
}

/* Forgets a hold; neither answers nor frees its request. */
void
hold_free(struct hold *h)
{
	struct fakeidp *fk = h->fk;

	TAILQ_REMOVE(&fk->holds, h, entry);
	fk->n_holds--;
	if (fk->stats.inflight > 0)
		fk->stats.inflight--;
	if (h->evcon != NULL)
		evhttp_connection_set_closecb(h->evcon, NULL, NULL);
	if (h->watch != NULL)
		event_free(h->watch);
	if (h->poll != NULL)
		event_free(h->poll);
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->body != NULL)
		evbuffer_free(h->body);
	free(h);
}
