#include <systemd/sd-daemon.h>

#include "sd.h"

void
sd_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
sd_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void
sd_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}
