/*
 * Logging with syslog levels.  On a terminal lines read "PROG: LEVEL:
 * message"; elsewhere (a pipe, a file, a service manager) each line carries
 * a "<N>" priority prefix that systemd and syslog understand.  When stderr
 * is the journal ($JOURNAL_STREAM names it) the daemon installs a writer
 * that sends structured entries instead.
 *
 * Messages are lowercase without a full stop.  Never pass a secret, a token
 * or an upstream body to these functions: log a fingerprint instead.
 */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* A structured field for the journal, e.g. { "CREDENTIAL", "xibo" }. */
struct log_field {
	const char *key;
	const char *value;
};

/*
 * Where lines go instead of stderr (the daemon's journal writer); returns
 * 0, or < 0 to have the line written to stderr after all.
 */
typedef int (*log_writer_fn)(int level, const struct log_field *fields, size_t nfields,
			     const char *msg);

void log_init(const char *prog, int level);
/* Whether stderr is the journal (so a journal writer should be set). */
bool log_stderr_is_journal(void);
void log_set_writer(log_writer_fn writer);
void log_set_level(int level);
bool log_enabled(int level);

/* Parses "debug", "info", "notice", "warning", "err"; -1 if unknown. */
int log_level_from_string(const char *s);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with structured fields (values NULL are left out). */
void log_fields(int level, const struct log_field *fields, size_t nfields, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

/* Logs at LOG_ERR and exits with status 1: for setup errors only. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
