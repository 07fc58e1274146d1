/*
 * tokenctl's private header: the parsed command line every part reads, the
 * exit statuses, and what each file of the client offers the others.
 *
 *   tokenctl.c  main, options, the command table, the help text
 *   ctlcmd.c    the commands: token, header, renew, exec, status, proxies
 *   ctlcall.c   one request to the daemon, its answer, its refusals
 *   ctlout.c    what is printed: errors, raw text, JSON, the tables
 *   ctlcred.c   the shapes other programs take a token in: a Kubernetes
 *               ExecCredential, git's credential-helper protocol
 *   ctlhttp.c   HTTP/1.1 over the Unix socket (its own header)
 */
#ifndef TB_CTL_H
#define TB_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ctlhttp.h"
#include "json.h"
#include "secbuf.h"

/* The contract's usage status; sysexits' EX_USAGE (64) is not used. */
#define CTL_EX_USAGE 2
/* What a shell answers for a command it cannot run. */
#define CTL_EX_EXEC 127

/* Options, as bits, so that each command can say which it takes. */
#define CTL_OPT_SOCKET 0x001u
#define CTL_OPT_JSON 0x002u
#define CTL_OPT_MIN_VALID 0x004u
#define CTL_OPT_WAIT 0x008u
#define CTL_OPT_ENV 0x010u
#define CTL_OPT_TIMEOUT 0x020u
#define CTL_OPT_VERBOSE 0x040u
#define CTL_OPT_HELP 0x080u
#define CTL_OPT_VERSION 0x100u
#define CTL_OPT_SCOPE 0x200u
#define CTL_OPT_AUDIENCE 0x400u
#define CTL_OPT_RESOURCE 0x800u
#define CTL_OPT_FORMAT 0x1000u
#define CTL_OPT_USERNAME 0x2000u
/* The highest bit of an option. */
#define CTL_OPT_LAST CTL_OPT_USERNAME
/* What asks for a token variant instead of the credential's main token. */
#define CTL_OPT_VARIANT (CTL_OPT_SCOPE | CTL_OPT_AUDIENCE | CTL_OPT_RESOURCE)
/* Taken by every command. */
#define CTL_OPT_GLOBAL (CTL_OPT_SOCKET | CTL_OPT_TIMEOUT | CTL_OPT_VERBOSE | CTL_OPT_HELP | CTL_OPT_VERSION)

struct ctl_command;

/* What token prints (--format). */
enum ctl_format {
	CTL_FORMAT_TOKEN,	    /* the bare token and a newline */
	CTL_FORMAT_EXEC_CREDENTIAL, /* a Kubernetes ExecCredential */
};

/* The command line, parsed (tokenctl.c); read-only to everything else. */
struct ctl_args {
	const char *socket;
	int64_t min_valid_ms; /* -1 when not given */
	int64_t wait_ms;      /* -1 when not given */
	int64_t timeout_ms;
	const char *env;
	const char *scope;    /* a token variant's, as given; NULL: the configured one */
	const char *audience;
	const char *resource;
	enum ctl_format format;
	const char *username; /* git-credential's; NULL: CTL_GIT_USERNAME */
	unsigned given; /* CTL_OPT_* seen */
	const struct ctl_command *cmd;
	const char *name;
	const char *operation; /* git-credential: get, store, erase... */
	char **exec_argv; /* exec: CMD ARGS..., NULL-terminated */
	char *error;	  /* the first usage error found */
};

/*
 * ctlcmd.c: the commands.  Each returns the exit status; exec returns only
 * when the command cannot be run.
 */
int ctlcmd_token(const struct ctl_args *args);
int ctlcmd_header(const struct ctl_args *args);
int ctlcmd_status(const struct ctl_args *args);
int ctlcmd_renew(const struct ctl_args *args);
int ctlcmd_exec(const struct ctl_args *args);
int ctlcmd_proxies(const struct ctl_args *args);
int ctlcmd_git_credential(const struct ctl_args *args);

/* The username git-credential answers unless --username says otherwise. */
#define CTL_GIT_USERNAME "x-access-token"

/* ctlcall.c: a token as answered; all pointers into the answer's JSON tree. */
struct ctlcall_token {
	struct ctlhttp_answer *answer;
	struct json *root;
	const char *token;
	const char *type;
};

/*
 * Sends one request to the daemon.  0 and *ret (free with
 * ctlhttp_answer_free) on a 2xx answer; otherwise the error is printed and
 * the exit status returned.
 */
int ctlcall_request(const struct ctl_args *args, const char *method, const char *path,
    struct ctlhttp_answer **ret);
/* An answer's body as a JSON object (free with json_free); NULL if not one. */
struct json *ctlcall_json(const struct ctlhttp_answer *a);
/*
 * GETs /v1/tokens/NAME (or POSTs .../renew) and checks the answer holds a
 * usable token.  0 and *t (clear with ctlcall_token_clear) or the exit
 * status, the error printed.
 */
int ctlcall_token(const struct ctl_args *args, bool renew, struct ctlcall_token *t);
/* The token's expiry in unix seconds (expires_at, else now + expires_in); -1 unknown. */
int64_t ctlcall_token_expiry(const struct ctlcall_token *t);
/* Wipes and frees what *t holds; takes a cleared one. */
void ctlcall_token_clear(struct ctlcall_token *t);

/*
 * ctlout.c: output.  The writers return 0, or EX_IOERR with the error
 * printed; JSON and the table are never given a token.
 */
/* "tokenctl: message" on stderr, sanitized; never give it a token. */
void ctlout_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes all of iov to stdout with writev(2), no stdio; iov is consumed. */
int ctlout_writev(struct iovec *iov, int n);
/* Writes text to stdout, with a newline added unless it ends in one. */
int ctlout_write(const char *text, size_t len);
/* Prints v as JSON, without its top-level member skip (or NULL). */
int ctlout_json(const struct json *v, const char *skip);
/* "12s", "41m", "2h5m", "3d4h" into buf: one or two units, rounded down. */
const char *ctlout_span(int64_t s, char *buf, size_t size);
/* Prints the status table of the credential objects creds[0..n-1] on stdout. */
void ctlout_status_table(struct json *const *creds, size_t n);
/* Prints the table of the proxy objects proxies[0..n-1] on stdout. */
void ctlout_proxy_table(struct json *const *proxies, size_t n);

/* ctlcred.c: the ExecCredential and git's credential-helper protocol. */
#define CTLCRED_K8S_V1 "client.authentication.k8s.io/v1"
#define CTLCRED_K8S_V1BETA1 "client.authentication.k8s.io/v1beta1"
/* The most of $KUBERNETES_EXEC_INFO that is read (kubectl's is small). */
#define CTLCRED_EXEC_INFO_MAX (64 * 1024)
/* The most of git's request that is read. */
#define CTLCRED_GIT_INPUT_MAX (64 * 1024)
/* "9999-12-31T23:59:59Z" and its NUL. */
#define CTLCRED_RFC3339_SIZE 21

/*
 * The ExecCredential apiVersion $KUBERNETES_EXEC_INFO's value info asks
 * for (NULL or empty: v1).  0 and *ret (static); -EINVAL with *cause (the
 * caller frees) when info is not JSON, has no apiVersion, or asks for one
 * other than v1 and v1beta1.
 */
int ctlcred_exec_info_version(const char *info, const char **ret, char **cause);
/* Unix seconds as "2026-12-01T23:59:59Z"; -ERANGE outside 1970..9999. */
int ctlcred_rfc3339(int64_t t, char *buf, size_t size);
/*
 * Appends the ExecCredential and a newline to out; expirationTimestamp
 * only when expires_at is a time ctlcred_rfc3339 takes.  0; -EINVAL when
 * token is not UTF-8.
 */
int ctlcred_exec_credential(struct secbuf *out, const char *api_version, const char *token,
    int64_t expires_at);
/* Just past the blank line that ends git's request; SIZE_MAX when none. */
size_t ctlcred_git_request_end(const char *text, size_t len);
/*
 * Checks git's request: key=value lines, keys not empty, no NUL.  0 or
 * -EINVAL with *cause (the caller frees) naming the line, never quoting it.
 */
int ctlcred_git_request_check(const char *text, size_t len, char **cause);
/*
 * Appends the answer to git's get: username, password and, when
 * expires_at >= 0, password_expiry_utc.
 */
void ctlcred_git_answer(struct secbuf *out, const char *username, const char *token,
    int64_t expires_at);

#endif
