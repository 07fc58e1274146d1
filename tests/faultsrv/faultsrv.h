/*
 * faultsrv.h: what faultsrv's files share: the one state (struct
 * faultsrv), the faults it can play, and each file's exported functions
 * under the file's name.  What faultsrv does for a caller is documented in
 * main.c.  The helpers it borrows from fakeidp (serve_*, http_*, json_*,
 * form_*, util_*) are declared in fakeidp.h.
 */

#ifndef FAULTSRV_H
#define FAULTSRV_H

#include <stdbool.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "fakeidp.h"

#define CUT_DEFAULT 16			/* body bytes passed before a cut */
#define CUT_MAX (1LL << 40)
#define RATE_MS_DEFAULT 1000		/* trickle: one byte per this many ms */
#define RATE_MS_MAX (60LL * 1000)
#define TRICKLE_BUFFER_MAX (64 * 1024)	/* held back before reading stops */
#define LISTEN_BACKLOG 128
#define SYN_RING 512			/* source ports remembered, for retransmits */
#define SYN_SAME_MS (60LL * 1000)	/* a SYN from a port seen this recently is a retransmit */

/* What a connection to the fault port gets (main.c names them). */
enum fault {
	FAULT_PASS,		/* relayed both ways, byte for byte */
	FAULT_REFUSE,		/* nothing listens: the kernel refuses */
	FAULT_BACKLOG,		/* a full accept queue: SYNs dropped, connects time out */
	FAULT_BLACKHOLE,	/* accepted, read, never answered */
	FAULT_STALL,		/* the answer's headers, then nothing */
	FAULT_TRICKLE,		/* the answer, one byte per rate_ms */
	FAULT_CUT,		/* headers and cut body bytes, then FIN */
	FAULT_RESET,		/* headers and cut body bytes, then RST */
	FAULT_N
};

struct counters {
	unsigned long long connections;		/* accepted */
	unsigned long long upstream_failed;	/* the relay could not reach --to */
	unsigned long long client_closed;	/* the client went away first */
	unsigned long long bytes_up;		/* client to upstream */
	unsigned long long bytes_down;		/* upstream to client */
	unsigned int active;			/* connections open now */
	unsigned int max_active;
};

struct conn;
TAILQ_HEAD(conn_list, conn);

struct syn_counter;

struct faultsrv {
	struct event_base *base;
	enum fault fault;
	char *addr;			/* numeric IPv4 loopback */
	unsigned int port;		/* the fault port */
	unsigned int to;		/* relay target on addr; 0: none */
	long long cut;
	long long rate_ms;
	int lfd;			/* listening socket, -1 when refusing */
	struct event *accept_ev;	/* NULL unless accepting */
	int filler;			/* backlog: the connection filling the queue, or -1 */
	struct conn_list conns;
	struct counters c;
	struct syn_counter *syn;	/* NULL: SYNs are not counted */
};

/* conn.c */
void conn_accept(struct faultsrv *fs, int fd);
void conn_close_all(struct faultsrv *fs);

/* syn.c */
struct syn_counter *syn_open(struct event_base *base, unsigned int port);
void syn_ignore(struct syn_counter *s, unsigned int sport);
long long syn_count(const struct syn_counter *s);
void syn_reset(struct syn_counter *s);
void syn_free(struct syn_counter *s);

#endif
