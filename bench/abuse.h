/*
 * loadgen's hostile clients (--abuse MODE): C connections that each
 * misbehave in one way, again and again on a new connection each time the
 * server closes the last one, until the run ends; what the server did
 * about it is counted (bench/abuse.c says how).
 */
#ifndef TB_BENCH_ABUSE_H
#define TB_BENCH_ABUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/event.h>

enum abuse_mode {
	ABUSE_IDLE,    /* connects and sends nothing */
	ABUSE_SLOW,    /* a request head, one byte every dribble_s, never ended */
	ABUSE_GARBAGE, /* random bytes, as fast as the server takes them */
	ABUSE_BIGHEAD, /* one request whose head is head_size bytes */
	ABUSE_HANGUP,  /* a request, then a hang-up after hangup_s, unread */
	ABUSE_NOREAD,  /* requests pipelined as fast as taken, answers never read */
	ABUSE_MODES
};

struct abuse_opts {
	enum abuse_mode mode;
	unsigned connections;
	const char *request; /* a whole GET request (head), for the modes that send one */
	size_t request_len;
	double dribble_s;
	double hangup_s;
	double reopen_s; /* a pause before each new connection */
	size_t head_size;
};

struct abuse;

/* The mode called name ("idle", "slow", ...), or -1. */
int abuse_mode_from_name(const char *name);
const char *abuse_mode_name(enum abuse_mode mode);

/*
 * The hostile clients of o against the server at sa, on base; nothing
 * happens before abuse_start.  Exits the program when out of memory.
 */
struct abuse *abuse_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
			const struct abuse_opts *o);
void abuse_start(struct abuse *a);
/* Closes every connection and starts none any more. */
void abuse_stop(struct abuse *a);
/* What happened, to f; the last line machine-readable ("abuse: k=v ..."). */
void abuse_report(const struct abuse *a, double elapsed_s, FILE *f);
/* Whether any connection could be made. */
bool abuse_connected(const struct abuse *a);
struct abuse *abuse_free(struct abuse *a);

#endif
