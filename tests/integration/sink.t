#!/bin/bash
# File sinks: content in each format, mode and owner, atomic replacement
# under a reader looping on the file, emptied when the token expires.
. "$(dirname "$0")/lib.sh"

plan 11
idp_start --lifetime 4
mkdir -m 755 "$T_DIR/sinks"
chmod 711 "$T_DIR"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred raw "sink = $T_DIR/sinks/raw" "timeout = 1s")
$(cred hdr "sink = $T_DIR/sinks/hdr" "sink_format = header" "sink_mode = 0640" "sink_owner = nobody:nogroup" "timeout = 1s")
$(cred js "sink = $T_DIR/sinks/js" "sink_format = json" "timeout = 1s")
$(cred env "sink = $T_DIR/sinks/env" "sink_format = env" "timeout = 1s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
tok=$(api '/v1/tokens/raw?wait=10' -H 'Accept: text/plain')
wait_for 50 [ -s "$T_DIR/sinks/env" ]
is "$(cat "$T_DIR/sinks/raw")" "$(api /v1/tokens/raw -H 'Accept: text/plain')" "raw: the token and a newline"
is "$(stat -c %a "$T_DIR/sinks/raw")" 600 "mode 0600 by default"
like "$(cat "$T_DIR/sinks/hdr")" '^Authorization: Bearer [^ ]+$' "header: an Authorization line"
is "$(stat -c '%a %U %G' "$T_DIR/sinks/hdr")" "640 nobody nogroup" "sink_mode and sink_owner apply"
like "$(cat "$T_DIR/sinks/js")" '"access_token":"[^"]+".*"expires_at":[0-9]+' "json: as the API's GET"
like "$(cat "$T_DIR/sinks/env")" '^ACCESS_TOKEN=[^ ]+' "env: ACCESS_TOKEN= for EnvironmentFile="
like "$(cat "$T_DIR/sinks/env")" 'EXPIRES_AT=[0-9]+' "env: EXPIRES_AT="

# A reader looping on the file through several renewals never sees a
# partial, empty or expired token.
bad=0 reads=0 seen=""
end=$((SECONDS + 7))
while [ $SECONDS -lt $end ]; do
	t=$(cat "$T_DIR/sinks/raw")
	reads=$((reads + 1))
	if [ -z "$t" ] || [ "${#t}" -lt 10 ]; then bad=$((bad + 1)); continue; fi
	case " $seen " in *" $t "*) ;; *)
		seen="$seen $t"
		[ "$(idp "/introspect?token=$t" | json_field active)" = true ] || bad=$((bad + 1))
		;;
	esac
done
is "$bad" 0 "a reader looping on the sink never saw a partial or expired token ($reads reads)"
cmp_ok "$(echo $seen | wc -w)" -ge 3 "the sink was replaced at each renewal"

# The upstream goes away: once the token is no longer served, the sink is emptied.
idp '/control?fail=503' >/dev/null
wait_for 80 [ ! -s "$T_DIR/sinks/raw" ]
ok $? "when the token expires without a replacement the sink is emptied"
[ -f "$T_DIR/sinks/raw" ]
ok $? "(the file stays, empty)"
done_testing
