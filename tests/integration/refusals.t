#!/bin/bash
# What the upstream refuses for good is not retried like an outage; a
# token_type that is not an HTTP token is refused, not served; a sink that
# cannot be written shows in the credential's state and last_error.
. "$(dirname "$0")/lib.sh"

plan 15
idp_start --lifetime 3600
mkdir -m 755 "$T_DIR/sinks"
chmod 711 "$T_DIR"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred r "backoff_min = 1s" "backoff_max = 20s" "sink = $T_DIR/sinks/r")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
tok=$(api '/v1/tokens/r?wait=10' -H 'Accept: text/plain')
[ -n "$tok" ]
ok $? "a first token"

# A transient failure (503) is retried after backoff_min.
idp '/control?fail=503' >/dev/null
api /v1/tokens/r/renew -X POST >/dev/null
next=$(cred_field r next_renewal)
cmp_ok $((next - $(date +%s))) -le 2 "a 503 is retried within backoff_min"
like "$(cred_field r last_error)" '^HTTP 503' "last_error names the 503"
case "$(cred_field r last_error)" in *"will not fix itself"*) st=1 ;; *) st=0 ;; esac
ok $st "and does not call it permanent"

# A refusal of the request itself (400 invalid_request) waits at the slow end.
idp '/control?fail=400' >/dev/null
api /v1/tokens/r/renew -X POST >/dev/null
before=$(idp_stat requests)
next=$(cred_field r next_renewal)
cmp_ok $((next - $(date +%s))) -ge 9 "a 400 waits at least backoff_max / 2 (next in $((next - $(date +%s)))s)"
like "$(cred_field r last_error)" '^HTTP 400: invalid_request.*will not fix itself' \
	"last_error says it will not fix itself"
sleep 2.5
is "$(idp_stat requests)" "$before" "no request in the meantime"
is "$(api /v1/tokens/r -H 'Accept: text/plain')" "$tok" "the current token is still served"
idp '/control?fail=0' >/dev/null

# A token_type with a space in it: refused, the old token stays.
idp '/control?token_type=Bearer%20x' >/dev/null
body=$(api /v1/tokens/r/renew -X POST)
like "$body" '"renewed": *false' "a bad token_type: not renewed"
like "$(cred_field r last_error)" "token_type at /token_type is not an HTTP authentication scheme.*refused 'Bearer x'" \
	"last_error says why"
is "$(cred_field r state)" failing "the credential is failing"
is "$(cat "$T_DIR/sinks/r")" "$tok" "the sink keeps the valid token"
idp '/control?reset=1' >/dev/null

# The sink cannot be replaced (a directory is in its place).
rm -f "$T_DIR/sinks/r"
mkdir "$T_DIR/sinks/r"
api /v1/tokens/r/renew -X POST >/dev/null
is "$(cred_field r state)" failing "a sink that cannot be written: failing"
like "$(cred_field r last_error)" "cannot write sink" "last_error names the sink"
rmdir "$T_DIR/sinks/r"
new=$(api /v1/tokens/r/renew -X POST -H 'Accept: text/plain')
is "$(cred_field r state):$(cat "$T_DIR/sinks/r")" "valid:$new" \
	"once it can, the sink is written and the credential valid"
done_testing
