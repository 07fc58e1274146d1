/*
 * The only file that touches libsystemd: readiness, status, reload and
 * stop notifications, the watchdog, socket activation and the journal.
 * Without $NOTIFY_SOCKET, $WATCHDOG_USEC or $LISTEN_FDS the calls do
 * nothing and the daemon runs as well by hand.
 */
#ifndef TB_SD_H
#define TB_SD_H

#include <stddef.h>

#include <event2/event.h>

#include "log.h"

struct sd;

/* Starts the watchdog timer when the service manager asked for one. */
struct sd *sd_new(struct event_base *base);
struct sd *sd_free(struct sd *sd);

void sd_ready(struct sd *sd, const char *status);
void sd_status(struct sd *sd, const char *status);
/* RELOADING=1 with MONOTONIC_USEC=, as systemd's reload protocol wants. */
void sd_reloading(struct sd *sd);
void sd_stopping(struct sd *sd);

/*
 * The listening socket passed by socket activation: the fd (>= 0), -ENOENT
 * when none was passed, or -EINVAL with *cause when what was passed is not
 * one Unix stream socket.
 */
int sd_listen_socket(char **cause);

/* log_writer_fn sending structured entries to the journal. */
int sd_journal_writer(int level, const struct log_field *fields, size_t nfields, const char *msg);

#endif
