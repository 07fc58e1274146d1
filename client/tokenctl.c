/*
 * tokenctl: the command-line client of tokenbrokerd.  It asks the daemon over
 * its Unix socket (ctlhttp.c) and prints the token, a header line, a status
 * table, or runs a command with the token in its environment.
 *
 * Tokens are written with write(2) straight from the answer buffer, never
 * through stdio or a format string, and every buffer that held one is wiped
 * before it is freed.  Exit statuses follow sysexits.h, except that a usage
 * error is 2 as the contract says.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "cleanup.h"
#include "ctlhttp.h"
#include "duration.h"
#include "json.h"
#include "log.h"
#include "text.h"
#include "timeutil.h"
#include "tokenbroker.h"
#include "xmalloc.h"

#define CTL_TIMEOUT_MS ((int64_t)30 * 1000)

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
/* Taken by every command. */
#define CTL_OPT_GLOBAL (CTL_OPT_SOCKET | CTL_OPT_TIMEOUT | CTL_OPT_VERBOSE | CTL_OPT_HELP | CTL_OPT_VERSION)

struct ctl_option {
	const char *name; /* long form, without "--" */
	char short_name;  /* or 0 */
	bool has_arg;
	unsigned id;
};

static const struct ctl_option ctl_options[] = {
	{ "socket", 's', true, CTL_OPT_SOCKET },
	{ "json", 0, false, CTL_OPT_JSON },
	{ "min-valid", 0, true, CTL_OPT_MIN_VALID },
	{ "wait", 0, true, CTL_OPT_WAIT },
	{ "env", 0, true, CTL_OPT_ENV },
	{ "timeout", 0, true, CTL_OPT_TIMEOUT },
	{ "verbose", 0, false, CTL_OPT_VERBOSE },
	{ "help", 'h', false, CTL_OPT_HELP },
	{ "version", 0, false, CTL_OPT_VERSION },
};

struct ctl_command;

/* The command line, parsed. */
struct ctl_args {
	const char *socket;
	int64_t min_valid_ms; /* -1 when not given */
	int64_t wait_ms;      /* -1 when not given */
	int64_t timeout_ms;
	const char *env;
	unsigned given; /* CTL_OPT_* seen */
	const struct ctl_command *cmd;
	const char *name;
	char **exec_argv; /* exec: CMD ARGS..., NULL-terminated */
	char *error;	  /* the first usage error found */
};

enum ctl_name_use {
	CTL_NAME_NONE,
	CTL_NAME_OPTIONAL,
	CTL_NAME_REQUIRED,
};

struct ctl_command {
	const char *name;
	int (*run)(const struct ctl_args *);
	enum ctl_name_use name_use;
	unsigned options; /* CTL_OPT_* taken besides CTL_OPT_GLOBAL */
};

static int ctl_cmd_token(const struct ctl_args *);
static int ctl_cmd_header(const struct ctl_args *);
static int ctl_cmd_status(const struct ctl_args *);
static int ctl_cmd_renew(const struct ctl_args *);
static int ctl_cmd_exec(const struct ctl_args *);
static int ctl_cmd_help(const struct ctl_args *);

static const struct ctl_command ctl_commands[] = {
	{ "token", ctl_cmd_token, CTL_NAME_REQUIRED, CTL_OPT_JSON | CTL_OPT_MIN_VALID | CTL_OPT_WAIT },
	{ "header", ctl_cmd_header, CTL_NAME_REQUIRED, CTL_OPT_JSON | CTL_OPT_MIN_VALID | CTL_OPT_WAIT },
	{ "status", ctl_cmd_status, CTL_NAME_OPTIONAL, CTL_OPT_JSON },
	{ "renew", ctl_cmd_renew, CTL_NAME_REQUIRED, CTL_OPT_JSON },
	{ "exec", ctl_cmd_exec, CTL_NAME_REQUIRED, CTL_OPT_ENV | CTL_OPT_MIN_VALID | CTL_OPT_WAIT },
	{ "help", ctl_cmd_help, CTL_NAME_NONE, 0 },
};

static const char ctl_help_text[] =
    "usage: tokenctl [-s SOCKET] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Ask tokenbrokerd for an access token.\n"
    "\n"
    "commands:\n"
    "  token NAME [--min-valid S] [--wait S]\n"
    "                     print the token of credential NAME and a newline\n"
    "  header NAME [--min-valid S] [--wait S]\n"
    "                     print \"Authorization: Bearer TOKEN\", for\n"
    "                     curl -H \"$(tokenctl header NAME)\"\n"
    "  status [NAME]      show the state of the credentials you may fetch\n"
    "  renew NAME         renew the token now and say when it expires\n"
    "  exec NAME [--env VAR] [--min-valid S] [--wait S] [--] CMD [ARGS...]\n"
    "                     run CMD (no shell) with the token in $VAR (TOKEN);\n"
    "                     the exit status is CMD's\n"
    "  help               show this text\n"
    "\n"
    "options (before or after the command):\n"
    "  -s, --socket PATH  the daemon's socket\n"
    "      --json         print the daemon's JSON answer (renew leaves out\n"
    "                     the token; status NAME prints that credential)\n"
    "      --min-valid S  the token must stay valid this long; the daemon\n"
    "                     renews it first if needed\n"
    "      --wait S       how long the daemon may wait for a renewal in\n"
    "                     flight when it has no good token (default 5)\n"
    "      --env VAR      exec: the variable that holds the token\n"
    "      --timeout S    give up when the daemon has not answered within\n"
    "                     S plus --wait (default 30)\n"
    "      --verbose      say what is sent and received (never the token)\n"
    "  -h, --help         show this text\n"
    "      --version      show the version\n"
    "S is seconds, or a duration such as 90s, 15m, 1h.\n"
    "\n"
    "environment:\n"
    "  TOKENBROKER_SOCKET the socket when -s is not given\n"
    "                     (default " TOKENBROKER_SOCKET_DEFAULT ")\n"
    "\n"
    "exit status:\n"
    "   0  success (exec: the command's status)\n"
    "   2  usage error, or a request the daemon refused as malformed\n"
    "  66  unknown credential\n"
    "  69  no token can be had now (upstream failing, or an answer\n"
    "      this client does not understand)\n"
    "  74  cannot write the output\n"
    "  75  the daemon cannot be reached or did not answer properly\n"
    "  77  not allowed (by the daemon, or by the socket's permissions)\n"
    " 127  exec: CMD cannot be run\n";

/*
 * Prints "tokenctl: message" on stderr.  The log module would add a level
 * ("tokenctl: err: ..."); users and scripts read these lines, so they keep
 * the conventional form.  Never give it a token.
 */
static void __attribute__((format(printf, 1, 2)))
ctl_error(const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL, *shown = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* Nothing in it may drive the terminal. */
	shown = text_sanitize(msg, strlen(msg), SIZE_MAX);
	fprintf(stderr, "tokenctl: %s\n", shown);
}

/* Records the first usage error; parsing goes on so that --help still wins. */
static void __attribute__((format(printf, 2, 3)))
ctl_usage(struct ctl_args *args, const char *fmt, ...)
{
	va_list ap;

	if (args->error != NULL)
		return;
	va_start(ap, fmt);
	args->error = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Writes all iovecs, resuming after short writes. */
static int
ctl_writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Writes to stdout with a newline added unless text ends in one. */
static int
ctl_output(const char *text, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)text, .iov_len = len },
		{ .iov_base = (void *)(uintptr_t) "\n", .iov_len = 1 },
	};
	int rc = ctl_writev_all(STDOUT_FILENO, iov, len > 0 && text[len - 1] == '\n' ? 1 : 2);

	if (rc < 0) {
		ctl_error("cannot write to standard output: %s", strerror(-rc));
		return EX_IOERR;
	}
	return 0;
}

/* A portable environment variable name. */
static bool
ctl_env_name_valid(const char *name)
{
	if (!isalpha((unsigned char)*name) && *name != '_')
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return true;
}

static const struct ctl_command *
ctl_command_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(ctl_commands); i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

static const struct ctl_option *
ctl_option_find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++)
		if (strlen(ctl_options[i].name) == len && strncmp(ctl_options[i].name, name, len) == 0)
			return &ctl_options[i];
	return NULL;
}

static const struct ctl_option *
ctl_option_find_short(char c)
{
	for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++)
		if (ctl_options[i].short_name == c)
			return &ctl_options[i];
	return NULL;
}

static const char *
ctl_option_name(unsigned id)
{
	for (size_t i = 0; i < ELEMENTSOF(ctl_options); i++)
		if (ctl_options[i].id == id)
			return ctl_options[i].name;
	return "?";
}

/* Seconds or a duration ("90", "90s", "15m") into *ret_ms. */
static void
ctl_parse_duration(struct ctl_args *args, const struct ctl_option *o, const char *value,
    int64_t *ret_ms)
{
	int64_t ms;

	if (duration_parse(value, &ms) < 0) {
		ctl_usage(args, "bad duration for --%s: '%s'", o->name, value);
		return;
	}
	*ret_ms = ms;
}

static void
ctl_apply_option(struct ctl_args *args, const struct ctl_option *o, const char *value)
{
	args->given |= o->id;
	switch (o->id) {
	case CTL_OPT_SOCKET:
		if (*value == '\0')
			ctl_usage(args, "empty socket path");
		args->socket = value;
		break;
	case CTL_OPT_MIN_VALID:
		ctl_parse_duration(args, o, value, &args->min_valid_ms);
		break;
	case CTL_OPT_WAIT:
		ctl_parse_duration(args, o, value, &args->wait_ms);
		break;
	case CTL_OPT_TIMEOUT:
		ctl_parse_duration(args, o, value, &args->timeout_ms);
		if (args->timeout_ms <= 0)
			ctl_usage(args, "--timeout must be more than zero");
		break;
	case CTL_OPT_ENV:
		if (!ctl_env_name_valid(value))
			ctl_usage(args, "bad variable name for --env: '%s'", value);
		args->env = value;
		break;
	case CTL_OPT_VERBOSE:
		log_set_level(LOG_DEBUG);
		break;
	default: /* flags: recorded in given */
		break;
	}
}

/*
 * Parses one option word at argv[*i], taking its value from the same word
 * ("--wait=5", "-s/path") or the next one.
 */
static void
ctl_parse_option(struct ctl_args *args, int argc, char **argv, int *i)
{
	const char *word = argv[*i], *value = NULL;
	const struct ctl_option *o;

	if (word[1] == '-') {
		const char *eq = strchr(word + 2, '=');
		size_t len = eq != NULL ? (size_t)(eq - word - 2) : strlen(word + 2);

		o = ctl_option_find_long(word + 2, len);
		if (o == NULL) {
			ctl_usage(args, "unknown option '%.*s'", (int)len + 2, word);
			return;
		}
		if (eq != NULL) {
			if (!o->has_arg) {
				ctl_usage(args, "option --%s takes no value", o->name);
				return;
			}
			value = eq + 1;
		}
	} else {
		o = ctl_option_find_short(word[1]);
		if (o == NULL) {
			ctl_usage(args, "unknown option '-%c'", word[1]);
			return;
		}
		if (word[2] != '\0') {
			if (!o->has_arg) {
				ctl_usage(args, "unknown option '%s'", word);
				return;
			}
			value = word + 2;
		}
	}
	if (o->has_arg && value == NULL) {
		if (*i + 1 >= argc) {
			ctl_usage(args, "option --%s needs a value", o->name);
			return;
		}
		value = argv[++*i];
	}
	ctl_apply_option(args, o, value);
}

/*
 * Parses the command line into args; options may come before or after the
 * command.  For exec, the first word after NAME that is not an option (or
 * everything after "--") starts the command to run, which keeps its own
 * options.  Errors end up in args->error.
 */
static void
ctl_parse_args(struct ctl_args *args, int argc, char **argv)
{
	const char *word = NULL;
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!options_done && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--") == 0)
				options_done = true;
			else
				ctl_parse_option(args, argc, argv, &i);
			continue;
		}
		if (word == NULL) {
			word = a;
			args->cmd = ctl_command_find(a);
			if (args->cmd == NULL)
				ctl_usage(args, "unknown command '%s'", a);
		} else if (args->name == NULL && args->cmd != NULL && args->cmd->name_use != CTL_NAME_NONE) {
			args->name = a;
		} else if (args->cmd != NULL && args->cmd->run == ctl_cmd_exec) {
			args->exec_argv = &argv[i];
			break;
		} else {
			ctl_usage(args, "unexpected argument '%s'", a);
		}
	}
	if (args->error != NULL || (args->given & (CTL_OPT_HELP | CTL_OPT_VERSION)))
		return;

	if (args->cmd == NULL) {
		ctl_usage(args, "no command given");
		return;
	}
	for (unsigned bit = 1; bit <= CTL_OPT_VERSION; bit <<= 1)
		if ((args->given & bit) && !(bit & (args->cmd->options | CTL_OPT_GLOBAL)))
			ctl_usage(args, "option --%s does not apply to %s", ctl_option_name(bit), args->cmd->name);
	if (args->name == NULL && args->cmd->name_use == CTL_NAME_REQUIRED)
		ctl_usage(args, "%s needs a credential NAME", args->cmd->name);
	else if (args->name != NULL && !tokenbroker_name_valid(args->name))
		ctl_usage(args, "bad credential name '%s' (1 to %d of A-Z a-z 0-9 . _ -)", args->name,
		    TOKENBROKER_NAME_MAX);
	if (args->cmd->run == ctl_cmd_exec && args->exec_argv == NULL)
		ctl_usage(args, "exec needs a command to run after NAME");
}

/*
 * Parses an answer's body as a JSON object; NULL when it is not one.  The
 * parser's cause is dropped: the user needs only to know that the answer
 * was not understood.  The tree wipes every copy of the token when freed.
 */
static struct json *
ctl_json_parse(const struct ctlhttp_answer *a)
{
	struct json *v = NULL;
	char *cause = NULL;

	if (json_parse(a->body, a->bodylen, &v, &cause) < 0) {
		free(cause);
		return NULL;
	}
	if (v->type != JSON_OBJECT)
		v = json_free(v);
	return v;
}

/* A whole number (unix seconds, a count) into *ret; false when absent or null. */
static bool
ctl_json_int(const struct json *obj, const char *key, int64_t *ret)
{
	return json_int64(json_get(obj, key), ret) == 0;
}

/* Re-encodes v, leaving out the top-level member named skip (or none). */
static yajl_gen_status
ctl_json_gen(yajl_gen g, const struct json *v, const char *skip)
{
	yajl_gen_status st = yajl_gen_status_ok;

	switch (v->type) {
	case JSON_STRING:
		return yajl_gen_string(g, (const unsigned char *)v->text, v->len);
	case JSON_NUMBER:
		return yajl_gen_number(g, v->text, v->len);
	case JSON_BOOL:
		return yajl_gen_bool(g, v->boolean);
	case JSON_NULL:
		return yajl_gen_null(g);
	case JSON_OBJECT:
		if ((st = yajl_gen_map_open(g)) != yajl_gen_status_ok)
			return st;
		for (size_t i = 0; i < v->n && st == yajl_gen_status_ok; i++) {
			const char *key = v->keys[i];

			if (skip != NULL && strcmp(key, skip) == 0)
				continue;
			st = yajl_gen_string(g, (const unsigned char *)key, strlen(key));
			if (st == yajl_gen_status_ok)
				st = ctl_json_gen(g, v->values[i], NULL);
		}
		return st != yajl_gen_status_ok ? st : yajl_gen_map_close(g);
	case JSON_ARRAY:
		if ((st = yajl_gen_array_open(g)) != yajl_gen_status_ok)
			return st;
		for (size_t i = 0; i < v->n && st == yajl_gen_status_ok; i++)
			st = ctl_json_gen(g, v->values[i], NULL);
		return st != yajl_gen_status_ok ? st : yajl_gen_array_close(g);
	default:
		return yajl_gen_invalid_string;
	}
}
/* Prints v as JSON without its member skip; never used on a token. */
static int
ctl_json_print(const struct json *v, const char *skip)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int rc;

	if (g == NULL)
		fatal("out of memory");
	if (ctl_json_gen(g, v, skip) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		ctl_error("cannot encode the daemon's answer as JSON");
		return EX_SOFTWARE;
	}
	rc = ctl_output((const char *)buf, len);
	yajl_gen_free(g);
	return rc;
}

/* "12s", "41m", "2h5m", "3d4h": one or two units, rounded down. */
static const char *
ctl_format_span(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 86400 && (s % 3600) / 60 != 0)
		snprintf(buf, size, "%lldh%lldm", (long long)(s / 3600), (long long)((s % 3600) / 60));
	else if (s < 86400)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else if ((s % 86400) / 3600 != 0)
		snprintf(buf, size, "%lldd%lldh", (long long)(s / 86400), (long long)((s % 86400) / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
	return buf;
}

/* Maps a ctlhttp error to the exit status the contract gives it. */
static int
ctl_exit_for_errno(int rc)
{
	switch (rc) {
	case -EACCES:
	case -EPERM:
		return EX_NOPERM;
	case -ENAMETOOLONG:
		return CTL_EX_USAGE;
	default:
		return EX_TEMPFAIL;
	}
}

/* Maps a daemon's HTTP status other than 2xx to an exit status. */
static int
ctl_exit_for_status(int status)
{
	switch (status) {
	case 400:
		return CTL_EX_USAGE;
	case 401:
	case 403:
		return EX_NOPERM;
	case 404:
		return EX_NOINPUT;
	default:
		return EX_UNAVAILABLE;
	}
}

/*
 * Says why the daemon refused: "NAME: 503: no valid token: HTTP 401:
 * invalid_client: ...", from the error body's message and upstream fields.
 * Returns the exit status.
 */
static int
ctl_report_refusal(const char *name, const struct ctlhttp_answer *a)
{
	struct json *root = ctl_json_parse(a);
	const char *text = NULL, *upstream = NULL;
	_cleanup_free_ char *extra = NULL, *retry = NULL;
	int64_t ustatus = 0;
	bool has_ustatus;

	text = json_get_string(root, "message");
	if (text == NULL)
		text = json_get_string(root, "error");
	if (text == NULL)
		text = a->reason[0] != '\0' ? a->reason : "unexpected answer";
	upstream = json_get_string(root, "upstream_error");
	has_ustatus = ctl_json_int(root, "upstream_status", &ustatus);
	if (upstream != NULL && strstr(text, upstream) == NULL) {
		if (has_ustatus)
			extra = xasprintf(": HTTP %lld: %s", (long long)ustatus, upstream);
		else
			extra = xasprintf(": %s", upstream);
	} else if (upstream == NULL && has_ustatus) {
		_cleanup_free_ char *h = xasprintf("HTTP %lld", (long long)ustatus);

		if (strstr(text, h) == NULL)
			extra = xasprintf(": %s", h);
	}
	if (a->retry_after >= 0 && a->status == 503)
		retry = xasprintf(" (retry after %llds)", (long long)a->retry_after);
	ctl_error("%s%s%d: %s%s%s", name != NULL ? name : "", name != NULL ? ": " : "", a->status, text,
	    extra != NULL ? extra : "", retry != NULL ? retry : "");
	json_free(root);
	return ctl_exit_for_status(a->status);
}

/*
 * Sends one request to the daemon.  0 and *ret on a 2xx answer; otherwise
 * the error is printed and the exit status returned.
 */
static int
ctl_call(const struct ctl_args *args, const char *method, const char *path,
    struct ctlhttp_answer **ret)
{
	int64_t start = time_mono_ms();
	int64_t deadline = start + args->timeout_ms + (args->wait_ms > 0 ? args->wait_ms : 0);
	_cleanup_free_ char *cause = NULL;
	struct ctlhttp_answer *a;
	int rc;

	log_debug("%s %s on %s", method, path, args->socket);
	rc = ctlhttp_request(args->socket, method, path, deadline, &a, &cause);
	if (rc == -ETIMEDOUT) {
		char span[32];

		ctl_error("no answer from the daemon at %s within %s", args->socket,
		    duration_format(deadline - start, span, sizeof(span)));
		return EX_TEMPFAIL;
	}
	if (rc < 0) {
		ctl_error("%s%s", cause,
		    rc == -ENOENT || rc == -ECONNREFUSED ? " (is tokenbrokerd running?)" : "");
		return ctl_exit_for_errno(rc);
	}
	log_debug("answer: %d %s, %zu bytes of body", a->status, a->reason, a->bodylen);
	if (a->status < 200 || a->status > 299) {
		rc = ctl_report_refusal(args->name, a);
		ctlhttp_answer_free(a);
		return rc;
	}
	*ret = a;
	return 0;
}

/* A token as answered; all pointers into the answer's JSON tree. */
struct ctl_token {
	struct ctlhttp_answer *answer;
	struct json *root;
	const char *token;
	const char *type;
};

static void
ctl_token_clear(struct ctl_token *t)
{
	t->root = json_free(t->root);
	t->answer = ctlhttp_answer_free(t->answer);
	t->token = t->type = NULL;
}

/*
 * GETs /v1/tokens/NAME (or POSTs .../renew) and checks the answer holds a
 * token.  0 and *t (clear with ctl_token_clear) or the exit status.
 */
static int
ctl_token_fetch(const struct ctl_args *args, bool renew, struct ctl_token *t)
{
	_cleanup_free_ char *path = NULL;
	char query[64] = "";
	int rc;

	if (!renew && args->min_valid_ms >= 0)
		snprintf(query, sizeof(query), "?min_valid=%lld", (long long)((args->min_valid_ms + 999) / 1000));
	if (!renew && args->wait_ms >= 0)
		snprintf(query + strlen(query), sizeof(query) - strlen(query), "%swait=%lld",
		    query[0] == '\0' ? "?" : "&", (long long)((args->wait_ms + 999) / 1000));
	path = xasprintf("/v1/tokens/%s%s%s", args->name, renew ? "/renew" : "", query);
	if ((rc = ctl_call(args, renew ? "POST" : "GET", path, &t->answer)) != 0)
		return rc;

	if ((t->root = ctl_json_parse(t->answer)) == NULL) {
		ctl_error("bad answer from the daemon at %s: not a JSON object", args->socket);
		ctl_token_clear(t);
		return EX_TEMPFAIL;
	}
	t->token = json_get_string(t->root, "access_token");
	t->type = json_get_string(t->root, "token_type");
	if (t->token == NULL || t->token[0] == '\0') {
		ctl_error("%s: the daemon's answer holds no token", args->name);
		ctl_token_clear(t);
		return EX_TEMPFAIL;
	}
	/* A control character (a newline) would split the output. */
	if (!text_printable(t->token, strlen(t->token))) {
		ctl_error("%s: the token holds control characters; refusing to use it", args->name);
		ctl_token_clear(t);
		return EX_UNAVAILABLE;
	}
	/*
	 * RFC 6750 names the scheme "Bearer"; servers often send it lowercase.
	 * Anything that is not an auth-scheme (an RFC 7230 token) is not used.
	 */
	if (t->type == NULL || strcasecmp(t->type, "bearer") == 0 ||
	    !text_token(t->type, strlen(t->type)))
		t->type = "Bearer";
	return 0;
}

static int
ctl_cmd_token(const struct ctl_args *args)
{
	struct ctl_token t = { 0 };
	int rc;

	if ((rc = ctl_token_fetch(args, false, &t)) != 0)
		return rc;
	if (args->given & CTL_OPT_JSON)
		rc = ctl_output(t.answer->body, t.answer->bodylen);
	else
		rc = ctl_output(t.token, strlen(t.token));
	ctl_token_clear(&t);
	return rc;
}

static int
ctl_cmd_header(const struct ctl_args *args)
{
	struct ctl_token t = { 0 };
	int rc;

	if ((rc = ctl_token_fetch(args, false, &t)) != 0)
		return rc;
	if (args->given & CTL_OPT_JSON) {
		rc = ctl_output(t.answer->body, t.answer->bodylen);
	} else {
		struct iovec iov[] = {
			{ .iov_base = (void *)(uintptr_t) "Authorization: ", .iov_len = 15 },
			{ .iov_base = (void *)(uintptr_t)t.type, .iov_len = strlen(t.type) },
			{ .iov_base = (void *)(uintptr_t) " ", .iov_len = 1 },
			{ .iov_base = (void *)(uintptr_t)t.token, .iov_len = strlen(t.token) },
			{ .iov_base = (void *)(uintptr_t) "\n", .iov_len = 1 },
		};

		if ((rc = ctl_writev_all(STDOUT_FILENO, iov, (int)ELEMENTSOF(iov))) < 0) {
			ctl_error("cannot write to standard output: %s", strerror(-rc));
			rc = EX_IOERR;
		}
	}
	ctl_token_clear(&t);
	return rc;
}

static int
ctl_cmd_renew(const struct ctl_args *args)
{
	struct ctl_token t = { 0 };
	int64_t at = 0, in = 0;
	const struct json *renewed;
	bool not_renewed;
	bool known;
	int rc;


	if ((rc = ctl_token_fetch(args, true, &t)) != 0)
		return rc;
	/*
	 * The daemon answers a renewal that failed (or that the upstream's
	 * Retry-After holds back) with the token that is still valid.
	 */
	renewed = json_get(t.root, "renewed");
	not_renewed = renewed != NULL && renewed->type == JSON_BOOL && !renewed->boolean;
	if (not_renewed && !(args->given & CTL_OPT_JSON)) {
		const char *why = json_get_string(t.root, "renew_error");

		ctl_error("%s: not renewed: %s; the current token stays valid", args->name,
			  why != NULL ? why : "no reason given");
		ctl_token_clear(&t);
		return EX_UNAVAILABLE;
	}
	/* The absolute expiry is exact; expires_in aged on the way here. */
	if ((known = ctl_json_int(t.root, "expires_at", &at)))
		in = at - (int64_t)time(NULL);
	else
		known = ctl_json_int(t.root, "expires_in", &in);
	if (args->given & CTL_OPT_JSON) {
		rc = ctl_json_print(t.root, "access_token");
		if (rc == 0 && not_renewed)
			rc = EX_UNAVAILABLE;
	} else if (known && in > 0) {
		char span[32];

		printf("%s: renewed, expires in %s\n", args->name, ctl_format_span(in, span, sizeof(span)));
	} else if (known) {
		printf("%s: renewed, already expired\n", args->name);
	} else {
		printf("%s: renewed\n", args->name);
	}
	ctl_token_clear(&t);
	return rc;
}

/*
 * Runs the command with the token in its environment.  On success this does
 * not return; the token's copy in the environment is the command's.
 */
static int
ctl_cmd_exec(const struct ctl_args *args)
{
	const char *var = args->env != NULL ? args->env : "TOKEN";
	struct ctl_token t = { 0 };
	char *left;
	int rc, err;

	if ((rc = ctl_token_fetch(args, false, &t)) != 0)
		return rc;
	if (setenv(var, t.token, 1) < 0) {
		err = errno;
		ctl_token_clear(&t);
		ctl_error("cannot set %s: %s", var, strerror(err));
		return EX_OSERR;
	}
	ctl_token_clear(&t);
	fflush(NULL);
	execvp(args->exec_argv[0], args->exec_argv);
	err = errno;
	if ((left = getenv(var)) != NULL)
		explicit_bzero(left, strlen(left));
	unsetenv(var);
	ctl_error("cannot execute %s: %s", args->exec_argv[0], strerror(err));
	return CTL_EX_EXEC;
}

/* One row of the status table, every cell printable. */
struct ctl_row {
	char *cells[7];
};

static const char *const ctl_status_heads[7] = {
	"NAME", "STATE", "EXPIRES", "NEXT", "RENEWALS", "FAILURES", "LAST-ERROR",
};

static char *
ctl_cell_string(const struct json *cred, const char *key)
{
	const char *s = json_get_string(cred, key);

	if (s == NULL || s[0] == '\0')
		return xstrdup("-");
	return text_sanitize(s, strlen(s), SIZE_MAX);
}

static char *
ctl_cell_number(const struct json *cred, const char *key)
{
	int64_t n;

	if (!ctl_json_int(cred, key, &n))
		return xstrdup("-");
	return xasprintf("%lld", (long long)n);
}

/*
 * "in 41m"; once past, "expired 3s ago" for an expiry and "now" for a
 * renewal that is due.
 */
static char *
ctl_cell_time(const struct json *cred, const char *key, int64_t now, bool expiry)
{
	char span[32];
	int64_t at;

	if (!ctl_json_int(cred, key, &at))
		return xstrdup("-");
	if (at > now)
		return xasprintf("in %s", ctl_format_span(at - now, span, sizeof(span)));
	if (!expiry)
		return xstrdup("now");
	return xasprintf("expired %s ago", ctl_format_span(now - at, span, sizeof(span)));
}

static void
ctl_print_table(struct json *const *creds, size_t n)
{
	int64_t now = (int64_t)time(NULL);
	struct ctl_row *rows = xcalloc(n == 0 ? 1 : n, sizeof(*rows));
	size_t width[7];

	for (size_t c = 0; c < 7; c++)
		width[c] = strlen(ctl_status_heads[c]);
	for (size_t i = 0; i < n; i++) {
		char **cell = rows[i].cells;

		cell[0] = ctl_cell_string(creds[i], "name");
		cell[1] = ctl_cell_string(creds[i], "state");
		cell[2] = ctl_cell_time(creds[i], "expires_at", now, true);
		cell[3] = ctl_cell_time(creds[i], "next_renewal", now, false);
		cell[4] = ctl_cell_number(creds[i], "renewals");
		cell[5] = ctl_cell_number(creds[i], "failures");
		cell[6] = ctl_cell_string(creds[i], "last_error");
		for (size_t c = 0; c < 7; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}
	for (size_t c = 0; c < 6; c++)
		printf("%-*s  ", (int)width[c], ctl_status_heads[c]);
	printf("%s\n", ctl_status_heads[6]);
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < 6; c++)
			printf("%-*s  ", (int)width[c], rows[i].cells[c]);
		printf("%s\n", rows[i].cells[6]);
		for (size_t c = 0; c < 7; c++)
			free(rows[i].cells[c]);
	}
	free(rows);
}

static int
ctl_cmd_status(const struct ctl_args *args)
{
	struct ctlhttp_answer *a = NULL;
	struct json *root, *one = NULL;
	const struct json *list;
	int rc;

	if ((rc = ctl_call(args, "GET", "/v1/credentials", &a)) != 0)
		return rc;
	root = ctl_json_parse(a);
	list = json_get(root, "credentials");
	if (list == NULL || list->type != JSON_ARRAY) {
		ctl_error("bad answer from the daemon at %s: no list of credentials", args->socket);
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (args->name != NULL) {
		for (size_t i = 0; i < list->n && one == NULL; i++) {
			const char *name = json_get_string(list->values[i], "name");

			if (name != NULL && strcmp(name, args->name) == 0)
				one = list->values[i];
		}
		if (one == NULL) {
			ctl_error("%s: no such credential (or not yours to see)", args->name);
			rc = EX_NOINPUT;
			goto out;
		}
	}
	if ((args->given & CTL_OPT_JSON) && one != NULL)
		rc = ctl_json_print(one, NULL);
	else if (args->given & CTL_OPT_JSON)
		rc = ctl_output(a->body, a->bodylen);
	else if (one != NULL)
		ctl_print_table(&one, 1);
	else
		ctl_print_table(list->values, list->n);
out:
	json_free(root);
	ctlhttp_answer_free(a);
	return rc;
}

static int
ctl_cmd_help(const struct ctl_args *args)
{
	fputs(ctl_help_text, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctl_args args = {
		.min_valid_ms = -1,
		.wait_ms = -1,
		.timeout_ms = CTL_TIMEOUT_MS,
	};
	const char *env;
	int rc;

	log_init("tokenctl", LOG_NOTICE);
	/* No core dump or same-uid ptrace while a token is in memory. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	ctl_parse_args(&args, argc, argv);
	if (args.given & CTL_OPT_HELP) {
		rc = ctl_cmd_help(&args);
		goto out;
	}
	if (args.given & CTL_OPT_VERSION) {
		puts("tokenctl " TOKENBROKER_VERSION);
		rc = 0;
		goto out;
	}
	if (args.error != NULL) {
		ctl_error("%s", args.error);
		fputs("Try 'tokenctl --help' for more information.\n", stderr);
		rc = CTL_EX_USAGE;
		goto out;
	}
	if (args.socket == NULL) {
		env = getenv("TOKENBROKER_SOCKET");
		args.socket = env != NULL && env[0] != '\0' ? env : TOKENBROKER_SOCKET_DEFAULT;
	}
	rc = args.cmd->run(&args);
out:
	free(args.error);
	if (fflush(stdout) != 0 && rc == 0) {
		ctl_error("cannot write to standard output: %s", strerror(errno));
		rc = EX_IOERR;
	}
	return rc;
}
