#!/bin/bash
# secrets.t for proxied traffic: with log_access = yes and log_level =
# debug, every proxied request leaves an access line (proxy, caller uid,
# method, path without its query, status), and no log line and no answer
# the broker makes itself holds a token, the client secret, a query value
# or the client's own Authorization, through successes, a renewal after a
# revoked token, and answers of every kind the proxy makes (413, 421, 502,
# 504).
. "$(dirname "$0")/lib.sh"

plan 10
DAEMON_EXTRA="log_access = yes"
proxy_start billing "timeout = 1s" "max_request_body = 1k"

qval=qv-$RANDOM$RANDOM$RANDOM
client_auth=client-own-$RANDOM$RANDOM$RANDOM
own=$T_DIR/own-answers	# what the broker itself answered
tokens=()
is "$(px_code "/echo?key=$qval&page=2" -H "Authorization: Bearer $client_auth")" 200 \
	"a request with a query and the client's own Authorization"
tokens+=("$("$TBCTL" -s "$SOCK" token main)")
upstream '/control?revoke=current' >/dev/null
is "$(px_code "/echo?key=$qval")" 200 "a request after the API revoked the token (renewal, replay)"
tokens+=("$("$TBCTL" -s "$SOCK" token main)")
px_code "/status?code=404&key=$qval" >/dev/null
head -c 4096 /dev/zero >"$T_DIR/big"
{
	px "/echo?key=$qval" --data-binary @"$T_DIR/big"
	px "/echo?key=$qval" -H 'Host: evil.example'
	px "/delay?ms=2000&key=$qval"
	upstream '/control?down=1' >/dev/null
	px "/echo?key=$qval"
	upstream '/control?down=0' >/dev/null
	api /v1/proxies
	"$TBCTL" -s "$SOCK" proxies
	"$TBCTL" -s "$SOCK" --json proxies
	api /metrics
} >"$own" 2>&1
tokens+=("$("$TBCTL" -s "$SOCK" token main)")
tbd_stop

log=$T_DIR/daemon.log
grep -F /echo "$log" | grep -w GET | grep -w 200 | grep -w billing |
	grep -Eiq 'uid[ =:]*0([^0-9]|$)'
ok $? "an access line names the proxy, the caller's uid, the method, the path and the status"
grep -F /status "$log" | grep -w 404 | grep -qw billing
ok $? "the upstream's own status is logged"
grep -qF '/echo?' "$log"
is $? 1 "paths are logged without their query"
leaks "a query value" "$qval" "$log" "$own"
is $? 1 "no query value in the log or the broker's answers"
leaks "the client's Authorization" "$client_auth" "$log" "$own"
is $? 1 "nor the client's own Authorization"
leaks "the client secret" "$IDP_SECRET" "$log" "$own"
is $? 1 "nor the client secret"
found=0
for t in "${tokens[@]}"; do
	[ -n "$t" ] && leaks "a token" "$t" "$log" "$own" && found=1
done
is "$found" 0 "nor any token"
[ "${#tokens[0]}" -gt 10 ] && [ "${tokens[0]}" != "${tokens[1]}" ]
ok $? "the run went through two tokens"
done_testing
