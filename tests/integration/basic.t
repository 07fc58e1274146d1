#!/bin/bash
# A token is served over the socket, is valid at the endpoint, and the API
# answers every documented request with the documented code.
. "$(dirname "$0")/lib.sh"

plan 30
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred basic "scope = read write")
$(cred post "auth_method = client_secret_post" "lazy = yes")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

body=$(api '/v1/tokens/basic?wait=10')
tok=$(printf '%s' "$body" | json_field access_token)
cmp_ok "${#tok}" -gt 10 "GET /v1/tokens/basic returns a token"
active=$(idp "/introspect?token=$tok" | json_field active)
is "$active" true "the token is valid at the token endpoint"
is "$(printf '%s' "$body" | json_field token_type)" Bearer "token_type is Bearer"
is "$(printf '%s' "$body" | json_field scope)" "read write" "scope is the configured one, space-separated"
is "$(printf '%s' "$body" | json_field name)" basic "the answer names the credential"
exp_in=$(printf '%s' "$body" | json_field expires_in)
cmp_ok "$exp_in" -gt 3500 "expires_in is the remaining lifetime"
exp_at=$(printf '%s' "$body" | json_field expires_at)
now=$(date +%s)
cmp_ok $((exp_at - now)) -ge 3500 "expires_at is unix seconds of the expiry"
is "$(idp /stats | json_field auth)" basic "client_secret_basic authenticates with HTTP Basic"

# The answer is made once for each value of expires_in: a second later it
# counts down, and a renewed token is what the next GET has.
a1=$(api /v1/tokens/basic | json_field expires_in)
sleep 1.1
a2=$(api /v1/tokens/basic | json_field expires_in)
cmp_ok "$a2" -lt "$a1" "a second later expires_in has counted down ($a1, then $a2)"
new=$(api /v1/tokens/basic/renew -X POST | json_field access_token)
[ -n "$new" ] && [ "$new" != "$tok" ] && [ "$(api /v1/tokens/basic | json_field access_token)" = "$new" ]
ok $? "after a renewal GET answers the new token at once"
tok=$new

text=$(api /v1/tokens/basic -H 'Accept: text/plain')
[ "$text" = "$tok" ]
ok $? "Accept: text/plain answers the bare token"

before=$(idp_stat requests)
body=$(api '/v1/tokens/post?wait=10')
tok2=$(printf '%s' "$body" | json_field access_token)
is "$(idp "/introspect?token=$tok2" | json_field active)" true "a lazy credential is fetched on first request"
is "$(idp /stats | json_field auth)" post "client_secret_post sends the secret in the body"
is "$(idp_stat requests)" $((before + 1)) "the lazy credential cost exactly one upstream request"
api /v1/tokens/basic >/dev/null
api /v1/tokens/post >/dev/null
is "$(idp_stat requests)" $((before + 1)) "valid tokens are served from the cache"

is "$(api_code /v1/tokens/nosuch)" 404 "unknown credential: 404"
like "$(api /v1/tokens/nosuch)" '"error": *"not_found"' "404 body names the error"
is "$(api_code /v1/tokens/basic -X POST)" 405 "POST on a token: 405"
is "$(api_code /v1/tokens/basic/renew)" 405 "GET on renew: 405"
like "$(api /v1/tokens/basic -X PATCH)" '"error":"method_not_allowed"' "any other method: 405 in JSON"
is "$(api_code '/v1/tokens/basic?min_valid=abc')" 400 "malformed min_valid: 400"
is "$(api_code '/v1/tokens/basic?bogus=1')" 400 "unknown parameter: 400"
is "$(api_code '/v1/tokens/bad%20name')" 404 "an invalid name is not found"
is "$(api_code /nothing/here)" 404 "unknown path: 404"
is "$(api_code /v1/health)" 200 "health: 200"

list=$(api /v1/credentials)
like "$list" '"name": *"basic".*"state": *"valid"' "credentials list shows basic as valid"
like "$list" '"name": *"post"' "credentials list shows post"
printf '%s' "$list" | grep -q "$tok"
is $? 1 "the credentials list holds no token"

old=$tok
body=$(api /v1/tokens/basic/renew -X POST)
new=$(printf '%s' "$body" | json_field access_token)
[ -n "$new" ] && [ "$new" != "$old" ]
ok $? "POST renew fetches a new token"

tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
