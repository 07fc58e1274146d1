/*
 * Logging to stderr with syslog levels.  When stderr is the journal
 * ($JOURNAL_STREAM names it) each line carries a "<N>" priority prefix that
 * journald understands; otherwise lines read "PROG: LEVEL: message".
 *
 * Messages are lowercase without a full stop.  Never pass a secret, a token
 * or an upstream body to these functions: log a fingerprint instead.
 */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

void log_init(const char *prog, int level);
void log_set_level(int level);
int log_get_level(void);
bool log_enabled(int level);

/* Parses "debug", "info", "notice", "warning", "err"; -1 if unknown. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

/* Logs at LOG_ERR and exits with status 1: for setup errors only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
