#!/bin/bash
# log_access: with it on, each answer to a token request on the socket
# (a hand-out, a renewal, a refusal) is one info line naming the
# credential, the caller's uid and pid and the status, never the token;
# with it off, there is no such line.
. "$(dirname "$0")/lib.sh"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

idp_start --lifetime 3600
conf() { # conf yes|no
	DAEMON_EXTRA="socket_mode = 0666
log_access = $1" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred open)
$(cred rootonly "allow_users = root")
[credential "down"]
token_url = http://127.0.0.1:9/token
client_id = it-client
client_secret = x
lazy = yes
EOF_CONF
}
conf yes
if ! "$TBD" -c "$T_DIR/tb.conf" --check-config >"$T_DIR/check.out" 2>&1; then
	echo "1..0 # SKIP tokenbrokerd takes no log_access: $(head -n 1 "$T_DIR/check.out")"
	exit 0
fi
plan 10
tbd_start "$T_DIR/tb.conf"
chmod 711 "$T_DIR"
export TOKENBROKER_SOCKET=$SOCK
access() { grep -E "credential $1: $2 for uid $3 \\(pid [0-9]+\\): $4\$" "$T_DIR/daemon.log"; }

tok=$("$TBCTL" token open --wait 10)
is $? 0 "a token is handed out"
access open token 0 200 >/dev/null
ok $? "its line: credential, uid, pid, status 200"
"$TBCTL" renew open >/dev/null
access open renewal 0 200 >/dev/null
ok $? "a renewal, answered after its attempt"
as_nobody "$TBCTL" token rootonly 2>/dev/null
is $? 77 "a uid not allowed is refused"
access rootonly token 65534 403 >/dev/null
ok $? "the refusal is logged with the caller's uid: 403"
"$TBCTL" token down --wait 1 2>/dev/null
is $? 69 "no token to be had"
access down token 0 503 >/dev/null
ok $? "and that is logged: 503"
grep -qF -- "$tok" "$T_DIR/daemon.log"
is $? 1 "the token is in no log line"
tbd_stop

conf no
tbd_start "$T_DIR/tb.conf"
before=$(grep -c ' for uid ' "$T_DIR/daemon.log")
"$TBCTL" token open >/dev/null
is $? 0 "with log_access = no, a token is handed out"
is "$(grep -c ' for uid ' "$T_DIR/daemon.log")" "$before" "and no access line is logged"
tbd_stop

done_testing
