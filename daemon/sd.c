/*
 * The only file that talks to systemd (libsystemd): READY=1, STATUS=,
 * RELOADING=1, STOPPING=1, the watchdog, socket activation, and log lines
 * with journal fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "sd.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SD_JOURNAL_FIELDS_MAX 8

struct sd {
	struct event *watchdog;
	bool notifying; /* a service manager listens: $NOTIFY_SOCKET */
};

static void
sd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

struct sd *
sd_new(struct event_base *base)
{
	struct sd *sd = xcalloc(1, sizeof(*sd));
	uint64_t usec = 0;

	sd->notifying = getenv("NOTIFY_SOCKET") != NULL;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		struct timeval tv = timeutil_ms_to_tv((int64_t)(usec / 2000));

		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1000;
		sd->watchdog = event_new(base, -1, EV_PERSIST, sd_watchdog_cb, sd);
		if (sd->watchdog != NULL)
			event_add(sd->watchdog, &tv);
		sd_notify(0, "WATCHDOG=1");
	}
	return sd;
}

bool
sd_notifying(const struct sd *sd)
{
	return sd->notifying;
}

struct sd *
sd_free(struct sd *sd)
{
	if (sd == NULL)
		return NULL;
	if (sd->watchdog != NULL)
		event_free(sd->watchdog);
	free(sd);
	return NULL;
}

void
sd_ready(struct sd *sd, const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
sd_status(struct sd *sd, const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void
sd_reloading(struct sd *sd)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void
sd_stopping(struct sd *sd)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

int
sd_listen_sockets(struct sd_socket **ret, size_t *ret_n, char **cause)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	*ret = NULL;
	*ret_n = 0;
	if (n == 0)
		return 0;
	if (n < 0) {
		*cause = xasprintf("cannot take the sockets passed by the service manager: %s",
				   strerror(-n));
		return -EINVAL;
	}
	*ret = xcalloc((size_t)n, sizeof(**ret));
	for (int i = 0; i < n; i++) {
		struct sd_socket *s = &(*ret)[i];

		s->fd = SD_LISTEN_FDS_START + i;
		s->name = xstrdup(names != NULL && names[i] != NULL ? names[i] : "unknown");
		s->unix_stream = sd_is_socket_unix(s->fd, SOCK_STREAM, 1, NULL, 0) > 0;
		s->inet_stream = sd_is_socket_inet(s->fd, 0, SOCK_STREAM, 1, 0) > 0;
		if (names != NULL)
			free(names[i]);
	}
	free(names);
	*ret_n = (size_t)n;
	return 0;
}

int
sd_journal_writer(int level, const struct log_field *fields, size_t nfields, const char *msg)
{
	struct iovec iov[3 + SD_JOURNAL_FIELDS_MAX];
	char *strs[3 + SD_JOURNAL_FIELDS_MAX];
	size_t n = 0;
	int r;

	strs[n++] = xasprintf("MESSAGE=%s", msg);
	strs[n++] = xasprintf("PRIORITY=%d", level);
	strs[n++] = xstrdup("SYSLOG_IDENTIFIER=tokenbrokerd");
	for (size_t i = 0; i < nfields && i < SD_JOURNAL_FIELDS_MAX; i++)
		if (fields[i].value != NULL)
			strs[n++] = xasprintf("%s=%s", fields[i].key, fields[i].value);
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = strs[i];
		iov[i].iov_len = strlen(strs[i]);
	}
	r = sd_journal_sendv(iov, (int)n);
	for (size_t i = 0; i < n; i++)
		free(strs[i]);
	return r;
}
