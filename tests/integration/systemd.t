#!/bin/bash
# The service-manager side without a running systemd: notifications on a
# NOTIFY_SOCKET the test listens on (READY, STATUS, WATCHDOG at half of
# WATCHDOG_USEC, RELOADING/READY, STOPPING), socket activation through
# systemd-socket-activate, and /metrics.
. "$(dirname "$0")/lib.sh"

plan 19
NOTIFY=$T_DIR/notify.sock
"$TB_BUILD/tests/notifylisten" "$NOTIFY" >"$T_DIR/notify.log" 2>&1 &
NL_PID=$!
trap 'kill $NL_PID 2>/dev/null; t_cleanup' EXIT
wait_for 50 [ -S "$NOTIFY" ]

idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred one)
$(cred two "lazy = yes")
EOF_CONF
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=400000 tbd_start "$T_DIR/tb.conf"
wait_for 50 grep -q READY=1 "$T_DIR/notify.log"
ok $? "READY=1 once the socket listens"
like "$(grep -m1 STATUS= "$T_DIR/notify.log")" 'STATUS=2 credentials' "STATUS= summarises the credentials"
api '/v1/tokens/one?wait=10' >/dev/null
sleep 2.2
n=$(grep -c WATCHDOG=1 "$T_DIR/notify.log")
cmp_ok "$n" -ge 7 "WATCHDOG=1 at half of WATCHDOG_USEC ($n in ~2.2s, 200ms apart)"
cmp_ok "$n" -le 16 "and not much more often"

kill -HUP "$TBD_PID"
wait_for 50 grep -q RELOADING=1 "$T_DIR/notify.log"
ok $? "SIGHUP: RELOADING=1"
like "$(grep -A1 RELOADING=1 "$T_DIR/notify.log" | tail -n1)" 'MONOTONIC_USEC=[0-9]+' "with MONOTONIC_USEC="
wait_until 50 '[ "$(grep -c READY=1 "$T_DIR/notify.log")" -ge 2 ]'
ok $? "READY=1 again after the reload"
like "$(tail -n 3 "$T_DIR/notify.log")" 'STATUS=2 credentials, 1 valid' "STATUS= is current after the reload"
tbd_stop
is $? 0 "exit 0 on SIGTERM"
grep -q STOPPING=1 "$T_DIR/notify.log"
ok $? "STOPPING=1 on shutdown"

# Logs to a non-terminal carry <N> priority prefixes systemd understands.
grep -q '^<[0-7]>tokenbrokerd: ' "$T_DIR/daemon.log"
ok $? "log lines carry <N> priority prefixes"

# Socket activation: the listening socket comes from the service manager.
rm -f "$SOCK"
systemd-socket-activate -l "$SOCK" "$TBD" -c "$T_DIR/tb.conf" >>"$T_DIR/daemon.log" 2>&1 &
TBD_PID=$!
wait_for 50 [ -S "$SOCK" ]
is "$(api_code /v1/health)" 200 "socket activation: the daemon answers on the passed socket"
grep -q "listening on the socket passed by the service manager" "$T_DIR/daemon.log"
ok $? "and says it uses the passed socket"
body=$(api '/v1/tokens/one?wait=10')
like "$body" '"access_token"' "tokens are served under socket activation"

m=$(api /metrics)
like "$m" '# TYPE tokenbroker_renewals_total counter' "/metrics: Prometheus text with TYPE lines"
like "$m" 'tokenbroker_renewals_total\{credential="one",result="success"\} 1' "renewals by credential and result"
like "$m" 'tokenbroker_requests_total\{code="200"\} [0-9]+' "requests by status code"
like "$m" 'tokenbroker_upstream_duration_seconds_count 1' "upstream duration histogram"
chmod 711 "$T_DIR"
chmod 666 "$SOCK"
code=$(setpriv --reuid=nobody --regid=nogroup --clear-groups curl -s -o /dev/null -w '%{http_code}' \
	--unix-socket "$SOCK" http://localhost/metrics)
is "$code" 403 "/metrics is refused to users not in metrics_allow"
done_testing
