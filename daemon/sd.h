/*
 * The only file that touches libsystemd: readiness and status
 * notifications.  Without $NOTIFY_SOCKET every call is a no-op.
 */
#ifndef TB_SD_H
#define TB_SD_H

void sd_ready(const char *status);
void sd_status(const char *status);
void sd_stopping(void);

#endif
