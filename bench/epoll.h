/*
 * What bench's two epoll servers (upstream.c, ceil-epoll.c) share: dying
 * with a message, the stop flag their signals set, accepting, and a
 * connection's place in the epoll set (each server's connection begins
 * with a struct ep_conn).  Header-only, as util.h; a program sets ep_prog
 * before anything can fail.
 */
#ifndef TB_BENCH_EPOLL_H
#define TB_BENCH_EPOLL_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct ep_conn {
	int fd;
	uint32_t events; /* what epoll watches now */
};

static const char *ep_prog = "bench";
static volatile sig_atomic_t ep_stop;

static inline void ep_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static inline void
ep_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ep_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* SIGTERM and SIGINT: the loop ends (no SA_RESTART: epoll_wait returns). */
static inline void
ep_stop_cb(int sig)
{
	(void)sig;
	ep_stop = 1;
}

static inline void
ep_signals(void)
{
	struct sigaction sig = { .sa_handler = ep_stop_cb };

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);
}

/* Adds c, with fd set, to ep, watched for input. */
static inline void
ep_add(int ep, struct ep_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	c->events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		ep_die("epoll_ctl: %s", strerror(errno));
}

/* Watches c for events: EPOLLIN while reading, EPOLLOUT while blocked writing. */
static inline void
ep_watch(int ep, struct ep_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		ep_die("epoll_ctl: %s", strerror(errno));
	c->events = events;
}

/* Takes c out of ep and closes its descriptor (c is the caller's to free). */
static inline void
ep_close(int ep, struct ep_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
}

/*
 * The next connection waiting on lfd, non-blocking, or -1 when none does
 * (EMFILE and the like too: the backlog waits for a close).
 */
static inline int
ep_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0)
			return fd;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			fprintf(stderr, "%s: accept: %s\n", ep_prog, strerror(errno));
		return -1;
	}
}

#endif
