#!/bin/bash
# Who may have which token: uids and groups (also supplementary ones)
# against allow_users / allow_groups, root always; 403 for the others;
# the credentials list shows only what the caller may fetch; tokenctl exec.
. "$(dirname "$0")/lib.sh"

plan 15
idp_start --lifetime 3600
DAEMON_EXTRA="socket_mode = 0666
max_clients_per_uid = 2" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred open)
$(cred users "allow_users = nobody")
$(cred groups "allow_groups = adm")
$(cred rootonly "allow_users = root")
$(cred slow "lazy = yes" "timeout = 30s")
$(cred revoked "lazy = yes" "allow_users = nobody")
$(cred inunit "allow_users = nobody" "allow_units = tokenbroker-test-nowhere.service")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
chmod 711 "$T_DIR"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_adm() { setpriv --reuid=nobody --regid=nogroup --groups=adm "$@"; }
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" "http://localhost$1"; }

is "$(as_nobody bash -c "$(declare -f code); SOCK=$SOCK code '/v1/tokens/open?wait=10'")" 200 "open credential: any uid"
is "$(as_nobody bash -c "$(declare -f code); SOCK=$SOCK code '/v1/tokens/users?wait=10'")" 200 "allow_users: the listed uid"
is "$(as_nobody bash -c "$(declare -f code); SOCK=$SOCK code /v1/tokens/rootonly")" 403 "another uid: 403"
is "$(as_nobody bash -c "$(declare -f code); SOCK=$SOCK code /v1/tokens/groups")" 403 "allow_groups: not in the group: 403"
is "$(as_adm bash -c "$(declare -f code); SOCK=$SOCK code '/v1/tokens/groups?wait=10'")" 200 "allow_groups: a supplementary group is enough"
is "$(code /v1/tokens/rootonly)" 200 "root is always allowed"
is "$(as_nobody bash -c "$(declare -f code); SOCK=$SOCK code /v1/tokens/inunit")" 403 \
	"allow_units: a listed uid outside the units: 403"
is "$(code '/v1/tokens/inunit?wait=10')" 200 "root is allowed whatever its unit"
grep -q 'uid 65534 (pid [0-9]*) is not allowed credential rootonly' "$T_DIR/daemon.log"
ok $? "a refusal is logged with uid and credential"
list=$(as_nobody curl -s --unix-socket "$SOCK" http://localhost/v1/credentials)
like "$list" '"name":"users"' "the list shows what the caller may fetch"
printf '%s' "$list" | grep -q '"name":"rootonly"'
is $? 1 "and nothing else"

# Per-uid connection cap: a third connection of one uid is refused.
idp '/control?mode=silent' >/dev/null
pids=()
for i in 1 2; do
	as_nobody curl -s -m 5 --unix-socket "$SOCK" 'http://localhost/v1/tokens/slow?wait=4' >/dev/null &
	pids+=($!)
done
wait_for 50 sh -c "curl -s --unix-socket '$SOCK' http://localhost/metrics | grep -q '^tokenbroker_waiting_clients 2'"
third=$(as_nobody curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/v1/health)
wait "${pids[@]}"
is "$third" 503 "max_clients_per_uid: a uid's extra connection is refused"
idp '/control?mode=normal' >/dev/null

# A reload that takes a right away also answers the waiting caller 403.
idp '/control?delay_ms=1500' >/dev/null
as_nobody curl -s -m 10 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" \
	'http://localhost/v1/tokens/revoked?wait=8' >"$T_DIR/revoked" 2>/dev/null &
waiter=$!
sleep 0.5
sed -i 's/^allow_users = nobody$/allow_users = root/' "$T_DIR/tb.conf"
kill -HUP "$TBD_PID"
wait $waiter
idp '/control?delay_ms=0' >/dev/null
is "$(cat "$T_DIR/revoked")" 403 "a caller whose right a reload took away gets 403, not the token"

# tokenctl exec: the token in the environment of a command, its status passed on.
out=$("$TBCTL" -s "$SOCK" exec open --env MYTOKEN -- sh -c 'printf %s "$MYTOKEN" | wc -c; exit 7')
st=$?
is "$st" 7 "tokenctl exec passes on the command's exit status"
cmp_ok "$out" -gt 10 "and the command got the token in \$MYTOKEN"
done_testing
