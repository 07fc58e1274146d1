#!/bin/bash
# The proxy (interface §5): a request without credentials reaches the API
# with the credential's current token; method, path under the upstream's,
# query, body and end-to-end headers go through, hop-by-hop headers and the
# client's own Authorization do not, Host is the upstream's; a body over
# max_request_body is refused before anything goes upstream; a Host that is
# not loopback (DNS rebinding) gets 421 before any other check; Upgrade
# and CONNECT get 501; GET /v1/proxies, tokenctl proxies and /metrics show
# the proxy, and none of them a token.
. "$(dirname "$0")/lib.sh"

plan 49
proxy_start api "max_request_body = 64k"
port_open "$PX_PORT"
ok $? "the proxy listens on 127.0.0.1:$PX_PORT"

# No credentials from the client: the current token goes upstream.
out=$(px /echo)
tok=$("$TBCTL" -s "$SOCK" token main)
cmp_ok "${#tok}" -gt 10 "the credential has a token"
is "$(printf '%s' "$out" | json_field authorization_sha)" "$(sha12 "$tok")" \
	"a request without Authorization arrives with the credential's current token"
is "$(printf '%s' "$out" | json_field authorizations)" 1 "and one Authorization header"
is "$(upstream_stat authorized)" 1 "the API accepted it"

# What goes through and what does not.
printf 'hello, upstream' >"$T_DIR/small"
out=$(px '/echo?a=1&b=2' -X PUT --data-binary @"$T_DIR/small" \
	-H 'Content-Type: text/plain' -H 'X-Custom: kept' -H 'Accept: application/json' \
	-H 'Connection: X-Foo' -H 'X-Foo: 1' -H 'Connection: X-Bar' -H 'X-Bar: 2' \
	-H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
	-H 'Proxy-Authorization: Basic dXNlcjpwYXNz' -H 'Authorization: Bearer the-clients-own')
is "$(printf '%s' "$out" | json_field path)" /api/echo "the path is appended to the upstream's base path"
is "$(printf '%s' "$out" | json_field query)" 'a=1&b=2' "the query goes through as it was"
is "$(printf '%s' "$out" | json_field method)" PUT "the method goes through"
is "$(printf '%s' "$out" | json_field body_len)" 15 "the body goes through"
is "$(printf '%s' "$out" | json_field body_sha256)" "$(sha256sum <"$T_DIR/small" | cut -d' ' -f1)" \
	"byte for byte"
is "$(printf '%s' "$out" | echo_header X-Custom)" kept "end-to-end headers go through"
is "$(printf '%s' "$out" | echo_header Content-Type)" text/plain "Content-Type goes through"
is "$(printf '%s' "$out" | echo_header X-Foo)" "" "a header named in Connection is dropped"
is "$(printf '%s' "$out" | echo_header X-Bar)" "" "and one named in a second Connection header"
conn=$(printf '%s' "$out" | echo_header Connection)
[[ -z "$conn" || "$conn" =~ ^([Kk]eep-[Aa]live|[Cc]lose)$ ]]
ok $? "the client's Connection header is not forwarded (upstream got: ${conn:-none})"
is "$(printf '%s' "$out" | echo_header Keep-Alive)" "" "Keep-Alive is dropped"
is "$(printf '%s' "$out" | echo_header TE)" "" "TE is dropped"
is "$(printf '%s' "$out" | echo_header Proxy-Authorization)" "" "Proxy-Authorization is dropped"
is "$(printf '%s' "$out" | json_field authorizations)" 1 "the client's Authorization is replaced, not added to"
is "$(printf '%s' "$out" | json_field authorization_sha)" "$(sha12 "$tok")" "by the credential's token"
is "$(printf '%s' "$out" | echo_header Host)" "127.0.0.1:$API_PORT" "Host is the upstream's host:port"

# The answer comes back as the upstream gave it.
is "$(px_code '/status?code=418')" 418 "the upstream's status comes back"
hdrs=$(curl -s -m 10 -o /dev/null -D - -H 'Accept: text/plain' "http://127.0.0.1:$PX_PORT/bytes?n=1000")
like "$hdrs" $'\n[Cc]ontent-[Tt]ype: application/octet-stream' "the upstream's headers come back"

# A body over max_request_body: 413, and nothing went upstream.
before=$(upstream_stat requests)
head -c 65536 /dev/urandom >"$T_DIR/limit"
is "$(px_code /echo --data-binary @"$T_DIR/limit")" 200 "a body of exactly max_request_body goes through"
head -c 100000 /dev/urandom >"$T_DIR/over"
is "$(px_code /echo --data-binary @"$T_DIR/over")" 413 "a larger one gets 413"
is "$(upstream_stat requests)" $((before + 1)) "and the API never saw it"

# The Host check comes first; loopback names pass.
before=$(upstream_stat requests)
is "$(px_code /echo -H 'Host: evil.example')" 421 "Host: evil.example gets 421"
is "$(px_code /echo -H 'Host: evil.example' -H 'Upgrade: websocket' -H 'Connection: Upgrade')" 421 \
	"the Host check comes before the others"
is "$(px_code /echo -H "Host: evil.example:$PX_PORT")" 421 "so does a foreign name with the listener's port"
is "$(upstream_stat requests)" "$before" "nothing of those went upstream"
is "$(px_code /echo -H "Host: localhost:$PX_PORT")" 200 "Host: localhost:PORT is accepted"
is "$(px_code /echo -H 'Host: 127.0.0.1')" 200 "Host: 127.0.0.1 is accepted"
is "$(px_code /echo -H "Host: [::1]:$PX_PORT")" 200 "Host: [::1]:PORT is accepted"
before=$(upstream_stat requests)
is "$(px_code /echo -H 'Upgrade: websocket' -H 'Connection: Upgrade')" 501 "Upgrade: websocket gets 501"
is "$(px_code / -X CONNECT --request-target example.com:443)" 501 "CONNECT gets 501"
is "$(upstream_stat requests)" "$before" "neither went upstream"

# The proxy as the socket API, tokenctl and /metrics show it.
px_code '/status?code=418' >/dev/null
list=$(api /v1/proxies)
like "$list" '"name": *"api"' "GET /v1/proxies lists the proxy"
like "$list" "\"listen\": *\"127\\.0\\.0\\.1:$PX_PORT\"" "with its listener"
like "$list" "\"upstream\": *\"http://127\\.0\\.0\\.1:$API_PORT/api\"" "its upstream"
like "$list" '"credential": *"main"' "its credential"
like "$list" '"requests": *([2-9]|[1-9][0-9]+)[,}]' "how many requests it answered"
like "$list" '"retries": *0[,}]' "how many it sent again"
like "$list" '"last_status": *418[,}]' "and the status of the last answer"
table=$("$TBCTL" -s "$SOCK" proxies)
row=$(printf '%s\n' "$table" | grep -w api)
[[ "$row" == *"127.0.0.1:$PX_PORT"* && "$row" == *"http://127.0.0.1:$API_PORT/api"* &&
	"$row" =~ [[:space:]]main([[:space:]]|$) && "$row" =~ [[:space:]]418([[:space:]]|$) ]]
ok $? "tokenctl proxies: a row with listener, upstream, credential and last status"
json=$("$TBCTL" -s "$SOCK" --json proxies)
like "$json" '"name": *"api"' "tokenctl --json proxies names the proxy"
like "$json" '"last_status": *418' "with its last status"
is "$(metric 'tokenbroker_proxy_requests_total{proxy="api",code="418"}')" 2 \
	"/metrics counts the proxy's answers by code"
api /metrics | grep -q '^tokenbroker_proxy_active{proxy="api"} 0$'
ok $? "and the requests in flight"
found=0
grep -qF -- "$tok" "$T_DIR/daemon.log" && found=1
printf '%s\n%s\n%s\n%s\n' "$list" "$table" "$json" "$(api /metrics)" | grep -qF -- "$tok" && found=1
is "$found" 0 "no token in the log, the proxy list, tokenctl's table or /metrics"
done_testing
