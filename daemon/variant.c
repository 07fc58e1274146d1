/*
 * Token variants (see variant.h): the key a request asks for, checked
 * against the credential's allow_* and made canonical, and the set of a
 * credential's variants.
 *
 * The set is an array sorted by the keys' text, so a request finds its
 * variant by binary search.  Being asked for only stamps a variant's
 * last_used: nothing in the schedule moves.  Each variant has an idle entry
 * on the renewal schedule, armed for variant_idle after it was made; when
 * it fires, a variant asked for meanwhile is re-armed for variant_idle
 * after that request, and one that was not is dropped.  So a busy variant
 * costs one timer event per variant_idle, not a heap update per request.
 * Beyond max_variants the least recently asked variant is dropped, found
 * by a scan made only then.  A variant with clients waiting for it is
 * neither dropped for idleness nor for room.
 *
 * A variant's token is persisted when its credential's is, in state_dir
 * as NAME@ID.token (ID: STORE_VARIANT_ID_LEN hex digits of a hash of its key;
 * "@" is never part of a credential's name, so no credential's file is
 * one), with a fingerprint of the credential's settings and of the key.
 * It is restored on demand, when the variant is first asked for after a
 * restart, not at start: which variants are wanted is the clients' to
 * say, and a file that is never asked for again holds a token that only
 * expires (as a removed credential's file does).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "credential-int.h"
#include "digest.h"
#include "duration.h"
#include "log.h"
#include "renew.h"
#include "secbuf.h"
#include "timeutil.h"
#include "variant.h"
#include "xmalloc.h"

struct variant {
	struct variant_set *set;
	struct variant_key *key;
	struct credential *cred; /* its token, state, schedule and waiters */
	int64_t last_used_mono_ms;
	struct renew_entry idle;
};

struct variant_set {
	struct credential *main;
	struct variant **v; /* sorted by key->text */
	size_t n;
};

/* A word of a list: where it starts in the list, how long it is. */
struct variant_word {
	const char *p;
	size_t n;
};

/* Whether c may stand in a scope (RFC 6749 3.3, NQCHAR). */
static bool
variant_nqchar(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* How many words s has, separated by any of seps. */
static size_t
variant_count_words(const char *s, const char *seps)
{
	size_t n = 0;

	for (const char *p = s + strspn(s, seps); *p != '\0'; p += strspn(p, seps)) {
		p += strcspn(p, seps);
		n++;
	}
	return n;
}

static int
variant_word_cmp(const void *a, const void *b)
{
	const struct variant_word *x = a, *y = b;
	int r = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return r != 0 ? r : (x->n > y->n) - (x->n < y->n);
}

/*
 * The words of s (separated by any of seps) joined by one space, sorted
 * and each once when sort; NULL when s is NULL or has none.  The caller
 * has bounded s.
 */
static char *
variant_words_norm(const char *s, const char *seps, bool sort)
{
	struct secbuf b = { NULL, 0, 0 };
	struct variant_word *w;
	size_t n = s != NULL ? variant_count_words(s, seps) : 0, k = 0;
	const char *p;

	if (n == 0)
		return NULL;
	w = xcalloc(n, sizeof(*w));
	for (p = s + strspn(s, seps); *p != '\0'; p += strspn(p, seps)) {
		w[k].p = p;
		w[k].n = strcspn(p, seps);
		p += w[k++].n;
	}
	if (sort)
		qsort(w, n, sizeof(*w), variant_word_cmp);
	for (size_t i = 0; i < n; i++) {
		if (sort && i > 0 && variant_word_cmp(&w[i], &w[i - 1]) == 0)
			continue;
		if (b.len > 0)
			secbuf_add(&b, " ", 1);
		secbuf_add(&b, w[i].p, w[i].n);
	}
	free(w);
	return secbuf_take(&b);
}

/*
 * Checks parameter key's value v as a caller sent it (NULL: not sent),
 * before anything is made of it: its length, its characters (a scope's
 * those of RFC 6749 3.3 and the separators " " and "+"; an audience or a
 * resource one value of printable ASCII), and for a scope how many there
 * are.  0, or -EINVAL with *cause.
 */
static int
variant_check_param(const char *key, const char *v, char **cause)
{
	bool scope = strcmp(key, "scope") == 0;
	size_t len;

	if (v == NULL)
		return 0;
	len = strnlen(v, VARIANT_VALUE_MAX + 1);
	if (len > VARIANT_VALUE_MAX) {
		*cause = xasprintf("%s is longer than %d bytes", key, VARIANT_VALUE_MAX);
		return -EINVAL;
	}
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (scope && !variant_nqchar(c) && c != ' ' && c != '+') {
			*cause = xstrdup("scope holds a character no scope may (RFC 6749 3.3)");
			return -EINVAL;
		}
		if (!scope && c == ' ') {
			*cause = xasprintf("%s must be one value (it holds a space; a \"+\" in the "
					   "query is one, send %%2B)",
					   key);
			return -EINVAL;
		}
		if (!scope && (c < 0x21 || c > 0x7e)) {
			*cause = xasprintf("%s must be printable ASCII", key);
			return -EINVAL;
		}
	}
	if (scope && variant_count_words(v, " +") > VARIANT_SCOPES_MAX) {
		*cause = xasprintf("scope has more than %d scopes", VARIANT_SCOPES_MAX);
		return -EINVAL;
	}
	if (len == 0 || (scope && variant_count_words(v, " +") == 0)) {
		*cause = xasprintf("%s is empty (leave it out for the configured %s)", key, key);
		return -EINVAL;
	}
	return 0;
}

/* Whether list (NULL-terminated, or NULL) holds the len bytes at w. */
static bool
variant_listed(char *const *list, const char *w, size_t len)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strlen(list[i]) == len && memcmp(list[i], w, len) == 0)
			return true;
	return false;
}

bool
variant_conf_allows_any(const struct cred_conf *cc)
{
	return cc->allow_scopes != NULL || cc->allow_audiences != NULL ||
	       cc->allow_resources != NULL;
}

/* Whether v (a key's field, normalised) is field key's configured value conf_v. */
static bool
variant_is_configured(const char *key, const char *v, const char *conf_v)
{
	bool scope = strcmp(key, "scope") == 0;
	_cleanup_free_ char *configured = variant_words_norm(conf_v, " \t", scope);

	return v == NULL || configured == NULL ? v == configured : strcmp(v, configured) == 0;
}

/*
 * Whether field key of value v (a key's, normalised) may be asked of cc,
 * whose configured value is conf_v (as in the file) and whose allow list
 * is allow.  A scope must be a subset, another field one of the list; the
 * configured value always may.  Else -EINVAL, and *cause when cause is not
 * NULL.
 */
static int
variant_check_field(const struct cred_conf *cc, const char *key, const char *v,
		    const char *conf_v, char *const *allow, char **cause)
{
	struct secbuf refused = { NULL, 0, 0 };
	size_t nrefused = 0;
	char *list;

	if (variant_is_configured(key, v, conf_v))
		return 0;
	if (allow == NULL || v == NULL) {
		if (cause != NULL && !variant_conf_allows_any(cc))
			*cause = xasprintf("credential \"%s\" takes no token variants: "
					   "set allow_%ss in its configuration to let callers "
					   "ask for a %s",
					   cc->name, key, key);
		else if (cause != NULL)
			*cause = xasprintf("credential \"%s\" lets no caller choose the %s: set "
					   "allow_%ss to let callers ask for one",
					   cc->name, key, key);
		return -EINVAL;
	}
	if (strcmp(key, "scope") != 0) {
		/* One value, as asked. */
		if (variant_listed(allow, v, strlen(v)))
			return 0;
		if (cause != NULL)
			*cause = xasprintf("%s \"%s\" is not allowed for credential \"%s\" "
					   "(allow_%ss would allow it)",
					   key, v, cc->name, key);
		return -EINVAL;
	}
	for (const char *p = v; *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");

		if (!variant_listed(allow, p, n)) {
			if (nrefused++ > 0)
				secbuf_add(&refused, " ", 1);
			secbuf_add(&refused, p, n);
		}
		p += n;
	}
	if (nrefused == 0)
		return 0;
	list = secbuf_take(&refused);
	if (cause != NULL)
		*cause = xasprintf("scope%s \"%s\" %s not allowed for credential \"%s\" "
				   "(allow_scopes would allow %s)",
				   nrefused > 1 ? "s" : "", list, nrefused > 1 ? "are" : "is",
				   cc->name, nrefused > 1 ? "them" : "it");
	free(list);
	return -EINVAL;
}

/* Every field of k against cc: 0, or -EINVAL with *cause (when not NULL). */
static int
variant_key_check(const struct cred_conf *cc, const struct variant_key *k, char **cause)
{
	if (variant_check_field(cc, "scope", k->scope, cc->scope, cc->allow_scopes, cause) < 0 ||
	    variant_check_field(cc, "audience", k->audience, cc->audience, cc->allow_audiences,
				cause) < 0 ||
	    variant_check_field(cc, "resource", k->resource, cc->resource, cc->allow_resources,
				cause) < 0)
		return -EINVAL;
	return 0;
}

bool
variant_key_allowed(const struct cred_conf *cc, const struct variant_key *k)
{
	return variant_key_check(cc, k, NULL) == 0;
}

/*
 * " key=a+b" for the words of v (space-separated), a "+" or "%" in a word
 * written %2B and %25, so that the text of two keys is the same only when
 * the keys are; nothing when v is NULL.  A byte that is not printable
 * ASCII (a configured value may hold a control character, or bytes that
 * are not UTF-8) is written %XX too: the text goes into logs and metrics.
 */
static void
variant_text_field(struct secbuf *b, const char *key, const char *v)
{
	char hex[4];

	if (v == NULL)
		return;
	if (b->len > 0)
		secbuf_add(b, " ", 1);
	secbuf_str(b, key);
	secbuf_add(b, "=", 1);
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == ' ') {
			secbuf_add(b, "+", 1);
		} else if (c == '+' || c == '%' || c < 0x21 || c > 0x7e) {
			snprintf(hex, sizeof(hex), "%%%02X", c);
			secbuf_add(b, hex, 3);
		} else {
			secbuf_add(b, p, 1);
		}
	}
}

int
variant_key_new(const struct cred_conf *cc, const char *scope, const char *audience,
		const char *resource, struct variant_key **ret, char **cause)
{
	struct secbuf text = { NULL, 0, 0 };
	struct variant_key *k;

	if (variant_check_param("scope", scope, cause) < 0 ||
	    variant_check_param("audience", audience, cause) < 0 ||
	    variant_check_param("resource", resource, cause) < 0)
		return -EINVAL;
	k = xcalloc(1, sizeof(*k));
	k->scope = scope != NULL ? variant_words_norm(scope, " +", true) :
				   variant_words_norm(cc->scope, " \t", true);
	k->audience = audience != NULL ? xstrdup(audience) :
					 variant_words_norm(cc->audience, " \t", false);
	k->resource = resource != NULL ? xstrdup(resource) :
					 variant_words_norm(cc->resource, " \t", false);
	if (variant_key_check(cc, k, cause) < 0) {
		variant_key_free(k);
		return -EINVAL;
	}
	if (variant_is_configured("scope", k->scope, cc->scope) &&
	    variant_is_configured("audience", k->audience, cc->audience) &&
	    variant_is_configured("resource", k->resource, cc->resource)) {
		variant_key_free(k);
		return 1;
	}
	variant_text_field(&text, "scope", k->scope);
	variant_text_field(&text, "audience", k->audience);
	variant_text_field(&text, "resource", k->resource);
	k->text = secbuf_take(&text);
	*ret = k;
	return 0;
}

struct variant_key *
variant_key_free(struct variant_key *k)
{
	if (k == NULL)
		return NULL;
	free(k->scope);
	free(k->audience);
	free(k->resource);
	free(k->text);
	free(k);
	return NULL;
}

/* Lowercase hex SHA-256 of domain and its NUL, conf_fp and a NUL when given, and k's text. */
static void
variant_key_digest(const struct variant_key *k, const char *domain, const char *conf_fp,
		   char out[65])
{
	struct secbuf b = { NULL, 0, 0 };

	secbuf_add(&b, domain, strlen(domain) + 1);
	if (conf_fp != NULL) {
		secbuf_str(&b, conf_fp);
		secbuf_add(&b, "", 1);
	}
	/* The text tells keys apart (see variant_text_field): so does the hash. */
	secbuf_str(&b, k->text);
	digest_sha256_hex(b.data, b.len, out);
	secbuf_clear(&b);
}

void
variant_key_id(const struct variant_key *k, char out[STORE_VARIANT_ID_LEN + 1])
{
	char sum[65];

	variant_key_digest(k, "tokenbroker variant id 1", NULL, sum);
	memcpy(out, sum, STORE_VARIANT_ID_LEN);
	out[STORE_VARIANT_ID_LEN] = '\0';
}

void
variant_key_fingerprint(const struct variant_key *k, const char conf_fp[65], char out[65])
{
	variant_key_digest(k, "tokenbroker variant fingerprint 1", conf_fp, out);
}

/* Logs about variant v with the journal fields CREDENTIAL= and VARIANT=. */
static void variant_log(const struct variant *v, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
variant_log(const struct variant *v, int level, const char *fmt, ...)
{
	const char *name = credential_name(v->set->main);
	struct log_field fields[] = {
		{ "CREDENTIAL", name },
		{ "VARIANT", v->key->text },
	};
	char msg[512];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fields(level, fields, ELEMENTSOF(fields), "credential %s: variant %s %s", name,
		   v->key->text, msg);
}

/*
 * Where a key of text would stand in s: true and *at its index when a
 * variant has it, else false and *at where it would be inserted.
 */
static bool
variant_find(const struct variant_set *s, const char *text, size_t *at)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(text, s->v[mid]->key->text);

		if (r == 0) {
			*at = mid;
			return true;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	return false;
}

/*
 * Takes v out of its set and frees it: with drop its token is forgotten
 * and its persisted copy removed, else both are kept.
 */
static void
variant_free(struct variant *v, bool drop)
{
	struct variant_set *s = v->set;
	size_t at;

	if (variant_find(s, v->key->text, &at)) {
		memmove(&s->v[at], &s->v[at + 1], (s->n - at - 1) * sizeof(*s->v));
		s->n--;
	}
	renew_cancel(credential_renew_queue(s->main), &v->idle);
	v->cred = credential_variant_free(v->cred, drop);
	variant_key_free(v->key);
	free(v);
}

/* The least recently asked variant of s that no client waits for, or NULL. */
static struct variant *
variant_lru(const struct variant_set *s)
{
	struct variant *lru = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (!credential_has_waiters(s->v[i]->cred) &&
		    (lru == NULL || s->v[i]->last_used_mono_ms < lru->last_used_mono_ms))
			lru = s->v[i];
	return lru;
}

/* Drops the least recently asked variants until at most max are left, if it can. */
static void
variant_trim(struct variant_set *s, size_t max)
{
	struct variant *lru;

	while (s->n > max && (lru = variant_lru(s)) != NULL) {
		variant_log(lru, LOG_INFO, "dropped: max_variants (%zu) reached and it was asked "
					   "for least recently",
			    max);
		variant_free(lru, true);
	}
}

static void
variant_idle_cb(struct renew_entry *e)
{
	struct variant *v = (struct variant *)((char *)e - offsetof(struct variant, idle));
	const struct cred_conf *cc = credential_conf(v->set->main);
	struct renew *q = credential_renew_queue(v->set->main);
	int64_t now = timeutil_mono_ms(), due = v->last_used_mono_ms + cc->variant_idle_ms;
	char idle[32];

	if (due > now) {
		renew_set(q, e, due);
		return;
	}
	/* Asked for by a client that still waits: not idle. */
	if (credential_has_waiters(v->cred)) {
		renew_set(q, e, now + 1000);
		return;
	}
	variant_log(v, LOG_INFO, "dropped: not asked for during %s",
		    duration_format(cc->variant_idle_ms, idle, sizeof(idle)));
	variant_free(v, true);
}

int
variant_get(struct credential *c, const char *scope, const char *audience,
	    const char *resource, struct credential **ret, char **cause)
{
	const struct cred_conf *cc = credential_conf(c);
	struct variant_set *s = credential_variant_set(c);
	struct variant_key *k = NULL;
	struct variant *v;
	size_t at;
	int r;

	r = variant_key_new(cc, scope, audience, resource, &k, cause);
	if (r < 0)
		return r;
	if (r == 1) {
		*ret = c;
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->main = c;
		credential_set_variant_set(c, s);
	}
	if (variant_find(s, k->text, &at)) {
		v = s->v[at];
		v->last_used_mono_ms = timeutil_mono_ms();
		variant_key_free(k);
		*ret = v->cred;
		return 0;
	}
	variant_trim(s, cc->max_variants - 1);
	if (s->n >= cc->max_variants) {
		*cause = xasprintf("credential \"%s\" has %zu variants (max_variants), "
				   "clients wait for each of them: ask again later",
				   cc->name, s->n);
		variant_key_free(k);
		return -EBUSY;
	}
	v = xcalloc(1, sizeof(*v));
	v->set = s;
	v->key = k;
	v->last_used_mono_ms = timeutil_mono_ms();
	v->idle.fire = variant_idle_cb;
	variant_find(s, k->text, &at);
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	s->v[at] = v;
	s->n++;
	variant_log(v, LOG_INFO, "added (%zu of max_variants %u)", s->n, cc->max_variants);
	v->cred = credential_variant_new(c, v);
	renew_set(credential_renew_queue(c), &v->idle,
		  v->last_used_mono_ms + cc->variant_idle_ms);
	*ret = v->cred;
	return 0;
}

size_t
variant_count(const struct credential *c)
{
	const struct variant_set *s = credential_variant_set(c);

	return s != NULL ? s->n : 0;
}

struct credential *
variant_at(const struct credential *c, size_t i)
{
	const struct variant_set *s = credential_variant_set(c);

	return s != NULL && i < s->n ? s->v[i]->cred : NULL;
}

const struct variant_key *
variant_key_of(const struct credential *vc)
{
	const struct variant *v = credential_variant(vc);

	return v != NULL ? v->key : NULL;
}

const struct variant_key *
variant_key(const struct variant *v)
{
	return v->key;
}

void
variant_request_opts(const struct variant *v, struct request_opts *qo)
{
	qo->scope = v->key->scope;
	qo->audience = v->key->audience;
	qo->resource = v->key->resource;
}

struct variant_set *
variant_set_free(struct variant_set *s, bool drop)
{
	if (s == NULL)
		return NULL;
	while (s->n > 0)
		variant_free(s->v[s->n - 1], drop);
	free(s->v);
	free(s);
	return NULL;
}

void
variant_set_reload(struct credential *c, const struct cred_conf *was)
{
	const struct cred_conf *cc = credential_conf(c);
	struct variant_set *s = credential_variant_set(c);

	if (s == NULL)
		return;
	for (size_t i = s->n; i-- > 0;) {
		struct variant *v = s->v[i];

		if (!variant_key_allowed(cc, v->key)) {
			variant_log(v, LOG_NOTICE,
				    "dropped: the configuration no longer allows it");
			variant_free(v, true);
			continue;
		}
		credential_variant_reconf(v->cred, cc);
		if (cc->variant_idle_ms != was->variant_idle_ms)
			renew_set(credential_renew_queue(c), &v->idle,
				  v->last_used_mono_ms + cc->variant_idle_ms);
	}
	variant_trim(s, cc->max_variants);
}
