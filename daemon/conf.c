/*
 * The configuration's public face (conf.h): loading the files or a string,
 * building a struct conf from what was read, the checks across sections,
 * freeing, and the lookups.  Every problem is collected here as
 * "FILE:LINE: message", the key first, and handed over sorted by file and
 * line; secrets never reach a message.  The pieces: conf-read.c reads
 * files into sections, conf-value.c parses single values, conf-daemon.c,
 * conf-cred.c (with conf-cred-check.c and conf-digest.c) and conf-proxy.c
 * build the sections.  Only when every file is read are the sections
 * built, so a key may stand anywhere in its section, and a section may
 * refer to one that comes after it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "conf-int.h"
#include "profile.h"
#include "text.h"
#include "xmalloc.h"

static void conf_msg_vadd(struct conf_loader *, struct conf_msgs *, unsigned, unsigned,
			  const char *, va_list) __attribute__((format(printf, 5, 0)));

static void
conf_msg_vadd(struct conf_loader *ld, struct conf_msgs *m, unsigned file, unsigned line,
	      const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = xvasprintf(fmt, ap), *text = NULL;
	struct conf_msg *cm;

	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	cm = &m->v[m->n++];
	cm->file = file;
	cm->line = line;
	cm->seq = ld->seq++;
	if (line > 0)
		text = xasprintf("%s:%u: %s", ld->files[file].path, line, msg);
	else
		text = xasprintf("%s: %s", ld->files[file].path, msg);
	/* Messages quote the file: a control character in it must not reach a terminal. */
	cm->text = text_sanitize(text, strlen(text), SIZE_MAX);
}

/* Adds an error at file:line (line 0: the file as a whole). */
void
conf_error(struct conf_loader *ld, unsigned file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_msg_vadd(ld, &ld->errs, file, line, fmt, ap);
	va_end(ap);
}

void
conf_warning(struct conf_loader *ld, unsigned file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_msg_vadd(ld, &ld->warns, file, line, fmt, ap);
	va_end(ap);
}

static int
conf_msg_cmp_cb(const void *a, const void *b)
{
	const struct conf_msg *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the messages, in file and line order, to out (or frees them). */
void
conf_msgs_move(struct conf_msgs *m, struct conf_errors *out)
{
	if (m->n > 0)
		qsort(m->v, m->n, sizeof(*m->v), conf_msg_cmp_cb);
	for (size_t i = 0; i < m->n; i++) {
		if (out == NULL) {
			free(m->v[i].text);
			continue;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = m->v[i].text;
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/*
 * A "where" for messages that name an earlier place: "line N" in the file
 * here, else "FILE:N".  The caller frees.
 */
char *
conf_place(const struct conf_loader *ld, unsigned file, unsigned line, unsigned here)
{
	if (file == here)
		return xasprintf("line %u", line);
	return xasprintf("%s:%u", ld->files[file].path, line);
}

/* Whether sinks a and b name the same file, also through another path. */
static bool
conf_same_sink(const char *a, const char *b)
{
	const char *ba = strrchr(a, '/') + 1, *bb = strrchr(b, '/') + 1;
	_cleanup_free_ char *da = NULL, *db = NULL;
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	if (strcmp(ba, bb) != 0)
		return false;
	da = ba - a > 1 ? xstrndup(a, (size_t)(ba - a - 1)) : xstrdup("/");
	db = bb - b > 1 ? xstrndup(b, (size_t)(bb - b - 1)) : xstrdup("/");
	return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* The line that set key in sect, else the section's. */
void
conf_section_where(const struct conf_section *sect, const char *key, unsigned *file,
		   unsigned *line)
{
	*file = sect->file;
	*line = sect->line;
	for (size_t i = 0; i < sect->n; i++) {
		if (strcmp(sect->v[i].key, key) == 0) {
			*file = sect->v[i].file;
			*line = sect->v[i].line;
			return;
		}
	}
}

/* Two credentials writing one sink would overwrite each other's token. */
static void
conf_check_sinks(struct conf_loader *ld, const struct conf *conf)
{
	for (size_t i = 0; i < conf->ncreds; i++) {
		if (conf->creds[i]->sink == NULL)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct cred_conf *ci = conf->creds[i], *cj = conf->creds[j];
			_cleanup_free_ char *where = NULL;

			if (cj->sink == NULL || !conf_same_sink(ci->sink, cj->sink))
				continue;
			where = conf_place(ld, cj->sink_file, cj->sink_line, ci->sink_file);
			conf_error(ld, ci->sink_file, ci->sink_line,
				   "sink: %s is also the sink of credential \"%s\" (at %s)",
				   conf->creds[i]->sink, conf->creds[j]->name, where);
			break;
		}
	}
}

/* Builds the conf from what was read and hands over the messages. */
static int
conf_cred_cmp(const void *a, const void *b)
{
	const struct cred_conf *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/*
 * running's credential of cc's name when cc, just built, is the same in
 * every setting (where its sink was set included: the checks across
 * credentials name that place); else NULL.
 */
static struct cred_conf *
conf_running_same(const struct conf_loader *ld, const struct conf *running,
		  const struct cred_conf *cc)
{
	struct cred_conf *was;

	if (running == NULL || (was = (struct cred_conf *)conf_find(running, cc->name)) == NULL)
		return NULL;
	if (!conf_cred_same(was, cc))
		return NULL;
	if (cc->sink != NULL && (was->sink_file >= running->nfiles ||
				 strcmp(running->files[was->sink_file], ld->files[cc->sink_file].path) != 0))
		return NULL;
	return was;
}

static int
conf_build(struct conf_loader *ld, const char *path, const struct conf *running,
	   struct conf **ret_conf, struct conf_errors *errs, struct conf_errors *warnings)
{
	const struct conf_sections *daemon = &ld->sects[CONF_SECT_DAEMON];
	struct conf_sections *creds = &ld->sects[CONF_SECT_CRED];
	const struct conf_sections *proxies = &ld->sects[CONF_SECT_PROXY];
	struct conf *conf = xcalloc(1, sizeof(*conf));
	int r;

	conf->path = xstrdup(path);
	conf_daemon_build(ld, daemon->n > 0 ? daemon->v[0] : NULL, &conf->daemon);
	conf->creds = xcalloc(creds->n, sizeof(*conf->creds));
	conf_read_parsed(ld);
	for (size_t i = 0; i < creds->n; i++) {
		struct cred_conf *cc = conf_cred_build(ld, creds->v[i]), *was;

		/*
		 * Unchanged, it is the running one: with thousands, a reload
		 * would hold every credential twice over otherwise.
		 */
		if ((was = conf_running_same(ld, running, cc)) != NULL) {
			conf_cred_free(cc);
			was->refs++;
			cc = was;
		}
		conf->creds[conf->ncreds++] = cc;
		/*
		 * Built, its section (the lines as read) goes: with thousands,
		 * a reload would hold the file twice over otherwise.
		 */
		conf_section_free(creds->v[i]);
		creds->v[i] = NULL;
	}
	conf->by_name = xcalloc(conf->ncreds, sizeof(*conf->by_name));
	memcpy(conf->by_name, conf->creds, conf->ncreds * sizeof(*conf->by_name));
	qsort(conf->by_name, conf->ncreds, sizeof(*conf->by_name), conf_cred_cmp);
	conf->proxies = xcalloc(proxies->n, sizeof(*conf->proxies));
	for (size_t i = 0; i < proxies->n; i++)
		conf->proxies[conf->nproxies++] =
			conf_proxy_build(ld, proxies->v[i], &conf->daemon);
	conf_check_sinks(ld, conf);
	conf_proxy_check_conf(ld, proxies, conf);
	r = ld->errs.n > 0 ? -EINVAL : 0;
	conf_msgs_move(&ld->errs, errs);
	conf_msgs_move(&ld->warns, warnings);
	conf->files = xcalloc(ld->nfiles > 0 ? ld->nfiles : 1, sizeof(*conf->files));
	for (size_t i = 0; i < ld->nfiles; i++) {
		conf->files[conf->nfiles++] = ld->files[i].path;
		ld->files[i].path = NULL;
	}
	conf_read_clear(ld);
	if (r < 0) {
		conf_free(conf);
		return r;
	}
	*ret_conf = conf;
	return 0;
}

int
conf_reload(const char *path, const struct conf *running, struct conf **ret_conf,
	    struct conf_errors *errs, struct conf_errors *warnings)
{
	struct conf_loader ld;

	conf_read_init(&ld);
	conf_read_file(&ld, path);
	conf_read_dir(&ld, path);
	return conf_build(&ld, path, running, ret_conf, errs, warnings);
}

int
conf_load(const char *path, struct conf **ret_conf, struct conf_errors *errs,
	  struct conf_errors *warnings)
{
	return conf_reload(path, NULL, ret_conf, errs, warnings);
}

int
conf_load_string(const char *name, const char *text, struct conf **ret_conf,
		 struct conf_errors *errs, struct conf_errors *warnings)
{
	struct conf_loader ld;

	conf_read_init(&ld);
	conf_read_string(&ld, name, text);
	return conf_build(&ld, name, NULL, ret_conf, errs, warnings);
}

struct conf *
conf_free(struct conf *conf)
{
	if (conf == NULL)
		return NULL;
	conf_daemon_clear(&conf->daemon);
	for (size_t i = 0; i < conf->ncreds; i++)
		conf_cred_free(conf->creds[i]);
	free(conf->creds);
	free(conf->by_name);
	for (size_t i = 0; i < conf->nfiles; i++)
		free(conf->files[i]);
	free(conf->files);
	for (size_t i = 0; i < conf->nproxies; i++)
		conf_proxy_free(conf->proxies[i]);
	free(conf->proxies);
	free(conf->path);
	free(conf);
	return NULL;
}

void
conf_errors_clear(struct conf_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

const struct cred_conf *
conf_find(const struct conf *conf, const char *name)
{
	size_t lo = 0, hi = conf->ncreds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, conf->by_name[mid]->name);

		if (r == 0)
			return conf->by_name[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct proxy_conf *
conf_find_proxy(const struct conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->nproxies; i++)
		if (strcmp(conf->proxies[i]->name, name) == 0)
			return conf->proxies[i];
	return NULL;
}

bool
conf_ids_allow(const struct conf_ids *users, const struct conf_ids *groups, uid_t uid,
	       const gid_t *gids, size_t ngids)
{
	if (uid == 0)
		return true;
	if (users->any && groups->any)
		return true;
	if (!users->any)
		for (size_t i = 0; i < users->n; i++)
			if (users->v[i] == (uint32_t)uid)
				return true;
	if (!groups->any)
		for (size_t i = 0; i < ngids; i++)
			for (size_t j = 0; j < groups->n; j++)
				if (groups->v[j] == (uint32_t)gids[i])
					return true;
	return false;
}

int
conf_url_check(const char *url, char **cause)
{
	return conf_value_url(url, true, cause);
}

bool
conf_name_valid(const char *name)
{
	return conf_value_name_ok(name);
}

const char *
conf_auth_method_name(enum auth_method m)
{
	return conf_cred_auth_method_name(m);
}

void
conf_sink_opts(const struct cred_conf *cc, struct sink_opts *ret)
{
	*ret = (struct sink_opts){
		.name = cc->name,
		.path = cc->sink,
		.format = cc->sink_format,
		.mode = cc->sink_mode,
		.owner_set = cc->sink_owner_set,
		.uid = cc->sink_uid,
		.gid = cc->sink_gid,
	};
}

void
conf_request_opts(const struct cred_conf *cc, struct request_opts *ret)
{
	*ret = (struct request_opts){
		.token_url = cc->token_url,
		.auth_method = cc->auth_method,
		.grant_type = cc->grant_type,
		.client_id = cc->client_id,
		.client_secret = cc->client_secret,
		.username = cc->username,
		.password = cc->password,
		.scope = cc->scope,
		.audience = cc->audience,
		.resource = cc->resource,
		.body_format = cc->body_format,
		.assertion_file = cc->assertion_file,
		.refresh_token = cc->refresh_token,
		.subject_token_file = cc->subject_token_file,
		.subject_token_type = cc->subject_token_type,
		.actor_token_file = cc->actor_token_file,
		.actor_token_type = cc->actor_token_type,
		.requested_token_type = cc->requested_token_type,
		.scope_separator = cc->scope_separator,
		.params = cc->params,
		.query = cc->query,
		.headers = cc->headers,
		.accept_xml = cc->response_format == RESPONSE_FORMAT_XML,
		.reauth_with_token = cc->reauth_with_token,
		.reauth_token_param = cc->reauth_token_param,
		.requested_lifetime_query =
			cc->profile != NULL ? cc->profile->requested_lifetime_query : NULL,
		.requested_lifetime_ms = cc->requested_lifetime_ms,
		.assertion = {
			.key = cc->assertion_key,
			.alg = cc->assertion_alg,
			.kid = cc->assertion_x5t == NULL ? cc->assertion_kid : NULL,
			.x5t_s256 = cc->assertion_x5t,
			.client_id = cc->client_id,
			.audience = cc->assertion_audience != NULL ? cc->assertion_audience :
								      cc->token_url,
			.lifetime_ms = cc->assertion_lifetime_ms,
		},
		.client_assertion_file = cc->client_assertion_file,
	};
}

void
conf_request_opts_url(const struct cred_conf *cc, const char *url, struct request_opts *ret)
{
	conf_request_opts(cc, ret);
	ret->token_url = url;
	if (cc->assertion_audience == NULL)
		ret->assertion.audience = url;
}

void
conf_http_opts(const struct cred_conf *cc, struct http_opts *ret)
{
	*ret = (struct http_opts){
		.timeout_ms = cc->timeout_ms,
		.connect_timeout_ms = cc->connect_timeout_ms,
		.proxy = cc->proxy,
		.ca_file = cc->ca_file,
		.client_cert = cc->client_cert,
		.client_key = cc->client_key,
		.tls_verify = cc->tls_verify,
	};
}

void
conf_proxy_http_opts(const struct proxy_conf *pc, struct http_opts *ret)
{
	*ret = (struct http_opts){
		.timeout_ms = pc->timeout_ms,
		.connect_timeout_ms = pc->connect_timeout_ms,
		.proxy = NULL,
		.ca_file = pc->ca_file,
		.client_cert = pc->client_cert,
		.client_key = pc->client_key,
		.tls_verify = pc->tls_verify,
	};
}

void
conf_response_opts(const struct cred_conf *cc, struct response_opts *ret)
{
	*ret = (struct response_opts){
		.format = cc->response_format,
		.token_path = cc->token_path,
		.expires_in_path = cc->expires_in_path,
		.token_type_path = cc->token_type_path,
		.expires_at_path = cc->expires_at_path,
		.default_lifetime_ms = cc->default_lifetime_ms,
		.scope_separator = cc->scope_separator,
	};
}
