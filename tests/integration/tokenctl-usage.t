#!/bin/bash
#
# tokenctl's command line, without a daemon: usage errors exit 2, --help and
# --version work, and a daemon that cannot be reached gives 75 (77 when the
# socket's permissions forbid it) with a message that names the socket.
#
# Run from the repository root; the binary is ${TB_BUILD:-build}/tokenctl.

cd "$(dirname "$0")/../.." || exit 1
TOKENCTL=${TB_BUILD:-build}/tokenctl
case $TOKENCTL in /*) ;; *) TOKENCTL=$PWD/$TOKENCTL ;; esac

TMP=$(mktemp -d /tmp/tokenctl-usage.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT
# Nothing here may reach a real daemon by accident.
export TOKENBROKER_SOCKET=$TMP/absent.sock

n=0
failed=0

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do
		echo "# $line"
	done
}

skip() {
	n=$((n + 1))
	echo "ok $n # skip $1"
}

# run ARGS...: runs tokenctl, leaving $status, $out and $err.
run() {
	"$TOKENCTL" "$@" >"$TMP/out" 2>"$TMP/err"
	status=$?
	out=$(cat "$TMP/out")
	err=$(cat "$TMP/err")
}

# expect STATUS DESCRIPTION ARGS...: the exit status of tokenctl ARGS.
expect() {
	local want=$1 what=$2
	shift 2
	run "$@"
	if [ "$status" = "$want" ]; then
		ok "$what"
	else
		not_ok "$what" "tokenctl $* exited $status, want $want" "stderr: $err"
	fi
}

# check DESCRIPTION CONDITION...: a test on the last run's output.
check() {
	local what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		not_ok "$what" "stdout: $out" "stderr: $err"
	fi
}

contains() {
	case $1 in *"$2"*) return 0 ;; esac
	return 1
}

# A Unix socket file that nobody listens on; perl is in the build deps.
make_dead_socket() {
	perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
		bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!\n";
		chmod(oct($ARGV[1]), $ARGV[0]) or die "chmod: $!\n"' "$1" "$2"
}

PLAN=43
echo "1..$PLAN"

if [ ! -x "$TOKENCTL" ]; then
	for _ in $(seq 1 "$PLAN"); do
		not_ok "tokenctl is built" "no executable $TOKENCTL"
	done
	exit 1
fi

# Usage errors.
expect 2 "no arguments is a usage error"
check "a usage error says how to get help" contains "$err" "--help"
expect 2 "an unknown command is a usage error" frobnicate
check "the message names the unknown command" contains "$err" "frobnicate"
expect 2 "an unknown option is a usage error" token xibo --frobnicate
expect 2 "token without NAME is a usage error" token
expect 2 "renew without NAME is a usage error" renew
expect 2 "a surplus argument is a usage error" token xibo other
expect 2 "-s without a value is a usage error" status -s
expect 2 "an option another command takes is refused" status --env FOO
expect 2 "--wait with a bad duration is refused" token xibo --wait soon
expect 2 "--json with exec is refused" exec xibo --json -- true
expect 2 "exec without a command is a usage error" exec xibo
expect 2 "exec --env with a bad variable name is refused" exec xibo --env 1X -- true
expect 2 "an unknown --format is refused" token xibo --format yaml
check "the message names the formats" contains "$err" "(token or exec-credential)"
expect 2 "--format is for token only" header xibo --format exec-credential
expect 2 "--json with --format exec-credential is refused" token xibo --json --format exec-credential
expect 2 "git-credential without an operation is a usage error" git-credential xibo
check "the message names the operations" contains "$err" "get, store or erase"
expect 2 "--username is for git-credential only" token xibo --username u
expect 2 "--json with git-credential is refused" git-credential xibo get --json

# Credential names: [A-Za-z0-9._-]{1,64}, checked before anything is sent.
expect 2 "a name with a slash is refused" token ../etc
check "the message names the bad name" contains "$err" "../etc"
expect 2 "a name with a space is refused" header "a b"
expect 2 "a name of 65 characters is refused" token "$(printf 'a%.0s' $(seq 1 65))"
expect 75 "a name of 64 characters is accepted" token "$(printf 'a%.0s' $(seq 1 64))"
expect 2 "a bad name in status is refused" status 'x?y'

# Help and version.
expect 0 "--help exits 0" --help
help_is_complete() {
	local word
	for word in "token NAME" "header NAME" "status" "renew NAME" "exec NAME" \
		"git-credential NAME get|store|erase" "--format F" "--username U" \
		"--socket" "--json" "--min-valid" "--env" "TOKENBROKER_SOCKET" "KUBERNETES_EXEC_INFO" \
		" 2 " "66" "69" "75" "77"; do
		contains "$out" "$word" || return 1
	done
}
check "--help lists the commands, options, environment and exit codes" help_is_complete
expect 0 "--help after a command shows help too" exec xibo --help
expect 0 "--version exits 0" --version
check "--version prints the version" [ "$out" = "tokenctl 0.1" ]

# No daemon.
expect 75 "an absent socket gives 75" -s "$TMP/nowhere.sock" token xibo
check "the message names the socket path" contains "$err" "$TMP/nowhere.sock"
expect 75 "\$TOKENBROKER_SOCKET is used when -s is not given" status
check "the message names the socket from the environment" contains "$err" "$TMP/absent.sock"
expect 75 "options may follow the command" token xibo -s "$TMP/later.sock" --min-valid 30
check "the socket given after the command is used" contains "$err" "$TMP/later.sock"

run exec xibo -- touch "$TMP/ran"
if [ "$status" = 75 ] && [ ! -e "$TMP/ran" ]; then
	ok "exec without a daemon gives 75 and does not run the command"
else
	not_ok "exec without a daemon gives 75 and does not run the command" "status $status"
fi

if make_dead_socket "$TMP/dead.sock" 0666 2>"$TMP/perl.err"; then
	expect 75 "a socket nobody listens on gives 75" -s "$TMP/dead.sock" renew xibo
	check "that message names the socket path too" contains "$err" "$TMP/dead.sock"
else
	skip "cannot make a socket file: $(cat "$TMP/perl.err")"
	skip "cannot make a socket file"
fi

# Permission denied on the socket: 77.  Root may connect anywhere, so as root
# the check runs as nobody, when setpriv and a reachable binary allow it.
rm -f "$TMP/dead.sock"
if ! make_dead_socket "$TMP/dead.sock" 0600 2>/dev/null; then
	skip "cannot make a socket file"
elif [ "$(id -u)" != 0 ]; then
	chmod 0000 "$TMP/dead.sock"
	expect 77 "a socket we may not open gives 77" -s "$TMP/dead.sock" status
elif command -v setpriv >/dev/null && chmod 0755 "$TMP" &&
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TOKENCTL" --version >/dev/null 2>&1; then
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TOKENCTL" -s "$TMP/dead.sock" status >"$TMP/out" 2>"$TMP/err"
	status=$?
	if [ "$status" = 77 ]; then
		ok "a socket we may not open gives 77"
	else
		not_ok "a socket we may not open gives 77" "exited $status" "stderr: $(cat "$TMP/err")"
	fi
else
	skip "running as root without a way to drop privileges"
fi

[ "$n" = "$PLAN" ] || echo "# ran $n tests, planned $PLAN"
[ "$failed" = 0 ]
