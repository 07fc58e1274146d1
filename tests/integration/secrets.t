#!/bin/bash
# No secret and no token in any log line, error message or diagnosis, at
# log_level = debug, through success, failures of every envelope,
# re-authentication with the token, --test, --check-config and reload.
. "$(dirname "$0")/lib.sh"

plan 6
idp_start --lifetime 3600
printf '%s\n' "$IDP_SECRET" >"$T_DIR/secret"
chmod 600 "$T_DIR/secret"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred inline "backoff_min = 1s" "backoff_max = 2s")
[credential "fromfile"]
token_url = $IDP_URL/token
auth_method = client_secret_post
client_id = it-client
client_secret_file = $T_DIR/secret
backoff_min = 1s
backoff_max = 2s

$(cred reauth "reauth_with_token = yes" "reauth_token_param = token" "backoff_min = 1s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
tokens=()
for c in inline fromfile reauth; do
	tokens+=("$(api "/v1/tokens/$c?wait=10" -H 'Accept: text/plain')")
done
cmp_ok "${#tokens[2]}" -gt 10 "tokens were issued"

# Renewals that carry the current token, and failures of every kind.
sleep 1.1
for mode in normal error200 malformed no_token html; do
	idp "/control?mode=$mode" >/dev/null
	for c in inline fromfile reauth; do
		out=$(api "/v1/tokens/$c/renew?wait=5" -X POST)
		t=$(printf '%s' "$out" | json_field access_token)
		[ -n "$t" ] && tokens+=("$t")
		printf '%s\n' "$out" >>"$T_DIR/answers"
	done
	sleep 1.1
done
idp '/control?mode=normal&fail=401' >/dev/null
api '/v1/tokens/inline/renew?wait=5' -X POST >>"$T_DIR/answers"
idp '/control?fail=0' >/dev/null
"$TBCTL" -s "$SOCK" status >>"$T_DIR/answers" 2>&1
"$TBCTL" -s "$SOCK" renew reauth >>"$T_DIR/answers" 2>&1
kill -HUP "$TBD_PID"
sleep 0.5
"$TBD" -c "$T_DIR/tb.conf" --test fromfile >"$T_DIR/test.out" 2>&1
"$TBD" -c "$T_DIR/tb.conf" --test inline --log-level debug >>"$T_DIR/test.out" 2>&1
"$TBD" -c "$T_DIR/tb.conf" --check-config >>"$T_DIR/test.out" 2>&1
tbd_stop

found_secret=0 found_token=0
for f in "$T_DIR/daemon.log" "$T_DIR/test.out" "$T_DIR/answers"; do
	grep -qF -- "$IDP_SECRET" "$f" && found_secret=1 && echo "# the secret is in $(basename "$f")"
done
for t in "${tokens[@]}"; do
	[ -n "$t" ] || continue
	for f in "$T_DIR/daemon.log" "$T_DIR/test.out"; do
		grep -qF -- "$t" "$f" && found_token=1 && echo "# a token is in $(basename "$f")"
	done
done
cmp_ok "${#tokens[@]}" -ge 6 "several tokens went through (${#tokens[@]})"
is "$found_secret" 0 "the client secret is in no log, answer or diagnosis"
is "$found_token" 0 "no token is in any log or diagnosis"
grep -q 'new token [0-9a-f]\{6\}' "$T_DIR/daemon.log"
ok $? "tokens are logged as 6-hex-digit fingerprints"
n=$(grep -c 'renewal failed' "$T_DIR/daemon.log")
cmp_ok "$n" -ge 8 "the failures were logged ($n), still without secrets"
done_testing
