#!/bin/bash
# The refresh_token grant against fakeidp, which rotates refresh tokens and
# revokes the whole family when a spent one comes back: the rotated token
# kept in state_dir (mode 0600) before its access token is served, and
# spent after kill -9; no rotation; a revoked token leaves the credential
# failing with what to do, and a newer refresh_token_file wins after a
# reload; --test spends the kept token and keeps the next one, and waits
# for nobody (the lock); a stop, a reload and a state_dir that stops taking
# the token while a refresh is in flight lose nothing.  Through all of it
# the server never sees a token twice, and no refresh token is in any
# output.
. "$(dirname "$0")/lib.sh"

plan 48
FIRST=rt-first-$RANDOM$RANDOM$RANDOM
STATE=$T_DIR/state
KEPT=$STATE/r.refresh
idp_start --lifetime 3600 --refresh-token "$FIRST"
umask 077
printf '%s\n' "$FIRST" >"$T_DIR/rt"

current() { idp /refresh-token | json_field refresh_token; }
kept() { sed -n 's/^refresh_token //p' "$KEPT" 2>/dev/null; }
stat_str() { idp /stats | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p"; }
state() { api /v1/credentials | json_field state; }
last_error() { api /v1/credentials | json_field last_error; }
mode() { stat -c %a "$1"; }
SEEN=("$FIRST") # every refresh token there was, for the final grep
seen() { SEEN+=("$(current)"); }

# conf [extra lines...]: the daemon and one credential r spending refresh tokens.
conf() {
	{
		printf '[daemon]\nsocket = %s\nstate_dir = %s\nlog_level = debug\n\n' "$SOCK" "$STATE"
		cred r "grant_type = refresh_token" "refresh_token_file = $T_DIR/rt" \
			"backoff_min = 1s" "backoff_max = 2s" "$@"
	} >"$T_DIR/tb.conf"
	chmod 600 "$T_DIR/tb.conf"
}

# --- configuration mistakes --------------------------------------------------
write_conf "$T_DIR/bad.conf" <<EOF_CONF
$(cred r "grant_type = refresh_token")
EOF_CONF
like "$("$TBD" -c "$T_DIR/bad.conf" --check-config 2>&1)" \
	'bad.conf:[0-9]+: refresh_token_file: required by grant_type refresh_token' \
	"the grant without refresh_token_file: FILE:LINE"
write_conf "$T_DIR/bad.conf" <<EOF_CONF
$(cred r "refresh_token_file = $T_DIR/rt")
EOF_CONF
like "$("$TBD" -c "$T_DIR/bad.conf" --check-config 2>&1)" \
	'bad.conf:[0-9]+: refresh_token_file: only used by grant_type refresh_token' \
	"refresh_token_file for another grant: FILE:LINE, not silently unused"
cp "$T_DIR/rt" "$T_DIR/open-rt"
chmod 644 "$T_DIR/open-rt"
write_conf "$T_DIR/bad.conf" <<EOF_CONF
$(cred r "grant_type = refresh_token" "refresh_token_file = $T_DIR/open-rt")
EOF_CONF
like "$("$TBD" -c "$T_DIR/bad.conf" --check-config 2>&1)" 'refresh_token_file: .*(readable|chmod)' \
	"a refresh token file others can read is refused"

# --- the first token, and each rotation kept before it is served --------------
conf
tbd_start_conf "$T_DIR/tb.conf"
tok=$(api '/v1/tokens/r?wait=5' -H 'Accept: text/plain')
cmp_ok "${#tok}" -gt 10 "a token, from the first refresh token"
is "$(mode "$KEPT")" 600 "the rotated refresh token is kept in state_dir, mode 0600"
[ "$(kept)" = "$(current)" ] && [ "$(kept)" != "$FIRST" ]
ok $? "it is the server's current one, not the first"
seen
for i in 1 2 3; do
	before=$(kept)
	"$TBCTL" -s "$SOCK" renew r >/dev/null
	[ "$(kept)" = "$(current)" ] && [ "$(kept)" != "$before" ]
	ok $? "renewal $i: the kept token moved on with the server's"
	seen
done
is "$(idp_stat refresh_ok)" 4 "four refreshes, each answered"
is "$(idp_stat refresh_reuses)" 0 "none spent a token twice"

# --- kill -9: the kept token is spent, not the file's ------------------------
kill -9 "$TBD_PID"
wait "$TBD_PID" 2>/dev/null
TBD_PID=
tbd_start "$T_DIR/tb.conf"
tok=$(api '/v1/tokens/r?wait=5' -H 'Accept: text/plain')
cmp_ok "${#tok}" -gt 10 "after kill -9 and a restart: a token"
is "$(stat_str refresh_presented)" current "the restart spent the kept token, the current one"
is "$(idp_stat refresh_reuses)" 0 "not the first one again"
[ "$(kept)" = "$(current)" ]
ok $? "and kept the next"
seen

# --- a server that does not rotate -------------------------------------------
idp '/control?rotate=0' >/dev/null
before=$(kept)
"$TBCTL" -s "$SOCK" renew r >/dev/null
ok $? "a refresh answered without a new refresh token is a renewal"
[ "$(kept)" = "$before" ] && [ "$before" = "$(current)" ]
ok $? "the kept token stays, still the server's"
idp '/control?rotate=1' >/dev/null

# --- revoked: failing, with what to do ----------------------------------------
idp '/control?refresh_revoke=1' >/dev/null
"$TBCTL" -s "$SOCK" renew r >/dev/null 2>&1
is $? 69 "a refused refresh token: tokenctl renew exits 69"
is "$(state)" failing "the credential is failing (its token still served)"
like "$(last_error)" "invalid_grant.*kept in state_dir was refused; put a new one in $T_DIR/rt and reload" \
	"its error says which token was refused and what to do"
case "$(last_error)" in *"will not fix itself"*) false ;; esac
ok $? "without a second, generic advice"

# --- a new token in the file, a reload: it wins over the kept one ------------
NEW=rt-new-$RANDOM$RANDOM$RANDOM
idp "/control?refresh_token=$NEW" >/dev/null
sleep 0.02 # a modification time after the kept file's
printf '%s\n' "$NEW" >"$T_DIR/rt"
tbd_reload
wait_until 50 '[ "$(state)" = valid ]'
ok $? "after a reload the credential is valid again, at once"
[ "$(stat_str refresh_presented)" = current ] && [ "$(kept)" = "$(current)" ] &&
	[ "$(kept)" != "$NEW" ]
ok $? "it spent the new file's token and kept the rotated one"
seen

# --- --test beside the daemon --------------------------------------------------
ok_before=$(idp_stat refresh_ok)
"$TBD" -c "$T_DIR/tb.conf" --test r >"$T_DIR/test.out" 2>&1
is $? 0 "--test spends a refresh token"
like "$(cat "$T_DIR/test.out")" "refresh: +the token kept in $KEPT, rotated .* ago" \
	"it says the token came from state_dir, and how old"
like "$(cat "$T_DIR/test.out")" 'refresh: +rotated; the new refresh token is kept in' \
	"and that the next one is kept"
[ "$(kept)" = "$(current)" ]
ok $? "it is kept, for the daemon"
seen
"$TBCTL" -s "$SOCK" renew r >/dev/null
[ "$(idp_stat refresh_reuses)" = 0 ] && [ "$(idp_stat refresh_ok)" = $((ok_before + 2)) ]
ok $? "the daemon's next renewal spent what --test kept, not a spent one"
seen

# --- the lock: nobody spends the token while another process is at it -------
flock "$STATE/r.refresh.lock" sleep 3 &
holder=$!
wait_until 30 '! flock -n "$STATE/r.refresh.lock" true'
reqs=$(idp_stat refresh_requests)
"$TBD" -c "$T_DIR/tb.conf" --test r >"$T_DIR/test2.out" 2>&1
is $? 69 "--test while the lock is held: exit 69"
like "$(cat "$T_DIR/test2.out")" 'another process is renewing with this refresh token' \
	"saying why"
"$TBCTL" -s "$SOCK" renew r >/dev/null 2>&1
is $? 69 "the daemon's renewal fails too"
like "$(last_error)" 'another process is renewing' "its error says why"
is "$(idp_stat refresh_requests)" "$reqs" "and neither sent anything"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
cat "$T_DIR/test2.out" >>"$T_DIR/test.out"

# --- a stop while a refresh is in flight ------------------------------------
idp '/control?delay_ms=1500' >/dev/null
wait_until 40 '[ "$(state)" = valid ]' # the lock's failure backed off
reqs=$(idp_stat refresh_requests)
"$TBCTL" -s "$SOCK" renew r >/dev/null 2>&1 &
wait_until 30 '[ "$(idp_stat refresh_requests)" -gt "$reqs" ]'
tbd_stop
is $? 0 "SIGTERM while a refresh is in flight: exit status 0"
like "$(cat "$T_DIR/daemon.log")" 'waiting up to 5s for 1 refresh token renewal' \
	"the daemon waited for it"
[ "$(kept)" = "$(current)" ]
ok $? "and kept the token its answer rotated to"
seen
idp '/control?delay_ms=0' >/dev/null
tbd_start "$T_DIR/tb.conf"
tok=$(api '/v1/tokens/r?wait=5' -H 'Accept: text/plain')
[ -n "$tok" ] && [ "$(idp_stat refresh_reuses)" = 0 ]
ok $? "the restart spends that one: no reuse"
seen

# --- a reload with other settings while a refresh is in flight ----------------
idp '/control?delay_ms=1000' >/dev/null
ok_before=$(idp_stat refresh_ok)
reqs=$(idp_stat refresh_requests)
"$TBCTL" -s "$SOCK" renew r >/dev/null 2>&1 &
wait_until 30 '[ "$(idp_stat refresh_requests)" -gt "$reqs" ]'
conf "scope = read"
tbd_reload
wait_until 50 '[ "$(idp_stat refresh_ok)" -ge $((ok_before + 2)) ] && [ "$(state)" = valid ]'
ok $? "the refresh in flight ran to its end, then one with the new settings"
[ "$(idp_stat refresh_reuses)" = 0 ] && [ "$(kept)" = "$(current)" ]
ok $? "no token spent twice, the last one kept"
seen
idp '/control?delay_ms=0' >/dev/null

# --- state_dir stops taking the rotated token ---------------------------------
served=$(api '/v1/tokens/r' -H 'Accept: text/plain')
idp '/control?delay_ms=1000' >/dev/null
reqs=$(idp_stat refresh_requests)
"$TBCTL" -s "$SOCK" renew r >/dev/null 2>&1 &
renewer=$!
wait_until 30 '[ "$(idp_stat refresh_requests)" -gt "$reqs" ]'
chmod 770 "$STATE"
wait "$renewer"
is $? 69 "a rotated token state_dir does not take: the renewal fails"
like "$(last_error)" 'cannot keep the rotated refresh token: .*held in memory' \
	"saying so, and that it is held in memory"
is "$(api '/v1/tokens/r' -H 'Accept: text/plain')" "$served" \
	"the access token that came with it is not served"
[ "$(kept)" != "$(current)" ]
ok $? "the file still holds the spent one"
chmod 700 "$STATE"
idp '/control?delay_ms=0' >/dev/null
wait_until 40 '"$TBCTL" -s "$SOCK" renew r >/dev/null 2>&1'
ok $? "once state_dir is fixed, a renewal succeeds"
[ "$(idp_stat refresh_reuses)" = 0 ] && [ "$(kept)" = "$(current)" ]
ok $? "it spent the token held in memory, and kept the next"
seen
tbd_stop

# --- no refresh token anywhere it should not be ---------------------------------
found=0
for t in "${SEEN[@]}" "$NEW"; do
	[ -n "$t" ] || continue
	grep -qF -- "$t" "$T_DIR/daemon.log" "$T_DIR/test.out" && found=1 &&
		echo "# a refresh token is in the output"
done
cmp_ok "${#SEEN[@]}" -ge 12 "many refresh tokens went through (${#SEEN[@]})"
is "$found" 0 "none of them is in the daemon's log or --test's output"
grep -q 'secrets were not freed' "$T_DIR/daemon.log"
is $? 1 "every secret was freed at exit"
done_testing
