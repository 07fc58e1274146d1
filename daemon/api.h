/*
 * The HTTP/1.1 API on the Unix-domain socket (libevent's evhttp): tokens,
 * credentials' status, health, metrics.  Every request is checked against
 * the peer credentials of its connection, which listen.h accepted.
 */
#ifndef TB_API_H
#define TB_API_H

#include <event2/event.h>

#include "conf.h"
#include "credential.h"

struct api;
struct metrics;

/*
 * Serves on listen_fd when it is >= 0 (socket activation), else creates the
 * socket named by conf->daemon.socket with its mode and group: a stale
 * socket file is replaced, one another process answers on is an error.
 * Returns NULL with *cause set (caller frees).
 */
struct api *api_new(struct event_base *base, const struct conf *conf,
		    struct credential_ctx *creds, struct metrics *metrics, int listen_fd,
		    char **cause);
/*
 * Takes a reloaded configuration (borrowed): limits, metrics_allow, and the
 * socket's mode and group apply at once (listen_set_conf); a new socket path
 * needs a restart (returns 1 and logs it), else 0.
 */
int api_set_conf(struct api *api, const struct conf *conf);
/* The proxies GET /v1/proxies and /metrics show (borrowed; NULL: none). */
struct proxy_ctx;
void api_set_proxies(struct api *api, struct proxy_ctx *proxies);
/* Stops accepting and answers every waiting client (503, stopping). */
void api_shutdown(struct api *api);
/* Closes the socket (removing the file it created) and frees. Takes NULL. */
struct api *api_free(struct api *api);

#endif
