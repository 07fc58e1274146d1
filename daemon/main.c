/*
 * tokenbrokerd: keeps OAuth2 (and similar) tokens fresh and serves them to
 * local clients over a Unix-domain socket.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "api.h"
#include "assertion.h"
#include "conf.h"
#include "credential.h"
#include "diag.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "renew.h"
#include "sd.h"
#include "secret.h"
#include "timeutil.h"
#include "tokenbroker.h"
#include "xmalloc.h"

#define MAIN_STOP_GRACE_MS 300
/* How long proxied requests in flight may take to finish at a stop. */
#define MAIN_PROXY_DRAIN_MS 5000
/* Heap kept rather than returned to the kernel (see main()). */
#define MAIN_HEAP_KEEP (8 * 1024 * 1024)
/* Upstream transfers of every proxy at once. */
#define MAIN_PROXY_TRANSFERS_MAX 4096
#define MAIN_STATUS_INTERVAL_MS 5000
#define MAIN_STATUS_MAX 160 /* one line of STATUS=: counts and a duration */

struct main_ctx {
	const char *path;   /* the configuration file, for reloads */
	bool level_forced;  /* --log-level wins over the file's log_level */
	struct event_base *base;
	struct sd *sd;
	struct metrics *metrics;
	struct conf *conf;
	struct http *http;
	struct renew *renew;
	struct credential_ctx *creds;
	struct api *api;
	struct http *proxy_http; /* the proxies' upstream transfers */
	struct proxy_ctx *proxies;
	struct event *sigterm;
	struct event *sigint;
	struct event *sighup;
	struct event *status;
	bool stopping;
	unsigned draining; /* parts still finishing what is in flight */
};

static void
main_usage(FILE *f)
{
	fprintf(f,
		"usage: tokenbrokerd [-c FILE] [--check-config] [--test NAME] [--log-level LEVEL]\n"
		"                    [--version] [--help]\n"
		"\n"
		"Keeps bearer tokens fresh and serves them on a Unix-domain socket.\n"
		"\n"
		"  -c, --config FILE   configuration file (default " CONF_DEFAULT_PATH ");\n"
		"                      the conf.d/ directory beside it is read too\n"
		"      --check-config  validate the configuration and exit 0 (valid) or 1\n"
		"      --test NAME     fetch one token for credential NAME and print a diagnosis\n"
		"                      (never the token); exit 0 if a token was obtained, 69 if not\n"
		"      --log-level L   debug, info, notice, warning or err (overrides the file)\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n"
		"\n"
		"Signals: SIGTERM and SIGINT stop the daemon cleanly; SIGHUP reloads the\n"
		"configuration (an invalid one is refused and the running one kept).\n"
		"See tokenbrokerd(8) and tokenbroker.conf(5).\n");
}

/*
 * Loads the configuration; reports every problem and returns NULL on error.
 * plain: bare "FILE:LINE: message" lines on stderr (--check-config), else
 * through the log.
 */
/*
 * Reading a configuration leaves its lines and sections freed between what
 * stays, and a reload frees the one before: give those pages back (with
 * thousands of credentials, MiBs), keeping MAIN_HEAP_KEEP.
 */
static void
main_trim(void)
{
	malloc_trim(MAIN_HEAP_KEEP);
}

/* The configuration in path (beside running, on a reload), or NULL. */
static struct conf *
main_load_conf(const char *path, const struct conf *running, bool plain)
{
	struct conf_errors errs = { 0 }, warns = { 0 };
	struct conf *conf = NULL;

	if (conf_reload(path, running, &conf, &errs, &warns) < 0) {
		for (size_t i = 0; i < errs.n; i++) {
			if (plain)
				fprintf(stderr, "%s\n", errs.v[i]);
			else
				log_err("%s", errs.v[i]);
		}
		if (errs.n == 0)
			log_err("%s: invalid configuration", path);
	}
	for (size_t i = 0; i < warns.n; i++)
		log_warn("%s", warns.v[i]);
	conf_errors_clear(&errs);
	conf_errors_clear(&warns);
	main_trim();
	return conf;
}

/* One line for systemd's STATUS=: "3 credentials, 3 valid, next renewal in 41s". */
static void
main_status_text(struct main_ctx *m, char *buf, size_t size)
{
	size_t n = credential_count(m->creds), valid = 0;
	int64_t next = renew_next_due(m->renew);
	char d[32];

	for (size_t i = 0; i < n; i++) {
		enum credential_state s = credential_state(credential_at(m->creds, i));

		if (s == CREDENTIAL_VALID || s == CREDENTIAL_RENEWING || s == CREDENTIAL_FAILING)
			valid++;
	}
	if (next >= 0)
		snprintf(buf, size, "%zu credential%s, %zu valid, next renewal in %s", n,
			 n == 1 ? "" : "s", valid,
			 duration_format((next - timeutil_mono_ms()) / 1000 * 1000, d, sizeof(d)));
	else
		snprintf(buf, size, "%zu credential%s, %zu valid", n, n == 1 ? "" : "s", valid);
}

static void
main_status_cb(evutil_socket_t fd, short what, void *arg)
{
	char status[MAIN_STATUS_MAX];

	struct main_ctx *m = arg;

	main_status_text(m, status, sizeof(status));
	sd_status(m->sd, status);
}

/*
 * Nothing proxied and no refresh is in flight any more (each tells once):
 * the answers get a moment to leave.
 */
static void
main_drained_cb(void *arg)
{
	struct main_ctx *m = arg;
	struct timeval grace = timeutil_ms_to_tv(MAIN_STOP_GRACE_MS);

	if (--m->draining > 0)
		return;
	event_base_loopexit(m->base, &grace);
}

static void
main_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;
	unsigned proxied = proxy_ctx_active(m->proxies);
	size_t refreshing = credential_ctx_refreshing(m->creds);

	if (m->stopping)
		return;
	m->stopping = true;
	log_notice("received %s, stopping", strsignal((int)sig));
	sd_stopping(m->sd);
	/* Answer the waiting clients, then give the answers a moment to leave. */
	api_shutdown(m->api);
	if (proxied > 0 || refreshing > 0) {
		struct timeval drain = timeutil_ms_to_tv(MAIN_PROXY_DRAIN_MS);
		char busy[128] = "";

		if (proxied > 0)
			snprintf(busy, sizeof(busy), "%u proxied request%s", proxied,
				 proxied == 1 ? "" : "s");
		if (refreshing > 0)
			snprintf(busy + strlen(busy), sizeof(busy) - strlen(busy),
				 "%s%zu refresh token renewal%s", proxied > 0 ? " and " : "",
				 refreshing, refreshing == 1 ? "" : "s");
		log_notice("waiting up to %ds for %s", MAIN_PROXY_DRAIN_MS / 1000, busy);
		event_base_loopexit(m->base, &drain);
	}
	m->draining = 2;
	proxy_ctx_shutdown(m->proxies, main_drained_cb, m);
	credential_ctx_shutdown(m->creds, main_drained_cb, m);
}

/*
 * SIGHUP: load the whole configuration anew; if anything is wrong keep the
 * running one untouched, else swap it in credential by credential.
 */
static void
main_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct conf *conf, *old = m->conf;
	char status[MAIN_STATUS_MAX];

	if (m->stopping)
		return;
	log_notice("received SIGHUP, reloading %s", m->path);
	sd_reloading(m->sd);
	if ((conf = main_load_conf(m->path, old, false)) == NULL) {
		log_err("reload failed: keeping the running configuration");
	} else {
		if (strcmp(old->daemon.state_dir, conf->daemon.state_dir) != 0)
			log_warn("state_dir: the change needs a restart");
		if (old->daemon.upstream_concurrency != conf->daemon.upstream_concurrency)
			log_warn("upstream_concurrency: the change needs a restart");
		if (!m->level_forced)
			log_set_level(conf->daemon.log_level);
		api_set_conf(m->api, conf);
		credential_ctx_reload(m->creds, conf);
		proxy_ctx_reload(m->proxies, conf);
		m->conf = conf;
		conf_free(old);
		main_trim();
	}
	main_status_text(m, status, sizeof(status));
	sd_ready(m->sd, status);
}

static void
main_free(struct main_ctx *m)
{
	api_free(m->api);
	proxy_ctx_free(m->proxies); /* its requests wait on credentials */
	http_free(m->proxy_http);
	credential_ctx_free(m->creds);
	renew_free(m->renew);
	http_free(m->http);
	metrics_free(m->metrics);
	sd_free(m->sd);
	if (m->sigterm != NULL)
		event_free(m->sigterm);
	if (m->sigint != NULL)
		event_free(m->sigint);
	if (m->sighup != NULL)
		event_free(m->sighup);
	if (m->status != NULL)
		event_free(m->status);
	if (m->base != NULL)
		event_base_free(m->base);
	conf_free(m->conf);
	libevent_global_shutdown();
}

/*
 * Each client is a descriptor: raise the soft limit on open files to the
 * hard one (systemd's default soft limit, 1024, is below max_clients'
 * default).  Clients never get the descriptors upstream requests, state
 * and reloads need (listen_fd_reserve()); say so when what is left is less
 * than max_clients.
 */
static void
main_raise_nofile(const struct daemon_conf *dc)
{
	struct rlimit rl;
	unsigned cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	cap = listen_fd_cap(dc);
	if (cap < dc->max_clients)
		log_warn("max_clients = %u but only %llu files may be open (LimitNOFILE=) and %u "
			 "are kept for upstream requests: at most %u clients at once, more are "
			 "refused",
			 dc->max_clients, (unsigned long long)rl.rlim_cur, listen_fd_reserve(dc), cap);
}

/* Frees what sd_listen_sockets gave; the sockets have been handed on. */
static void
main_sockets_free(struct sd_socket *socks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(socks[i].name);
	free(socks);
}

/*
 * Which passed socket is the API's: a socket named as a proxy is that
 * proxy's; of the others exactly one listening Unix stream socket is the
 * API's (none: the daemon binds its configured path).  The rest wait for a
 * proxy of their name to appear on a reload.
 */
static int
main_pick_api_socket(const struct conf *conf, const struct sd_socket *socks, size_t n,
		     int *ret_fd, char **cause)
{
	*ret_fd = -1;
	for (size_t i = 0; i < n; i++) {
		if (conf_find_proxy(conf, socks[i].name) != NULL) {
			if (!socks[i].unix_stream && !socks[i].inet_stream) {
				*cause = xasprintf("the socket %s passed by the service manager is "
						   "not a listening stream socket",
						   socks[i].name);
				return -EINVAL;
			}
			continue;
		}
		if (!socks[i].unix_stream) {
			log_notice("socket %s passed by the service manager: no proxy of that name "
				   "(yet)",
				   socks[i].name);
			continue;
		}
		if (*ret_fd >= 0) {
			*cause = xasprintf("the service manager passed two Unix sockets for the API "
					   "(%s and another); a proxy's socket needs "
					   "FileDescriptorName= set to the proxy's name",
					   socks[i].name);
			return -EINVAL;
		}
		*ret_fd = socks[i].fd;
	}
	if (n > 0 && *ret_fd < 0)
		log_notice("no Unix socket for the API was passed: binding %s", conf->daemon.socket);
	return 0;
}

static int
main_run(struct main_ctx *m)
{
	struct timeval tv = timeutil_ms_to_tv(MAIN_STATUS_INTERVAL_MS);
	char status[MAIN_STATUS_MAX], *cause = NULL;
	struct sd_socket *socks = NULL;
	size_t nsocks = 0;
	int listen_fd = -1;

	signal(SIGPIPE, SIG_IGN);
	main_raise_nofile(&m->conf->daemon);
	if (sd_listen_sockets(&socks, &nsocks, &cause) < 0 ||
	    main_pick_api_socket(m->conf, socks, nsocks, &listen_fd, &cause) < 0) {
		log_err("%s", cause);
		free(cause);
		main_sockets_free(socks, nsocks);
		conf_free(m->conf);
		return 1;
	}
	m->base = event_base_new();
	if (m->base == NULL)
		log_fatal("cannot create the event loop");
	m->sd = sd_new(m->base);
	m->metrics = metrics_new();
	m->http = http_new(m->base, m->conf->daemon.upstream_concurrency);
	m->renew = renew_new(m->base);
	if (m->http == NULL || m->renew == NULL)
		log_fatal("cannot set up the upstream client");
	m->creds = credential_ctx_new(m->base, m->http, m->renew, m->metrics);
	m->proxy_http = http_new(m->base, MAIN_PROXY_TRANSFERS_MAX);
	if (m->proxy_http == NULL || http_set_max_idle(m->proxy_http, LISTEN_PROXY_IDLE_MAX) < 0)
		log_fatal("cannot set up the upstream client");
	m->proxies = proxy_ctx_new(m->base, m->proxy_http, m->creds);
	for (size_t i = 0; i < nsocks; i++)
		if (socks[i].fd != listen_fd)
			proxy_ctx_adopt_fd(m->proxies, socks[i].name, socks[i].fd);
	main_sockets_free(socks, nsocks);
	m->api = api_new(m->base, m->conf, m->creds, m->metrics, listen_fd, &cause);
	if (m->api == NULL) {
		log_err("%s", cause);
		free(cause);
		main_free(m);
		return 1;
	}
	api_set_proxies(m->api, m->proxies);
	m->sigterm = evsignal_new(m->base, SIGTERM, main_stop_cb, m);
	m->sigint = evsignal_new(m->base, SIGINT, main_stop_cb, m);
	m->sighup = evsignal_new(m->base, SIGHUP, main_hup_cb, m);
	m->status = event_new(m->base, -1, EV_PERSIST, main_status_cb, m);
	if (m->sigterm == NULL || m->sigint == NULL || m->sighup == NULL || m->status == NULL)
		log_fatal("cannot set up signal handling");
	event_add(m->sigterm, NULL);
	event_add(m->sigint, NULL);
	event_add(m->sighup, NULL);
	if (sd_notifying(m->sd)) /* no wake-ups for a status line nobody reads */
		event_add(m->status, &tv);

	credential_ctx_load(m->creds, m->conf);
	if (proxy_ctx_load(m->proxies, m->conf) > 0) {
		log_err("cannot start every proxy: stopping");
		main_free(m);
		return 1;
	}
	log_notice("tokenbrokerd %s listening on %s with %zu credentials", TOKENBROKER_VERSION,
		   listen_fd >= 0 ? "the socket passed by the service manager" : m->conf->daemon.socket,
		   m->conf->ncreds);
	main_status_text(m, status, sizeof(status));
	sd_ready(m->sd, status);

	event_base_dispatch(m->base);

	log_notice("stopped");
	main_free(m);
	return 0;
}

/* What libcrypto keeps in the arena for itself until exit (assertion_init). */
static size_t main_arena_baseline;

/*
 * Leaves with status r.  Every secret is freed by now: one that is not
 * would be a leak that the sanitizers cannot see inside the arena.
 */
static int
main_done(int r)
{
	size_t left = secret_arena_used();

	if (left > main_arena_baseline)
		left -= main_arena_baseline;
	else
		left = 0;
	if (left > 0)
		log_warn("%zu bytes of secrets were not freed", left);
	secret_arena_done();
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "test", required_argument, NULL, 'T' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct main_ctx m = { 0 };
	const char *path = CONF_DEFAULT_PATH, *test = NULL;
	bool check = false;
	int level = -1, ch;

	log_init("tokenbrokerd", LOG_INFO);
	/*
	 * A proxied body passes through buffers of some 64 KiB that come and
	 * go; glibc would hand the top of the heap back to the kernel after
	 * each and take it again, a page fault per page.  Keep a few MiB.
	 */
	mallopt(M_TRIM_THRESHOLD, MAIN_HEAP_KEEP);
	mallopt(M_MMAP_THRESHOLD, MAIN_HEAP_KEEP);
	if (log_stderr_is_journal())
		log_set_writer(sd_journal_writer);
	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'T':
			test = optarg;
			break;
		case 'L':
			if ((level = log_level_from_string(optarg)) < 0) {
				fprintf(stderr, "tokenbrokerd: unknown log level \"%s\" "
						"(debug, info, notice, warning, err)\n",
					optarg);
				return 2;
			}
			break;
		case 'V':
			printf("tokenbrokerd %s\n", TOKENBROKER_VERSION);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tokenbrokerd: unexpected argument \"%s\"\n", argv[optind]);
		main_usage(stderr);
		return 2;
	}
	secret_harden_process();
	if (secret_arena_init(SECRET_ARENA_SIZE) < 0)
		log_warn("cannot set memory aside for secrets: they use the ordinary heap");
	assertion_init();
	main_arena_baseline = secret_arena_used();
	if ((m.conf = main_load_conf(path, NULL, check)) == NULL)
		return main_done(1);
	log_set_level(level >= 0 ? level : m.conf->daemon.log_level);
	m.path = path;
	m.level_forced = level >= 0;
	if (check) {
		printf("%s: configuration is valid (%zu credential%s)\n", path, m.conf->ncreds,
		       m.conf->ncreds == 1 ? "" : "s");
		conf_free(m.conf);
		return main_done(0);
	}
	if (test != NULL) {
		int r = diag_run(m.conf, test, stdout);

		conf_free(m.conf);
		libevent_global_shutdown();
		return main_done(r);
	}
	return main_done(main_run(&m));
}
