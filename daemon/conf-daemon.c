/*
 * The [daemon] section: its keys as a table of setters, their defaults, and
 * the one check across keys (max_clients_per_uid within max_clients).
 * Every [daemon] section in the files merges into one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cleanup.h"
#include "conf-int.h"
#include "log.h"
#include "xmalloc.h"

struct daemon_key {
	const char *name;
	int (*set)(struct daemon_conf *dc, const char *v, char **cause);
};

static int
daemon_set_socket(struct daemon_conf *dc, const char *v, char **cause)
{
	if (conf_value_socket_path(v, cause) < 0)
		return -EINVAL;
	free(dc->socket);
	dc->socket = xstrdup(v);
	return 0;
}

static int
daemon_set_socket_mode(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_value_mode(v, "0660", &dc->socket_mode, cause);
}

static int
daemon_set_socket_group(struct daemon_conf *dc, const char *v, char **cause)
{
	uint32_t gid;

	if (conf_value_group(v, &gid, cause) < 0)
		return -EINVAL;
	dc->socket_group = (gid_t)gid;
	dc->socket_group_set = true;
	return 0;
}

static int
daemon_set_state_dir(struct daemon_conf *dc, const char *v, char **cause)
{
	if (v[0] != '/') {
		*cause = xasprintf("\"%s\" is not an absolute path", v);
		return -EINVAL;
	}
	free(dc->state_dir);
	dc->state_dir = xstrdup(v);
	return 0;
}

static int
daemon_set_log_level(struct daemon_conf *dc, const char *v, char **cause)
{
	int level = log_level_from_string(v);

	if (level < 0) {
		*cause = xasprintf("unknown level \"%s\" (use debug, info, notice, warning, err)",
				   v);
		return -EINVAL;
	}
	dc->log_level = level;
	return 0;
}

static int
daemon_set_max_clients(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_value_uint(v, 1, 1000000, &dc->max_clients, cause);
}

static int
daemon_set_max_clients_per_uid(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_value_uint(v, 1, 1000000, &dc->max_clients_per_uid, cause);
}

static int
daemon_set_upstream_concurrency(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_value_uint(v, 1, 1024, &dc->upstream_concurrency, cause);
}

static int
daemon_set_client_timeout(struct daemon_conf *dc, const char *v, char **cause)
{
	int64_t ms;
	int r = duration_parse(v, &ms);

	if (r < 0 || ms < 100 || ms > 3600 * 1000) {
		*cause = xasprintf("invalid duration \"%s\" (from 100ms to 1h, e.g. 30s)", v);
		return -EINVAL;
	}
	dc->client_timeout_ms = ms;
	return 0;
}

static int
daemon_set_metrics_allow(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_value_ids(v, CONF_IDS_MIXED, &dc->metrics_allow_users, &dc->metrics_allow_groups,
			      cause);
}

static int
daemon_set_log_access(struct daemon_conf *dc, const char *v, char **cause)
{
	return conf_value_bool(v, &dc->log_access, cause);
}

static const struct daemon_key daemon_keys[] = {
	{ "socket", daemon_set_socket },
	{ "socket_mode", daemon_set_socket_mode },
	{ "socket_group", daemon_set_socket_group },
	{ "state_dir", daemon_set_state_dir },
	{ "log_level", daemon_set_log_level },
	{ "max_clients", daemon_set_max_clients },
	{ "max_clients_per_uid", daemon_set_max_clients_per_uid },
	{ "upstream_concurrency", daemon_set_upstream_concurrency },
	{ "client_timeout", daemon_set_client_timeout },
	{ "metrics_allow", daemon_set_metrics_allow },
	{ "log_access", daemon_set_log_access },
};

static const struct daemon_key *
daemon_key_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(daemon_keys); i++)
		if (strcmp(daemon_keys[i].name, name) == 0)
			return &daemon_keys[i];
	return NULL;
}

bool
conf_daemon_key_known(const char *name)
{
	return daemon_key_find(name) != NULL;
}

const char *
conf_daemon_key_name(size_t i)
{
	return i < ELEMENTSOF(daemon_keys) ? daemon_keys[i].name : NULL;
}

static void
daemon_defaults(struct daemon_conf *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->socket = xstrdup(TOKENBROKER_SOCKET_DEFAULT);
	dc->socket_mode = 0660;
	dc->state_dir = xstrdup("/var/lib/tokenbroker");
	dc->log_level = LOG_INFO;
	dc->max_clients = 4096;
	dc->max_clients_per_uid = 256;
	dc->client_timeout_ms = 30 * 1000;
	dc->upstream_concurrency = 32;
	/* root only: both sets empty and not "any" */
}

/* Frees what dc holds, not dc. */
void
conf_daemon_clear(struct daemon_conf *dc)
{
	free(dc->socket);
	free(dc->state_dir);
	conf_value_ids_clear(&dc->metrics_allow_users);
	conf_value_ids_clear(&dc->metrics_allow_groups);
}

/*
 * [daemon] from its section (NULL: none in the files): defaults, then the
 * user's keys.  max_clients_per_uid given
 * must fit in max_clients; its default follows a smaller max_clients.
 */
void
conf_daemon_build(struct conf_loader *ld, const struct conf_section *sect,
		  struct daemon_conf *dc)
{
	const struct conf_entry *per_uid = NULL;

	daemon_defaults(dc);
	for (size_t i = 0; sect != NULL && i < sect->n; i++) {
		const struct conf_entry *e = &sect->v[i];
		const struct daemon_key *k = daemon_key_find(e->key);
		char *cause = NULL;

		if (k != NULL && k->set(dc, e->value, &cause) < 0) {
			conf_error(ld, e->file, e->line, "%s: %s", e->key, cause);
			free(cause);
		} else if (k != NULL && strcmp(e->key, "max_clients_per_uid") == 0) {
			per_uid = e;
		}
	}
	if (dc->max_clients_per_uid <= dc->max_clients)
		return;
	if (per_uid == NULL)
		dc->max_clients_per_uid = dc->max_clients;
	else
		conf_error(ld, per_uid->file, per_uid->line,
			   "max_clients_per_uid: %u is larger than max_clients (%u)",
			   dc->max_clients_per_uid, dc->max_clients);
}
