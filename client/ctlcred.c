/*
 * ctlcred: the shapes other programs take a token in, as pure functions
 * over text (no I/O, so that the unit tests reach them): a Kubernetes
 * ExecCredential for a kubeconfig's exec entry, and git's credential-helper
 * protocol (gitcredentials(7)).
 *
 * Every output that holds a token is built in a struct secbuf, which the
 * caller writes with write(2) and wipes.  Errors name the cause and never
 * quote the input: git's request to store or erase carries a password.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "secbuf.h"
#include "text.h"
#include "xmalloc.h"

static const char *const ctlcred_k8s_versions[] = {
	CTLCRED_K8S_V1,
	CTLCRED_K8S_V1BETA1,
};

/*
 * The apiVersion asked for in $KUBERNETES_EXEC_INFO's value info: a JSON
 * object whose "apiVersion" is one this client answers in.  NULL or empty
 * info asks for v1.  0 and *ret (a static string); -EINVAL with *cause
 * (the caller frees) saying what is wrong and what to change.
 */
int
ctlcred_exec_info_version(const char *info, const char **ret, char **cause)
{
	struct json *root = NULL;
	const struct json *v;
	char *why = NULL;
	size_t len;

	if (info == NULL || info[0] == '\0') {
		*ret = CTLCRED_K8S_V1;
		return 0;
	}
	len = strlen(info);
	if (len > CTLCRED_EXEC_INFO_MAX) {
		*cause = xasprintf("KUBERNETES_EXEC_INFO is longer than %d bytes",
		    CTLCRED_EXEC_INFO_MAX);
		return -EINVAL;
	}
	if (json_parse(info, len, &root, &why) < 0 || root->type != JSON_OBJECT) {
		*cause = xasprintf("KUBERNETES_EXEC_INFO is not a JSON object%s%s (it should be "
				   "what kubectl sets, such as {\"apiVersion\":\"%s\"})",
		    why != NULL ? ": " : "", why != NULL ? why : "", CTLCRED_K8S_V1);
		free(why);
		json_free(root);
		return -EINVAL;
	}
	v = json_get(root, "apiVersion");
	if (v == NULL || v->type != JSON_STRING) {
		*cause = xasprintf("KUBERNETES_EXEC_INFO has no apiVersion string (it should "
				   "name %s or %s)",
		    CTLCRED_K8S_V1, CTLCRED_K8S_V1BETA1);
		json_free(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(ctlcred_k8s_versions); i++) {
		if (v->len == strlen(ctlcred_k8s_versions[i]) &&
		    memcmp(v->text, ctlcred_k8s_versions[i], v->len) == 0) {
			*ret = ctlcred_k8s_versions[i];
			json_free(root);
			return 0;
		}
	}
	{
		char *shown = text_sanitize(v->text, v->len, 80);

		*cause = xasprintf("KUBERNETES_EXEC_INFO asks for apiVersion '%s', which tokenctl "
				   "does not answer in; set the kubeconfig's exec apiVersion to %s or %s",
		    shown, CTLCRED_K8S_V1, CTLCRED_K8S_V1BETA1);
		free(shown);
	}
	json_free(root);
	return -EINVAL;
}

/*
 * Unix seconds t as RFC 3339 UTC, "2026-12-01T23:59:59Z", into buf.  0;
 * -ERANGE when t is before 1970 or past the year 9999 (buf untouched).
 */
int
ctlcred_rfc3339(int64_t t, char *buf, size_t size)
{
	/* 9999-12-31T23:59:59Z */
	const int64_t last = INT64_C(253402300799);
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > last || gmtime_r(&tt, &tm) == NULL)
		return -ERANGE;
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -ERANGE;
	return 0;
}

static bool
ctlcred_gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
}

/*
 * Appends to out an ExecCredential of api_version holding token, and its
 * expirationTimestamp when expires_at (unix seconds) is one RFC 3339 can
 * say; then a newline.  0; -EINVAL when token is not UTF-8 (out then holds
 * a part, which the caller wipes).
 */
int
ctlcred_exec_credential(struct secbuf *out, const char *api_version, const char *token,
    int64_t expires_at)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char stamp[CTLCRED_RFC3339_SIZE];
	bool ok;

	if (g == NULL)
		log_fatal("out of memory");
	/* Straight into out: yajl keeps no copy of its own. */
	yajl_gen_config(g, yajl_gen_print_callback, secbuf_yajl_cb, out);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	ok = yajl_gen_map_open(g) == yajl_gen_status_ok && ctlcred_gen_str(g, "apiVersion") &&
	    ctlcred_gen_str(g, api_version) && ctlcred_gen_str(g, "kind") &&
	    ctlcred_gen_str(g, "ExecCredential") && ctlcred_gen_str(g, "status") &&
	    yajl_gen_map_open(g) == yajl_gen_status_ok && ctlcred_gen_str(g, "token") &&
	    ctlcred_gen_str(g, token);
	if (ok && ctlcred_rfc3339(expires_at, stamp, sizeof(stamp)) == 0)
		ok = ctlcred_gen_str(g, "expirationTimestamp") && ctlcred_gen_str(g, stamp);
	ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok &&
	    yajl_gen_map_close(g) == yajl_gen_status_ok;
	yajl_gen_free(g);
	if (!ok)
		return -EINVAL;
	secbuf_add(out, "\n", 1);
	return 0;
}

/*
 * The next line of text[off..len): its length without the newline and a
 * CR before it (git strips one as well), and *next past the newline.
 */
static size_t
ctlcred_line(const char *text, size_t len, size_t off, size_t *next)
{
	const char *nl = memchr(text + off, '\n', len - off);
	size_t end = nl != NULL ? (size_t)(nl - text) : len;

	*next = nl != NULL ? end + 1 : len;
	if (end > off && text[end - 1] == '\r')
		end--;
	return end - off;
}

/*
 * Where git's request ends in len bytes of text: just past the blank line
 * that closes it.  SIZE_MAX when there is none (yet).
 */
size_t
ctlcred_git_request_end(const char *text, size_t len)
{
	size_t off = 0, next;

	while (off < len) {
		size_t n = ctlcred_line(text, len, off, &next);

		if (n == 0 && next > off && text[next - 1] == '\n')
			return next;
		off = next;
	}
	return SIZE_MAX;
}

/*
 * Checks len bytes of git's request (up to its blank line or the end of
 * the input): every line is key=value with a key that is not empty, and no
 * NUL.  0, or -EINVAL with *cause (the caller frees) naming the line; the
 * line itself is never quoted.
 */
int
ctlcred_git_request_check(const char *text, size_t len, char **cause)
{
	size_t off = 0, next, lineno = 0;

	while (off < len) {
		size_t n = ctlcred_line(text, len, off, &next);
		const char *eq;

		lineno++;
		if (n == 0)
			break;
		if (memchr(text + off, '\0', n) != NULL) {
			*cause = xasprintf("line %zu of git's request holds a NUL byte", lineno);
			return -EINVAL;
		}
		eq = memchr(text + off, '=', n);
		if (eq == NULL) {
			*cause = xasprintf("line %zu of git's request is not key=value (it has no '='); "
					   "a helper reads lines such as protocol=https and host=example.com",
			    lineno);
			return -EINVAL;
		}
		if (eq == text + off) {
			*cause = xasprintf("line %zu of git's request has an empty key before '='",
			    lineno);
			return -EINVAL;
		}
		off = next;
	}
	return 0;
}

/*
 * Appends the answer to git's "get" to out: username, password (the token)
 * and, when expires_at is known (>= 0), password_expiry_utc, which git
 * 2.41 and later read and older ones ignore.
 */
void
ctlcred_git_answer(struct secbuf *out, const char *username, const char *token, int64_t expires_at)
{
	char num[48];

	secbuf_str(out, "username=");
	secbuf_str(out, username);
	secbuf_str(out, "\npassword=");
	secbuf_str(out, token);
	secbuf_str(out, "\n");
	if (expires_at >= 0) {
		snprintf(num, sizeof(num), "password_expiry_utc=%lld\n", (long long)expires_at);
		secbuf_str(out, num);
	}
}
