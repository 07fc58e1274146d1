/*
 * notifylisten SOCKET: stands in for the service manager's notification
 * socket in the tests.  Binds a datagram socket at SOCKET and prints every
 * line of every message it receives as "MS LINE", MS being milliseconds
 * since it started, until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "timeutil.h"

static volatile sig_atomic_t notifylisten_stop;

static void
notifylisten_signal(int sig)
{
	notifylisten_stop = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = notifylisten_signal };
	char buf[4096];
	int64_t start = timeutil_mono_ms();
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notifylisten SOCKET\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "notifylisten: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!notifylisten_stop) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		char *line, *save = NULL;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notifylisten: %s\n", strerror(errno));
			return 1;
		}
		buf[n] = '\0';
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			printf("%lld %s\n", (long long)(timeutil_mono_ms() - start), line);
	}
	unlink(argv[1]);
	return 0;
}
