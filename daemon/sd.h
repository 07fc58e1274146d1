/*
 * The only file that touches libsystemd: readiness, status, reload and
 * stop notifications, the watchdog, socket activation and the journal.
 * Without $NOTIFY_SOCKET, $WATCHDOG_USEC or $LISTEN_FDS the calls do
 * nothing and the daemon runs as well by hand.
 */
#ifndef TB_SD_H
#define TB_SD_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "log.h"

struct sd;

/* Starts the watchdog timer when the service manager asked for one. */
struct sd *sd_new(struct event_base *base);
struct sd *sd_free(struct sd *sd);

void sd_ready(struct sd *sd, const char *status);
void sd_status(struct sd *sd, const char *status);
/* Whether anyone reads STATUS= (else it need not be kept up to date). */
bool sd_notifying(const struct sd *sd);
/* RELOADING=1 with MONOTONIC_USEC=, as systemd's reload protocol wants. */
void sd_reloading(struct sd *sd);
void sd_stopping(struct sd *sd);

/* A listening socket passed by socket activation. */
struct sd_socket {
	int fd;
	char *name;	  /* FileDescriptorName=, by default the .socket unit's name */
	bool unix_stream; /* a listening Unix stream socket */
	bool inet_stream; /* a listening TCP socket */
};

/*
 * The sockets passed (LISTEN_FDS, LISTEN_FDNAMES): 0 with *ret_n set (0
 * when none was passed; the caller frees the names and the array), or
 * -EINVAL with *cause.
 */
int sd_listen_sockets(struct sd_socket **ret, size_t *ret_n, char **cause);

/* log_writer_fn sending structured entries to the journal. */
int sd_journal_writer(int level, const struct log_field *fields, size_t nfields, const char *msg);

#endif
