/*
 * tokenctl: the command-line client of tokenbrokerd.  It asks the daemon over
 * its Unix socket and prints the token (bare, or as a Kubernetes
 * ExecCredential), a header line, a table of the credentials or of the
 * proxies, answers git as its credential helper, or runs a command with the
 * token in its environment.
 *
 * This file owns the command line: main, the options, the table of commands
 * and which options each takes, the help text and the usage errors.  The
 * commands are in ctlcmd.c, the requests in ctlcall.c, the output in
 * ctlout.c and, in other programs' shapes, ctlcred.c.  Exit statuses follow sysexits.h, except that a usage error is
 * 2 as the contract says.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>

#include "cleanup.h"
#include "ctl.h"
#include "duration.h"
#include "log.h"
#include "text.h"
#include "tokenbroker.h"
#include "xmalloc.h"

#define CTL_TIMEOUT_MS ((int64_t)30 * 1000)

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
	{ "scope", 0, true, CTL_OPT_SCOPE },
	{ "audience", 0, true, CTL_OPT_AUDIENCE },
	{ "resource", 0, true, CTL_OPT_RESOURCE },
	{ "format", 0, true, CTL_OPT_FORMAT },
	{ "username", 0, true, CTL_OPT_USERNAME },
	{ "timeout", 0, true, CTL_OPT_TIMEOUT },
	{ "verbose", 0, false, CTL_OPT_VERBOSE },
	{ "help", 'h', false, CTL_OPT_HELP },
	{ "version", 0, false, CTL_OPT_VERSION },
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
	bool operation; /* an operation word follows NAME (git-credential) */
	unsigned options; /* CTL_OPT_* taken besides CTL_OPT_GLOBAL */
};

static int ctl_cmd_help(const struct ctl_args *);

static const struct ctl_command ctl_commands[] = {
	{ "token", ctlcmd_token, CTL_NAME_REQUIRED, false,
	    CTL_OPT_JSON | CTL_OPT_MIN_VALID | CTL_OPT_WAIT | CTL_OPT_VARIANT | CTL_OPT_FORMAT },
	{ "header", ctlcmd_header, CTL_NAME_REQUIRED, false,
	    CTL_OPT_JSON | CTL_OPT_MIN_VALID | CTL_OPT_WAIT | CTL_OPT_VARIANT },
	{ "status", ctlcmd_status, CTL_NAME_OPTIONAL, false, CTL_OPT_JSON },
	{ "renew", ctlcmd_renew, CTL_NAME_REQUIRED, false, CTL_OPT_JSON | CTL_OPT_VARIANT },
	{ "exec", ctlcmd_exec, CTL_NAME_REQUIRED, false,
	    CTL_OPT_ENV | CTL_OPT_MIN_VALID | CTL_OPT_WAIT | CTL_OPT_VARIANT },
	{ "proxies", ctlcmd_proxies, CTL_NAME_NONE, false, CTL_OPT_JSON },
	{ "git-credential", ctlcmd_git_credential, CTL_NAME_REQUIRED, true,
	    CTL_OPT_USERNAME | CTL_OPT_MIN_VALID | CTL_OPT_WAIT | CTL_OPT_VARIANT },
	{ "help", ctl_cmd_help, CTL_NAME_NONE, false, 0 },
};

static const char ctl_help_text[] =
    "usage: tokenctl [-s SOCKET] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Ask tokenbrokerd for an access token.\n"
    "\n"
    "commands:\n"
    "  token NAME [--min-valid S] [--wait S] [VARIANT] [--format F]\n"
    "                     print the token of credential NAME and a newline;\n"
    "                     --format exec-credential prints a Kubernetes\n"
    "                     ExecCredential for a kubeconfig's exec entry\n"
    "  header NAME [--min-valid S] [--wait S] [VARIANT]\n"
    "                     print \"Authorization: Bearer TOKEN\", for\n"
    "                     curl -H \"$(tokenctl header NAME)\"\n"
    "  status [NAME]      show the state of the credentials you may fetch\n"
    "                     (and of their token variants)\n"
    "  renew NAME [VARIANT]\n"
    "                     renew the token now and say when it expires\n"
    "  exec NAME [--env VAR] [--min-valid S] [--wait S] [VARIANT]\n"
    "       [--] CMD [ARGS...]\n"
    "                     run CMD (no shell) with the token in $VAR (TOKEN);\n"
    "                     the exit status is CMD's\n"
    "  proxies            show the proxies you may use: listener, upstream,\n"
    "                     credential, requests, retries, last status\n"
    "  git-credential NAME get|store|erase [--username U] [--min-valid S]\n"
    "       [--wait S] [VARIANT]\n"
    "                     git's credential helper: for get, answers\n"
    "                     username U (x-access-token) and the token as\n"
    "                     password; store and erase do nothing.  Set with\n"
    "                     git config credential.helper \\\n"
    "                       \"!tokenctl git-credential NAME\"\n"
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
    "      --format F     token: token (default) or exec-credential\n"
    "      --username U   git-credential: the username to answer\n"
    "      --scope S      VARIANT: a token for these scopes (space-separated),\n"
    "      --audience A   for this audience, for this resource, instead of\n"
    "      --resource R   the configured ones, as the credential's allow_scopes,\n"
    "                     allow_audiences and allow_resources permit\n"
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
    "  KUBERNETES_EXEC_INFO\n"
    "                     set by kubectl: --format exec-credential answers\n"
    "                     in its apiVersion (v1 or v1beta1; v1 without it)\n"
    "\n"
    "exit status:\n"
    "   0  success (exec: the command's status)\n"
    "   2  usage error, a request the daemon refused as malformed,\n"
    "      a KUBERNETES_EXEC_INFO that is malformed or asks for another\n"
    "      apiVersion, or a malformed request from git\n"
    "  66  unknown credential\n"
    "  69  no token can be had now (upstream failing, or an answer\n"
    "      this client does not understand)\n"
    "  74  cannot write the output\n"
    "  75  the daemon cannot be reached or did not answer properly\n"
    "  77  not allowed (by the daemon, or by the socket's permissions)\n"
    " 127  exec: CMD cannot be run\n";

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
	case CTL_OPT_SCOPE:
	case CTL_OPT_AUDIENCE:
	case CTL_OPT_RESOURCE:
		if (*value == '\0')
			ctl_usage(args, "empty value for --%s (leave it out for the configured %s)",
			    o->name, o->name);
		if (o->id == CTL_OPT_SCOPE)
			args->scope = value;
		else if (o->id == CTL_OPT_AUDIENCE)
			args->audience = value;
		else
			args->resource = value;
		break;
	case CTL_OPT_FORMAT:
		if (strcmp(value, "token") == 0)
			args->format = CTL_FORMAT_TOKEN;
		else if (strcmp(value, "exec-credential") == 0)
			args->format = CTL_FORMAT_EXEC_CREDENTIAL;
		else
			ctl_usage(args, "bad value for --format: '%s' (token or exec-credential)", value);
		break;
	case CTL_OPT_USERNAME:
		if (*value == '\0' || !text_printable(value, strlen(value)))
			ctl_usage(args, "bad value for --username: it must be one line, not empty");
		args->username = value;
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
		} else if (args->operation == NULL && args->cmd != NULL && args->cmd->operation) {
			args->operation = a;
		} else if (args->cmd != NULL && args->cmd->run == ctlcmd_exec) {
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
	for (unsigned bit = 1; bit <= CTL_OPT_LAST; bit <<= 1)
		if ((args->given & bit) && !(bit & (args->cmd->options | CTL_OPT_GLOBAL)))
			ctl_usage(args, "option --%s does not apply to %s", ctl_option_name(bit), args->cmd->name);
	if (args->name == NULL && args->cmd->name_use == CTL_NAME_REQUIRED)
		ctl_usage(args, "%s needs a credential NAME", args->cmd->name);
	else if (args->name != NULL && !tokenbroker_name_valid(args->name))
		ctl_usage(args, "bad credential name '%s' (1 to %d of A-Z a-z 0-9 . _ -)", args->name,
		    TOKENBROKER_NAME_MAX);
	if (args->cmd->run == ctlcmd_exec && args->exec_argv == NULL)
		ctl_usage(args, "exec needs a command to run after NAME");
	if (args->cmd->operation && args->name != NULL && args->operation == NULL)
		ctl_usage(args, "%s needs an operation after NAME: get, store or erase", args->cmd->name);
	if (args->format == CTL_FORMAT_EXEC_CREDENTIAL && (args->given & CTL_OPT_JSON))
		ctl_usage(args, "--json and --format exec-credential do not go together");
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
		ctlout_error("%s", args.error);
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
		ctlout_error("cannot write to standard output: %s", strerror(errno));
		rc = EX_IOERR;
	}
	return rc;
}
