#!/bin/bash
# tokenctl proxies and GET /v1/proxies against the real daemon: with no
# proxy, the table's head alone and an empty list; with proxies (once the
# daemon takes [proxy] sections), each one the caller may use and none
# other.
. "$(dirname "$0")/lib.sh"

plan 21
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
HEAD='NAME  LISTEN  UPSTREAM  CREDENTIAL  REQUESTS  RETRIES  LAST'

# The credentials are lazy: nothing here asks the upstream.
IDP_URL=http://127.0.0.1:9
DAEMON_EXTRA="socket_mode = 0666" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred open "lazy = yes")
$(cred rootonly "lazy = yes" "allow_users = root")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
chmod 711 "$T_DIR"
export TOKENBROKER_SOCKET=$SOCK

out=$("$TBCTL" proxies)
is $? 0 "proxies: exit 0"
is "$out" "$HEAD" "no proxy: the head line and nothing else"
out=$("$TBCTL" proxies --json)
is $? 0 "proxies --json: exit 0"
is "$out" '{"proxies":[]}' "--json: an empty list"
is "$(api /v1/proxies)" '{"proxies":[]}' "GET /v1/proxies answers the same"
is "$(api_code /v1/proxies -X POST)" 405 "POST /v1/proxies: 405"
like "$(api /v1/proxies -X POST)" '"error":"method_not_allowed"' "with the JSON error"
metrics=$(api /metrics)
like "$metrics" '# TYPE tokenbroker_proxy_active gauge' "/metrics declares the proxy families without proxies"
is "$(printf '%s\n' "$metrics" | grep -c 'proxy="')" 0 "and has no proxy series"
"$TBCTL" -s "$T_DIR/nothing.sock" proxies 2>/dev/null
is $? 75 "daemon not reachable: exit 75"
"$TBCTL" proxies extra 2>/dev/null
is $? 2 "proxies takes no name: exit 2"
"$TBCTL" proxies --min-valid 5 2>/dev/null
is $? 2 "nor --min-valid: exit 2"
tbd_stop

# With proxies: only when this tokenbrokerd reads [proxy] sections.
port=$(perl -MIO::Socket::INET -e \
	'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport')
DAEMON_EXTRA="socket_mode = 0666" write_conf "$T_DIR/proxies.conf" <<EOF_CONF
$(cred open "lazy = yes")
$(cred rootonly "lazy = yes" "allow_users = root")
[proxy "p"]
listen = 127.0.0.1:$port
credential = open
upstream = http://127.0.0.1:1/x

[proxy "mine"]
listen = $T_DIR/mine.sock
credential = open
upstream = http://127.0.0.1:1/y
allow_users = root

[proxy "viaroot"]
listen = $T_DIR/viaroot.sock
credential = rootonly
upstream = http://127.0.0.1:1/z
EOF_CONF
if ! "$TBD" -c "$T_DIR/proxies.conf" --check-config >"$T_DIR/check.out" 2>&1; then
	echo "# --check-config: $(head -n 1 "$T_DIR/check.out")"
	for _ in $(seq 9); do
		T_NUM=$((T_NUM + 1))
		echo "ok $T_NUM # skip tokenbrokerd takes no [proxy] section"
	done
	done_testing
	exit
fi
tbd_start "$T_DIR/proxies.conf"
out=$("$TBCTL" proxies)
is $? 0 "with proxies: exit 0"
is "$(printf '%s\n' "$out" | head -n 1 | tr -s ' ')" "$(printf '%s' "$HEAD" | tr -s ' ')" "the head line"
like "$out" "^p +127\\.0\\.0\\.1:$port +http://127\\.0\\.0\\.1:1/x +open +0 +0 +-$" \
	"p: its listener, upstream and credential, no request yet"
is "$(printf '%s\n' "$out" | sed 1d | awk '{print $1}' | sort | tr '\n' ' ')" "mine p viaroot " \
	"root sees every proxy"
json=$("$TBCTL" proxies --json)
like "$json" "\\{\"name\":\"p\",\"listen\":\"127\\.0\\.0\\.1:$port\",\"upstream\":\"http://127\\.0\\.0\\.1:1/x\",\"credential\":\"open\",\"requests\":0,\"retries\":0,\"last_status\":null\\}" \
	"--json: p's entry, last_status null"
is "$(api /v1/proxies)" "$json" "GET /v1/proxies answers the same"
out=$(as_nobody "$TBCTL" proxies)
is "$(printf '%s\n' "$out" | sed 1d | awk '{print $1}' | tr '\n' ' ')" "p " \
	"another uid sees only what it passes: the proxy's allow_users and its credential's"
like "$(as_nobody "$TBCTL" proxies --json)" '^\{"proxies":\[\{"name":"p",' "and so does --json"
like "$(api /metrics)" "tokenbroker_proxy_active\\{proxy=\"viaroot\"\\} 0" "/metrics has every proxy"
tbd_stop

done_testing
