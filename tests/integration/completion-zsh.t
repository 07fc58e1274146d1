#!/bin/bash
# The zsh completion of tokenctl, in the real zsh's completion system
# (compinit, TAB typed into an interactive zsh on a pseudo-terminal, see
# complete.zsh): commands, the options each command takes, option values,
# exec's command completed by zsh's own completions, and credential names
# from a running daemon, asked on the socket given with -s or --socket or
# in $TOKENBROKER_SOCKET.
. "$(dirname "$0")/lib.sh"

if ! command -v zsh >/dev/null; then
	echo "Bail out! zsh is missing (apt-get install zsh, or make deps)"
	exit 1
fi

plan 24
. "$(dirname "$0")/completion.sh"

zsh -n contrib/tokenctl.zsh-completion
ok $? "the completion file parses (zsh -n)"

zcomplete 'tokenctl ' 'tokenctl re' 'tokenctl -s /x.sock st' 'tokenctl --timeout 3 s' \
	'tokenctl token xibo -' 'tokenctl status -' 'tokenctl git-credential xibo get --' \
	'tokenctl header xibo --scope read --a' 'tokenctl token xibo --format ' \
	'tokenctl token xibo --format=e' 'tokenctl exec xibo --env ' \
	'tokenctl git-credential xibo ' 'tokenctl exec xibo -- l' 'tokenctl exec xibo ls --colo'
ok $? "zsh completes every line"
is "$(zgot 1)" "exec git-credential header help proxies renew status token" "all commands"
is "$(zgot 2)" "renew" "a command from its start"
is "$(zgot 3)" "status" "a command after -s SOCKET"
is "$(zgot 4)" "status" "and after another option's value"
is "$(zgot 5)" \
	"--audience --format --help --json --min-valid --resource --scope --socket --timeout --verbose --version --wait -h -s" \
	"token's options"
is "$(zgot 6)" "--help --json --socket --timeout --verbose --version -h -s" \
	"status is offered only the options it takes"
is "$(zgot 7)" "--audience --help --min-valid --resource --scope --socket --timeout --username --verbose --version --wait" \
	"git-credential's options"
is "$(zgot 8)" "--audience" "after --scope S the next option"
is "$(zgot 9)" "exec-credential token" "the formats"
is "$(zgot 10)" "exec-credential" "and after --format="
is "$(zgot 11)" "TOKEN" "the variable for exec's --env"
is "$(zgot 12)" "erase get store" "git-credential's operations"
like " $(zgot 13) " " ls " "exec's command is a command"
like " $(zgot 14) " " --color " "and its options come from that command's own completion"

# The real thing: the daemon with two lazy credentials (no upstream asked).
tbd_start_lazy alpha beta.2
zcomplete "tokenctl -s $SOCK header " "tokenctl renew --socket=$SOCK a" \
	"tokenctl -s$SOCK git-credential " "tokenctl -s $SOCK token alpha " \
	"tokenctl -s $SOCK proxies "
is "$(zgot 1)" "alpha beta.2" "names from a running daemon, on the socket given with -s"
is "$(zgot 2)" "alpha" "on the socket given with --socket=PATH after the command"
is "$(zgot 3)" "alpha beta.2" "for git-credential, on the socket given with -sPATH"
is "$(zgot 4)" "" "no second name"
is "$(zgot 5)" "" "proxies takes no name"
TOKENBROKER_SOCKET=$SOCK zcomplete 'tokenctl status b'
is "$(zgot 1)" "beta.2" "on \$TOKENBROKER_SOCKET"
: >"$T_DIR/zsh.err"
zcomplete "tokenctl -s $T_DIR/none.sock token "
is "$(zgot 1)" "" "no daemon: no names"
is "$(cat "$T_DIR/zsh.err")" "" "and no error"
tbd_stop

done_testing
