#!/bin/bash
# The profiles against fakeidp speaking each system's dialect: Xibo 2 and 3
# (opaque token, JWT, the JWT's exp when expires_in is missing), Xvid
# MediaHub (comma-joined scope, format and expires_in in the query, a string
# expires_in), Oracle SBC over HTTPS with a test CA (renewal by
# re-authentication keeps the configuration lock); each error envelope as
# last_error; tokenbrokerd --test on a wrong Xibo path (404) and on the SBC's
# plain-HTTP port (426), never printing a token.
. "$(dirname "$0")/lib.sh"

plan 50
make_test_ca || { echo "Bail out! cannot make a test CA"; exit 1; }
idp_start_named XIBO2 --dialect xibo
idp_start_named XIBO3 --dialect xibo
idp_start_named XVID --dialect xvid --lifetime 5400
idp_start_named XVIDBAD --dialect xvid
idp_start_named SBC --dialect oracle-sbc --lifetime 4 --tls-cert "$T_DIR/server.pem" \
	--tls-key "$T_DIR/server.key" --plain-port-file "$T_DIR/sbc-plain.port"
SBC_PLAIN_URL=http://127.0.0.1:$(cat "$T_DIR/sbc-plain.port")
idp_at XIBO3 '/control?xibo_version=3&lifetime=2400' >/dev/null

# Each credential is what a user writes (at most five lines); the SBC's
# ca_file and default_lifetime only fit the test endpoint (a CA of our own,
# tokens of 4 s instead of the real ten minutes).
write_conf "$T_DIR/tb.conf" <<EOF_CONF
[credential "xibo2"]
profile = xibo
base_url = $XIBO2_URL
client_id = it-client
client_secret = $IDP_SECRET

[credential "xibo3"]
profile = xibo
base_url = $XIBO3_URL
client_id = it-client
client_secret = $IDP_SECRET

[credential "xvid"]
profile = xvid-mediahub
base_url = $XVID_URL
client_id = it-client
client_secret = $IDP_SECRET
scope = mediahub_read mediahub_write

[credential "xvidlife"]
profile = xvid-mediahub
base_url = $XVID_URL
client_id = it-client
client_secret = $IDP_SECRET
requested_lifetime = 2h

[credential "sbc"]
profile = oracle-sbc
base_url = $SBC_URL
username = it-client
password = $IDP_SECRET
ca_file = $T_DIR/ca.pem
default_lifetime = 4s

[credential "xibo2bad"]
profile = xibo
base_url = $XIBO2_URL
client_id = it-client
client_secret = wrong-secret

[credential "xibo3bad"]
profile = xibo
base_url = $XIBO3_URL
client_id = it-client
client_secret = wrong-secret

[credential "xvid402"]
profile = xvid-mediahub
base_url = $XVIDBAD_URL
client_id = no-such-app
client_secret = $IDP_SECRET

[credential "xvid400"]
profile = xvid-mediahub
base_url = $XVIDBAD_URL
client_id = it-client
client_secret = $IDP_SECRET
scope = mediahub everything

[credential "sbcbad"]
profile = oracle-sbc
base_url = $SBC_URL
username = it-client
password = wrong-password
ca_file = $T_DIR/ca.pem
EOF_CONF
tbd_start "$T_DIR/tb.conf"
SBC_T0=$SECONDS

token() { api "/v1/tokens/$1?wait=10" -H 'Accept: text/plain'; }
renew() { api "/v1/tokens/$1/renew?wait=10" -X POST; }
jstr() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; } # a string field, commas and all
active() { idp_at "$1" "/introspect?token=$2" | json_field active; }
jwt_exp() { # the exp claim of a JWT's payload
	local p
	p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
	while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
	printf '%s' "$p" | base64 -d 2>/dev/null | sed -n 's/.*"exp":\([0-9]*\).*/\1/p'
}
SEEN_TOKENS=

# --- Xibo 2.x: opaque token, client_secret_post --------------------------
tok=$(token xibo2)
SEEN_TOKENS="$SEEN_TOKENS $tok"
is "$(active XIBO2 "$tok")" true "xibo 2: the token served is valid at the endpoint"
like "$tok" '^fk_[0-9a-f]{32}$' "xibo 2: an opaque token"
is "$(idp_at XIBO2 /stats | json_field path)" /api/authorize/access_token \
	"xibo: base_url + /api/authorize/access_token"
is "$(idp_at XIBO2 /stats | json_field auth)" post "xibo: client_secret_post"
left=$(api /v1/tokens/xibo2 | json_field expires_in)
cmp_ok "${left:-0}" -gt 3500 "xibo 2: expires_in followed ($left)"

# --- Xibo 3.x: a JWT; without expires_in its exp sets the lifetime -------
tok=$(token xibo3)
SEEN_TOKENS="$SEEN_TOKENS $tok"
is "$(active XIBO3 "$tok")" true "xibo 3: the token served is valid at the endpoint"
like "$tok" '^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "xibo 3: a JWT"
for c in xvid xvidlife; do SEEN_TOKENS="$SEEN_TOKENS $(token $c)"; done
# The answer takes 1.2 s, as an absolute expiry must not depend on that.
idp_at XIBO3 '/control?mode=no_expires_in&lifetime=1234&delay_ms=1200' >/dev/null
before=$(idp_stat_at XIBO3 issued)
body=$(renew xibo3)
idp_at XIBO3 '/control?delay_ms=0' >/dev/null
tok=$(printf '%s' "$body" | json_field access_token)
SEEN_TOKENS="$SEEN_TOKENS $tok"
is "$(idp_stat_at XIBO3 issued)" $((before + 1)) "xibo 3: renewed, with no expires_in"
left=$(printf '%s' "$body" | json_field expires_in)
cmp_ok "${left:-0}" -ge 1220 "no expires_in: the JWT's exp gives the lifetime ($left)"
cmp_ok "${left:-9999}" -le 1234 "and not default_lifetime (600) nor the old 2400"
exp=$(jwt_exp "$tok")
at=$(printf '%s' "$body" | json_field expires_at)
cmp_ok "${at:-0}" -ge $((exp - 3)) "expires_at follows the JWT's exp ($at, exp $exp)"
cmp_ok "${at:-0}" -le "$exp" "and is never later"
is "$at" "$exp" "expires_at is exactly the JWT's exp"

# --- Xvid MediaHub: comma-joined scope, query, string expires_in ---------
body=$(renew xvid)
tok=$(printf '%s' "$body" | json_field access_token)
SEEN_TOKENS="$SEEN_TOKENS $tok"
is "$(active XVID "$tok")" true "xvid: the token served is valid at the endpoint"
stats=$(idp_at XVID /stats)
is "$(printf '%s' "$stats" | jstr scope)" mediahub_read,mediahub_write \
	"xvid: scope = mediahub_read mediahub_write goes comma-joined"
like "$(printf '%s' "$stats" | jstr scope_raw)" '^mediahub_read(,|%2C)mediahub_write$' \
	"xvid: as the wire has it: $(printf '%s' "$stats" | jstr scope_raw)"
is "$(printf '%s' "$stats" | json_field grant_type)" client_credential \
	"xvid: grant_type client_credential"
is "$(printf '%s' "$stats" | jstr query)" format=json "xvid: format=json in the query"
left=$(printf '%s' "$body" | json_field expires_in)
cmp_ok "${left:-0}" -gt 5300 "xvid: the string expires_in \"5400\" is honoured ($left)"
cmp_ok "${left:-9999}" -le 5400 "and nothing longer"
body=$(renew xvidlife)
SEEN_TOKENS="$SEEN_TOKENS $(printf '%s' "$body" | json_field access_token)"
query=$(idp_at XVID /stats | jstr query)
like "$query" '(^|&)expires_in=7200(&|$)' "requested_lifetime = 2h: expires_in=7200 in the query"
like "$query" '(^|&)format=json(&|$)' "beside format=json ($query)"
left=$(printf '%s' "$body" | json_field expires_in)
cmp_ok "${left:-0}" -gt 7100 "and the lifetime granted is the one asked for ($left)"

# --- error envelopes as last_error ---------------------------------------
failed() { [ -n "$(cred_field "$1" last_error)" ]; }
# Refusals by the upstream are permanent: last_error says so after the cause.
PERM=" (this will not fix itself: change the configuration or the client at the upstream, then reload)"
for c in xibo2bad xibo3bad xvid402 xvid400 sbcbad; do wait_for 50 failed $c; done
is "$(cred_field xibo2bad last_error)" "HTTP 401: Client authentication failed.$PERM" \
	"xibo 2 error envelope: its message"
is "$(cred_field xibo3bad last_error)" "HTTP 401: invalid_client: Client authentication failed$PERM" \
	"xibo 3 error envelope: the RFC 6749 error and description"
is "$(cred_field xvid402 last_error)" "HTTP 402: Application does not exist (0x0220003)$PERM" \
	"xvid error envelope: 402 with its code"
is "$(cred_field xvid400 last_error)" "HTTP 400: Scopes requested are not allowed (0x0220002)$PERM" \
	"xvid error envelope: 400 with its code"
is "$(cred_field sbcbad last_error)" "HTTP 401: UNAUTHORIZED: Invalid username or password$PERM" \
	"oracle-sbc XML error: the text under <messages>"
code=$(api_code '/v1/tokens/xvid400?wait=0')
is "$code" 503 "a failing credential: 503"
body=$(api '/v1/tokens/xvid400?wait=0')
like "$body" '"upstream_error": *"Scopes requested are not allowed \(0x0220002\)"' \
	"the API's upstream_error is the upstream's message, its code after it"
like "$body" '"upstream_status": *400' "and upstream_status its status"
out=$("$TBCTL" -s "$SOCK" token xvid400 --wait 0 2>&1)
like "$out" 'Scopes requested are not allowed \(0x0220002\)' "tokenctl shows the message too"

# --- Oracle SBC: HTTPS, HTTP Basic, XML, renewal by re-authentication ----
tok1=$(token sbc)
SEEN_TOKENS="$SEEN_TOKENS $tok1"
is "$(active SBC "$tok1")" true "oracle-sbc: the token served is valid at the endpoint (HTTPS)"
is "$(idp_at SBC /stats | json_field path)" /rest/v1.2/auth/token "oracle-sbc: /rest/v1.2/auth/token"
code=$(idp_at SBC /rest/v1.2/configuration/lock -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $tok1")
is "$code" 200 "the configuration lock, taken with the broker's first token"
reauths() { [ "$(idp_stat_at SBC reauths)" -ge "$1" ] 2>/dev/null; }
# Counted from the token just fetched: earlier ones may have come before it.
SBC_T0=$SECONDS
wait_for 120 reauths $(( $(idp_stat_at SBC reauths) + 2 ))
ok $? "the broker renewed by re-authentication, twice ($(( SECONDS - SBC_T0 ))s)"
tokn=$(token sbc)
SEEN_TOKENS="$SEEN_TOKENS $tokn"
[ -n "$tokn" ] && [ "$tokn" != "$tok1" ]
ok $? "the broker serves a renewed token (${tok1:0:8}… then ${tokn:0:8}…)"
is "$(idp_stat_at SBC lineages)" 1 "every renewal stayed in the first token's lineage"
code=$(idp_at SBC /rest/v1.2/configuration/lock -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $tokn")
is "$code" 200 "the lock is still the broker's: locking with the latest token succeeds"
other=$(idp_at SBC /rest/v1.2/auth/token -X POST -u "it-client:$IDP_SECRET" |
	sed -n 's/.*<accessToken>\(.*\)<\/accessToken>.*/\1/p')
code=$(idp_at SBC /rest/v1.2/configuration/lock -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $other")
is "$code" 423 "someone else's new authentication cannot lock (423)"
is "$(cred_field sbc failures)" 0 "no SBC renewal failed"

# --- tokenbrokerd --test -------------------------------------------------
write_conf "$T_DIR/diag.conf" <<EOF_CONF
[credential "xibopath"]
profile = xibo
base_url = $XIBO2_URL/xibo
client_id = it-client
client_secret = $IDP_SECRET

[credential "sbcplain"]
profile = oracle-sbc
base_url = $SBC_PLAIN_URL
username = it-client
password = $IDP_SECRET

[credential "xibo3"]
profile = xibo
base_url = $XIBO3_URL
client_id = it-client
client_secret = $IDP_SECRET

[credential "sbc"]
profile = oracle-sbc
base_url = $SBC_URL
username = it-client
password = $IDP_SECRET
ca_file = $T_DIR/ca.pem
EOF_CONF
diag() { "$TBD" --test "$1" -c "$T_DIR/diag.conf" 2>&1; }
hint_ok() { # hint_ok OUTPUT REGEX: no hint line, or one matching
	local h
	h=$(printf '%s\n' "$1" | grep '^hint:')
	[ -z "$h" ] || printf '%s' "$h" | grep -Eq -- "$2"
}

out=$(diag xibopath)
is "$?" 69 "--test, Xibo at a path that 404s: exit 69"
like "$out" 'HTTP status: *404' "--test prints the 404"
hint_ok "$out" '/api/authorize/access_token'
ok $? "--test 404: a hint, if any, names /api/authorize/access_token"
echo "# 404 hint: $(printf '%s\n' "$out" | grep '^hint:' || echo '(none)')"
ALL_OUT=$out

out=$(diag sbcplain)
is "$?" 69 "--test, the SBC over plain HTTP: exit 69"
like "$out" 'HTTP status: *426' "--test prints the 426"
hint_ok "$out" '[Hh][Tt][Tt][Pp][Ss]'
ok $? "--test 426: a hint, if any, says https"
echo "# 426 hint: $(printf '%s\n' "$out" | grep '^hint:' || echo '(none)')"
ALL_OUT="$ALL_OUT
$out"

out3=$(diag xibo3)
st3=$?
outs=$(diag sbc)
sts=$?
[ "$st3" -eq 0 ] && [ "$sts" -eq 0 ]
ok $? "--test with a token: exit 0 (xibo 3 JWT: $st3, oracle-sbc XML: $sts)"
like "$out3" "lifetime:.*exp" "--test names where the lifetime came from (the JWT's exp)"
ALL_OUT="$ALL_OUT
$out3
$outs"
leak=0
for t in $SEEN_TOKENS; do
	case $ALL_OUT in *"$t"*) leak=1 ;; esac
done
printf '%s' "$ALL_OUT" | grep -Eq 'fk_[0-9a-f]{8}|eyJ[A-Za-z0-9_-]{8}' && leak=1
is "$leak" 0 "--test never prints a token"
done_testing
