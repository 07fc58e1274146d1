/*
 * One credential at run time: its token, its state (pending, valid,
 * renewing, failing, expired), the attempt in flight and the clients that
 * wait for it; renewals on the schedule and on demand (coalesced by token),
 * backoff after failures, expiry on time, and publishing each new token to
 * the sink and the store.  A token variant (variant.c) is a struct
 * credential of its own with the same settings, asked with the variant's
 * scope, audience and resource, persisted under a record of its own and
 * never written to the sink; its main credential holds the set.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "cleanup.h"
#include "credential-int.h"
#include "discovery.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "response.h"
#include "sink.h"
#include "store.h"
#include "timeutil.h"
#include "variant.h"
#include "xmalloc.h"

struct credential_waiter {
	TAILQ_ENTRY(credential_waiter) entry;
	struct credential *cred;
	int64_t min_valid_ms;
	struct event *timer;
	credential_wait_cb cb;
	void *arg;
};

TAILQ_HEAD(credential_waiters, credential_waiter);

struct credential {
	struct credential_ctx *ctx;
	const struct cred_conf *conf;
	struct token *token;
	struct renew_entry due;	   /* next attempt */
	struct renew_entry expiry; /* the token stops being served (sink, persist) */
	struct http_transfer *transfer;
	int64_t attempt_mono_ms;     /* when the attempt in flight started */
	int64_t last_success_mono_ms; /* -1: never */
	int64_t retry_after_until_mono_ms; /* upstream Retry-After in force until */
	bool attempted;
	bool had_token; /* pending until the first token, expired after */
	unsigned consecutive_failures;
	uint64_t renewals;
	uint64_t failures;
	uint64_t late_renewals; /* tokens that expired before a renewal had started */
	int64_t last_renewal_wall_ms;
	char *last_error;
	long upstream_status;
	char *upstream_error;
	char *sink_error; /* the last sink write failed: why */
	uint64_t generation; /* of the newest token installed */
	struct credential_waiters waiters;
	/* grant_type refresh_token */
	int refresh_lock;		 /* held while an attempt runs, else -1 */
	bool refresh_from_state;	 /* the token spent came from state_dir */
	struct secret *refresh_unsaved;	 /* a rotated token state_dir did not take */
	bool settings_changed;		 /* reloaded while its refresh was in flight */
	struct variant *variant;      /* a variant's token (variant.c); NULL: the main one */
	struct variant_set *variants; /* the main token's variants, or NULL */
	/* issuer: the token endpoint its discovery document named, or NULL */
	char *token_url;
	unsigned discovery_doc; /* the document asked for (transfer in flight) */
};

struct credential_ctx {
	struct event_base *base;
	struct http *http;
	struct renew *renew;
	struct metrics *metrics;
	const struct conf *conf; /* for state_dir */
	struct credential **creds; /* sorted by name */
	size_t n;
	size_t waiters;
	size_t refreshing; /* refresh_token grants in flight */
	/* Stopping: no new attempt starts; told when no refresh is in flight. */
	bool stopping;
	void (*drained)(void *arg);
	void *drained_arg;
};

static void credential_attempt(struct credential *c);
static void credential_schedule(struct credential *c, int64_t due_mono_ms);
static void credential_due_cb(struct renew_entry *e);

/*
 * Logs with the journal fields CREDENTIAL=, and TOKEN_FP= / UPSTREAM_STATUS=
 * when given, VARIANT= for a variant's token.
 */
static void credential_log(const struct credential *c, int level, const char *fp, long status,
			   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
credential_log(const struct credential *c, int level, const char *fp, long status,
	       const char *fmt, ...)
{
	char msg[1024], st[24];
	const char *variant = c->variant != NULL ? variant_key(c->variant)->text : NULL;
	struct log_field fields[4] = {
		{ "CREDENTIAL", c->conf->name },
		{ "TOKEN_FP", fp },
		{ "UPSTREAM_STATUS", NULL },
		{ "VARIANT", variant },
	};
	va_list ap;

	if (!log_enabled(level))
		return;
	if (status > 0) {
		snprintf(st, sizeof(st), "%ld", status);
		fields[2].value = st;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fields(level, fields, 4, "credential %s%s%s%s: %s", c->conf->name,
		   variant != NULL ? " (variant " : "", variant != NULL ? variant : "",
		   variant != NULL ? ")" : "", msg);
}

static struct credential *
credential_of_entry(struct renew_entry *e)
{
	return (struct credential *)((char *)e - offsetof(struct credential, due));
}

static int64_t
credential_min_valid(const struct credential *c, const struct token *t)
{
	return renew_min_valid(c->conf->min_valid_ms, t->lifetime_ms);
}

/*
 * Where c's token is persisted: the name of its record in state_dir (a
 * variant's is NAME@ID, see variant.c) and the fingerprint it carries.
 */
static void
credential_store_id(const struct credential *c, char name[STORE_NAME_MAX + 1], char fp[65])
{
	char conf_fp[65], id[STORE_VARIANT_ID_LEN + 1];

	conf_token_fingerprint(c->conf, conf_fp);
	if (c->variant == NULL) {
		snprintf(name, STORE_NAME_MAX + 1, "%s", c->conf->name);
		memcpy(fp, conf_fp, 65);
		return;
	}
	variant_key_id(variant_key(c->variant), id);
	snprintf(name, STORE_NAME_MAX + 1, "%s@%s", c->conf->name, id);
	variant_key_fingerprint(variant_key(c->variant), conf_fp, fp);
}

/* Whether c writes a sink: its credential has one, and c is the main token. */
static bool
credential_sinks(const struct credential *c)
{
	return c->conf->sink != NULL && c->variant == NULL;
}

/* Empties the sink of settings cc. */
static int
credential_sink_clear(const struct cred_conf *cc, char **cause)
{
	struct sink_opts so;

	conf_sink_opts(cc, &so);
	return sink_clear(&so, cause);
}

/*
 * Forgets the token: its sink is emptied and its persisted copy removed, so
 * no file holds a token that is no longer served.
 */
static void
credential_drop_token(struct credential *c)
{
	char *cause = NULL, name[STORE_NAME_MAX + 1], fp[65];

	if (c->token == NULL)
		return;
	c->token = token_free(c->token);
	renew_cancel(c->ctx->renew, &c->expiry);
	if (credential_sinks(c) && credential_sink_clear(c->conf, &cause) < 0) {
		credential_log(c, LOG_WARNING, NULL, 0, "cannot empty sink: %s", cause);
		free(cause);
	}
	if (c->conf->persist) {
		credential_store_id(c, name, fp);
		(void)store_remove(c->ctx->conf->daemon.state_dir, name);
	}
}

/*
 * Writes the token to the sink.  A failure is kept for last_error (the
 * state shows failing), and the file is emptied if it can be: a program
 * reading it must not go on using the previous token, which may expire
 * before anybody notices the sink stopped moving.
 */
static void
credential_sink(struct credential *c)
{
	const struct token *t = c->token;
	char *cause = NULL, *cause2 = NULL;
	struct sink_opts so;

	free(c->sink_error);
	c->sink_error = NULL;
	conf_sink_opts(c->conf, &so);
	if (sink_write(&so, t, timeutil_wall_ms(), &cause) == 0)
		return;
	c->sink_error = xasprintf("cannot write sink: %s", cause);
	credential_log(c, LOG_WARNING, t->fingerprint, 0, "%s", c->sink_error);
	if (sink_clear(&so, &cause2) == 0)
		credential_log(c, LOG_WARNING, NULL, 0, "emptied sink %s: it held the previous token",
			       c->conf->sink);
	free(cause2);
	free(cause);
}

/* Writes the token to the sink and the state file, as configured. */
static void
credential_publish(struct credential *c)
{
	const struct token *t = c->token;
	char *cause = NULL;

	if (credential_sinks(c))
		credential_sink(c);
	if (c->conf->persist) {
		char name[STORE_NAME_MAX + 1], fp[65];

		credential_store_id(c, name, fp);
		if (store_save(c->ctx->conf->daemon.state_dir, name, fp, t, &cause) < 0) {
			credential_log(c, LOG_WARNING, t->fingerprint, 0, "cannot persist the token: %s",
				       cause);
			free(cause);
		}
	}
	/*
	 * When the token stops being served it is dropped on time, so that
	 * files stop offering it too and a renewal the schedule missed (a
	 * suspend, a clock step) starts; the getters never do it.
	 */
	renew_set(c->ctx->renew, &c->expiry, t->expires_mono_ms - credential_min_valid(c, t));
}

/*
 * Drops a token that can no longer be handed out.  Runs from the expiry
 * timer, at every hand-out (credential_get, credential_renew) and in the
 * state machine's own steps; never from a getter.  When no renewal had
 * started by then, and none had failed, its renewal is late: the schedule
 * missed it (a suspend, a clock step, a loop held up, a schedule that
 * left no room), which is counted.
 */
static void
credential_expire(struct credential *c)
{
	bool late;

	if (c->token == NULL)
		return;
	if (token_left(c->token, timeutil_mono_ms(), timeutil_wall_ms()) >
	    credential_min_valid(c, c->token))
		return;
	late = c->transfer == NULL && c->consecutive_failures == 0 && !c->ctx->stopping;
	if (late)
		c->late_renewals++;
	credential_log(c, late ? LOG_WARNING : LOG_NOTICE, c->token->fingerprint, 0,
		       late ? "token %s expired before its renewal started"
			    : "token %s expired without a replacement",
		       c->token->fingerprint);
	credential_drop_token(c);
	/*
	 * The wall clock says so before the schedule did (a suspend, a clock
	 * step): renew at once unless an attempt runs or failures back off.
	 */
	if (c->transfer == NULL && c->consecutive_failures == 0 &&
	    (!c->due.queued || c->due.due_mono_ms > timeutil_mono_ms()))
		credential_schedule(c, timeutil_mono_ms());
}

const struct token *
credential_token(const struct credential *c, int64_t min_valid_ms)
{
	int64_t need;

	if (c->token == NULL)
		return NULL;
	need = credential_min_valid(c, c->token);
	if (min_valid_ms > need)
		need = min_valid_ms;
	if (token_left(c->token, timeutil_mono_ms(), timeutil_wall_ms()) <= need)
		return NULL;
	return c->token;
}

static void
credential_waiter_free(struct credential_waiter *w)
{
	TAILQ_REMOVE(&w->cred->waiters, w, entry);
	w->cred->ctx->waiters--;
	event_free(w->timer);
	free(w);
}

void
credential_waiter_cancel(struct credential_waiter *w)
{
	if (w != NULL)
		credential_waiter_free(w);
}

/* Tells waiter w the result and frees it. */
static void
credential_waiter_done(struct credential_waiter *w, enum credential_result result)
{
	struct credential *c = w->cred;
	credential_wait_cb cb = w->cb;
	void *arg = w->arg;

	credential_waiter_free(w);
	cb(c, result, arg);
}

static void
credential_waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	credential_waiter_done(arg, CREDENTIAL_TIMEOUT);
}

static struct credential_waiter *
credential_waiter_add(struct credential *c, int64_t min_valid_ms, int64_t wait_ms,
		      credential_wait_cb cb, void *arg)
{
	struct credential_waiter *w = xcalloc(1, sizeof(*w));
	struct timeval tv = timeutil_ms_to_tv(wait_ms);

	w->cred = c;
	w->min_valid_ms = min_valid_ms;
	w->cb = cb;
	w->arg = arg;
	w->timer = evtimer_new(c->ctx->base, credential_waiter_timeout_cb, w);
	if (w->timer == NULL)
		log_fatal("cannot create timer");
	evtimer_add(w->timer, &tv);
	TAILQ_INSERT_TAIL(&c->waiters, w, entry);
	c->ctx->waiters++;
	return w;
}

/*
 * Answers every waiter after an attempt ended or the credential went away.
 */
static void
credential_wake(struct credential *c, bool gone)
{
	struct credential_waiters list = TAILQ_HEAD_INITIALIZER(list);
	struct credential_waiter *w;

	/*
	 * A waiter's callback may add new waiters to this credential; answer
	 * only those that were waiting for the attempt that just ended.
	 */
	TAILQ_CONCAT(&list, &c->waiters, entry);
	while ((w = TAILQ_FIRST(&list)) != NULL) {
		enum credential_result r;

		if (gone)
			r = CREDENTIAL_GONE;
		else if (credential_token(c, w->min_valid_ms) != NULL)
			r = CREDENTIAL_OK;
		else if (c->token != NULL && c->token->lifetime_ms <= w->min_valid_ms)
			r = CREDENTIAL_TOO_SHORT;
		else
			r = CREDENTIAL_FAILED;
		/* Back on c->waiters, where credential_waiter_free takes it off. */
		TAILQ_REMOVE(&list, w, entry);
		TAILQ_INSERT_HEAD(&c->waiters, w, entry);
		credential_waiter_done(w, r);
	}
}

static void
credential_schedule(struct credential *c, int64_t due_mono_ms)
{
	renew_set(c->ctx->renew, &c->due, due_mono_ms);
}

/* How a failed attempt is retried, and whether its message says what to do. */
enum credential_failure {
	FAIL_TRANSIENT,	 /* the backoff from its start */
	FAIL_PERMANENT,	 /* the slow end of the backoff */
	FAIL_ADVISED,	 /* the same; the message already says what to change */
};

/*
 * Records why the last attempt failed.  A permanent failure says so: it is
 * retried at the slow end of the backoff, and only a change (the
 * configuration, the secret, the client's rights at the upstream) ends it.
 */
static void
credential_set_error(struct credential *c, long status, const char *error, const char *message,
		     enum credential_failure how)
{
	free(c->last_error);
	free(c->upstream_error);
	c->last_error = how == FAIL_PERMANENT ?
				xasprintf("%s (this will not fix itself: change the configuration or "
					  "the client at the upstream, then reload)", message) :
				xstrdup(message);
	c->upstream_error = error != NULL ? xstrdup(error) : NULL;
	c->upstream_status = status;
}

/* An attempt failed: record why, back off, tell the waiters. */
static void
credential_failed(struct credential *c, long status, const char *error, const char *message,
		  enum credential_failure how, const char *retry_after)
{
	int64_t now = timeutil_mono_ms(), retry_after_ms = -1, usable_left = -1, delay;
	char buf[32];

	c->consecutive_failures++;
	c->failures++;
	credential_set_error(c, status, error, message, how);
	if (retry_after != NULL &&
	    renew_parse_retry_after(retry_after, timeutil_wall_ms(), &retry_after_ms) == 0)
		c->retry_after_until_mono_ms = now + retry_after_ms;
	credential_expire(c);
	if (c->token != NULL)
		usable_left = c->token->expires_mono_ms - credential_min_valid(c, c->token) - now;
	delay = renew_retry_delay(c->consecutive_failures, c->conf->backoff_min_ms,
				  c->conf->backoff_max_ms, how != FAIL_TRANSIENT, usable_left, retry_after_ms,
				  arc4random());
	credential_schedule(c, now + delay);
	credential_log(c, LOG_WARNING, NULL, status, "renewal failed: %s; next attempt in %s%s",
		       message, duration_format(delay, buf, sizeof(buf)),
		       c->token != NULL ? " (current token still served)" : "");
	credential_wake(c, false);
}

/* The scope c's token is asked with (a variant's, else the configured one), or NULL. */
static const char *
credential_asked_scope(const struct credential *c)
{
	const char *scope = c->variant != NULL ? variant_key(c->variant)->scope : c->conf->scope;

	return scope != NULL && scope[0] != '\0' ? scope : NULL;
}

/* A token arrived: install it, schedule its renewal, tell the waiters. */
static void
credential_succeeded(struct credential *c, struct token_response *tr)
{
	struct token *t = TAKE_PTR(tr->token);
	char life[32], next[32];
	int64_t after, due, now;

	if (t->scope == NULL && credential_asked_scope(c) != NULL)
		t->scope = xstrdup(credential_asked_scope(c));
	token_place(t, c->attempt_mono_ms, timeutil_mono_ms(), timeutil_wall_ms());
	now = timeutil_mono_ms();
	if (token_left(t, now, timeutil_wall_ms()) <= credential_min_valid(c, t)) {
		/* Served never: renewing at once again would only loop. */
		char *msg = xasprintf("the token arrived with no more than min_valid left "
				      "(lifetime %s, the request took %llds)",
				      duration_format(t->lifetime_ms, life, sizeof(life)),
				      (long long)((now - c->attempt_mono_ms) / 1000));

		token_free(t);
		credential_failed(c, 200, NULL, msg, FAIL_TRANSIENT, NULL);
		free(msg);
		return;
	}
	token_free(c->token);
	t->generation = ++c->generation;
	c->token = t;
	c->had_token = true;
	c->consecutive_failures = 0;
	c->renewals++;
	c->last_renewal_wall_ms = timeutil_wall_ms();
	c->last_success_mono_ms = timeutil_mono_ms();
	free(c->last_error);
	free(c->upstream_error);
	c->last_error = c->upstream_error = NULL;
	c->upstream_status = 0;
	credential_publish(c);

	after = renew_refresh_after(t->lifetime_ms, &c->conf->refresh_before, c->conf->min_valid_ms,
				    c->conf->timeout_ms, arc4random());
	/* A slow upstream must not make renewals follow each other back to back. */
	due = t->obtained_mono_ms + after;
	if (due < now + c->conf->backoff_min_ms)
		due = now + c->conf->backoff_min_ms;
	credential_schedule(c, due);
	credential_log(c, LOG_INFO, t->fingerprint, 0, "new token %s, lifetime %s, renewal in %s",
		       t->fingerprint, duration_format(t->lifetime_ms, life, sizeof(life)),
		       duration_format((due - now) / 1000 * 1000, next, sizeof(next)));
	credential_wake(c, false);
}

static bool
credential_refresh_grant(const struct credential *c)
{
	return c->conf->grant_type != NULL &&
	       strcmp(c->conf->grant_type, REQUEST_GRANT_REFRESH_TOKEN) == 0;
}

/*
 * Before a refresh_token grant's attempt: takes the refresh lock (a
 * --test beside the daemon must not spend the same token at once) and
 * picks the token to spend: one that state_dir could not take last time,
 * else the newer of state_dir's and refresh_token_file's.  The lock is held
 * until credential_refresh_end.  0 with *ret (caller frees), or -errno
 * with *cause.
 */
static int
credential_refresh_begin(struct credential *c, struct secret **ret, char **cause)
{
	const char *dir = c->ctx->conf->daemon.state_dir;
	char *why = NULL;
	int fd = store_lock_refresh(dir, c->conf->name, cause);

	if (fd < 0)
		return fd;
	if (c->refresh_unsaved != NULL) {
		/* The newest there is: spend it whether or not state_dir takes it now. */
		if (store_save_refresh(dir, c->conf->name, c->refresh_unsaved, &why) == 0) {
			credential_log(c, LOG_NOTICE, NULL, 0, "the rotated refresh token is now "
							     "kept in state_dir");
			c->refresh_from_state = true;
			*ret = TAKE_PTR(c->refresh_unsaved);
		} else {
			*ret = secret_dup(c->refresh_unsaved);
		}
		free(why);
	} else {
		int r = store_pick_refresh(dir, c->conf->name, c->conf->refresh_token,
					   c->conf->refresh_token_mtime_ns, ret,
					   &c->refresh_from_state, cause);

		if (r < 0) {
			close(fd);
			return r;
		}
	}
	c->refresh_lock = fd;
	c->ctx->refreshing++;
	return 0;
}

/* Tells a stopping daemon when no refresh is in flight any more. */
static void
credential_ctx_check_drained(struct credential_ctx *ctx)
{
	void (*cb)(void *) = ctx->drained;

	if (!ctx->stopping || cb == NULL || ctx->refreshing > 0)
		return;
	ctx->drained = NULL;
	cb(ctx->drained_arg);
}

/* After a refresh_token grant's attempt: lets go of the lock. */
static void
credential_refresh_end(struct credential *c)
{
	if (c->refresh_lock < 0)
		return;
	close(c->refresh_lock);
	c->refresh_lock = -1;
	c->ctx->refreshing--;
	credential_ctx_check_drained(c->ctx);
}

/*
 * Keeps the refresh token an answer rotated to, before its access token
 * is served: lose it and the credential is locked out (the old one is
 * spent, and spending it again makes servers revoke the whole family).
 * When state_dir does not take it, it stays in memory for the next
 * attempt, and the failure says so.  0, or -errno with *cause.
 */
static int
credential_refresh_keep(struct credential *c, struct token_response *tr, char **cause)
{
	char *why = NULL;
	int r;

	secret_free(c->refresh_unsaved);
	c->refresh_unsaved = NULL;
	r = store_save_refresh(c->ctx->conf->daemon.state_dir, c->conf->name, tr->refresh_token,
			       &why);
	if (r == 0) {
		c->refresh_from_state = true;
		credential_log(c, LOG_DEBUG, NULL, 0, "rotated refresh token kept in state_dir");
		return 0;
	}
	c->refresh_unsaved = TAKE_PTR(tr->refresh_token);
	*cause = xasprintf("cannot keep the rotated refresh token: %s (it is held in memory for "
			   "the next renewal, and lost if the daemon stops: fix state_dir)",
			   why);
	free(why);
	return r;
}

/*
 * The failure of a refresh_token grant the server refused: which token,
 * and what to do.  NULL for any other failure.
 */
static char *
credential_refresh_refused(const struct credential *c, const struct response_error *err)
{
	if (!credential_refresh_grant(c) || err->error == NULL ||
	    strcmp(err->error, "invalid_grant") != 0)
		return NULL;
	return xasprintf("%s: the refresh token %s was refused; put a new one in %s and reload",
			 err->message != NULL ? err->message : "invalid_grant",
			 c->refresh_from_state ? "kept in state_dir" : "from refresh_token_file",
			 c->conf->refresh_token_file);
}

/*
 * After a refresh that was in flight when the settings changed: its
 * answer was only good for the rotated refresh token it carried.  Starts
 * over with the new settings; returns whether that was the case.
 */
static bool
credential_refresh_stale(struct credential *c)
{
	if (!c->settings_changed)
		return false;
	c->settings_changed = false;
	credential_schedule(c, timeutil_mono_ms());
	return true;
}

static void
credential_http_done_cb(struct http_result *res, void *arg)
{
	struct response_opts ro;
	struct credential *c = arg;
	struct token_response *tr = NULL;
	struct response_error err = { 0 };
	bool moved = false; /* a discovered endpoint that is gone: not for good */
	char *msg = NULL;
	int r;

	c->transfer = NULL;
	renew_open(c->ctx->renew);
	metrics_count_upstream(c->ctx->metrics, res->duration_ms);
	if (res->status == 404 && c->token_url != NULL) {
		/* The issuer may have moved it: ask the issuer again next time. */
		credential_log(c, LOG_NOTICE, NULL, res->status,
			       "the token endpoint %s answered 404: it is looked up again "
			       "at the next attempt", c->token_url);
		free(c->token_url);
		c->token_url = NULL;
		moved = true;
	}
	if (res->error != NULL || res->body_too_large) {
		credential_refresh_end(c);
		if (credential_refresh_stale(c))
			return;
	}
	if (res->error != NULL && !res->body_too_large) {
		/* Cut off mid-answer (a timeout after the status line) is no answer either. */
		if (res->status != 0)
			msg = xasprintf("HTTP %ld, then: %s", res->status, res->error);
		else
			msg = xstrdup(res->error);
		credential_failed(c, res->status, NULL, msg, FAIL_TRANSIENT, res->retry_after);
		free(msg);
		return;
	}
	if (res->body_too_large) {
		msg = xasprintf("HTTP %ld: response body larger than %d bytes", res->status,
				TOKEN_BODY_MAX);
		credential_failed(c, res->status, NULL, msg, FAIL_TRANSIENT, res->retry_after);
		free(msg);
		return;
	}
	conf_response_opts(c->conf, &ro);
	if (response_parse(&ro, res->status, res->content_type, res->body->data,
			   res->body->len, timeutil_wall_ms(), &tr, &err) < 0) {
		credential_refresh_end(c);
		msg = credential_refresh_refused(c, &err);
		if (!credential_refresh_stale(c))
			credential_failed(c, res->status, err.text != NULL ? err.text : err.error,
					  msg != NULL		  ? msg :
					  err.message != NULL ? err.message :
								"invalid response",
					  msg != NULL			? FAIL_ADVISED :
					  err.permanent && !moved ? FAIL_PERMANENT :
								    FAIL_TRANSIENT,
					  res->retry_after);
		free(msg);
		response_error_clear(&err);
		return;
	}
	r = 0;
	if (credential_refresh_grant(c) && tr->refresh_token != NULL)
		r = credential_refresh_keep(c, tr, &msg);
	credential_refresh_end(c);
	if (credential_refresh_stale(c)) {
		free(msg);
	} else if (r < 0) {
		credential_failed(c, res->status, NULL, msg, FAIL_TRANSIENT, NULL);
		free(msg);
	} else {
		credential_succeeded(c, tr);
	}
	response_free(tr);
}

static void credential_discover(struct credential *c, unsigned doc);

/*
 * A discovery document came, or did not: with the token endpoint it names,
 * the attempt goes on to the token request; else the next document, or the
 * attempt fails.
 */
static void
credential_discovery_done_cb(struct http_result *res, void *arg)
{
	struct credential *c = arg;
	char *url = NULL, *cause = NULL, *msg;
	int r = -ENOENT;

	c->transfer = NULL;
	renew_open(c->ctx->renew);
	metrics_count_upstream(c->ctx->metrics, res->duration_ms);
	if (res->error == NULL && res->status == 200 && !res->body_too_large &&
	    (r = discovery_parse(res->body->data, res->body->len, c->conf->issuer,
				 c->conf->auth_method == AUTH_TLS_CLIENT_AUTH, &url, &cause)) == 0) {
		credential_log(c, LOG_INFO, NULL, 0, "token endpoint %s, from %s", url, res->url);
		c->token_url = url;
		if (c->ctx->stopping)
			credential_failed(c, 0, NULL, "stopping", FAIL_TRANSIENT, NULL);
		else
			credential_attempt(c);
		return;
	}
	/* Not there (or not allowed, or a page): the other kind of document may be. */
	if (res->error == NULL && ((res->status >= 400 && res->status < 500) || r == -EBADMSG) &&
	    c->discovery_doc + 1 < DISCOVERY_NDOCS) {
		free(cause);
		credential_discover(c, c->discovery_doc + 1);
		return;
	}
	if (cause != NULL)
		msg = xasprintf("discovery: %s: %s", res->url, cause);
	else if (res->error != NULL)
		msg = xasprintf("discovery: %s: %s", res->url, res->error);
	else if (res->body_too_large)
		msg = xasprintf("discovery: %s: the document is too large", res->url);
	else
		msg = xasprintf("discovery: %s: HTTP %ld%s", res->url, res->status,
				res->status >= 400 && res->status < 500 ?
					" (and at the other well-known path too): check issuer" : "");
	credential_failed(c, res->status, NULL, msg,
			  cause != NULL || (res->status >= 400 && res->status < 500) ?
				  FAIL_ADVISED : FAIL_TRANSIENT,
			  res->retry_after);
	free(msg);
	free(cause);
}

/* Asks for the issuer's discovery document number doc. */
static void
credential_discover(struct credential *c, unsigned doc)
{
	char *url = discovery_url(c->conf->issuer, doc), *cause = NULL;
	struct http_opts ho;

	c->discovery_doc = doc;
	credential_log(c, LOG_DEBUG, NULL, 0, "asking %s for the token endpoint", url);
	conf_http_opts(c->conf, &ho);
	c->transfer = http_start(c->ctx->http, &ho, discovery_request(url),
				 credential_discovery_done_cb, c, &cause);
	free(url);
	if (c->transfer == NULL) {
		credential_failed(c, 0, NULL, cause, FAIL_TRANSIENT, NULL);
		free(cause);
	}
}

/* Starts an attempt unless one is in flight. */
static void
credential_attempt(struct credential *c)
{
	struct token_request *req = NULL;
	const struct secret *current = NULL;
	struct secret *rt = NULL;
	struct request_opts qo;
	struct http_opts ho;
	char *cause = NULL;
	int r;

	if (c->transfer != NULL || c->ctx->stopping)
		return;
	credential_expire(c);
	renew_cancel(c->ctx->renew, &c->due);
	c->attempted = true;
	c->attempt_mono_ms = timeutil_mono_ms();
	if (c->token != NULL)
		current = c->token->access_token;
	if (c->conf->token_url == NULL && c->token_url == NULL) {
		credential_discover(c, 0);
		return;
	}
	if (c->token_url != NULL)
		conf_request_opts_url(c->conf, c->token_url, &qo);
	else
		conf_request_opts(c->conf, &qo);
	if (c->variant != NULL)
		variant_request_opts(c->variant, &qo);
	if (credential_refresh_grant(c) && credential_refresh_begin(c, &rt, &cause) < 0) {
		credential_failed(c, 0, NULL, cause, FAIL_TRANSIENT, NULL);
		free(cause);
		return;
	}
	if (rt != NULL)
		qo.refresh_token = rt;
	r = request_build(&qo, current, &req, &cause);
	secret_free(rt);
	if (r < 0) {
		credential_refresh_end(c);
		credential_failed(c, 0, NULL, cause, FAIL_TRANSIENT, NULL);
		free(cause);
		return;
	}
	if (!c->conf->tls_verify)
		credential_log(c, LOG_WARNING, NULL, 0,
			       "tls_verify = no: the token endpoint is not authenticated");
	credential_log(c, LOG_DEBUG, NULL, 0, "requesting a token from %s", req->url);
	conf_http_opts(c->conf, &ho);
	c->transfer = http_start(c->ctx->http, &ho, req, credential_http_done_cb, c, &cause);
	if (c->transfer == NULL) {
		credential_refresh_end(c);
		credential_failed(c, 0, NULL, cause, FAIL_TRANSIENT, NULL);
		free(cause);
	}
}

static void
credential_due_cb(struct renew_entry *e)
{
	credential_attempt(credential_of_entry(e));
}

static void
credential_expiry_cb(struct renew_entry *e)
{
	credential_expire((struct credential *)((char *)e - offsetof(struct credential, expiry)));
}

/*
 * Takes up a token persisted by an earlier run, if it is still good for
 * these settings; schedules its renewal.  Returns whether it did.
 */
static bool
credential_restore(struct credential *c)
{
	int64_t now_mono = timeutil_mono_ms(), now_wall = timeutil_wall_ms(), after;
	char fp[65], *cause = NULL, left[32], name[STORE_NAME_MAX + 1];
	struct token *t = NULL;
	int r;

	credential_store_id(c, name, fp);
	r = store_load(c->ctx->conf->daemon.state_dir, name, fp, now_wall, c->conf->min_valid_ms,
		       &t, &cause);
	if (r == -ESTALE)
		credential_log(c, LOG_INFO, NULL, 0, "persisted token expired or made with other "
						     "settings: removed");
	else if (r < 0 && r != -ENOENT)
		credential_log(c, LOG_WARNING, NULL, 0, "ignoring the persisted token: %s",
			       cause != NULL ? cause : strerror(-r));
	free(cause);
	if (r < 0)
		return false;
	token_place(t, now_mono, now_mono, now_wall);
	t->generation = ++c->generation;
	c->token = t;
	c->had_token = true;
	c->attempted = true;
	c->last_success_mono_ms = now_mono;
	after = renew_refresh_after(t->lifetime_ms, &c->conf->refresh_before, c->conf->min_valid_ms,
				    c->conf->timeout_ms, arc4random());
	credential_schedule(c, t->obtained_mono_ms + after > now_mono ? t->obtained_mono_ms + after
								       : now_mono);
	credential_log(c, LOG_NOTICE, t->fingerprint, 0, "reusing persisted token %s, expires in %s",
		       t->fingerprint,
		       duration_format((t->expires_wall_ms - now_wall) / 1000 * 1000, left,
				       sizeof(left)));
	credential_publish(c);
	return true;
}

/* Starts a credential just created: its persisted token, else a fetch unless lazy. */
static void
credential_start(struct credential *c, int64_t now)
{
	if (c->conf->persist && credential_restore(c))
		return;
	if (!c->conf->lazy)
		credential_schedule(c, now);
}

/* ms until an upstream Retry-After stops forbidding attempts; 0 if none. */
static int64_t
credential_retry_after_left(const struct credential *c, int64_t now)
{
	return c->retry_after_until_mono_ms > now ? c->retry_after_until_mono_ms - now : 0;
}

static int64_t
credential_seconds_until(int64_t ms)
{
	return ms <= 0 ? 1 : (ms + 999) / 1000;
}

int
credential_get(struct credential *c, int64_t min_valid_ms, int64_t wait_ms, credential_wait_cb cb,
	       void *arg, struct credential_waiter **ret_waiter, int64_t *ret_retry_after_s)
{
	int64_t now = timeutil_mono_ms();

	*ret_waiter = NULL;
	credential_expire(c);
	if (credential_token(c, min_valid_ms) != NULL)
		return 0;
	if (c->token != NULL && min_valid_ms >= c->token->lifetime_ms)
		return -ERANGE;
	if (c->transfer == NULL) {
		bool healthy = c->consecutive_failures == 0 && credential_retry_after_left(c, now) == 0;
		/* A token fetched a moment ago is not renewed again for a client's min_valid. */
		bool fresh = c->token != NULL && c->last_success_mono_ms >= 0 &&
			     now - c->last_success_mono_ms < c->conf->backoff_min_ms;

		/*
		 * A healthy credential renews at once for a client that wants
		 * more validity than is left, and a lazy one fetches on first
		 * use; a failing one keeps to its backoff.
		 */
		if (healthy && !fresh && (c->token != NULL || !c->attempted || !c->due.queued))
			credential_attempt(c);
	}
	if (c->transfer == NULL) {
		int64_t due = c->due.queued ? c->due.due_mono_ms - now : -1;

		if (credential_token(c, min_valid_ms) != NULL)
			return 0; /* e.g. a request that could not be built left the token */
		/* Overdue (its timer has not run yet) is due now, not absent. */
		if (!c->due.queued || due > wait_ms) {
			*ret_retry_after_s = credential_seconds_until(due);
			return -EAGAIN;
		}
	}
	*ret_waiter = credential_waiter_add(c, min_valid_ms, wait_ms, cb, arg);
	return 1;
}

uint64_t
credential_generation(const struct credential *c)
{
	const struct token *t = credential_token(c, 0);

	return t != NULL ? t->generation : 0;
}

int
credential_renew(struct credential *c, uint64_t seen, int64_t wait_ms, credential_wait_cb cb,
		 void *arg, struct credential_waiter **ret_waiter, int64_t *ret_retry_after_s)
{
	int64_t now = timeutil_mono_ms();

	*ret_waiter = NULL;
	credential_expire(c);
	if (c->transfer == NULL) {
		/* Somebody else's renewal already replaced the token the caller saw. */
		if (credential_generation(c) > seen)
			return 0;
		if (credential_retry_after_left(c, now) > 0) {
			/* Not now, the upstream said: answer as GET would. */
			if (credential_token(c, 0) != NULL)
				return 0;
			*ret_retry_after_s = credential_seconds_until(credential_retry_after_left(c, now));
			return -EAGAIN;
		}
		credential_attempt(c);
	}
	if (c->transfer == NULL) {
		/* The request could not even be built: the failure is recorded. */
		if (credential_token(c, 0) != NULL)
			return 0;
		*ret_retry_after_s = credential_seconds_until(c->due.queued ? c->due.due_mono_ms - now : -1);
		return -EAGAIN;
	}
	*ret_waiter = credential_waiter_add(c, 0, wait_ms, cb, arg);
	return 1;
}

enum credential_state
credential_state(const struct credential *c)
{
	if (credential_token(c, 0) == NULL)
		return c->had_token ? CREDENTIAL_EXPIRED : CREDENTIAL_PENDING;
	if (c->transfer != NULL)
		return CREDENTIAL_RENEWING;
	if (c->consecutive_failures > 0 || c->sink_error != NULL)
		return CREDENTIAL_FAILING;
	return CREDENTIAL_VALID;
}

const char *
credential_state_name(enum credential_state s)
{
	static const char *const names[] = {
		[CREDENTIAL_PENDING] = "pending", [CREDENTIAL_VALID] = "valid",
		[CREDENTIAL_RENEWING] = "renewing", [CREDENTIAL_FAILING] = "failing",
		[CREDENTIAL_EXPIRED] = "expired",
	};

	return names[s];
}

void
credential_info(const struct credential *c, struct credential_info *ret)
{
	int64_t now = timeutil_mono_ms(), wall = timeutil_wall_ms();

	memset(ret, 0, sizeof(*ret));
	ret->state = credential_state(c);
	if (credential_token(c, 0) != NULL)
		ret->expires_at = c->token->expires_wall_ms / 1000;
	if (c->due.queued) {
		ret->next_renewal = (wall + c->due.due_mono_ms - now) / 1000;
		ret->retry_after_s = credential_seconds_until(c->due.due_mono_ms - now);
	}
	ret->last_renewal = c->last_renewal_wall_ms / 1000;
	ret->renewals = c->renewals;
	ret->failures = c->failures;
	ret->late_renewals = c->late_renewals;
	ret->last_error = c->last_error != NULL ? c->last_error : c->sink_error;
	ret->upstream_status = c->upstream_status;
	ret->upstream_error = c->upstream_error;
}

const struct cred_conf *
credential_conf(const struct credential *c)
{
	return c->conf;
}

const char *
credential_name(const struct credential *c)
{
	return c->conf->name;
}

static struct credential *
credential_new(struct credential_ctx *ctx, const struct cred_conf *cc)
{
	struct credential *c = xcalloc(1, sizeof(*c));

	c->ctx = ctx;
	c->conf = cc;
	c->due.fire = credential_due_cb;
	c->expiry.fire = credential_expiry_cb;
	c->last_success_mono_ms = -1;
	c->refresh_lock = -1;
	TAILQ_INIT(&c->waiters);
	return c;
}

static struct credential *
credential_free(struct credential *c)
{
	if (c == NULL)
		return NULL;
	c->variants = variant_set_free(c->variants, false);
	if (c->transfer != NULL)
		http_cancel(c->transfer);
	credential_refresh_end(c);
	renew_cancel(c->ctx->renew, &c->due);
	renew_cancel(c->ctx->renew, &c->expiry);
	credential_wake(c, true);
	token_free(c->token);
	secret_free(c->refresh_unsaved);
	free(c->last_error);
	free(c->upstream_error);
	free(c->sink_error);
	free(c->token_url);
	free(c);
	return NULL;
}

struct credential *
credential_variant_new(struct credential *main, struct variant *v)
{
	struct credential *c = credential_new(main->ctx, main->conf);

	c->variant = v;
	/* Restored on demand, when first asked for: see variant.c. */
	if (c->conf->persist)
		(void)credential_restore(c);
	return c;
}

struct credential *
credential_variant_free(struct credential *vc, bool drop)
{
	if (drop)
		credential_drop_token(vc);
	return credential_free(vc);
}

void
credential_variant_reconf(struct credential *vc, const struct cred_conf *cc)
{
	char name[STORE_NAME_MAX + 1], fp[65];

	if (vc->conf->persist && !cc->persist) {
		credential_store_id(vc, name, fp);
		(void)store_remove(vc->ctx->conf->daemon.state_dir, name);
	}
	vc->conf = cc;
	/* As for its credential: the issuer's document is asked for again. */
	free(vc->token_url);
	vc->token_url = NULL;
	if (credential_token(vc, 0) != NULL)
		credential_publish(vc);
}

struct variant *
credential_variant(const struct credential *vc)
{
	return vc->variant;
}

struct variant_set *
credential_variant_set(const struct credential *c)
{
	return c->variants;
}

void
credential_set_variant_set(struct credential *c, struct variant_set *s)
{
	c->variants = s;
}

struct renew *
credential_renew_queue(const struct credential *c)
{
	return c->ctx->renew;
}

bool
credential_has_waiters(const struct credential *c)
{
	return !TAILQ_EMPTY(&c->waiters);
}

/*
 * Renewals that are due start while no upstream request waits for a slot:
 * with thousands due at once (the start, a clock jump) the rest wait in
 * the schedule, earliest first, not as thousands of requests built ahead.
 * Each request that ends opens it again.
 */
static bool
credential_gate(void *arg)
{
	const struct credential_ctx *ctx = arg;

	return http_waiting(ctx->http) == 0;
}

struct credential_ctx *
credential_ctx_new(struct event_base *base, struct http *http, struct renew *renew,
		   struct metrics *metrics)
{
	struct credential_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->metrics = metrics;
	ctx->base = base;
	ctx->http = http;
	ctx->renew = renew;
	renew_set_gate(renew, credential_gate, ctx);
	return ctx;
}

struct credential_ctx *
credential_ctx_free(struct credential_ctx *ctx)
{
	if (ctx == NULL)
		return NULL;
	for (size_t i = 0; i < ctx->n; i++)
		credential_free(ctx->creds[i]);
	free(ctx->creds);
	free(ctx);
	return NULL;
}

static int
credential_cmp(const void *a, const void *b)
{
	const struct credential *const *x = a, *const *y = b;

	return strcmp((*x)->conf->name, (*y)->conf->name);
}

/* The index of name in v (n of them, sorted by name), or -1. */
static ssize_t
credential_find(struct credential *const *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, v[mid]->conf->name);

		if (r == 0)
			return (ssize_t)mid;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

void
credential_ctx_load(struct credential_ctx *ctx, const struct conf *conf)
{
	int64_t now = timeutil_mono_ms();

	ctx->conf = conf;
	ctx->creds = xreallocarray(ctx->creds, ctx->n + conf->ncreds, sizeof(*ctx->creds));
	for (size_t i = 0; i < conf->ncreds; i++) {
		struct credential *c = credential_new(ctx, conf->creds[i]);

		ctx->creds[ctx->n++] = c;
		credential_start(c, now);
	}
	qsort(ctx->creds, ctx->n, sizeof(*ctx->creds), credential_cmp);
}

void
credential_ctx_reload(struct credential_ctx *ctx, const struct conf *conf)
{
	struct credential **old = ctx->creds;
	size_t nold = ctx->n, added = 0, changed = 0, kept = 0, removed = 0;
	int64_t now = timeutil_mono_ms();
	bool *taken = xcalloc(nold > 0 ? nold : 1, sizeof(*taken)); /* old is sorted */

	ctx->creds = xcalloc(conf->ncreds, sizeof(*ctx->creds));
	ctx->n = 0;
	ctx->conf = conf;
	for (size_t i = 0; i < conf->ncreds; i++) {
		const struct cred_conf *cc = conf->creds[i];
		struct credential *c = NULL;
		ssize_t j = credential_find(old, nold, cc->name);

		if (j >= 0) {
			c = old[j];
			taken[j] = true;
			/* The issuer's document is asked for again after a reload. */
			free(c->token_url);
			c->token_url = NULL;
		}
		if (c == NULL) {
			c = credential_new(ctx, cc);
			credential_log(c, LOG_NOTICE, NULL, 0, "added");
			credential_start(c, now);
			added++;
		} else if (strcmp(c->conf->digest, cc->digest) != 0) {
			/*
			 * Its token came from other settings: renew now, keep the
			 * waiters.  A refresh in flight runs to its end, since the
			 * token it spent may have been rotated already.
			 */
			if (c->transfer != NULL && c->refresh_lock >= 0) {
				c->settings_changed = true;
			} else if (c->transfer != NULL) {
				http_cancel(c->transfer);
				c->transfer = NULL;
			}
			credential_drop_token(c);
			c->variants = variant_set_free(c->variants, true);
			c->conf = cc;
			free(c->sink_error);
			c->sink_error = NULL;
			c->consecutive_failures = 0;
			c->retry_after_until_mono_ms = 0;
			credential_log(c, LOG_NOTICE, NULL, 0, "settings changed: renewing");
			if (!cc->lazy || !TAILQ_EMPTY(&c->waiters) || c->attempted)
				credential_schedule(c, now);
			else
				renew_cancel(ctx->renew, &c->due);
			changed++;
		} else {
			const struct cred_conf *was = c->conf;
			char *cause = NULL;

			/* allow_*, lazy, sink and persist apply as they are. */
			if (was->sink != NULL && (cc->sink == NULL || strcmp(was->sink, cc->sink) != 0) &&
			    credential_sink_clear(was, &cause) < 0) {
				credential_log(c, LOG_WARNING, NULL, 0, "cannot empty sink: %s", cause);
				free(cause);
			}
			if (was->persist && !cc->persist)
				(void)store_remove(conf->daemon.state_dir, cc->name);
			c->conf = cc;
			variant_set_reload(c, was);
			free(c->sink_error);
			c->sink_error = NULL;
			if (c->token != NULL && credential_token(c, 0) != NULL)
				credential_publish(c);
			kept++;
		}
		ctx->creds[ctx->n++] = c;
	}
	for (size_t j = 0; j < nold; j++) {
		if (taken[j])
			continue;
		credential_log(old[j], LOG_NOTICE, NULL, 0, "removed");
		old[j]->variants = variant_set_free(old[j]->variants, true);
		credential_drop_token(old[j]);
		credential_free(old[j]);
		removed++;
	}
	free(taken);
	free(old);
	renew_open(ctx->renew); /* what was cancelled freed slots */
	qsort(ctx->creds, ctx->n, sizeof(*ctx->creds), credential_cmp);
	log_notice("configuration reloaded: %zu credentials (%zu added, %zu changed, %zu removed, "
		   "%zu unchanged)", ctx->n, added, changed, removed, kept);
}

void
credential_ctx_shutdown(struct credential_ctx *ctx, void (*drained)(void *arg), void *arg)
{
	ctx->stopping = true;
	ctx->drained = drained;
	ctx->drained_arg = arg;
	credential_ctx_check_drained(ctx);
}

size_t
credential_ctx_refreshing(const struct credential_ctx *ctx)
{
	return ctx->refreshing;
}

struct credential *
credential_lookup(struct credential_ctx *ctx, const char *name)
{
	ssize_t i = credential_find(ctx->creds, ctx->n, name);

	return i >= 0 ? ctx->creds[i] : NULL;
}

size_t
credential_count(const struct credential_ctx *ctx)
{
	return ctx->n;
}

struct credential *
credential_at(struct credential_ctx *ctx, size_t i)
{
	return i < ctx->n ? ctx->creds[i] : NULL;
}

size_t
credential_ctx_waiters(const struct credential_ctx *ctx)
{
	return ctx->waiters;
}
