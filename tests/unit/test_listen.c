/*
 * The listening socket, in one process: the socket file (its mode, a stale
 * one replaced, a live one or a plain file refused, removed at the end),
 * who a connection's peer is as a request's handler sees it, and how many
 * clients the open-file limit leaves room for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "conf.h"
#include "listen.h"
#include "metrics.h"
#include "timeutil.h"
#include "xmalloc.h"

struct fx {
	char dir[64];
	char *sock;
	struct event_base *base;
	struct conf *conf;
	struct metrics *metrics;
	struct evhttp *http;
	struct listen *ls;
	/* What the handler saw. */
	bool seen;
	struct listen_peer peer;
	unsigned clients;
};

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct conf_errors errs = { 0 };
	char *text;

	strcpy(fx->dir, "/tmp/test_listen.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->sock = xasprintf("%s/s.sock", fx->dir);
	text = xasprintf("[daemon]\nsocket = %s\nstate_dir = %s\nsocket_mode = 0640\n\n"
			 "[credential \"mine\"]\ntoken_url = http://127.0.0.1:9/token\n"
			 "client_id = id\nclient_secret = s\nlazy = yes\n",
			 fx->sock, fx->dir);
	if (conf_load_string("t.conf", text, &fx->conf, &errs, NULL) != 0)
		fail_msg("config refused: %s", errs.n > 0 ? errs.v[0] : "?");
	free(text);
	fx->base = event_base_new();
	fx->metrics = metrics_new();
	fx->http = evhttp_new(fx->base);
	assert_non_null(fx->http);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	listen_free(fx->ls);
	evhttp_free(fx->http);
	metrics_free(fx->metrics);
	conf_free(fx->conf);
	event_base_free(fx->base);
	unlink(fx->sock);
	rmdir(fx->dir);
	free(fx->sock);
	free(fx);
	return 0;
}

static struct listen *
fx_listen(struct fx *fx, char **ret_cause)
{
	return listen_new(fx->base, &fx->conf->daemon, fx->http, -1, fx->metrics, ret_cause);
}

static void
test_socket_file(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *cause = NULL;
	struct evhttp *other;
	struct stat st;
	int fd;

	/* A stale socket (bound, nobody listening) is replaced. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	fx->ls = fx_listen(fx, &cause);
	if (fx->ls == NULL)
		fail_msg("listen_new: %s", cause);
	assert_int_equal(lstat(fx->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);

	/* One another listener answers on is not taken over. */
	other = evhttp_new(fx->base);
	assert_null(listen_new(fx->base, &fx->conf->daemon, other, -1, fx->metrics, &cause));
	assert_non_null(strstr(cause, "another daemon is listening"));
	free(cause);
	evhttp_free(other);

	/* Freeing removes the file it made. */
	fx->ls = listen_free(fx->ls);
	assert_int_equal(lstat(fx->sock, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* Nor is a file that is not a socket. */
	fd = open(fx->sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_null(fx_listen(fx, &cause));
	assert_non_null(strstr(cause, "is not a socket"));
	free(cause);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct fx *fx = arg;
	const struct listen_peer *peer = listen_conn_of(fx->ls, req);

	fx->seen = true;
	if (peer != NULL)
		fx->peer = *peer;
	fx->clients = listen_clients(fx->ls);
	evhttp_send_reply(req, peer != NULL ? 200 : 503, "x", NULL);
}

static void
test_peer(void **state)
{
	struct fx *fx = *state;
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t end = timeutil_mono_ms() + 5000;
	char *cause = NULL, buf[512];
	ssize_t n = 0;
	int fd;

	fx->ls = fx_listen(fx, &cause);
	if (fx->ls == NULL)
		fail_msg("listen_new: %s", cause);
	evhttp_set_gencb(fx->http, request_cb, fx);
	assert_int_equal(listen_clients(fx->ls), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, get, strlen(get)), (ssize_t)strlen(get));
	while (timeutil_mono_ms() < end) {
		event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if ((n = read(fd, buf, sizeof(buf) - 1)) >= 0 || errno != EAGAIN)
			break;
		usleep(1000);
	}
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(fx->seen);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_int_equal(fx->peer.uid, getuid());
	assert_int_equal(fx->peer.pid, getpid());
	assert_true(fx->peer.ngids >= 1);
	assert_int_equal(fx->peer.gids[0], getgid());
	assert_int_equal(fx->clients, 1);
}

static void
test_fd_cap(void **state)
{
	struct fx *fx = *state;
	const struct daemon_conf *dc = &fx->conf->daemon;
	unsigned reserve = listen_fd_reserve(dc);
	struct rlimit old, rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 3 * (rlim_t)reserve)
		skip();
	/* Beyond twice the reserve, clients get the rest. */
	rl = (struct rlimit){ 3 * (rlim_t)reserve, old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(listen_fd_cap(dc), 2 * reserve);
	/* Below it, half the limit. */
	rl.rlim_cur = reserve;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(listen_fd_cap(dc), reserve / 2);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_cap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
