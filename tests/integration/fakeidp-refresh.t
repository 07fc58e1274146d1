#!/bin/bash
# fakeidp's refresh_token grant, which the daemon's tests of that grant
# stand on, checked with curl alone: rotation, reuse detection revoking the
# whole family, an unknown token, no rotation, an injected invalid_grant, a
# revocation and a new family from /control, and what /stats and
# /refresh-token tell.  No refresh token is printed.
. "$(dirname "$0")/lib.sh"

plan 23
FIRST=rt-first-$RANDOM$RANDOM$RANDOM
printf '%s\n' "$FIRST" >"$T_DIR/rt"
idp_start --refresh-token-file "$T_DIR/rt"

# refresh RT [curl args...]: the status and the body of a refresh_token grant.
refresh() {
	local rt=$1
	shift
	curl -s -m 5 -w ' %{http_code}' -u "it-client:$IDP_SECRET" "$IDP_URL/token" \
		-d grant_type=refresh_token --data-urlencode "refresh_token=$rt" "$@"
}
rt_of() { sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p'; }  # from an answer on stdin
# hide: an answer on stdin with its tokens' values replaced, fit to print.
hide() { sed -E 's/"(access_token|refresh_token)":"(fk_|rt_)?[^"]*"/"\1":"\2(hidden)"/g'; }
current() { idp /refresh-token | json_field refresh_token; }
stat_str() { idp /stats | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p"; }
fp() { printf '%s' "$1" | sha256sum | cut -c1-6; }

out=$(refresh "$FIRST")
second=$(printf '%s' "$out" | rt_of)
like "$(printf '%s' "$out" | hide)" '"access_token":"fk_.*"refresh_token":"rt_.* 200$' \
	"the first token refreshes: an access token and a new refresh token"
like "$(printf '%s' "$second" | tr 0-9a-f x)" '^rt_x{32}$' "the new refresh token is rt_ and 32 hex digits"
ok "$([ "$(current)" = "$second" ] && [ "$second" != "$FIRST" ]; echo $?)" \
	"/refresh-token shows the new one as current"
like "$(idp "/introspect?token=$(printf '%s' "$out" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')")" \
	'"active":true' "the access token is one fakeidp issued"
is "$(stat_str refresh_presented)/$(stat_str refresh_presented_fp)" "current/$(fp "$FIRST")" \
	"/stats: the last request presented the current token (its fingerprint)"
third=$(refresh "$second" | rt_of)
ok "$([ -n "$third" ] && [ "$third" != "$second" ]; echo $?)" "the second one refreshes too"
is "$(stat_str refresh_fp)" "$(fp "$third")" "/stats: the current token's fingerprint"

like "$(refresh "$second" | hide)" '"error":"invalid_grant".*already used.* 400$' \
	"a consumed token presented again: 400 invalid_grant"
is "$(stat_str refresh_presented)" consumed "/stats: it was a consumed one"
like "$(refresh "$third" | hide)" '"error":"invalid_grant".* 400$' "and the family is revoked: the current one fails too"
is "$(stat_str refresh_reuses)/$(stat_str refresh_revoked)" "1/true" "/stats: one reuse, the family revoked"
like "$(refresh "rt_$RANDOM" | hide)" '"error":"invalid_grant".*unknown.* 400$' "an unknown token: 400 invalid_grant"
like "$(refresh "" | hide)" '"error":"invalid_request".* 400$' "no refresh_token: 400 invalid_request"
like "$(curl -s -m 5 -w ' %{http_code}' -u it-client:wrong "$IDP_URL/token" -d grant_type=refresh_token \
	--data-urlencode "refresh_token=$third")" 'invalid_client.* 401$' "a wrong client secret: 401 invalid_client"

# An administrator's new token, not rotated.
NEW=rt-new-$RANDOM$RANDOM$RANDOM
idp "/control?refresh_token=$NEW&rotate=0" >/dev/null
out=$(refresh "$NEW")
ok "$(printf '%s' "$out" | grep -q '"access_token"' && ! printf '%s' "$out" | grep -q refresh_token; echo $?)" \
	"refresh_token=: a new family; rotate=0: no refresh token in the answer"
like "$(refresh "$NEW" | hide)" '"access_token".* 200$' "and the same one stays valid"
like "$(refresh "$third" | hide)" 'unknown.* 400$' "an earlier family's token is unknown"
is "$(stat_str refresh_family)/$(stat_str refresh_revoked)/$(stat_str refresh_reuses)" "2/false/1" \
	"which is no reuse: the new family is not revoked"

idp '/control?invalid_grant=1&rotate=1' >/dev/null
like "$(refresh "$NEW" | hide)" 'invalid_grant.*injected.* 400$' "invalid_grant=1: the next refresh is refused"
like "$(refresh "$NEW" | hide)" '"refresh_token":"rt_.* 200$' "and the one after is not"
idp '/control?refresh_revoke=1' >/dev/null
like "$(refresh "$(current)" | hide)" 'invalid_grant.*revoked.* 400$' "refresh_revoke=1: the current token is refused"
is "$(stat_str refresh_requests)/$(stat_str refresh_ok)" "13/5" \
	"/stats: refresh requests received, and those answered with a token"

found=0
for f in "$T_DIR/idp.log"; do
	for s in "$FIRST" "$second" "$third" "$NEW"; do grep -qF -- "$s" "$f" && found=1; done
done
idp /stats | grep -qF -e "$FIRST" -e "$second" -e "$third" -e "$NEW" && found=1
is "$found" 0 "no refresh token in fakeidp's output or /stats"
done_testing
