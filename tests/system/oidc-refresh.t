#!/bin/bash
# The refresh_token grant against a real authorization server: oidc-provider
# (tests/oidc), which rotates refresh tokens and, when a consumed one comes
# back, revokes the whole grant.  The daemon starts from a refresh token the
# server minted (refresh_token_file), renews with the rotated ones it keeps
# in state_dir (mode 0600, never the first one again), takes the newest one
# up after kill -9 and a restart without the server seeing any token twice,
# and the first token, presented again by hand, is refused as a reuse,
# which leaves the credential failing.  Neither a refresh token nor the
# client secret is in the daemon's log or this output.  Skipped without
# Node.js or the npm packages.
. "$(dirname "$0")/../integration/lib.sh"
oidc_require

SECRET=oidc-secret-$RANDOM$RANDOM$RANDOM$RANDOM-$RANDOM$RANDOM$RANDOM
STATE=$T_DIR/state
# Access tokens live 10 s: renewals come every 5 s or so.
printf '[{"client_id":"refresh","client_secret":"%s","token_endpoint_auth_method":"client_secret_basic","grant_types":["refresh_token"]}]\n' \
	"$SECRET" >"$T_DIR/clients.json"
# The server writes the refresh token before its port.
oidc_start "$T_DIR/clients.json" --refresh-token "refresh=$T_DIR/rt" --access-token-ttl 10
FIRST=$(cat "$T_DIR/rt")
printf '%s\n' "$SECRET" >"$T_DIR/secret"
chmod 600 "$T_DIR/secret"
# persist stays off: after the restart the daemon has no access token to
# reuse and must spend the refresh token it kept (which the contract keeps
# in state_dir whatever persist says).
cat >"$T_DIR/tb.conf" <<EOF_CONF
[daemon]
socket = $SOCK
state_dir = $STATE
log_level = debug

[credential "rt"]
token_url = $ISSUER/token
client_id = refresh
client_secret_file = $T_DIR/secret
grant_type = refresh_token
refresh_token_file = $T_DIR/rt
scope = read
timeout = 5s
EOF_CONF
chmod 600 "$T_DIR/tb.conf"

# introspect TOKEN: what the server says of it (refresh tokens carry the
# grant's scopes "read write", access tokens "read").
introspect() { oidc_introspect "refresh:$SECRET" "$1"; }
# token_now: introspect the daemon's access token (which is never printed).
token_now() {
	local tok
	tok=$("$TBCTL" -s "$SOCK" token rt --wait 10 2>/dev/null) || { echo "no token"; return; }
	introspect "$tok"
}
# state_file: where state_dir keeps the refresh token.  The contract names
# no file: a non-empty regular file there, one whose name says refresh when
# there are several (persist is off, so no access token is kept beside it).
state_file() {
	local f
	f=$(find "$STATE" -maxdepth 1 -type f -size +0c 2>/dev/null | sort)
	{ printf '%s\n' "$f" | grep refresh || printf '%s\n' "$f"; } | head -n 1
}
state_sum() { local f; f=$(state_file); [ -n "$f" ] && sha256sum <"$f" | cut -c1-16; }
# kept_token: the refresh token in the state file, whatever the file's
# format: of its words, the one the server calls an active refresh token.
kept_token() {
	local f w
	f=$(state_file)
	[ -n "$f" ] || return 1
	for w in $(tr -c 'A-Za-z0-9_-' '\n' <"$f" | grep -xE '[A-Za-z0-9_-]{20,}'); do
		[ "$(introspect "$w")" = "true refresh read write" ] && { printf '%s' "$w"; return 0; }
	done
	return 1
}
reuses() { grep -cE 'grant\.revoked|already used' "$T_DIR/oidc.log"; }
consumed() { grep -c 'refresh_token\.consumed' "$T_DIR/oidc.log"; }
KEPT= # every refresh token seen in state_dir, for the leak check

plan 29
tbd_start_conf "$T_DIR/tb.conf"

# --- a. the first token, from the file's refresh token ----------------------
is "$(token_now)" "true refresh read" "a token from the refresh_token grant, active at oidc-provider"
is "$(introspect "$FIRST")" "false" "the file's refresh token was spent (the server rotated it)"
f=$(state_file)
ok "$([ -n "$f" ]; echo $?)" "state_dir keeps the rotated refresh token"
is "$(stat -c %a "$f" 2>/dev/null)" 600 "in a file of mode 0600"
ok "$(! grep -qF -- "$FIRST" "$f" 2>/dev/null; echo $?)" "which no longer holds the first token"
kept=$(kept_token)
ok "$([ -n "$kept" ]; echo $?)" "but the rotated one, active at the server"
KEPT="$KEPT $kept"

# --- b. two renewals, each token rotated and kept -----------------------------
for n in 1 2; do
	sum=$(state_sum)
	wait_until 150 '[ "$(state_sum)" != "$sum" ]'
	ok $? "renewal $n: the kept refresh token changes"
	f=$(state_file)
	kept=$(kept_token)
	ok "$([ -n "$kept" ] && ! grep -qF -- "$FIRST" "$f" && [ "$(stat -c %a "$f")" = 600 ]; echo $?)" \
		"renewal $n: the file, mode 0600, holds the new active token, not the first"
	KEPT="$KEPT $kept"
done
cmp_ok "$(cred_field rt renewals)" -ge 2 "the daemon counts the renewals"
is "$(token_now)" "true refresh read" "the renewed access token is active"
is "$(reuses)" 0 "the server saw no refresh token twice"
cmp_ok "$(consumed)" -ge 3 "it consumed one for the first token and one for each renewal"

# --- c. kill -9 and a restart: the kept token, not the file's ---------------
# Right after a renewal, so that none is in flight: a request the server
# answered and the daemon never read would have consumed a token that the
# daemon cannot know was spent.
sum=$(state_sum)
wait_until 150 '[ "$(state_sum)" != "$sum" ]'
kill -9 "$TBD_PID"
wait "$TBD_PID" 2>/dev/null
TBD_PID=
before=$(consumed)
sum=$(state_sum)
tbd_start "$T_DIR/tb.conf"
is "$(token_now)" "true refresh read" "after kill -9 and a restart: a new token, active"
is "$(cred_field rt state)" valid "the credential is valid"
cmp_ok "$(consumed)" -gt "$before" "the server consumed a refresh token for it"
is "$(reuses)" 0 "and none twice: the restart spent the kept token, not the file's first"
wait_until 50 '[ -n "$(state_sum)" ] && [ "$(state_sum)" != "$sum" ]'
ok $? "the token it got in exchange is kept"
last=$(kept_token)
ok "$([ -n "$last" ]; echo $?)" "and active at the server"
KEPT="$KEPT $last"

# --- d. the first token again, by hand: a reuse -----------------------------
out=$(curl -s -m 10 -u "refresh:$SECRET" -d grant_type=refresh_token \
	--data-urlencode "refresh_token=$FIRST" "$ISSUER/token")
like "$(printf '%s' "$out" | grep -o '"error":"[a-z_]*"')" '"error":"invalid_grant"' \
	"the first refresh token presented again: invalid_grant"
like "$(grep 'grant\.error' "$T_DIR/oidc.log" | tail -n 1)" 'already used' \
	"the server took it for a reuse (rotation had happened)"
is "$(introspect "$last")" "false" "and revoked the grant: the daemon's kept token is dead too"
n=$(wc -l <"$T_DIR/daemon.log")
"$TBCTL" -s "$SOCK" renew rt >/dev/null 2>&1
is $? 69 "so a renewal is refused (tokenctl renew exits 69)"
is "$(cred_field rt state)" failing "the credential is failing"
said=$(cred_field rt last_error; tail -n +"$((n + 1))" "$T_DIR/daemon.log")
like "$said" 'invalid_grant' "its error says invalid_grant"
like "$said" 'reload' "and what to do: a new token in the file, and reload"

# --- e. no secret in a log ---------------------------------------------------
found=0
for s in "$SECRET" "$FIRST" $KEPT; do
	leaks "a refresh token or the client secret" "$s" "$T_DIR/daemon.log" "$T_DIR/oidc.log" && found=1
done
is "$found" 0 "no refresh token, nor the client secret, in the daemon's or the server's log"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
