/*
 * The HTTP/1.1 API on the Unix-domain socket (libevent's evhttp): tokens,
 * credentials' status, health, metrics.  Every request is checked against
 * the peer credentials of its connection, which listen.h accepted.
 */
#ifndef TB_API_H
#define TB_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "credential.h"
#include "tokenbroker.h"

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

/*
 * What a request asks of the API, read from what evhttp hands over of it
 * (its method, the path and query string of its target, its Accept
 * header) and nothing else: no connection, no credential.
 */
struct api_call {
	size_t route;		  /* which route: an index into api.c's table */
	const char *pattern;	  /* the route's path, a "*" for the name */
	char name[TOKENBROKER_NAME_MAX + 1]; /* the credential's, from the path; or "" */
	struct evkeyvalq query;	  /* the parameters, decoded, each once */
	int64_t min_valid_s;	  /* ?min_valid, 0 when not given */
	int64_t wait_s;		  /* ?wait, 5 when not given */
	bool text;		  /* Accept: text/plain (and not application/json) */
	int status;		  /* a refusal's: 400, 404 or 405 */
	const char *error;	  /* its code: "bad_request", "not_found", "method_not_allowed" */
	char *message;		  /* its message */
};

/*
 * Routes a request and checks its query string (malformed, a parameter
 * twice or holding a NUL, one the route does not take, a number of seconds
 * out of range).  path NULL is a request line evhttp could not read.
 * Returns 0, or -EINVAL with status, error and message set; the caller
 * calls api_call_clear either way.
 */
int api_call_parse(enum evhttp_cmd_type method, const char *path, const char *qs,
		   const char *accept, struct api_call *call);
void api_call_clear(struct api_call *call);

#endif
