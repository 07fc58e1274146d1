/*
 * ceil-evhttp: the ceiling for tokenbrokerd's socket API on the daemon's
 * own HTTP machinery.  A bare evhttp server (libevent) on a Unix socket
 * with one generic callback, which answers every request as tokenbrokerd
 * answers GET /v1/tokens/NAME for a cached token: a JSON body made with
 * yajl_gen on each request (name, access_token, token_type, expires_at,
 * expires_in, a newline after it), Content-Type and Cache-Control as the
 * daemon sets them, the rest (Date, Content-Length, keep-alive and
 * "Connection: close") evhttp's.  NAME is the last segment of the path.
 * What separates tokenbrokerd from this is the broker's own work: the
 * routing, the peer's credentials and permission, the credential lookup,
 * the expiry check, its secure buffers.
 *
 * usage: ceil-evhttp -s SOCKET
 *
 * SIGTERM and SIGINT end it (as libevent events); the socket is removed
 * then.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <yajl/yajl_gen.h>

#define CV_HEADERS_MAX 8192

/* A token of the length fakeidp's have ("fk_" and 32 hex digits); not a secret. */
#define CV_TOKEN "fk_0123456789abcdef0123456789abcdef"

/* When the token "expires": an hour after start, as a fresh one would. */
static long long cv_expires_at;

static void
cv_gen_str(yajl_gen g, const char *s, size_t len)
{
	yajl_gen_string(g, (const unsigned char *)s, len);
}

static void
cv_gen_kv_str(yajl_gen g, const char *k, const char *v, size_t vlen)
{
	cv_gen_str(g, k, strlen(k));
	cv_gen_str(g, v, vlen);
}

static void
cv_gen_kv_int(yajl_gen g, const char *k, long long v)
{
	cv_gen_str(g, k, strlen(k));
	yajl_gen_integer(g, v);
}

/* Every request: the token answer, or 500 when memory runs out. */
static void
cv_request_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *name = "", *slash;
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();
	const unsigned char *json;
	size_t len;
	yajl_gen g = yajl_gen_alloc(NULL);

	(void)arg;
	if (path != NULL)
		name = (slash = strrchr(path, '/')) != NULL ? slash + 1 : path;
	if (buf == NULL || g == NULL) {
		evhttp_send_error(req, 500, NULL);
		goto out;
	}
	yajl_gen_map_open(g);
	cv_gen_kv_str(g, "name", name, strlen(name));
	cv_gen_kv_str(g, "access_token", CV_TOKEN, strlen(CV_TOKEN));
	cv_gen_kv_str(g, "token_type", "Bearer", 6);
	cv_gen_kv_int(g, "expires_at", cv_expires_at);
	cv_gen_kv_int(g, "expires_in", cv_expires_at - (long long)time(NULL));
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &json, &len) != yajl_gen_status_ok ||
	    evbuffer_add(buf, json, len) < 0 || evbuffer_add(buf, "\n", 1) < 0 ||
	    evhttp_add_header(oh, "Content-Type", "application/json") < 0 ||
	    evhttp_add_header(oh, "Cache-Control", "no-store") < 0) {
		evhttp_send_error(req, 500, NULL);
		goto out;
	}
	evhttp_send_reply(req, 200, "OK", buf);
out:
	if (g != NULL)
		yajl_gen_free(g);
	if (buf != NULL)
		evbuffer_free(buf);
}

static void
cv_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* A listening Unix socket at path, mode 0600 (umask around bind), or -1 with errno. */
static int
cv_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 1024) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void
cv_usage(FILE *f)
{
	fputs("usage: ceil-evhttp -s SOCKET\n", f);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct event_base *base;
	struct evhttp *http;
	struct event *sigterm, *sigint;
	int ch, fd;

	while ((ch = getopt(argc, argv, "hs:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'h':
			cv_usage(stdout);
			return 0;
		default:
			cv_usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		cv_usage(stderr);
		return 2;
	}
	cv_expires_at = (long long)time(NULL) + 3600;
	signal(SIGPIPE, SIG_IGN);

	if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) == NULL) {
		fputs("ceil-evhttp: cannot set up libevent\n", stderr);
		return 1;
	}
	if ((fd = cv_listen(path)) < 0) {
		fprintf(stderr, "ceil-evhttp: cannot listen on %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (evhttp_accept_socket(http, fd) < 0) {
		fputs("ceil-evhttp: cannot accept on the socket\n", stderr);
		unlink(path);
		return 1;
	}
	evhttp_set_max_headers_size(http, CV_HEADERS_MAX);
	evhttp_set_gencb(http, cv_request_cb, NULL);
	sigterm = evsignal_new(base, SIGTERM, cv_stop_cb, base);
	sigint = evsignal_new(base, SIGINT, cv_stop_cb, base);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) < 0 ||
	    event_add(sigint, NULL) < 0) {
		fputs("ceil-evhttp: cannot watch for signals\n", stderr);
		unlink(path);
		return 1;
	}

	if (event_base_dispatch(base) < 0)
		fputs("ceil-evhttp: the event loop failed\n", stderr);
	unlink(path);
	event_free(sigterm);
	event_free(sigint);
	evhttp_free(http); /* closes the listening socket */
	event_base_free(base);
	return 0;
}
