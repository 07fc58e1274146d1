/*
 * ctlcmd: tokenctl's commands, each one request to the daemon (ctlcall.c)
 * and its answer printed (ctlout.c, or in another program's shape by
 * ctlcred.c): token, header, renew, exec, status, proxies, git-credential.
 * Each returns the exit status the contract gives its outcome.
 *
 * A token reaches stdout only through write(2) and leaves this process only
 * in exec's environment; every copy is wiped by ctlcall_token_clear.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "ctlhttp.h"
#include "json.h"
#include "secbuf.h"

/* Writes what b holds to stdout, then wipes it; 0 or EX_IOERR. */
static int
ctlcmd_write_secret(struct secbuf *b)
{
	int rc = ctlout_write(b->data, b->len);

	secbuf_clear(b);
	return rc;
}

/*
 * The bare token, the daemon's JSON, or (--format exec-credential) a
 * Kubernetes ExecCredential in the apiVersion $KUBERNETES_EXEC_INFO asks
 * for, checked before the daemon is asked.
 */
int
ctlcmd_token(const struct ctl_args *args)
{
	struct ctlcall_token t = { 0 };
	const char *version = NULL;
	struct secbuf out = { 0 };
	int rc;

	if (args->format == CTL_FORMAT_EXEC_CREDENTIAL) {
		_cleanup_free_ char *cause = NULL;

		if (ctlcred_exec_info_version(getenv("KUBERNETES_EXEC_INFO"), &version, &cause) < 0) {
			ctlout_error("%s", cause);
			return CTL_EX_USAGE;
		}
	}
	if ((rc = ctlcall_token(args, false, &t)) != 0)
		return rc;
	if (args->given & CTL_OPT_JSON) {
		rc = ctlout_write(t.answer->body, t.answer->bodylen);
	} else if (version != NULL) {
		if (ctlcred_exec_credential(&out, version, t.token, ctlcall_token_expiry(&t)) < 0) {
			secbuf_clear(&out);
			ctlout_error("%s: the token is not UTF-8 and cannot go into JSON", args->name);
			rc = EX_UNAVAILABLE;
		} else {
			rc = ctlcmd_write_secret(&out);
		}
	} else {
		rc = ctlout_write(t.token, strlen(t.token));
	}
	ctlcall_token_clear(&t);
	return rc;
}

int
ctlcmd_header(const struct ctl_args *args)
{
	struct ctlcall_token t = { 0 };
	int rc;

	if ((rc = ctlcall_token(args, false, &t)) != 0)
		return rc;
	if (args->given & CTL_OPT_JSON) {
		rc = ctlout_write(t.answer->body, t.answer->bodylen);
	} else {
		struct iovec iov[] = {
			{ .iov_base = (void *)(uintptr_t) "Authorization: ", .iov_len = 15 },
			{ .iov_base = (void *)(uintptr_t)t.type, .iov_len = strlen(t.type) },
			{ .iov_base = (void *)(uintptr_t) " ", .iov_len = 1 },
			{ .iov_base = (void *)(uintptr_t)t.token, .iov_len = strlen(t.token) },
			{ .iov_base = (void *)(uintptr_t) "\n", .iov_len = 1 },
		};

		rc = ctlout_writev(iov, (int)ELEMENTSOF(iov));
	}
	ctlcall_token_clear(&t);
	return rc;
}

/*
 * Renews now and says when the new token expires; with --json, the answer
 * without its token.  A renewal the daemon could not make is EX_UNAVAILABLE.
 */
int
ctlcmd_renew(const struct ctl_args *args)
{
	struct ctlcall_token t = { 0 };
	int64_t expiry, in;
	const struct json *renewed;
	bool not_renewed;
	int rc;

	if ((rc = ctlcall_token(args, true, &t)) != 0)
		return rc;
	/*
	 * The daemon answers a renewal that failed (or that the upstream's
	 * Retry-After holds back) with the token that is still valid.
	 */
	renewed = json_get(t.root, "renewed");
	not_renewed = renewed != NULL && renewed->type == JSON_BOOL && !renewed->boolean;
	if (not_renewed && !(args->given & CTL_OPT_JSON)) {
		const char *why = json_get_string(t.root, "renew_error");

		ctlout_error("%s: not renewed: %s; the current token stays valid", args->name,
		    why != NULL ? why : "no reason given");
		ctlcall_token_clear(&t);
		return EX_UNAVAILABLE;
	}
	expiry = ctlcall_token_expiry(&t);
	in = expiry - (int64_t)time(NULL);
	if (args->given & CTL_OPT_JSON) {
		rc = ctlout_json(t.root, "access_token");
		if (rc == 0 && not_renewed)
			rc = EX_UNAVAILABLE;
	} else if (expiry >= 0 && in > 0) {
		char span[32];

		printf("%s: renewed, expires in %s\n", args->name, ctlout_span(in, span, sizeof(span)));
	} else if (expiry >= 0) {
		printf("%s: renewed, already expired\n", args->name);
	} else {
		printf("%s: renewed\n", args->name);
	}
	ctlcall_token_clear(&t);
	return rc;
}

/*
 * Runs the command with the token in its environment.  On success this does
 * not return; the token's copy in the environment is the command's.
 */
int
ctlcmd_exec(const struct ctl_args *args)
{
	const char *var = args->env != NULL ? args->env : "TOKEN";
	struct ctlcall_token t = { 0 };
	char *left;
	int rc, err;

	if ((rc = ctlcall_token(args, false, &t)) != 0)
		return rc;
	if (setenv(var, t.token, 1) < 0) {
		err = errno;
		ctlcall_token_clear(&t);
		ctlout_error("cannot set %s: %s", var, strerror(err));
		return EX_OSERR;
	}
	ctlcall_token_clear(&t);
	fflush(NULL);
	execvp(args->exec_argv[0], args->exec_argv);
	err = errno;
	if ((left = getenv(var)) != NULL)
		explicit_bzero(left, strlen(left));
	unsetenv(var);
	ctlout_error("cannot execute %s: %s", args->exec_argv[0], strerror(err));
	return CTL_EX_EXEC;
}

/*
 * GETs path, whose answer is an object with the array key ("credentials"
 * of /v1/credentials).  0 with *ret_answer and *ret_root (the caller frees
 * both) and *ret_list in the tree; otherwise the exit status, the error
 * printed.
 */
static int
ctlcmd_get_list(const struct ctl_args *args, const char *path, const char *key,
    struct ctlhttp_answer **ret_answer, struct json **ret_root, const struct json **ret_list)
{
	struct ctlhttp_answer *a = NULL;
	const struct json *list;
	struct json *root;
	int rc;

	if ((rc = ctlcall_request(args, "GET", path, &a)) != 0)
		return rc;
	root = ctlcall_json(a);
	list = json_get(root, key);
	if (list == NULL || list->type != JSON_ARRAY) {
		ctlout_error("bad answer from the daemon at %s: no list of %s", args->socket, key);
		json_free(root);
		ctlhttp_answer_free(a);
		return EX_TEMPFAIL;
	}
	*ret_answer = a;
	*ret_root = root;
	*ret_list = list;
	return 0;
}

/*
 * The credentials the caller may see, as a table or the daemon's JSON; with
 * NAME only that one, EX_NOINPUT when it is not among them.
 */
int
ctlcmd_status(const struct ctl_args *args)
{
	struct ctlhttp_answer *a = NULL;
	struct json *root = NULL, *one = NULL;
	const struct json *list;
	int rc;

	if ((rc = ctlcmd_get_list(args, "/v1/credentials", "credentials", &a, &root, &list)) != 0)
		return rc;
	if (args->name != NULL) {
		for (size_t i = 0; i < list->n && one == NULL; i++) {
			const char *name = json_get_string(list->values[i], "name");

			if (name != NULL && strcmp(name, args->name) == 0)
				one = list->values[i];
		}
		if (one == NULL) {
			ctlout_error("%s: no such credential (or not yours to see)", args->name);
			rc = EX_NOINPUT;
			goto out;
		}
	}
	if ((args->given & CTL_OPT_JSON) && one != NULL)
		rc = ctlout_json(one, NULL);
	else if (args->given & CTL_OPT_JSON)
		rc = ctlout_write(a->body, a->bodylen);
	else if (one != NULL)
		ctlout_status_table(&one, 1);
	else
		ctlout_status_table(list->values, list->n);
out:
	json_free(root);
	ctlhttp_answer_free(a);
	return rc;
}

/* The proxies the caller may use, as a table or the daemon's JSON as it came. */
int
ctlcmd_proxies(const struct ctl_args *args)
{
	struct ctlhttp_answer *a = NULL;
	struct json *root = NULL;
	const struct json *list;
	int rc;

	if ((rc = ctlcmd_get_list(args, "/v1/proxies", "proxies", &a, &root, &list)) != 0)
		return rc;
	if (args->given & CTL_OPT_JSON)
		rc = ctlout_write(a->body, a->bodylen);
	else
		ctlout_proxy_table(list->values, list->n);
	json_free(root);
	ctlhttp_answer_free(a);
	return rc;
}

/*
 * Reads git's request from stdin into in: up to the blank line that ends
 * it, or the end of the input, at most CTLCRED_GIT_INPUT_MAX bytes.  0 and
 * *ret_len (the request's length, blank line included); otherwise the exit
 * status, the error printed.
 */
static int
ctlcmd_git_read(struct secbuf *in, size_t *ret_len)
{
	size_t end = SIZE_MAX;

	for (;;) {
		size_t room;
		ssize_t n;

		if (in->len > CTLCRED_GIT_INPUT_MAX)
			break;
		secbuf_reserve(in, 4096);
		/* One byte past the limit tells a request that is too long. */
		room = in->cap - in->len - 1;
		if (room > CTLCRED_GIT_INPUT_MAX + 1 - in->len)
			room = CTLCRED_GIT_INPUT_MAX + 1 - in->len;
		n = read(STDIN_FILENO, in->data + in->len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ctlout_error("cannot read git's request on standard input: %s", strerror(errno));
			return EX_IOERR;
		}
		in->len += (size_t)n;
		in->data[in->len] = '\0';
		end = ctlcred_git_request_end(in->data, in->len);
		if (end != SIZE_MAX || n == 0)
			break;
	}
	*ret_len = end != SIZE_MAX ? end : in->len;
	if (*ret_len > CTLCRED_GIT_INPUT_MAX) {
		ctlout_error("git's request on standard input is longer than %d bytes",
		    CTLCRED_GIT_INPUT_MAX);
		return CTL_EX_USAGE;
	}
	return 0;
}

/*
 * git's credential helper (gitcredentials(7)): reads the request on stdin
 * whatever the operation; for get, answers username and password (the
 * token).  store and erase have nothing to keep or forget: the daemon owns
 * the token.  Any other operation is ignored, as the protocol asks, so
 * that a newer git may add some.
 */
int
ctlcmd_git_credential(const struct ctl_args *args)
{
	struct ctlcall_token t = { 0 };
	struct secbuf in = { 0 }, out = { 0 };
	_cleanup_free_ char *cause = NULL;
	size_t len = 0;
	int rc;

	rc = ctlcmd_git_read(&in, &len);
	if (rc == 0 && ctlcred_git_request_check(in.data, len, &cause) < 0) {
		ctlout_error("git-credential: %s", cause);
		rc = CTL_EX_USAGE;
	}
	/* store carries the password git used: gone before the daemon is asked. */
	secbuf_clear(&in);
	if (rc != 0 || strcmp(args->operation, "get") != 0)
		return rc;
	if ((rc = ctlcall_token(args, false, &t)) != 0)
		return rc;
	ctlcred_git_answer(&out, args->username != NULL ? args->username : CTL_GIT_USERNAME, t.token,
	    ctlcall_token_expiry(&t));
	ctlcall_token_clear(&t);
	return ctlcmd_write_secret(&out);
}
