#!/bin/bash
# Hostile clients of a proxy's loopback TCP listener, with the daemon's
# descriptors short (RLIMIT_NOFILE 256): its clients share one budget of
# descriptors with the API's, so a flood of idle connections on the proxy
# takes neither the descriptors upstream renewals need nor root's slots,
# and the API's clients go on being served.  Then requests dribbled a byte
# at a time, 1 MiB heads and random bytes on the proxy, while root's
# requests go through it.  The figures go to tests/RELIABILITY.md (prove
# -v shows them).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! command -v prlimit >/dev/null; then
	echo "1..0 # SKIP needs root, setpriv and prlimit"
	exit 0
fi
plan 20

# Tokens that live 4 s: renewals must go on during the flood.  Each renewal
# needs a new connection (Connection: close), as with a token endpoint
# that closes idle ones: a descriptor, when every one may be taken.
idp_start --lifetime 4
fakeapi_start
PUB=$(mktemp -d /tmp/tokenbroker-hostile.XXXXXX)
chmod 755 "$PUB"
trap 'rm -rf "$PUB"; t_cleanup' EXIT
SOCK=$PUB/tb.sock
PX_PORT=$(free_port)
DAEMON_EXTRA="socket_mode = 0666
upstream_concurrency = 4
client_timeout = 3s" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main "header.Connection = close")
$(proxy_conf px "127.0.0.1:$PX_PORT" main)
EOF_CONF
# Fewer descriptors than the flood has connections (the daemon raises its
# soft limit to the hard one, so both are set).
TBD_WRAP="prlimit --nofile=256:256 --" tbd_start "$T_DIR/tb.conf"
wait_until 100 '[ "$(cred_field main state)" = valid ]'
ok $? "the short-lived token is there"
renewals=$(cred_field main renewals)

# 2000 idle connections as nobody on the proxy, more than the descriptors;
# meanwhile a client of the API (another uid, a new connection for every
# request) and root through the proxy.
ABUSE_AT="--tcp 127.0.0.1:$PX_PORT"
WELL_AT="-s $SOCK" WELL_PATH=/v1/tokens/main WELL_ARGS="--rate 50 -d 6" \
	abuse flood nobody --abuse idle -c 2000 -d 8 / &
"$LOADGEN" --tcp "127.0.0.1:$PX_PORT" --rate 20 -d 6 /echo >"$T_DIR/px.out" 2>&1
wait $!
echo "# root through the proxy meanwhile: $(grep '^result' "$T_DIR/px.out")"
like "$(lg_served "$T_DIR/flood.well")" '^[1-9][0-9]* 0$' "every request of the API's client got its token"
like "$(lg_served "$T_DIR/px.out")" '^[1-9][0-9]* 0$' "every request of root through the proxy was answered"
like "$(lg_result codes "$T_DIR/flood.abuse")" '503:[0-9]' "the flood's connections past the budget were refused"
cmp_ok "$(cred_field main renewals)" -ge $((renewals + 2)) \
	"renewals went on during the flood ($renewals -> $(cred_field main renewals))"
is "$(cred_field main failures)" 0 "and none failed"
grep -q 'Too many open files' "$T_DIR/daemon.log"
is $? 1 "the daemon never ran out of descriptors"

# The other hostile inputs, on the proxy, while root's requests (20 a
# second, each on a new connection) go through it.
WELL_AT="--tcp 127.0.0.1:$PX_PORT" WELL_PATH=/echo WELL_USER=root WELL_ARGS="--rate 20 -d 4.5"
before=$(upstream_stat requests)
abuse slow nobody --abuse slow -c 200 --dribble-ms 200 /echo
like "$(lg_served "$T_DIR/slow.well")" '^[1-9][0-9]* 0$' "slowloris on the proxy: root's requests went through"
held=$(lg_result held_max_s "$T_DIR/slow.abuse")
cmp_ok "${held%.*}" -le 4 "the dribbling connections were closed after client_timeout ($held s)"
read -r ms answered < <(trickle "127.0.0.1:$PX_PORT" /echo 1)
is "$answered" 1 "a proxied request is answered"
cmp_ok "$ms" -lt 5000 "and a next one trickled after it is cut off too (${ms}ms)"
abuse bighead nobody --abuse bighead -c 10 /echo
like "$(lg_served "$T_DIR/bighead.well")" '^[1-9][0-9]* 0$' "1 MiB heads on the proxy: root's requests went through"
like "$(lg_result codes "$T_DIR/bighead.abuse")" '^(4[0-9][0-9]:[0-9]+,)*(none:[0-9]+)$' \
	"each was refused (4xx) or cut off ($(lg_result codes "$T_DIR/bighead.abuse"))"
abuse garbage nobody --abuse garbage -c 20 /echo
like "$(lg_served "$T_DIR/garbage.well")" '^[1-9][0-9]* 0$' "random bytes on the proxy: root's requests went through"
like "$(lg_result codes "$T_DIR/garbage.abuse")" '^(4[0-9][0-9]:[0-9]+,)*(none:[0-9]+)$' \
	"the garbage was refused (4xx) or cut off ($(lg_result codes "$T_DIR/garbage.abuse"))"
is $(($(upstream_stat requests) - before)) \
	$(($(lg_result ok "$T_DIR/slow.well") + $(lg_result ok "$T_DIR/bighead.well") + \
		$(lg_result ok "$T_DIR/garbage.well") + 1)) \
	"only root's requests reached the upstream"

cmp_ok "$(cred_field main renewals)" -ge $((renewals + 6)) \
	"renewals went on all along ($renewals -> $(cred_field main renewals))"
is "$(cred_field main failures)" 0 "and none failed"
like "$(api /v1/tokens/main)" '"expires_in":[1-9]' "the token is valid after it all"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
