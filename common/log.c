/*
 * Logging: lines on stderr with syslog priority prefixes, or structured
 * entries through a writer the daemon sets (the journal); levels.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "tokenbroker";
static int log_level = LOG_INFO;
static bool log_tty;
static log_writer_fn log_writer;

static const char *const log_names[] = {
	[LOG_EMERG] = "emerg",	 [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",	 [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",	 [LOG_DEBUG] = "debug",
};

/* True when $JOURNAL_STREAM names the device and inode of our stderr. */
bool
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *prog, int level)
{
	log_prog = prog;
	log_level = level;
	log_tty = isatty(STDERR_FILENO);
}

void
log_set_writer(log_writer_fn writer)
{
	log_writer = writer;
}

void
log_set_level(int level)
{
	log_level = level;
}

bool
log_enabled(int level)
{
	return level <= log_level;
}

int
log_level_from_string(const char *s)
{
	if (strcmp(s, "warn") == 0)
		return LOG_WARNING;
	if (strcmp(s, "error") == 0)
		return LOG_ERR;
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

static void
log_vfields(int level, const struct log_field *fields, size_t nfields, const char *fmt,
	    va_list ap)
{
	char line[2048];
	int saved = errno;

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_writer == NULL || log_writer(level, fields, nfields, line) < 0) {
		/* One write per line, so lines of concurrent writers do not mix. */
		if (log_tty)
			fprintf(stderr, "%s: %s: %s\n", log_prog, log_names[level], line);
		else
			fprintf(stderr, "<%d>%s: %s\n", level, log_prog, line);
	}
	errno = saved;
}

void
log_fields(int level, const struct log_field *fields, size_t nfields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, fields, nfields, fmt, ap);
	va_end(ap);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(LOG_ERR, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
