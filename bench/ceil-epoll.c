/*
 * ceil-epoll: the ceiling for tokenbrokerd's socket API, an HTTP/1.1
 * server that does nothing but answer.  One thread, epoll (level-
 * triggered), a Unix socket; every request, whatever its method and
 * target, gets the same bytes tokenbrokerd sends for a cached token as
 * JSON (the same headers, a body of the same shape and length), made once
 * at start.  It reads each request up to the end of its head and looks
 * only at the version and the Connection header: keep-alive by default
 * on HTTP/1.1, "Connection: close" (or HTTP/1.0 without keep-alive) gets
 * that header in the answer and the connection closed after it.  A
 * request body is not expected (the load generator sends GETs) and would
 * be taken for the next request.  Requests that come pipelined are
 * answered in order.
 *
 * usage: ceil-epoll -s SOCKET [-n NAME]
 *
 * NAME is the credential name in the body ("bench").  SIGTERM and SIGINT
 * end it; the socket is removed then.
 */

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "epoll.h"
#include "http1.h"

#define CE_HEAD_MAX 8192 /* a request's line and headers */
#define CE_CONNS_MAX 4096
#define CE_EVENTS 256

/* A token of the length fakeidp's have ("fk_" and 32 hex digits); not a secret. */
#define CE_TOKEN "fk_0123456789abcdef0123456789abcdef"

struct ce_conn {
	struct ep_conn ep;    /* its fd, what epoll watches */
	const char *out;      /* the answer being written, or NULL */
	size_t outlen, outoff;
	bool close_after;     /* once the answer is out */
	bool eof;	      /* the client sent all it will */
	size_t inlen;
	char in[CE_HEAD_MAX];
};

/* The answer, made once: with and without "Connection: close". */
static char *ce_keep, *ce_close;
static size_t ce_keep_len, ce_close_len;
static unsigned ce_nconns;

/*
 * The answer tokenbrokerd gives to GET /v1/tokens/NAME with a cached token,
 * with the Date of now and an expiry an hour away; *ret_len is its length.
 */
static char *
ce_answer_new(const char *name, bool close_after, size_t *ret_len)
{
	char date[64], body[512], *a;
	time_t now = time(NULL);
	struct tm tm;
	int blen, alen;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		ep_die("cannot format the date");
	blen = snprintf(body, sizeof(body),
			"{\"name\":\"%s\",\"access_token\":\"" CE_TOKEN "\",\"token_type\":\"Bearer\","
			"\"expires_at\":%lld,\"expires_in\":3599}\n",
			name, (long long)now + 3600);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		ep_die("the name is too long");
	alen = asprintf(&a,
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			"Cache-Control: no-store\r\nDate: %s\r\nContent-Length: %d\r\n%s\r\n%s",
			date, blen, close_after ? "Connection: close\r\n" : "", body);
	if (alen < 0)
		ep_die("out of memory");
	*ret_len = (size_t)alen;
	return a;
}

static void
ce_conn_free(int ep, struct ce_conn *c)
{
	ep_close(ep, &c->ep);
	free(c);
	ce_nconns--;
}

/*
 * Whether the request whose head is the first hlen bytes of c->in wants
 * the connection closed after its answer: HTTP/1.0 unless it asks for
 * keep-alive, HTTP/1.1 when it says "Connection: close".
 */
static bool
ce_wants_close(const struct ce_conn *c, size_t hlen)
{
	const char *p = c->in, *end = c->in + hlen - 2, *eol, *v;
	bool close_after;
	size_t vlen;

	eol = memchr(p, '\r', (size_t)(end - p));
	if (eol == NULL)
		return true;
	close_after = eol - p >= 8 && memcmp(eol - 8, "HTTP/1.0", 8) == 0;
	for (p = eol + 2; p < end; p = eol + 2) {
		if ((eol = memchr(p, '\r', (size_t)(end - p))) == NULL)
			eol = end;
		v = http1_header_value(p, (size_t)(eol - p), "Connection", &vlen);
		if (v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0)
			close_after = true;
		else if (v != NULL && vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			close_after = false;
	}
	return close_after;
}

/*
 * Writes what it can of the answer in hand.  Returns 1 when it is all out,
 * 0 when the socket is full, -1 on an error.
 */
static int
ce_write(struct ce_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->ep.fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->outoff += (size_t)w;
	}
	c->out = NULL;
	return 1;
}

/*
 * Moves c on as far as it can: writes the answer in hand, then answers the
 * next request already read.  Returns false when c is to be closed.
 */
static bool
ce_conn_run(int ep, struct ce_conn *c)
{
	for (;;) {
		char *crlf;
		size_t hlen;

		if (c->out != NULL) {
			int r = ce_write(c);

			if (r < 0)
				return false;
			if (r == 0) {
				ep_watch(ep, &c->ep, EPOLLOUT);
				return true;
			}
			if (c->close_after)
				return false;
		}
		crlf = c->inlen >= 4 ? memmem(c->in, c->inlen, "\r\n\r\n", 4) : NULL;
		if (crlf == NULL) {
			/* a head too big for the buffer, or one that never ends */
			if (c->inlen == sizeof(c->in) || c->eof)
				return false;
			break;
		}
		hlen = (size_t)(crlf - c->in) + 4;
		c->close_after = ce_wants_close(c, hlen);
		c->out = c->close_after ? ce_close : ce_keep;
		c->outlen = c->close_after ? ce_close_len : ce_keep_len;
		c->outoff = 0;
		memmove(c->in, c->in + hlen, c->inlen - hlen);
		c->inlen -= hlen;
	}
	ep_watch(ep, &c->ep, EPOLLIN);
	return true;
}

/* Reads what there is room for.  Returns false at EOF or on an error. */
static bool
ce_conn_read(struct ce_conn *c)
{
	while (c->inlen < sizeof(c->in)) {
		ssize_t n = read(c->ep.fd, c->in + c->inlen, sizeof(c->in) - c->inlen);

		if (n > 0) {
			c->inlen += (size_t)n;
			continue;
		}
		if (n == 0)
			return false;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	return true;
}

static void
ce_accept(int ep, int lfd)
{
	int fd;

	while ((fd = ep_accept(lfd)) >= 0) {
		struct ce_conn *c;

		if (ce_nconns >= CE_CONNS_MAX) {
			close(fd);
			continue;
		}
		if ((c = malloc(sizeof(*c))) == NULL)
			ep_die("out of memory");
		c->ep.fd = fd;
		c->out = NULL;
		c->outlen = c->outoff = c->inlen = 0;
		c->close_after = c->eof = false;
		ep_add(ep, &c->ep);
		ce_nconns++;
	}
}

/* A listening Unix socket at path, mode 0600 (umask around bind). */
static int
ce_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		ep_die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		ep_die("socket: %s", strerror(errno));
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 1024) < 0)
		ep_die("cannot listen on %s: %s", path, strerror(errno));
	return fd;
}

static void
ce_usage(FILE *f)
{
	fputs("usage: ceil-epoll -s SOCKET [-n NAME]\n", f);
}

int
main(int argc, char **argv)
{
	struct epoll_event events[CE_EVENTS], lev = { .events = EPOLLIN, .data.ptr = NULL };
	const char *path = NULL, *name = "bench";
	int ch, lfd, ep;

	ep_prog = "ceil-epoll";
	while ((ch = getopt(argc, argv, "hn:s:")) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 's':
			path = optarg;
			break;
		case 'h':
			ce_usage(stdout);
			return 0;
		default:
			ce_usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		ce_usage(stderr);
		return 2;
	}
	for (const char *p = name; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			ep_die("-n: a name that would need escaping in JSON: %s", name);
	ce_keep = ce_answer_new(name, false, &ce_keep_len);
	ce_close = ce_answer_new(name, true, &ce_close_len);
	ep_signals();

	lfd = ce_listen(path);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		ep_die("epoll_create1: %s", strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
		ep_die("epoll_ctl: %s", strerror(errno));

	while (!ep_stop) {
		int n = epoll_wait(ep, events, CE_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ep_die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct ce_conn *c = events[i].data.ptr;
			bool keep = true;

			if (c == NULL) {
				ce_accept(ep, lfd);
				continue;
			}
			if (c->out == NULL && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				/* what came before an EOF is answered all the same */
				c->eof = !ce_conn_read(c);
				keep = ce_conn_run(ep, c);
			} else if (c->out != NULL && (events[i].events & (EPOLLOUT | EPOLLERR))) {
				keep = ce_conn_run(ep, c);
			} else if (events[i].events & (EPOLLERR | EPOLLHUP)) {
				keep = false;
			}
			if (!keep)
				ce_conn_free(ep, c);
		}
	}
	unlink(path);
	close(ep);
	close(lfd);
	free(ce_keep);
	free(ce_close);
	return 0;
}
