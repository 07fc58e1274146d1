/*
 * The [proxy "NAME"] section: the key table (one setter per kind of value,
 * the field it fills), the defaults (socket_mode and socket_group from
 * [daemon]), the checks across a proxy's keys, and those against the rest
 * of the configuration (its credential exists; no two proxies, and no proxy
 * and the daemon, listen in one place).
 *
 * A proxy hands its token to whoever reaches the listener, so the listener
 * is loopback TCP or a Unix socket, never an address others can reach.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "cleanup.h"
#include "conf-int.h"
#include "text.h"
#include "xmalloc.h"

#define PROXY_BODY_MAX ((int64_t)1 << 30) /* max_request_body, retry_body_max */
#define PROXY_CLIENTS_MAX 65536
#define PROXY_SHOW_MAX 200 /* a value in a message: a line's worth */

_Static_assert(sizeof(enum proxy_inject) == sizeof(int), "proxy_set_enum writes an int");

enum proxy_key_id {
	PK_LISTEN,
	PK_CREDENTIAL,
	PK_UPSTREAM,
	PK_HEADER,
	PK_HEADER_PREFIX,
	PK_INJECT,
	PK_RETRY_STATUSES,
	PK_RETRY_BODY_MAX,
	PK_MAX_REQUEST_BODY,
	PK_TIMEOUT,
	PK_CONNECT_TIMEOUT,
	PK_CA_FILE,
	PK_TLS_VERIFY,
	PK_CLIENT_CERT,
	PK_CLIENT_KEY,
	PK_ALLOW_USERS,
	PK_ALLOW_GROUPS,
	PK_ALLOW_UNITS,
	PK_SOCKET_MODE,
	PK_SOCKET_GROUP,
	PK_MAX_CLIENTS,
	PK_COUNT
};

struct proxy_key {
	const char *name;
	int (*set)(struct proxy_conf *pc, const struct proxy_key *k, const char *v, char **cause);
	size_t off;		  /* of the field in struct proxy_conf */
	int64_t min;		  /* sizes: bytes */
	const char *const *names; /* enums */
	bool private;		  /* files: refused when group or others can read it */
	bool show_value;	  /* messages read "key = value: cause" */
};

/* One proxy being built: where the user set each key, whether that failed. */
struct proxy_build {
	struct conf_loader *ld;
	const struct conf_section *sect;
	struct proxy_conf *pc;
	unsigned key_file[PK_COUNT];
	unsigned key_line[PK_COUNT]; /* 0: not set */
	bool key_failed[PK_COUNT];
};

static const char *const inject_names[] = {
	[PROXY_INJECT_REPLACE] = "replace",
	[PROXY_INJECT_IF_ABSENT] = "if-absent",
	NULL,
};

/* What systemd calls the types of unit (the suffix of a unit's name). */

/*
 * Headers the proxy itself sets or drops on the way upstream (the
 * message's framing, the upstream's Host, hop-by-hop ones): a token put
 * there would break the request or never arrive.
 */
static const char *const header_refused[] = {
	"Host",	     "Content-Length", "Transfer-Encoding", "Connection",
	"Keep-Alive", "TE",		"Trailer",	     "Upgrade",
};

#define PC_FIELD(pc, k, type) ((type *)(void *)((char *)(pc) + (k)->off))

/*
 * The port after a host: 1 to 65535 in decimal.  p is what follows the
 * host ("" when nothing does).
 */
static int
proxy_port(const char *p, uint16_t *ret, char **cause)
{
	unsigned long n;

	if (*p == '\0') {
		*cause = xstrdup("a port is required (e.g. 127.0.0.1:8081)");
		return -EINVAL;
	}
	if (*p != ':' || p[1] == '\0' || strspn(p + 1, "0123456789") != strlen(p + 1) ||
	    strlen(p + 1) > 5 || (n = strtoul(p + 1, NULL, 10)) < 1 || n > 65535) {
		*cause = xstrdup("the port must be a number from 1 to 65535");
		return -EINVAL;
	}
	*ret = (uint16_t)n;
	return 0;
}

/*
 * host (without brackets) as a numeric loopback address into buf:
 * 127.0.0.0/8, ::1, or localhost (127.0.0.1).  Returns false for anything
 * else, names included: what a name resolves to can change under us.
 */
static bool
proxy_loopback_host(const char *host, char *buf, size_t size)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0) {
		snprintf(buf, size, "127.0.0.1");
		return true;
	}
	if (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127)
		return inet_ntop(AF_INET, &a4, buf, (socklen_t)size) != NULL;
	if (inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6))
		return inet_ntop(AF_INET6, &a6, buf, (socklen_t)size) != NULL;
	return false;
}

/*
 * listen: "HOST:PORT" with a loopback HOST ("[::1]:PORT" for IPv6), or an
 * absolute path for a Unix socket.  A mistake is told with the value
 * (show_value), for "0.0.0.0:8081" must be seen to be refused.
 */
static int
proxy_set_listen(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		 char **cause)
{
	char numeric[INET6_ADDRSTRLEN];
	_cleanup_free_ char *host = NULL;
	const char *rest, *close;
	uint16_t port;

	if (v[0] == '/') {
		if (conf_value_socket_path(v, cause) < 0)
			return -EINVAL;
		free(pc->listen);
		pc->listen = xstrdup(v);
		pc->listen_unix = true;
		free(pc->listen_host);
		pc->listen_host = NULL;
		pc->listen_port = 0;
		return 0;
	}
	if (v[0] == '[' && (close = strchr(v, ']')) != NULL) {
		host = xstrndup(v + 1, (size_t)(close - v - 1));
		rest = close + 1;
	} else if ((rest = strchr(v, ':')) != NULL && strchr(rest + 1, ':') != NULL) {
		*cause = xstrdup("write an IPv6 address in brackets, as [::1]:PORT");
		return -EINVAL;
	} else {
		rest = rest != NULL ? rest : v + strlen(v);
		host = xstrndup(v, (size_t)(rest - v));
	}
	if (!proxy_loopback_host(host, numeric, sizeof(numeric))) {
		*cause = xstrdup("only a loopback address (127.0.0.1:PORT, [::1]:PORT, "
				 "localhost:PORT) or the absolute path of a Unix socket is "
				 "allowed, since anyone who can reach the proxy uses its token");
		return -EINVAL;
	}
	if (proxy_port(rest, &port, cause) < 0)
		return -EINVAL;
	free(pc->listen);
	pc->listen = xstrdup(v);
	pc->listen_unix = false;
	free(pc->listen_host);
	pc->listen_host = xstrdup(numeric);
	pc->listen_port = port;
	return 0;
}

/* A credential's name; that it exists is checked once all are built. */
static int
proxy_set_credential(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		     char **cause)
{
	if (!conf_value_name_ok(v)) {
		*cause = xasprintf("invalid name \"%s\" (use 1 to %d of A-Z a-z 0-9 . _ -)", v,
				   CONF_NAME_MAX);
		return -EINVAL;
	}
	free(pc->credential);
	pc->credential = xstrdup(v);
	return 0;
}

/*
 * upstream: an http(s) URL with a host, https unless the host is loopback;
 * no user:password (the credential's token is what authenticates), no
 * query or fragment (the client's path and query are appended).  One
 * trailing "/" is dropped.  Not quoted back, as for every URL.
 */
static int
proxy_set_upstream(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		   char **cause)
{
	struct evhttp_uri *u = evhttp_uri_parse(v);
	size_t len = strlen(v);
	int r = 0;

	if (u == NULL) {
		*cause = xstrdup("invalid URL");
		return -EINVAL;
	}
	if (evhttp_uri_get_userinfo(u) != NULL) {
		*cause = xstrdup("user:password in the URL is not allowed");
		r = -EINVAL;
	} else if (evhttp_uri_get_query(u) != NULL || evhttp_uri_get_fragment(u) != NULL) {
		*cause = xstrdup("the URL must not have a query or a fragment (the client's "
				 "path and query are appended to it)");
		r = -EINVAL;
	} else if (conf_value_url(v, true, cause) < 0) {
		r = -EINVAL;
	}
	if (r == 0) {
		if (len > 0 && v[len - 1] == '/')
			len--;
		free(pc->upstream);
		pc->upstream = xstrndup(v, len);
		/* The scheme in lower case, as shown and compared (HTTPS:// is https://). */
		for (char *c = pc->upstream; *c != ':'; c++)
			*c = (char)tolower((unsigned char)*c);
		free(pc->upstream_host);
		pc->upstream_host = xstrdup(evhttp_uri_get_host(u));
	}
	evhttp_uri_free(u);
	return r;
}

/* The header the token goes in: a token (RFC 7230) the proxy leaves alone. */
static int
proxy_set_header(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		 char **cause)
{
	bool refused = strncasecmp(v, "Proxy-", 6) == 0;

	if (!conf_value_header_name_ok(v)) {
		*cause = xasprintf("\"%s\" is not a valid header name", v);
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(header_refused); i++)
		refused = refused || strcasecmp(v, header_refused[i]) == 0;
	if (refused) {
		*cause = xasprintf("%s is set or dropped by the proxy itself; use another header",
				   v);
		return -EINVAL;
	}
	free(pc->header);
	pc->header = xstrdup(v);
	return 0;
}

/*
 * What precedes the token, also empty (a bare token).  The reader trims
 * white space around values, so a prefix that ends in a space is written
 * in double quotes: header_prefix = "Token ".
 */
static int
proxy_set_header_prefix(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
			char **cause)
{
	size_t len = strlen(v);

	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		v++;
		len -= 2;
	}
	if (!text_printable(v, len)) {
		*cause = xstrdup("must not contain control characters");
		return -EINVAL;
	}
	free(pc->header_prefix);
	pc->header_prefix = xstrndup(v, len);
	return 0;
}

/* One of k->names, into an enum field (an int, see the assertion above). */
static int
proxy_set_enum(struct proxy_conf *pc, const struct proxy_key *k, const char *v, char **cause)
{
	return conf_value_enum(v, k->names, PC_FIELD(pc, k, int), cause);
}

/* HTTP statuses 400 to 599, space or comma separated; "none": no retry. */
static int
proxy_set_retry_statuses(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
			 char **cause)
{
	int statuses[PROXY_RETRY_STATUSES_MAX];
	char **words;
	size_t n = 0;
	int r = 0;

	if (strcmp(v, "none") == 0) {
		pc->nretry_statuses = 0;
		return 0;
	}
	words = conf_value_words(v);
	for (size_t i = 0; words[i] != NULL; i++) {
		const char *w = words[i];
		int status = strlen(w) == 3 && strspn(w, "0123456789") == 3 ? atoi(w) : 0;
		bool dup = false;

		if (status < 400 || status > 599) {
			*cause = xasprintf("\"%s\" is not an HTTP status from 400 to 599", w);
			r = -EINVAL;
			break;
		}
		for (size_t j = 0; j < n; j++)
			dup = dup || statuses[j] == status;
		if (dup)
			continue;
		if (n == PROXY_RETRY_STATUSES_MAX) {
			*cause = xasprintf("at most %d statuses", PROXY_RETRY_STATUSES_MAX);
			r = -EINVAL;
			break;
		}
		statuses[n++] = status;
	}
	conf_value_words_free(words);
	if (r == 0 && n == 0) {
		*cause = xstrdup("must not be empty (use none)");
		r = -EINVAL;
	}
	if (r < 0)
		return r;
	memcpy(pc->retry_statuses, statuses, n * sizeof(*statuses));
	pc->nretry_statuses = n;
	return 0;
}

static int
proxy_set_size(struct proxy_conf *pc, const struct proxy_key *k, const char *v, char **cause)
{
	return conf_value_size(v, k->min, PROXY_BODY_MAX, PC_FIELD(pc, k, int64_t), cause);
}

static int
proxy_set_duration(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		   char **cause)
{
	return conf_value_duration(v, 1, PC_FIELD(pc, k, int64_t), cause);
}

/* ca_file, client_cert: readable regular files; client_key also private. */
static int
proxy_set_file(struct proxy_conf *pc, const struct proxy_key *k, const char *v, char **cause)
{
	char **field = PC_FIELD(pc, k, char *);
	char *path;

	if (conf_value_file(v, k->private, &path, cause) < 0)
		return -EINVAL;
	free(*field);
	*field = path;
	return 0;
}

static int
proxy_set_bool(struct proxy_conf *pc, const struct proxy_key *k, const char *v, char **cause)
{
	return conf_value_bool(v, PC_FIELD(pc, k, bool), cause);
}

/* allow_users, allow_groups: given, even empty, they are no longer "any". */
static int
proxy_set_ids(struct proxy_conf *pc, const struct proxy_key *k, const char *v, char **cause)
{
	struct conf_ids *field = PC_FIELD(pc, k, struct conf_ids);
	bool groups = field == &pc->allow_groups;

	if (conf_value_ids(v, groups ? CONF_IDS_GROUPS : CONF_IDS_USERS, groups ? NULL : field,
			   groups ? field : NULL, cause) < 0)
		return -EINVAL;
	field->any = false;
	return 0;
}

/* Unit names, space or comma separated (conf_value_units). */
static int
proxy_set_allow_units(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		      char **cause)
{
	char **units;
	int r;

	if ((r = conf_value_units(v, &units, cause)) < 0)
		return r;
	conf_value_words_free(pc->allow_units);
	pc->allow_units = units;
	return 0;
}

static int
proxy_set_socket_mode(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		      char **cause)
{
	return conf_value_mode(v, "0660", &pc->socket_mode, cause);
}

static int
proxy_set_socket_group(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		       char **cause)
{
	uint32_t gid;

	if (conf_value_group(v, &gid, cause) < 0)
		return -EINVAL;
	pc->socket_group = (gid_t)gid;
	pc->socket_group_set = true;
	return 0;
}

static int
proxy_set_max_clients(struct proxy_conf *pc, const struct proxy_key *k, const char *v,
		      char **cause)
{
	return conf_value_uint(v, 1, PROXY_CLIENTS_MAX, &pc->max_clients, cause);
}

#define PK_OFF(field) offsetof(struct proxy_conf, field)

#define PK(id, n, fn, ...) [id] = { .name = (n), .set = (fn), __VA_ARGS__ }
static const struct proxy_key proxy_keys[PK_COUNT] = {
	PK(PK_LISTEN, "listen", proxy_set_listen, .show_value = true),
	PK(PK_CREDENTIAL, "credential", proxy_set_credential),
	PK(PK_UPSTREAM, "upstream", proxy_set_upstream),
	PK(PK_HEADER, "header", proxy_set_header),
	PK(PK_HEADER_PREFIX, "header_prefix", proxy_set_header_prefix),
	PK(PK_INJECT, "inject", proxy_set_enum, .off = PK_OFF(inject), .names = inject_names),
	PK(PK_RETRY_STATUSES, "retry_statuses", proxy_set_retry_statuses),
	PK(PK_RETRY_BODY_MAX, "retry_body_max", proxy_set_size, .off = PK_OFF(retry_body_max),
	   .min = 0),
	PK(PK_MAX_REQUEST_BODY, "max_request_body", proxy_set_size,
	   .off = PK_OFF(max_request_body), .min = 1),
	PK(PK_TIMEOUT, "timeout", proxy_set_duration, .off = PK_OFF(timeout_ms)),
	PK(PK_CONNECT_TIMEOUT, "connect_timeout", proxy_set_duration,
	   .off = PK_OFF(connect_timeout_ms)),
	PK(PK_CA_FILE, "ca_file", proxy_set_file, .off = PK_OFF(ca_file)),
	PK(PK_TLS_VERIFY, "tls_verify", proxy_set_bool, .off = PK_OFF(tls_verify)),
	PK(PK_CLIENT_CERT, "client_cert", proxy_set_file, .off = PK_OFF(client_cert)),
	PK(PK_CLIENT_KEY, "client_key", proxy_set_file, .off = PK_OFF(client_key),
	   .private = true),
	PK(PK_ALLOW_USERS, "allow_users", proxy_set_ids, .off = PK_OFF(allow_users)),
	PK(PK_ALLOW_GROUPS, "allow_groups", proxy_set_ids, .off = PK_OFF(allow_groups)),
	PK(PK_ALLOW_UNITS, "allow_units", proxy_set_allow_units),
	PK(PK_SOCKET_MODE, "socket_mode", proxy_set_socket_mode),
	PK(PK_SOCKET_GROUP, "socket_group", proxy_set_socket_group),
	PK(PK_MAX_CLIENTS, "max_clients", proxy_set_max_clients),
};
#undef PK

static int
proxy_key_find(const char *name)
{
	for (int i = 0; i < PK_COUNT; i++)
		if (strcmp(proxy_keys[i].name, name) == 0)
			return i;
	return -1;
}

bool
conf_proxy_key_known(const char *name)
{
	return proxy_key_find(name) >= 0;
}

const char *
conf_proxy_key_name(size_t i)
{
	return i < PK_COUNT ? proxy_keys[i].name : NULL;
}

/* The defaults; a Unix listener's mode and group are [daemon]'s. */
static void
proxy_defaults(struct proxy_conf *pc, const struct daemon_conf *dc)
{
	pc->header = xstrdup("Authorization");
	pc->inject = PROXY_INJECT_REPLACE;
	pc->retry_statuses[0] = 401;
	pc->nretry_statuses = 1;
	pc->retry_body_max = (int64_t)1 << 20;
	pc->max_request_body = (int64_t)16 << 20;
	pc->timeout_ms = 30 * 1000;
	pc->connect_timeout_ms = 5 * 1000;
	pc->tls_verify = true;
	pc->allow_users.any = true;
	pc->allow_groups.any = true;
	pc->socket_mode = dc->socket_mode;
	pc->socket_group_set = dc->socket_group_set;
	pc->socket_group = dc->socket_group;
	pc->max_clients = 1024;
}

/* Frees pc and what it holds; returns NULL. */
struct proxy_conf *
conf_proxy_free(struct proxy_conf *pc)
{
	if (pc == NULL)
		return NULL;
	free(pc->name);
	free(pc->listen);
	free(pc->listen_host);
	free(pc->credential);
	free(pc->upstream);
	free(pc->upstream_host);
	free(pc->header);
	free(pc->header_prefix);
	free(pc->ca_file);
	free(pc->client_cert);
	free(pc->client_key);
	conf_value_ids_clear(&pc->allow_users);
	conf_value_ids_clear(&pc->allow_groups);
	conf_value_words_free(pc->allow_units);
	free(pc);
	return NULL;
}

/* Sets one key; a failure is reported at its line and remembered. */
static void
proxy_apply(struct proxy_build *b, int id, const struct conf_entry *e)
{
	const struct proxy_key *k = &proxy_keys[id];
	char *cause = NULL;

	b->key_file[id] = e->file;
	b->key_line[id] = e->line;
	if (k->set(b->pc, k, e->value, &cause) == 0)
		return;
	b->key_failed[id] = true;
	if (k->show_value) {
		_cleanup_free_ char *shown =
			text_sanitize(e->value, strlen(e->value), PROXY_SHOW_MAX);

		conf_error(b->ld, e->file, e->line, "%s = %s: %s", e->key, shown, cause);
	} else {
		conf_error(b->ld, e->file, e->line, "%s: %s", e->key, cause);
	}
	free(cause);
}

/* Where a message about a key goes: its line, else the section's. */
static void
proxy_where(const struct proxy_build *b, int id, unsigned *file, unsigned *line)
{
	*file = b->key_line[id] != 0 ? b->key_file[id] : b->sect->file;
	*line = b->key_line[id] != 0 ? b->key_line[id] : b->sect->line;
}

/*
 * The checks across a proxy's keys: the three it cannot do without, a
 * client certificate with its key, allow_units and the Unix socket's
 * settings on a TCP listener (an error, a warning: they are ignored).
 */
static void
proxy_check_keys(struct proxy_build *b)
{
	static const int required[] = { PK_LISTEN, PK_CREDENTIAL, PK_UPSTREAM };
	static const int unix_only[] = { PK_SOCKET_MODE, PK_SOCKET_GROUP };
	const struct proxy_conf *pc = b->pc;
	unsigned file, line;

	for (size_t i = 0; i < ELEMENTSOF(required); i++)
		if (b->key_line[required[i]] == 0 && !b->key_failed[required[i]])
			conf_error(b->ld, b->sect->file, b->sect->line,
				   "proxy \"%s\": %s is required", pc->name,
				   proxy_keys[required[i]].name);
	if (!b->key_failed[PK_CLIENT_CERT] && !b->key_failed[PK_CLIENT_KEY] &&
	    (pc->client_cert == NULL) != (pc->client_key == NULL)) {
		int given = pc->client_cert != NULL ? PK_CLIENT_CERT : PK_CLIENT_KEY;
		int missing = given == PK_CLIENT_CERT ? PK_CLIENT_KEY : PK_CLIENT_CERT;

		proxy_where(b, given, &file, &line);
		conf_error(b->ld, file, line, "%s: %s is required with it",
			   proxy_keys[given].name, proxy_keys[missing].name);
	}
	if (pc->listen == NULL || pc->listen_unix)
		return;
	/*
	 * On loopback TCP the kernel names the uid that owns the client's
	 * socket, not a process: finding one means reading every process's
	 * descriptors, which the daemon's own user may not (nor should).
	 */
	if (b->key_line[PK_ALLOW_UNITS] != 0 && !b->key_failed[PK_ALLOW_UNITS]) {
		proxy_where(b, PK_ALLOW_UNITS, &file, &line);
		conf_error(b->ld, file, line,
			   "allow_units: only on a Unix socket listener (listen = /path): on TCP "
			   "the caller's uid is known, not its process; use allow_users");
	}
	for (size_t i = 0; i < ELEMENTSOF(unix_only); i++)
		if (b->key_line[unix_only[i]] != 0 && !b->key_failed[unix_only[i]])
			conf_warning(b->ld, b->key_file[unix_only[i]], b->key_line[unix_only[i]],
				     "%s: only for a Unix socket listener; ignored",
				     proxy_keys[unix_only[i]].name);
}

/*
 * A proxy from its section and the [daemon] already built: defaults, the
 * user's keys, the checks across them (unless a line could not be read),
 * the listener's digest.  Problems go to ld; the result is complete enough
 * to free either way.
 */
struct proxy_conf *
conf_proxy_build(struct conf_loader *ld, const struct conf_section *sect,
		 const struct daemon_conf *dc)
{
	struct proxy_conf *pc = xcalloc(1, sizeof(*pc));
	struct proxy_build b;

	memset(&b, 0, sizeof(b));
	b.ld = ld;
	b.sect = sect;
	b.pc = pc;
	pc->name = xstrdup(sect->name);
	pc->file = ld->files[sect->file].path; /* conf_build hands the paths to the conf */
	pc->line = sect->line;
	proxy_defaults(pc, dc);
	for (size_t i = 0; i < sect->n; i++) {
		int id = proxy_key_find(sect->v[i].key);

		if (id >= 0)
			proxy_apply(&b, id, &sect->v[i]);
	}
	/* a misspelt key was reported as such: not also as missing */
	for (size_t i = 0; i < sect->nmeant; i++) {
		int id = proxy_key_find(sect->meant[i]);

		if (id >= 0 && b.key_line[id] == 0)
			b.key_failed[id] = true;
	}
	if (!sect->broken)
		proxy_check_keys(&b);
	conf_digest_proxy_listen(pc);
	return pc;
}

/* Whether a and b would listen on one socket. */
static bool
proxy_same_listener(const struct proxy_conf *a, const struct proxy_conf *b)
{
	if (a->listen == NULL || b->listen == NULL || a->listen_unix != b->listen_unix)
		return false;
	if (a->listen_unix)
		return strcmp(a->listen, b->listen) == 0;
	return a->listen_port == b->listen_port && strcmp(a->listen_host, b->listen_host) == 0;
}

/*
 * What a proxy asks of the rest: its credential is defined (and has no
 * allow_units when the listener is TCP), its listener is no other proxy's
 * and not the daemon's socket.  Each message goes to
 * the key's line.
 */
void
conf_proxy_check_conf(struct conf_loader *ld, const struct conf_sections *sects,
		      const struct conf *conf)
{
	for (size_t i = 0; i < conf->nproxies; i++) {
		const struct proxy_conf *pc = conf->proxies[i];
		const struct cred_conf *cc;
		unsigned file, line;

		conf_section_where(sects->v[i], "credential", &file, &line);
		cc = pc->credential != NULL ? conf_find(conf, pc->credential) : NULL;
		if (pc->credential != NULL && cc == NULL)
			conf_error(ld, file, line, "credential: no [credential \"%s\"] is defined",
				   pc->credential);
		/* as allow_units of the proxy's own (proxy_check_keys) */
		if (cc != NULL && cc->allow_units != NULL && pc->listen != NULL && !pc->listen_unix)
			conf_error(ld, file, line,
				   "credential: \"%s\" has allow_units, which a TCP listener cannot "
				   "check (the caller's process is not known); listen on a Unix "
				   "socket (listen = /path)",
				   pc->credential);
		if (pc->listen == NULL)
			continue;
		conf_section_where(sects->v[i], "listen", &file, &line);
		if (pc->listen_unix && strcmp(pc->listen, conf->daemon.socket) == 0)
			conf_error(ld, file, line, "listen: %s is the daemon's own socket",
				   pc->listen);
		for (size_t j = 0; j < i; j++) {
			_cleanup_free_ char *where = NULL;
			unsigned fj, lj;

			if (!proxy_same_listener(pc, conf->proxies[j]))
				continue;
			conf_section_where(sects->v[j], "listen", &fj, &lj);
			where = conf_place(ld, fj, lj, file);
			conf_error(ld, file, line, "listen: proxy \"%s\" listens there too (at %s)",
				   conf->proxies[j]->name, where);
			break;
		}
	}
}
