#!/bin/bash
# What the upstream answers, and what the daemon makes of it: string
# expires_in, no expires_in, lowercase token_type, and failures with a clear
# cause (error with 200, no token, malformed, oversize, HTML, bad secret).
. "$(dirname "$0")/lib.sh"

plan 18
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred up "lazy = yes" "default_lifetime = 7m" "backoff_min = 1s" "backoff_max = 2s")
[credential "wrong"]
token_url = $IDP_URL/token
client_id = it-client
client_secret = not-the-secret
lazy = yes
backoff_min = 1s
backoff_max = 4s
EOF_CONF
tbd_start "$T_DIR/tb.conf"

renew() { api '/v1/tokens/up/renew?wait=5' -X POST; }
last_error() { api /v1/credentials | sed -n 's/.*"name":"up"[^}]*"last_error":"\([^"]*\)".*/\1/p'; }

idp '/control?mode=string_expires_in&lifetime=1800' >/dev/null
left=$(renew | json_field expires_in)
cmp_ok "${left:-0}" -gt 1700 "expires_in as a string is understood ($left)"

sleep 1.1
idp '/control?mode=no_expires_in' >/dev/null
left=$(renew | json_field expires_in)
cmp_ok "${left:-0}" -gt 400 "no expires_in: default_lifetime applies ($left)"
cmp_ok "${left:-999}" -le 420 "and only default_lifetime"

sleep 1.1
idp '/control?mode=normal&token_type=bearer' >/dev/null
is "$(renew | json_field token_type)" Bearer "token_type is case-insensitive (bearer -> Bearer)"

for m in error200 no_token malformed oversize html; do
	sleep 1.1
	idp "/control?mode=$m&token_type=Bearer" >/dev/null
	out=$(api '/v1/tokens/up/renew?wait=5' -X POST)
	like "$out" '"renewed":false,"renew_error":"HTTP' "mode $m: the renewal fails; the valid token is served, renewed:false"
	case $m in
	error200) re='invalid_scope' ;;
	no_token) re='no token' ;;
	malformed) re='not JSON|invalid JSON' ;;
	oversize) re='larger than' ;;
	html) re='text/html' ;;
	esac
	like "$(last_error)" "$re" "mode $m: last_error says why"
done

idp '/control?mode=normal' >/dev/null
"$TBCTL" -s "$SOCK" renew up >/dev/null 2>&1
is $? 0 "tokenctl renew: exit 0 when renewed"
idp '/control?mode=html' >/dev/null
sleep 1.1
"$TBCTL" -s "$SOCK" renew up 2>"$T_DIR/err" >/dev/null
is $? 69 "tokenctl renew: exit 69 when the renewal failed (the old token stays valid)"
idp '/control?mode=normal' >/dev/null
body=$(api '/v1/tokens/wrong?wait=5')
like "$body" '"upstream_error": *"invalid_client: client authentication failed"' \
	"a wrong secret: the 503 carries the upstream's invalid_client and its text"
before=$(idp_stat requests)
sleep 3
cmp_ok $(( $(idp_stat requests) - before )) -le 2 "a rejected client retries at the slow end, not in a loop"
done_testing
