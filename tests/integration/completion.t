#!/bin/bash
# The bash completion of tokenctl: commands, the options each command
# takes, and credential names from the daemon, asked on the socket given
# with -s earlier on the line.  Runs in plain bash, without the
# bash-completion package.
. "$(dirname "$0")/lib.sh"

plan 26
. "$(dirname "$0")/completion.sh"
CTL=$TB_BUILD/tokenctl
case $CTL in /*) ;; *) CTL=$PWD/$CTL ;; esac

bash --norc --noprofile -c '. "$1" && complete -p tokenctl' x "$COMP_BASH" >/dev/null 2>&1
ok $? "the completion file loads in plain bash and registers for tokenctl"

is "$(complete_line tokenctl '')" "exec git-credential header help proxies renew status token" "all commands"
is "$(complete_line tokenctl re)" "renew" "a command from its start"
is "$(complete_line tokenctl -s /x.sock st)" "status" "a command after -s SOCKET"
is "$(complete_line tokenctl token xibo --m)" "--min-valid" "an option of token"
is "$(complete_line tokenctl exec xibo --e)" "--env" "--env for exec"
is "$(complete_line tokenctl renew xibo --)" \
	"--audience --help --json --resource --scope --socket --timeout --verbose --version" \
	"renew is offered the variant's options"
is "$(complete_line tokenctl token xibo --scope '')" "" "no word is offered for a scope"
is "$(complete_line tokenctl header xibo --scope read --a)" "--audience" \
	"after --scope S the next option"
is "$(complete_line tokenctl status --)" "--help --json --socket --timeout --verbose --version" \
	"status is offered only the options it takes"
is "$(complete_line tokenctl proxies --)" "--help --json --socket --timeout --verbose --version" \
	"and proxies too"
is "$(complete_line tokenctl git-credential xibo get --)" \
	"--audience --help --min-valid --resource --scope --socket --timeout --username --verbose --version --wait" "git-credential's options"
is "$(complete_line tokenctl token xibo --format '')" "exec-credential token" "the formats"
is "$(complete_line tokenctl token xibo --format = e)" "exec-credential" \
	"and after --format=, as bash splits it"
is "$(complete_line tokenctl git-credential xibo '')" "erase get store" \
	"git-credential's operations"
like "$(complete_line tokenctl --)" "--env.*--json.*--min-valid.*--wait" \
	"before a command every option is offered"
is "$(complete_line tokenctl --ver)" "--verbose --version" "options match by prefix"

# Names: a stand-in for tokenctl records its arguments and answers with a
# canned list, so that the socket handed on can be checked.
cat >"$T_DIR/fakectl" <<EOF_FAKE
#!/bin/sh
printf '%s\n' "\$*" >"$T_DIR/fakectl.args"
printf '%s\n' '{"credentials":[{"name":"xibo","state":"valid","last_error":"x \"name\": \"no\""},{"name": "sbc-1.a","state":"pending","last_error":null}]}'
EOF_FAKE
chmod 755 "$T_DIR/fakectl"
is "$(complete_line "$T_DIR/fakectl" -s /run/x.sock token '')" "sbc-1.a xibo" \
	"credential names from status --json"
like "$(cat "$T_DIR/fakectl.args")" "(-s|--socket) /run/x.sock .*status" \
	"asked on the socket given with -s"
complete_line "$T_DIR/fakectl" --socket = /run/y.sock renew x >/dev/null
like "$(cat "$T_DIR/fakectl.args")" "(-s|--socket) /run/y.sock .*status" \
	"and with --socket=PATH, as bash splits it"
complete_line "$T_DIR/fakectl" token --socket=/run/z.sock x >/dev/null
like "$(cat "$T_DIR/fakectl.args")" "(-s|--socket) /run/z.sock .*status" \
	"and with --socket=PATH in one word, after the command"
is "$(complete_line "$T_DIR/fakectl" token xibo '')" "" "no second name"
is "$(complete_line "$T_DIR/fakectl" proxies '')" "" "proxies takes no name"

# The real thing: the daemon with two lazy credentials (no upstream asked).
tbd_start_lazy alpha beta.2
is "$(complete_line "$CTL" -s "$SOCK" header '')" "alpha beta.2" \
	"names from a running daemon, on the socket given with -s"
is "$(TOKENBROKER_SOCKET=$SOCK complete_line "$CTL" status b)" "beta.2" \
	"and on \$TOKENBROKER_SOCKET"
is "$(complete_line "$CTL" -s "$T_DIR/none.sock" token '')" "" \
	"no daemon: no names, and no error"
tbd_stop

done_testing
