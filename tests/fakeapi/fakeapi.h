/*
 * fakeapi.h: what fakeapi's files share: the one state (struct fakeapi),
 * a token it has seen, an answer in progress, and each file's exported
 * functions under the file's name.  What fakeapi does for a caller is
 * documented in main.c.  The helpers it borrows from fakeidp (serve_*,
 * http_*, json_*, form_*, util_*) are declared in fakeidp.h.
 */

#ifndef FAKEAPI_H
#define FAKEAPI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>

#include "fakeidp.h"

#define API_BODY_MAX (32 * 1024 * 1024)
#define API_HEADERS_MAX (64 * 1024)
#define API_BYTES_MAX (1LL << 40)	/* /api/bytes?n= */
#define API_CHUNK (256 * 1024)		/* bytes queued at once per stream */
#define API_DELAY_MAX_MS (600LL * 1000)
#define SEEN_MAX 100000			/* distinct tokens remembered */
#define FP_LEN 12			/* hex digits of a token's SHA-256 shown */
#define CACHE_MS_DEFAULT 1000
#define INTROSPECT_TIMEOUT_S 5

struct fakeapi;

/* Answers an authorized request under /api/. */
typedef void api_handler_fn(struct fakeapi *fa, struct evhttp_request *req);

/* A request waiting for the introspection of its token. */
struct waiter {
	TAILQ_ENTRY(waiter) entry;
	struct evhttp_request *req;
	api_handler_fn *then;
};

TAILQ_HEAD(waiter_list, waiter);

/*
 * A token that came with a request, known by its SHA-256 only.  Positive
 * introspection answers are trusted until valid_until_ms (monotonic).
 */
struct seen {
	TAILQ_ENTRY(seen) entry;
	struct fakeapi *fa;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char fp[FP_LEN + 1];
	uint64_t requests;
	uint64_t authorized;
	bool revoked;
	bool introspecting;
	int64_t valid_until_ms;
	struct waiter_list waiters;
};

TAILQ_HEAD(seen_list, seen);

/*
 * An answer that is not sent at once: a delay (timer) or a stream of
 * bytes (left to send, from offset off).  It watches its connection's
 * close so that a client that goes away frees it.
 */
struct pending {
	TAILQ_ENTRY(pending) entry;
	struct fakeapi *fa;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;		/* a delay; NULL for a stream */
	long long delay_ms;
	uint64_t left;
	uint64_t off;
};

TAILQ_HEAD(pending_list, pending);

struct counters {
	uint64_t requests;		/* under /api/, whatever became of them */
	uint64_t authorized;
	uint64_t rejected;		/* 401 */
	uint64_t dropped;		/* closed unanswered while down */
	uint64_t introspections;
	uint64_t introspection_errors;
	uint64_t streams;		/* /api/bytes answers started */
	uint64_t aborted;		/* answers in progress whose client went away */
	uint64_t bytes_sent;		/* by /api/bytes, queued to the kernel */
	unsigned int max_active;
};

struct fakeapi {
	struct event_base *base;
	struct evhttp *http;
	char *introspect_host;
	int introspect_port;
	char *introspect_path;
	struct evhttp_connection *idp;
	int64_t cache_ms;
	struct seen_list seen;
	size_t n_seen;
	struct seen *current;		/* the last token that passed */
	struct pending_list pending;
	unsigned int n_pending;
	bool down;
	struct counters c;
	char *last_method;
	char *last_path;
};

/* auth.c */
void auth_check(struct fakeapi *fa, struct evhttp_request *req, api_handler_fn *then);
size_t auth_revoke_current(struct fakeapi *fa);
size_t auth_revoke_all(struct fakeapi *fa);
void auth_forget_counts(struct fakeapi *fa);
void auth_free(struct fakeapi *fa);

/* api.c */
void api_echo(struct fakeapi *fa, struct evhttp_request *req);
void api_bytes(struct fakeapi *fa, struct evhttp_request *req);
void api_delay(struct fakeapi *fa, struct evhttp_request *req);
void api_status(struct fakeapi *fa, struct evhttp_request *req);
void api_not_found(struct fakeapi *fa, struct evhttp_request *req);
void api_drop(struct fakeapi *fa, struct evhttp_request *req);
void api_pending_free_all(struct fakeapi *fa);

/* admin.c */
void admin_stats(struct fakeapi *fa, struct evhttp_request *req);
void admin_control(struct fakeapi *fa, struct evhttp_request *req);

#endif
