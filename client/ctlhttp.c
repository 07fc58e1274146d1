/*
 * tokenctl's HTTP/1.1 over the Unix socket: one request on a plain socket,
 * the status line, headers and a bounded body read back, with a deadline.
 * No libcurl.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctlhttp.h"
#include "secbuf.h"
#include "text.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Longest status line, header line or chunk-size line accepted. */
#define CTLHTTP_LINE_MAX 8192
/* Longest header block accepted; the daemon sends a handful of headers. */
#define CTLHTTP_HEADERS_MAX (64 * 1024)
/* Pause between attempts while the daemon's listen backlog is full. */
#define CTLHTTP_BUSY_MS 20

/* What is known so far about the answer being read. */
struct ctlhttp_reader {
	struct secbuf raw;  /* bytes as received */
	struct secbuf body; /* decoded body */
	size_t hdrlen;	    /* length of the header block; 0 until complete */
	int status;
	char reason[64];
	int64_t clen; /* Content-Length, or -1 */
	int64_t retry_after;
	bool chunked;
	size_t pos; /* chunked: first byte of raw not decoded yet */
};

/* Waits until fd is ready for events; -ETIMEDOUT once deadline has passed. */
static int
ctlhttp_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - timeutil_mono_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0; /* also on POLLHUP/POLLERR: the next call says what */
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * Connects the non-blocking fd.  A full listen backlog (EAGAIN on a Unix
 * socket) means a busy daemon, not an absent one: retry until the deadline.
 */
static int
ctlhttp_connect(int fd, const struct sockaddr_un *sun, int64_t deadline)
{
	for (;;) {
		int err = 0, r;
		socklen_t len = sizeof(err);

		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
			return 0;
		if (errno == EAGAIN) {
			if (timeutil_mono_ms() + CTLHTTP_BUSY_MS >= deadline)
				return -EAGAIN;
			(void)poll(NULL, 0, CTLHTTP_BUSY_MS);
			continue;
		}
		if (errno != EINPROGRESS && errno != EINTR)
			return -errno;
		if ((r = ctlhttp_wait(fd, POLLOUT, deadline)) < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return -errno;
		return err == 0 ? 0 : -err;
	}
}

/*
 * Writes all of buf.  -EPIPE / -ECONNRESET when the daemon has hung up, which
 * the caller treats as "read what it may have answered".
 */
static int
ctlhttp_send(int fd, const char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if ((r = ctlhttp_wait(fd, POLLOUT, deadline)) < 0)
			return r;
	}
	return 0;
}

/* Copies a reason phrase, replacing what a terminal could misread. */
static void
ctlhttp_copy_reason(char *dst, size_t size, const char *src, size_t len)
{
	char *shown = text_sanitize(src, len, size - 1);

	memcpy(dst, shown, strlen(shown) + 1);
	free(shown);
}

/* "HTTP/1.x NNN reason": 0, or -EBADMSG. */
static int
ctlhttp_parse_status(struct ctlhttp_reader *r, const char *line, size_t len)
{
	if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
	    line[8] != ' ')
		return -EBADMSG;
	for (int i = 9; i < 12; i++)
		if (!isdigit((unsigned char)line[i]))
			return -EBADMSG;
	if (len > 12 && line[12] != ' ')
		return -EBADMSG;
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	if (r->status < 100)
		return -EBADMSG;
	if (len > 13)
		ctlhttp_copy_reason(r->reason, sizeof(r->reason), line + 13, len - 13);
	return 0;
}

/* A decimal number of at most max; -1 when value is anything else. */
static int64_t
ctlhttp_number(const char *value, size_t len, int64_t max)
{
	int64_t n = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d = value[i] - '0';

		if (!isdigit((unsigned char)value[i]) || n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	return n;
}

/* Whether the last coding of a Transfer-Encoding value is "chunked". */
static bool
ctlhttp_is_chunked(const char *value, size_t len)
{
	const char *comma = NULL;

	for (size_t i = 0; i < len; i++)
		if (value[i] == ',')
			comma = value + i;
	if (comma != NULL) {
		len -= (size_t)(comma + 1 - value);
		value = comma + 1;
	}
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	return len == 7 && strncasecmp(value, "chunked", 7) == 0;
}

/* One "Name: value" line of the header block. */
static int
ctlhttp_parse_header(struct ctlhttp_reader *r, const char *line, size_t len, char **cause)
{
	const char *colon = memchr(line, ':', len), *value;
	size_t namelen, vlen;

	if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t') {
		*cause = xstrdup("malformed header line");
		return -EBADMSG;
	}
	namelen = (size_t)(colon - line);
	value = colon + 1;
	vlen = len - namelen - 1;
	while (vlen > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		vlen--;
	}
	while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		vlen--;

	if (namelen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		int64_t n = ctlhttp_number(value, vlen, INT64_MAX);

		if (n < 0 || (r->clen >= 0 && r->clen != n)) {
			*cause = xstrdup("bad Content-Length");
			return -EBADMSG;
		}
		if (n > CTLHTTP_MAX) {
			*cause = xstrdup("answer larger than 1 MiB");
			return -EMSGSIZE;
		}
		r->clen = n;
	} else if (namelen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
		if (!ctlhttp_is_chunked(value, vlen)) {
			*cause = xstrdup("unsupported Transfer-Encoding");
			return -EBADMSG;
		}
		r->chunked = true;
	} else if (namelen == 11 && strncasecmp(line, "Retry-After", 11) == 0) {
		/* An HTTP-date here is legal but the daemon sends seconds. */
		r->retry_after = ctlhttp_number(value, vlen, INT32_MAX);
	}
	return 0;
}

/*
 * Looks for the end of the header block and parses it once complete.
 * 1 when parsed, 0 when more bytes are needed, <0 on garbage.
 */
static int
ctlhttp_parse_headers(struct ctlhttp_reader *r, char **cause)
{
	const char *data = r->raw.data, *p = data, *end = data + r->raw.len;
	bool first = true;

	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len;
		int rc;

		if (nl == NULL) {
			if (end - data > CTLHTTP_HEADERS_MAX || end - p > CTLHTTP_LINE_MAX) {
				*cause = xstrdup("header block too long");
				return -EBADMSG;
			}
			return 0;
		}
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (first) {
			if ((rc = ctlhttp_parse_status(r, p, len)) < 0) {
				*cause = xstrdup("bad status line");
				return rc;
			}
			first = false;
		} else if (len == 0) {
			r->hdrlen = (size_t)(nl + 1 - data);
			r->pos = r->hdrlen;
			return 1;
		} else if ((rc = ctlhttp_parse_header(r, p, len, cause)) < 0) {
			return rc;
		}
		p = nl + 1;
	}
}

/*
 * Decodes the complete chunks that arrived since the last call into
 * r->body.  1 after the last chunk and its trailers, 0 when more bytes are
 * needed, <0 on garbage.
 */
static int
ctlhttp_parse_chunks(struct ctlhttp_reader *r, char **cause)
{
	for (;;) {
		const char *p = r->raw.data + r->pos, *end = r->raw.data + r->raw.len;
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q, *data;
		size_t size = 0, digits = 0;

		if (nl == NULL) {
			if (end - p > CTLHTTP_LINE_MAX)
				goto bad;
			return 0;
		}
		for (q = p; q < nl && isxdigit((unsigned char)*q); q++) {
			int c = tolower((unsigned char)*q);

			size = size * 16 + (size_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
			if (++digits > 8 || size > CTLHTTP_MAX) {
				*cause = xstrdup("answer larger than 1 MiB");
				return -EMSGSIZE;
			}
		}
		if (digits == 0 || (q < nl && *q != ';' && *q != ' ' && *q != '\t' && *q != '\r'))
			goto bad;
		if (size == 0) {
			/* The last chunk; trailers, if any, end with an empty line. */
			for (q = nl + 1;;) {
				const char *eol = memchr(q, '\n', (size_t)(end - q));

				if (eol == NULL)
					return 0;
				if (eol == q || (eol == q + 1 && *q == '\r')) {
					r->pos = (size_t)(eol + 1 - r->raw.data);
					return 1;
				}
				q = eol + 1;
			}
		}
		data = nl + 1;
		if ((size_t)(end - data) < size + 1)
			return 0;
		if (data[size] == '\r') {
			if ((size_t)(end - data) < size + 2)
				return 0;
			if (data[size + 1] != '\n')
				goto bad;
			q = data + size + 2;
		} else if (data[size] == '\n') {
			q = data + size + 1;
		} else {
			goto bad;
		}
		secbuf_add(&r->body, data, size);
		r->pos = (size_t)(q - r->raw.data);
	}
bad:
	*cause = xstrdup("bad chunked encoding");
	return -EBADMSG;
}

/*
 * Parses what has arrived.  1 when the answer is complete, 0 when more is
 * needed (an error if eof), <0 on garbage.
 */
static int
ctlhttp_parse(struct ctlhttp_reader *r, bool eof, char **cause)
{
	size_t have;
	int rc;

	if (r->hdrlen == 0) {
		if ((rc = ctlhttp_parse_headers(r, cause)) <= 0)
			goto incomplete;
	}
	/* 1xx, 204 and 304 answers have no body whatever they announce. */
	if (r->status < 200 || r->status == 204 || r->status == 304)
		return 1;
	if (r->chunked) {
		rc = ctlhttp_parse_chunks(r, cause);
		goto incomplete;
	}
	have = r->raw.len - r->hdrlen;
	if (r->clen >= 0) {
		if (have < (size_t)r->clen) {
			rc = 0;
			goto incomplete;
		}
		have = (size_t)r->clen;
	} else if (!eof) {
		return 0; /* no framing: the body ends when the daemon hangs up */
	}
	secbuf_add(&r->body, r->raw.data + r->hdrlen, have);
	return 1;

incomplete:
	if (rc == 0 && eof)
		return -ECONNRESET;
	return rc;
}

/* Reads until the answer is complete. */
static int
ctlhttp_read(int fd, struct ctlhttp_reader *r, int64_t deadline, char **cause)
{
	for (;;) {
		size_t room;
		ssize_t n;
		int rc;

		secbuf_reserve(&r->raw, 16384);
		room = r->raw.cap - r->raw.len - 1;
		if (room > CTLHTTP_MAX + 1 - r->raw.len)
			room = CTLHTTP_MAX + 1 - r->raw.len;
		if ((rc = ctlhttp_wait(fd, POLLIN, deadline)) < 0)
			return rc;
		n = recv(fd, r->raw.data + r->raw.len, room, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno != ECONNRESET)
			return -errno;
		if (n > 0) {
			r->raw.len += (size_t)n;
			r->raw.data[r->raw.len] = '\0';
			if (r->raw.len > CTLHTTP_MAX) {
				*cause = xstrdup("answer larger than 1 MiB");
				return -EMSGSIZE;
			}
		}
		/* A reset comes after any data the daemon sent: treat it as EOF. */
		if ((rc = ctlhttp_parse(r, n <= 0, cause)) != 0)
			return rc < 0 ? rc : 0;
	}
}

int
ctlhttp_request(const char *socket_path, const char *method, const char *path,
    int64_t deadline_ms, struct ctlhttp_answer **ret, char **cause)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctlhttp_reader r = { .clen = -1, .retry_after = -1 };
	struct ctlhttp_answer *a;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *req = NULL, *why = NULL;
	int rc;

	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		*cause = xasprintf("socket path too long: %s", socket_path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		*cause = xasprintf("cannot create a socket: %s", strerror(-rc));
		return rc;
	}
	if ((rc = ctlhttp_connect(fd, &sun, deadline_ms)) < 0) {
		if (rc == -EAGAIN)
			*cause = xasprintf("cannot connect to %s: the daemon is too busy", socket_path);
		else
			*cause = xasprintf("cannot connect to %s: %s", socket_path, strerror(-rc));
		return rc;
	}

	/*
	 * No shutdown(SHUT_WR) after the request: an HTTP server may take the
	 * half-close for a client that has gone and drop a pending answer.
	 */
	req = xasprintf("%s %s HTTP/1.1\r\n"
			"Host: localhost\r\n"
			"User-Agent: tokenctl\r\n"
			"Accept: application/json\r\n"
			"%s"
			"Connection: close\r\n\r\n",
	    method, path, strcmp(method, "GET") == 0 ? "" : "Content-Length: 0\r\n");
	rc = ctlhttp_send(fd, req, strlen(req), deadline_ms);
	if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET)
		goto fail;
	/* If it hung up early it may still have answered: read that. */
	rc = ctlhttp_read(fd, &r, deadline_ms, &why);

fail:
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			*cause = xasprintf("no answer from the daemon at %s in time", socket_path);
		else if (rc == -ECONNRESET)
			*cause = xasprintf("the daemon at %s closed the connection %s", socket_path,
			    r.raw.len == 0 ? "without answering" : "in the middle of its answer");
		else if (why != NULL)
			*cause = xasprintf("bad answer from the daemon at %s: %s", socket_path, why);
		else
			*cause = xasprintf("cannot talk to the daemon at %s: %s", socket_path, strerror(-rc));
		secbuf_clear(&r.raw);
		secbuf_clear(&r.body);
		return rc;
	}

	a = xcalloc(1, sizeof(*a));
	a->status = r.status;
	memcpy(a->reason, r.reason, sizeof(a->reason));
	a->retry_after = r.retry_after;
	if (r.body.data == NULL)
		secbuf_reserve(&r.body, 0);
	a->bodylen = r.body.len;
	a->body = secbuf_take(&r.body);
	secbuf_clear(&r.raw);
	*ret = a;
	return 0;
}

struct ctlhttp_answer *
ctlhttp_answer_free(struct ctlhttp_answer *a)
{
	if (a == NULL)
		return NULL;
	if (a->body != NULL) {
		explicit_bzero(a->body, a->bodylen + 1);
		free(a->body);
	}
	free(a);
	return NULL;
}
