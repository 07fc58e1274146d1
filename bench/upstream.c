/*
 * upstream: the fastest HTTP/1.1 server this benchmark can have behind a
 * proxy, so that what is measured is the proxy.  One thread, epoll, keep-
 * alive, no logic:
 *
 *   GET /small         200, a fixed 1024-byte body
 *   GET /bytes?n=N     200, N bytes (up to 1 TiB), streamed from a static
 *                      buffer with Content-Length set
 *   HEAD               as GET, without the body
 *   anything else      404 (another path), 405 (another method), 400
 *
 * usage: upstream [--port N] [--port-file FILE] [--quiet]
 *
 * It listens on 127.0.0.1 only; --port 0 (the default) takes a free port,
 * and --port-file writes it there with a newline, atomically (a temporary
 * file renamed), once it listens.  Requests may come pipelined; request
 * bodies (Content-Length) are read and dropped, chunked ones refused.
 * Writes are non-blocking: a slow reader holds only its own connection.
 * SIGTERM and SIGINT end it.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "epoll.h"
#include "http1.h"

#define UP_SMALL 1024
#define UP_CHUNK (256 * 1024)	      /* the static body buffer; N bytes repeat it */
#define UP_BYTES_MAX (1ull << 40)     /* /bytes?n= at most */
#define UP_HEAD_MAX 8192	      /* a request's line and headers */
#define UP_CONNS_MAX 10000
#define UP_EVENTS 256

struct up_conn {
	struct ep_conn ep; /* its fd, what epoll watches */
	char in[UP_HEAD_MAX];
	size_t inlen;
	uint64_t discard; /* request body bytes still to drop */
	/* the answer being written: head, then body_left bytes of body */
	char head[256];
	size_t headlen, headoff;
	uint64_t body_left;
	uint64_t body_off;
	bool close_after; /* once the answer is out */
	bool writing;
	bool eof; /* the client sent all it will: close once it is answered */
};

static char up_body[UP_CHUNK];
static unsigned up_nconns;

static void
up_conn_free(int ep, struct up_conn *c)
{
	ep_close(ep, &c->ep);
	free(c);
	up_nconns--;
}

/* Sets up the answer: status line, headers, a body of len bytes (none for HEAD). */
static void
up_answer(struct up_conn *c, int status, const char *reason, uint64_t len, bool head_only)
{
	int n = snprintf(c->head, sizeof(c->head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/octet-stream\r\n"
			 "Content-Length: %" PRIu64 "\r\n%s\r\n",
			 status, reason, len, c->close_after ? "Connection: close\r\n" : "");

	c->headlen = (size_t)n;
	c->headoff = 0;
	c->body_left = head_only ? 0 : len;
	c->body_off = 0;
	c->writing = true;
}

/* n from a query string "n=N" (among others), or -1. */
static int64_t
up_query_n(const char *q, size_t qlen)
{
	const char *p = q, *end = q + qlen;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp != NULL ? amp : end;

		if (e - p > 2 && p[0] == 'n' && p[1] == '=') {
			uint64_t v = 0;

			for (const char *d = p + 2; d < e; d++) {
				if (*d < '0' || *d > '9' || v > UP_BYTES_MAX)
					return -1;
				v = v * 10 + (uint64_t)(*d - '0');
			}
			return v <= UP_BYTES_MAX ? (int64_t)v : -1;
		}
		p = e + 1;
	}
	return -1;
}

/*
 * Parses the request whose head is the first hlen bytes of c->in and sets
 * up its answer.
 */
static void
up_request(struct up_conn *c, size_t hlen)
{
	const char *p = c->in, *end = c->in + hlen - 2, *eol, *sp1, *sp2, *v;
	const char *target, *q;
	size_t tlen, vlen;
	bool head_only, get, http10;
	uint64_t clen = 0;

	eol = memchr(p, '\r', (size_t)(end - p));
	sp1 = eol != NULL ? memchr(p, ' ', (size_t)(eol - p)) : NULL;
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (sp2 == NULL || eol - sp2 != 9 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1')) {
		c->close_after = true;
		up_answer(c, 400, "Bad Request", 0, false);
		return;
	}
	http10 = sp2[8] == '0';
	c->close_after = http10;
	get = sp1 - p == 3 && memcmp(p, "GET", 3) == 0;
	head_only = sp1 - p == 4 && memcmp(p, "HEAD", 4) == 0;
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);

	for (p = eol + 2; p < end; p = eol + 2) {
		size_t hl;

		eol = memchr(p, '\r', (size_t)(end - p));
		if (eol == NULL || eol[1] != '\n') {
			c->close_after = true;
			up_answer(c, 400, "Bad Request", 0, false);
			return;
		}
		hl = (size_t)(eol - p);
		if ((v = http1_header_value(p, hl, "Connection", &vlen)) != NULL) {
			if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
				c->close_after = true;
			else if (vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
				c->close_after = false;
		} else if ((v = http1_header_value(p, hl, "Content-Length", &vlen)) != NULL) {
			clen = 0;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9' || clen > UP_BYTES_MAX) {
					c->close_after = true;
					up_answer(c, 400, "Bad Request", 0, false);
					return;
				}
				clen = clen * 10 + (uint64_t)(v[i] - '0');
			}
		} else if ((v = http1_header_value(p, hl, "Transfer-Encoding", &vlen)) != NULL) {
			c->close_after = true; /* its body cannot be skipped: no chunked here */
			up_answer(c, 501, "Not Implemented", 0, false);
			return;
		}
	}
	c->discard = clen;

	if (!get && !head_only) {
		up_answer(c, 405, "Method Not Allowed", 0, false);
		return;
	}
	q = memchr(target, '?', tlen);
	if (tlen == 6 && memcmp(target, "/small", 6) == 0) {
		up_answer(c, 200, "OK", UP_SMALL, head_only);
	} else if (q != NULL && q - target == 6 && memcmp(target, "/bytes", 6) == 0) {
		int64_t n = up_query_n(q + 1, tlen - 7);

		if (n < 0)
			up_answer(c, 400, "Bad Request", 0, head_only);
		else
			up_answer(c, 200, "OK", (uint64_t)n, head_only);
	} else {
		up_answer(c, 404, "Not Found", 0, head_only);
	}
}

/*
 * Writes what it can of the answer.  Returns 1 when it is all out, 0 when
 * the socket is full (EAGAIN), -1 on an error.
 */
static int
up_write(struct up_conn *c)
{
	while (c->headoff < c->headlen || c->body_left > 0) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (c->headoff < c->headlen) {
			iov[n].iov_base = c->head + c->headoff;
			iov[n++].iov_len = c->headlen - c->headoff;
		}
		if (c->body_left > 0) {
			size_t off = (size_t)(c->body_off % UP_CHUNK), len = UP_CHUNK - off;

			if (len > c->body_left)
				len = (size_t)c->body_left;
			iov[n].iov_base = up_body + off;
			iov[n++].iov_len = len;
		}
		w = writev(c->ep.fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		if (c->headoff < c->headlen) {
			size_t h = c->headlen - c->headoff;

			if ((size_t)w < h) {
				c->headoff += (size_t)w;
				continue;
			}
			c->headoff = c->headlen;
			w -= (ssize_t)h;
		}
		c->body_left -= (uint64_t)w;
		c->body_off += (uint64_t)w;
	}
	c->writing = false;
	return 1;
}

/*
 * Moves c on as far as it can: writes the answer in hand, then answers the
 * next request already read.  Returns false when c is to be closed.
 */
static bool
up_conn_run(int ep, struct up_conn *c)
{
	for (;;) {
		char *crlf;

		if (c->writing) {
			int r = up_write(c);

			if (r < 0)
				return false;
			if (r == 0) {
				ep_watch(ep, &c->ep, EPOLLOUT);
				return true;
			}
			if (c->close_after)
				return false;
		}
		if (c->discard > 0) {
			size_t n = c->inlen < c->discard ? c->inlen : (size_t)c->discard;

			memmove(c->in, c->in + n, c->inlen - n);
			c->inlen -= n;
			c->discard -= n;
			if (c->discard > 0) {
				if (c->eof)
					return false;
				break;
			}
		}
		crlf = c->inlen >= 4 ? memmem(c->in, c->inlen, "\r\n\r\n", 4) : NULL;
		if (crlf == NULL) {
			if (c->inlen == sizeof(c->in)) {
				c->close_after = true;
				up_answer(c, 431, "Request Header Fields Too Large", 0, false);
				continue;
			}
			if (c->eof)
				return false;
			break;
		}
		{
			size_t hlen = (size_t)(crlf - c->in) + 4;

			up_request(c, hlen);
			memmove(c->in, c->in + hlen, c->inlen - hlen);
			c->inlen -= hlen;
		}
	}
	ep_watch(ep, &c->ep, EPOLLIN);
	return true;
}

/* Reads what there is room for.  Returns false at EOF or on an error: no more to read. */
static bool
up_conn_read(struct up_conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->inlen == sizeof(c->in))
			return true;
		n = read(c->ep.fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
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
}

static void
up_accept(int ep, int lfd)
{
	int fd, one = 1;

	while ((fd = ep_accept(lfd)) >= 0) {
		struct up_conn *c;

		if (up_nconns >= UP_CONNS_MAX) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			ep_die("out of memory");
		c->ep.fd = fd;
		ep_add(ep, &c->ep);
		up_nconns++;
	}
}

static void
up_port_file(const char *path, unsigned port)
{
	char *tmp;
	char line[16];
	int fd, n;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		ep_die("out of memory");
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		ep_die("cannot write port file %s: %s", path, strerror(errno));
	n = snprintf(line, sizeof(line), "%u\n", port);
	if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		ep_die("cannot write port file %s: %s", path, strerror(e));
	}
	free(tmp);
}

static void
up_usage(FILE *f)
{
	fputs("usage: upstream [--port N] [--port-file FILE] [--quiet]\n"
	      "  --port       port on 127.0.0.1 (default 0: a free one)\n"
	      "  --port-file  write the port there, atomically, once listening\n"
	      "  --quiet      say nothing on stderr unless it fails\n",
	      f);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct epoll_event events[UP_EVENTS], lev = { .events = EPOLLIN };
	const char *port_file = NULL;
	unsigned long port = 0;
	bool quiet = false;
	int ch, lfd, ep, one = 1;

	ep_prog = "upstream";
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;

		switch (ch) {
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || port > 65535) {
				fprintf(stderr, "upstream: --port: not a port: %s\n", optarg);
				return 2;
			}
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			up_usage(stdout);
			return 0;
		default:
			up_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		up_usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(up_body); i++)
		up_body[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	ep_signals();

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		ep_die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0)
		ep_die("cannot listen on 127.0.0.1:%lu: %s", port, strerror(errno));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		ep_die("epoll_create1: %s", strerror(errno));
	lev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
		ep_die("epoll_ctl: %s", strerror(errno));
	if (port_file != NULL)
		up_port_file(port_file, ntohs(sa.sin_port));
	if (!quiet)
		fprintf(stderr, "upstream: listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));

	while (!ep_stop) {
		int n = epoll_wait(ep, events, UP_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ep_die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct up_conn *c = events[i].data.ptr;
			bool keep = true;

			if (c == NULL) {
				up_accept(ep, lfd);
				continue;
			}
			if (events[i].events & (EPOLLERR | EPOLLHUP)) {
				keep = false;
			} else if (!c->writing && (events[i].events & EPOLLIN)) {
				/* what arrived before an EOF is answered all the same */
				c->eof = !up_conn_read(c);
				keep = up_conn_run(ep, c);
			} else if (c->writing && (events[i].events & EPOLLOUT)) {
				keep = up_conn_run(ep, c);
			}
			if (!keep)
				up_conn_free(ep, c);
		}
	}
	close(ep);
	close(lfd);
	return 0;
}
