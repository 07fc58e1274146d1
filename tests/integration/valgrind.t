#!/bin/bash
# The daemon under valgrind's memcheck from start to SIGTERM: renewals
# (over HTTPS too), failures, a persisted token and a sink, a token
# variant, the API's answers (a hang-up while waiting, connections past
# max_clients and one that trickles its request among them), proxied
# requests (one replayed after the upstream rejected its token, a streamed
# body), a reload that changes, adds and removes credentials and a proxy.
# Any invalid access, any use of an uninitialised value, and any leak
# (definitely or indirectly lost) makes valgrind exit 99, which fails the
# file (tbd_stop).  No suppressions are needed.  The plain build only: the
# ASan one has its own checks.
. "$(dirname "$0")/lib.sh"

if sanitized; then
	echo "1..0 # SKIP valgrind does not run sanitized binaries (the ASan build checks itself)"
	exit 0
fi
if ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP no valgrind (apt-get install valgrind)"
	exit 0
fi
plan 18
VG_LOG=$T_DIR/valgrind.log

idp_start --lifetime 3
idp_start_named FAILING --lifetime 3
idp_at FAILING '/control?fail=503' >/dev/null
make_test_ca
idp_start_named TLS --lifetime 3 --tls-cert "$T_DIR/server.pem" --tls-key "$T_DIR/server.key"
fakeapi_start
PX_PORT=$(free_port)
conf() { # conf GENERATION: the configuration; 2 is the reloaded one
	DAEMON_EXTRA="max_clients = 12
client_timeout = 1s" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred short "persist = yes" "sink = $T_DIR/short.sink" "allow_scopes = a b" \
	"scope = gen$1")
$(cred steady)
$(IDP_URL=$TLS_URL cred tls "ca_file = $T_DIR/ca.pem")
$(IDP_URL=$FAILING_URL cred failing "backoff_min = 200ms" "backoff_max = 1s")
$([ "$1" = 2 ] && cred added "lazy = yes")
$([ "$1" = 1 ] && cred removed)
$(proxy_conf px "127.0.0.1:$PX_PORT" steady)
$([ "$1" = 1 ] && proxy_conf gone "127.0.0.1:$(free_port "$PX_PORT")" steady)
EOF_CONF
}
conf 1
TBD_WRAP="valgrind --quiet --tool=memcheck --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
	--num-callers=30 --log-file=$VG_LOG" \
	tbd_start "$T_DIR/tb.conf" --log-level info
wait_until 300 '[ "$(cred_field steady state)" = valid ] && port_open "$PX_PORT"'
ok $? "under valgrind the daemon starts, fetches and listens"

tok=$(api '/v1/tokens/short?wait=20' -H 'Accept: text/plain')
[ -n "$tok" ]
ok $? "a token is handed out"
like "$(api '/v1/tokens/short?scope=a&wait=20')" '"scope":"a"' "so is a variant's"
like "$(api /v1/tokens/short/renew -X POST -m 30)" '"renewed":true' "a renew"
is "$(api_code /v1/tokens/nope)" 404 "an unknown credential: 404"
like "$(api /v1/credentials)$(api /v1/proxies)$(api /v1/health)" '"failing".*"px".*ok' \
	"the lists and the health"
like "$(api /metrics)" 'tokenbroker_late_renewals_total' "the metrics"
curl -s -m 1 --unix-socket "$SOCK" 'http://localhost/v1/tokens/failing?wait=20' >/dev/null
echo "# a client hung up while waiting"
wait_until 300 '[ "$(cred_field short renewals)" -ge 4 ] && [ "$(cred_field tls renewals)" -ge 4 ]'
ok $? "renewals go on ($(cred_field short renewals), over HTTPS $(cred_field tls renewals))"
cmp_ok "$(cred_field failing failures)" -ge 2 "and failures"

pids=()
for i in $(seq 30); do
	api '/v1/tokens/failing?wait=2' >"$T_DIR/burst.$i" &
	pids+=($!)
done
wait "${pids[@]}"
like "$(cat "$T_DIR"/burst.*)" too_many_clients "30 clients waiting at once, past max_clients: some are refused"
read -r ms _ < <(trickle "$SOCK" /v1/health 0)
cmp_ok "$ms" -lt 5000 "a client trickling its request is cut off (${ms}ms)"

is "$(px_code /echo)" 200 "a proxied request"
upstream '/control?revoke=current' >/dev/null
is "$(px_code /echo)" 200 "one replayed with a new token after a 401"
is "$(curl -s -m 30 "http://127.0.0.1:$PX_PORT/bytes?n=3000000" | wc -c)" 3000000 "a streamed body"

conf 2
tbd_reload
ok $? "a reload: one changed, one added, one removed, a proxy gone"
like "$(api '/v1/tokens/added?wait=20')" '"access_token"' "the added credential works"
tbd_stop
ok $? "SIGTERM: valgrind saw no invalid access and no leak"
grep -v '^==[0-9]*== *$' "$VG_LOG" | head -n 40 | sed 's/^/# /'
leaks "the token" "$tok" "$VG_LOG" "$T_DIR/daemon.log"
is $? 1 "no token in valgrind's or the daemon's log"
done_testing
