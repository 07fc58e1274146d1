#!/bin/bash
# tokenctl against the real daemon: each command, and the sysexits codes.
. "$(dirname "$0")/lib.sh"

plan 17
idp_start --lifetime 3600
DAEMON_EXTRA="socket_mode = 0666" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred open)
$(cred rootonly "allow_users = root")
$(cred broken "lazy = yes" "backoff_min = 5s" "backoff_max = 10s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
chmod 711 "$T_DIR"
export TOKENBROKER_SOCKET=$SOCK

tok=$("$TBCTL" token open --wait 10)
is $? 0 "token: exit 0"
is "$(idp "/introspect?token=$tok" | json_field active)" true "token prints a valid token"
hdr=$("$TBCTL" header open)
[ "$hdr" = "Authorization: Bearer $tok" ]
ok $? "header prints the Authorization header"
"$TBCTL" --json token open | grep -q '"expires_at"'
ok $? "--json prints the daemon's JSON"
"$TBCTL" -s "$SOCK" status >"$T_DIR/status"
is $? 0 "status: exit 0"
grep -q '^open .*valid' "$T_DIR/status"
ok $? "status shows a table row per credential"
"$TBCTL" status --json | grep -q '"credentials"'
ok $? "status --json"
"$TBCTL" renew open >"$T_DIR/renew"
is $? 0 "renew: exit 0"
grep -q "$tok" "$T_DIR/renew"
is $? 1 "renew prints no token"

"$TBCTL" token nosuch 2>/dev/null
is $? 66 "unknown credential: exit 66"
idp '/control?fail=401' >/dev/null
"$TBCTL" token broken --wait 3 2>"$T_DIR/err"
is $? 69 "no token can be had: exit 69"
like "$(cat "$T_DIR/err")" "broken" "the message names the credential"
"$TBCTL" -s "$T_DIR/nothing.sock" token open 2>/dev/null
is $? 75 "daemon not reachable: exit 75"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$TBCTL" token rootonly 2>/dev/null
is $? 77 "a uid not in allow_users: exit 77"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$TBCTL" token open >/dev/null
is $? 0 "the same uid may fetch an open credential"
n=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$TBCTL" status | grep -c rootonly)
is "$n" 0 "status lists only what the caller may fetch"
"$TBCTL" frobnicate 2>/dev/null
is $? 2 "unknown command: exit 2"
done_testing
