#!/bin/bash
# Hostile clients of a proxy's loopback TCP listener, with the daemon's
# descriptors short (RLIMIT_NOFILE 256): its clients share one budget of
# descriptors with the API's, so a flood of idle connections on the proxy
# takes neither the descriptors upstream renewals need nor root's slots,
# and the API's clients go on being served.  The figures go to
# tests/RELIABILITY.md (prove -v shows them).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! command -v prlimit >/dev/null; then
	echo "1..0 # SKIP needs root, setpriv and prlimit"
	exit 0
fi
plan 9
LOADGEN=$TB_BUILD/bench/loadgen
as_user() { # as_user USER CMD...: CMD as USER (and its group), no other groups
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"
}
result() { # result KEY FILE: a field of loadgen's result line in FILE
	sed -n "s/^result: .*\b$1=\([^ ]*\).*/\1/p" "$2"
}
served() { # served FILE: "N 0" when loadgen's N answers were all 2xx and none failed
	echo "$(result ok "$1") $(($(result non2xx "$1") + $(result errors "$1")))"
}

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
upstream_concurrency = 4" write_conf "$T_DIR/tb.conf" <<EOF_CONF
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
as_user nobody "$LOADGEN" --tcp "127.0.0.1:$PX_PORT" --abuse idle -c 2000 -d 8 / \
	>"$T_DIR/flood.out" 2>&1 &
flood=$!
sleep 0.5
as_user daemon "$LOADGEN" -s "$SOCK" --rate 50 -d 6 /v1/tokens/main >"$T_DIR/api.out" 2>&1 &
api_client=$!
"$LOADGEN" --tcp "127.0.0.1:$PX_PORT" --rate 20 -d 6 /echo >"$T_DIR/px.out" 2>&1
wait "$api_client" "$flood"
echo "# the flood: $(grep '^result' "$T_DIR/flood.out")"
echo "# the API's client: $(grep '^result' "$T_DIR/api.out")"
echo "# root through the proxy: $(grep '^result' "$T_DIR/px.out")"

like "$(served "$T_DIR/api.out")" '^[1-9][0-9]* 0$' "every request of the API's client got its token"
like "$(served "$T_DIR/px.out")" '^[1-9][0-9]* 0$' "every request of root through the proxy was answered"
like "$(result codes "$T_DIR/flood.out")" '503:[0-9]' "the flood's connections past the budget were refused"
cmp_ok "$(cred_field main renewals)" -ge $((renewals + 2)) \
	"renewals went on during the flood ($renewals -> $(cred_field main renewals))"
is "$(cred_field main failures)" 0 "and none failed"
grep -q 'Too many open files' "$T_DIR/daemon.log"
is $? 1 "the daemon never ran out of descriptors"
like "$(api /v1/tokens/main)" '"expires_in":[1-9]' "the token is valid after the flood"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
