#!/bin/bash
# SIGTERM with proxied requests in flight: the listeners stop accepting at
# once, a request under way is answered (up to 5 s), then the daemon exits 0.
. "$(dirname "$0")/lib.sh"

plan 4
proxy_start api

curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PX_PORT/delay?ms=1500" \
	>"$T_DIR/slow.code" &
slow=$!
in_flight() { [ "$(metric 'tokenbroker_proxy_active{proxy="api"}')" = 1 ]; }
wait_for 50 in_flight
kill -TERM "$TBD_PID"
wait_for 50 grep -q 'waiting up to' "$T_DIR/daemon.log"
is "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PX_PORT/echo")" 000 \
	"after SIGTERM the proxy takes no new connection"
wait "$slow"
is "$(cat "$T_DIR/slow.code")" 200 "the request in flight is answered"
wait "$TBD_PID"
is $? 0 "then the daemon exits with status 0"
TBD_PID=
like "$(cat "$T_DIR/daemon.log")" 'waiting up to 5s for 1 proxied request' "saying what it waited for"
