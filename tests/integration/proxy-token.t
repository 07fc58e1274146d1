#!/bin/bash
# The proxy's token rules.  An upstream that rejects the token (401) makes
# the proxy renew once for all the requests that saw it and send each of
# them again, once, with the new token: 20 concurrent requests all succeed
# after one renewal, and the rejected token is not sent again.  A body up
# to retry_body_max is replayed; a larger one is not (the 401 goes to the
# client) but the renewal still happens.  With no valid token and the
# token endpoint down, the proxy answers 503 with Retry-After and the
# socket API's JSON error, and sends nothing upstream.  An upstream that
# rejects every token costs one renewal a backoff_min, not one a request.
. "$(dirname "$0")/lib.sh"

plan 23
proxy_start api "retry_body_max = 4k"

# tokens_requests SHA12: how many requests fakeapi saw with that token.
tokens_requests() {
	upstream /stats | grep -o "{\"sha\":\"$1\",\"requests\":[0-9]*" | sed 's/.*://'
}

# The API revokes the token; 20 requests at once.
is "$(px_code /echo)" 200 "the proxy answers with the first token"
old=$("$TBCTL" -s "$SOCK" token main)
issued0=$(idp_stat issued)
retries0=$(metric 'tokenbroker_proxy_retries_total{proxy="api"}')
rejected0=$(upstream_stat rejected)
like "$(upstream '/control?revoke=current')" '"revoked":1' "the API revokes the token it accepted"
pids=()
for i in $(seq 20); do
	px_code /echo >"$T_DIR/code.$i" &
	pids+=($!)
done
wait "${pids[@]}"
n=0
for i in $(seq 20); do [ "$(cat "$T_DIR/code.$i")" = 200 ] && n=$((n + 1)); done
is "$n" 20 "20 concurrent requests with the revoked token all get 200"
is "$(idp_stat issued)" $((issued0 + 1)) "after exactly one renewal"
retries1=$(metric 'tokenbroker_proxy_retries_total{proxy="api"}')
cmp_ok "$retries1" -gt "$retries0" "tokenbroker_proxy_retries_total counts the requests sent again"
cmp_ok $((retries1 - retries0)) -le 20 "each at most once"
is "$(upstream_stat rejected)" $((rejected0 + retries1 - retries0)) \
	"every request the API refused was sent again, and no other"
is "$(tokens_requests "$(sha12 "$old")")" $((1 + retries1 - retries0)) \
	"the rejected token was not sent again"
new=$("$TBCTL" -s "$SOCK" token main)
[ -n "$new" ] && [ "$new" != "$old" ]
ok $? "the credential holds a new token"
is "$(px /echo | json_field authorization_sha)" "$(sha12 "$new")" "which the proxy sends from now on"
like "$(api /v1/proxies)" '"retries": *[1-9]' "GET /v1/proxies counts the retries too"

# A body up to retry_body_max is replayed; a larger one is not.
sleep 1.1	# backoff_min: at most one renewal a second
upstream '/control?revoke=current' >/dev/null
issued0=$(idp_stat issued)
head -c 1000 /dev/urandom >"$T_DIR/small"
out=$(px /echo --data-binary @"$T_DIR/small")
is "$(printf '%s' "$out" | json_field body_sha256)" "$(sha256sum <"$T_DIR/small" | cut -d' ' -f1)" \
	"a small body is sent again whole after the renewal"
is "$(idp_stat issued)" $((issued0 + 1)) "after one renewal"
sleep 1.1
upstream '/control?revoke=current' >/dev/null
issued0=$(idp_stat issued)
head -c 8192 /dev/urandom >"$T_DIR/large"
is "$(px_code /echo --data-binary @"$T_DIR/large")" 401 \
	"a body over retry_body_max is not replayed: the upstream's 401 goes to the client"
wait_until 30 '[ "$(idp_stat issued)" -gt "$issued0" ]'
is "$(idp_stat issued)" $((issued0 + 1)) "the renewal happens all the same"
is "$(px_code /echo --data-binary @"$T_DIR/large")" 200 "and the next request goes through"

tbd_stop

# An upstream that rejects every token: one renewal a backoff_min, not one
# a request.  A new daemon, which has forced no renewal yet.
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main "backoff_min = 60s")
$(proxy_conf api "127.0.0.1:$PX_PORT" main "retry_body_max = 4k")
EOF_CONF
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$PX_PORT"
px_code /echo >/dev/null
issued0=$(idp_stat issued)
retries0=$(metric 'tokenbroker_proxy_retries_total{proxy="api"}')
codes=
for _ in 1 2 3 4 5; do codes="$codes $(px_code '/status?code=401')"; done
is "$codes" " 401 401 401 401 401" "an upstream that rejects every token: its 401s go to the client"
is "$(idp_stat issued)" $((issued0 + 1)) "after one renewal, not one a request"
is "$(metric 'tokenbroker_proxy_retries_total{proxy="api"}')" $((retries0 + 1)) \
	"and one request sent again"
tbd_stop

# No valid token (a new daemon, persist = no) and the token endpoint down.
idp '/control?fail=503&retry_after=30' >/dev/null
before=$(upstream_stat requests)
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$PX_PORT"
out=$(px /echo -D "$T_DIR/h.503")
like "$(head -n 1 "$T_DIR/h.503")" '^HTTP/[0-9.]+ 503' "no valid token and the token endpoint down: 503"
like "$(cat "$T_DIR/h.503")" $'\n[Rr]etry-[Aa]fter: *[0-9]+' "with Retry-After"
like "$out" '"error": *"[^"]+".*"message": *"' "and the socket API's JSON error"
is "$(upstream_stat requests)" "$before" "nothing went upstream"
tbd_stop
done_testing
