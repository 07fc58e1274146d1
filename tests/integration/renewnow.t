#!/bin/bash
# Renew means "replace the token I have now": a renew right after a fetch
# gets a new token from the upstream (a script that just saw its token
# revoked must not get it back), and renews asked for at once share one
# upstream request and its token.
. "$(dirname "$0")/lib.sh"

plan 14
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred r "backoff_min = 5s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

tok1=$(api '/v1/tokens/r?wait=10' -H 'Accept: text/plain')
before=$(idp_stat requests)
body=$(api /v1/tokens/r/renew -X POST)
tok2=$(printf '%s' "$body" | json_field access_token)
[ -n "$tok1" ] && [ -n "$tok2" ] && [ "$tok1" != "$tok2" ]
ok $? "a renew at once after a fetch gets a different token"
is "$(idp_stat requests)" $((before + 1)) "the upstream saw a second request"
like "$body" '"renewed": *true' "the answer says it was renewed"
is "$(idp "/introspect?token=$tok2" | json_field active)" true "the new token is valid upstream"
is "$(api /v1/tokens/r -H 'Accept: text/plain')" "$tok2" "GET serves the new token from then on"

# The same through tokenctl, at once again.
out=$("$TBCTL" -s "$SOCK" renew r 2>&1)
is $? 0 "tokenctl renew exits 0"
tok3=$(api /v1/tokens/r -H 'Accept: text/plain')
[ -n "$tok3" ] && [ "$tok3" != "$tok2" ]
ok $? "tokenctl renew replaced the token too ($out)"
is "$(idp_stat requests)" $((before + 2)) "with one more upstream request"

# Twenty renews at once, while the upstream holds its answer: one request.
# The hold is long enough for all of them to have joined on a loaded
# machine; the gauge of waiting clients says when they have.
idp '/control?delay_ms=4000' >/dev/null
before=$(idp_stat requests)
pids=()
for i in $(seq 20); do
	api '/v1/tokens/r/renew?wait=10' -X POST -H 'Accept: text/plain' >"$T_DIR/out.$i" &
	pids+=($!)
done
wait_until 40 '[ "$(metric tokenbroker_waiting_clients)" -ge 20 ]' ||
	echo "# not all 20 were waiting before the answer: $(metric tokenbroker_waiting_clients)"
wait "${pids[@]}"
got=$(cat "$T_DIR"/out.* | grep -c .)
distinct=$(cat "$T_DIR"/out.* | sort -u | grep -c .)
new=$(sort -u "$T_DIR"/out.* | head -n 1)
is "$got" 20 "all 20 renews got a token"
is "$distinct" 1 "the same token"
[ "$new" != "$tok3" ]
ok $? "a new one"
is "$(idp_stat requests)" $((before + 1)) "one upstream request for 20 renews"
is "$(idp_stat max_concurrent)" 1 "never two requests in flight"
idp '/control?delay_ms=0' >/dev/null
tbd_stop
is $? 0 "clean stop"
done_testing
