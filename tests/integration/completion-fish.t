#!/bin/bash
# The fish completion of tokenctl, in the real fish, non-interactively
# (complete -C): commands, the options each command takes, option values,
# exec's command completed by fish's own completions, and credential names
# from a running daemon, asked on the socket given with -s or --socket or
# in $TOKENBROKER_SOCKET.
. "$(dirname "$0")/lib.sh"

if ! command -v fish >/dev/null; then
	echo "Bail out! fish is missing (apt-get install fish, or make deps)"
	exit 1
fi

plan 23
. "$(dirname "$0")/completion.sh"

fish --no-config -n contrib/tokenctl.fish
ok $? "the completion file parses (fish -n)"
is "$(fcomplete 'tokenctl ')" "exec git-credential header help proxies renew status token" \
	"all commands"
is "$(fcomplete 'tokenctl re')" "renew" "a command from its start"
is "$(fcomplete 'tokenctl -s /x.sock st')" "status" "a command after -s SOCKET"
is "$(fcomplete 'tokenctl --timeout 3 s')" "status" "and after another option's value"
is "$(fcomplete 'tokenctl token xibo -')" \
	"--audience --format --help --json --min-valid --resource --scope --socket --timeout --verbose --version --wait -h -s" \
	"token's options"
is "$(fcomplete 'tokenctl status -')" "--help --json --socket --timeout --verbose --version -h -s" \
	"status is offered only the options it takes"
is "$(fcomplete 'tokenctl git-credential xibo get --')" \
	"--audience --help --min-valid --resource --scope --socket --timeout --username --verbose --version --wait" "git-credential's options"
is "$(fcomplete 'tokenctl header xibo --scope read --a')" "--audience" \
	"after --scope S the next option"
is "$(fcomplete 'tokenctl token xibo --format ')" "exec-credential token" "the formats"
is "$(fcomplete 'tokenctl token xibo --format=e')" "--format=exec-credential" \
	"and after --format="
is "$(fcomplete 'tokenctl exec xibo --env ')" "TOKEN" "the variable for exec's --env"
is "$(fcomplete 'tokenctl git-credential xibo ')" "erase get store" \
	"git-credential's operations"
like " $(fcomplete 'tokenctl exec xibo -- l') " " ls " "exec's command is a command"
like " $(fcomplete 'tokenctl exec xibo ls --colo') " " --color " \
	"and its options come from that command's own completion"

# The real thing: the daemon with two lazy credentials (no upstream asked).
tbd_start_lazy alpha beta.2
is "$(fcomplete "tokenctl -s $SOCK header ")" "alpha beta.2" \
	"names from a running daemon, on the socket given with -s"
is "$(fcomplete "tokenctl renew --socket=$SOCK a")" "alpha" \
	"on the socket given with --socket=PATH after the command"
is "$(TOKENBROKER_SOCKET=$SOCK fcomplete 'tokenctl status b')" "beta.2" \
	"on \$TOKENBROKER_SOCKET"
is "$(fcomplete "tokenctl -s$SOCK git-credential ")" "alpha beta.2" \
	"for git-credential, on the socket given with -sPATH"
is "$(fcomplete "tokenctl -s $SOCK token alpha ")" "" "no second name"
is "$(fcomplete "tokenctl -s $SOCK proxies ")" "" "proxies takes no name"
: >"$T_DIR/fish.err"
is "$(fcomplete "tokenctl -s $T_DIR/none.sock token ")" "" "no daemon: no names"
is "$(cat "$T_DIR/fish.err")" "" "and no error"
tbd_stop

done_testing
