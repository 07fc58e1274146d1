#!/bin/bash
# An upstream slower than its tokens live does not make renewals loop: a
# token that arrives already too short to serve is a failure, with backoff.
# A client's min_valid does not renew again right after a renewal.
. "$(dirname "$0")/lib.sh"

plan 5
idp_start --lifetime 2
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred slow "timeout = 5s" "backoff_min = 1s" "backoff_max = 4s")
$(cred guard "lazy = yes" "backoff_min = 5s")
EOF_CONF
idp '/control?delay_ms=1600' >/dev/null
tbd_start "$T_DIR/tb.conf"
sleep 8
n=$(idp_stat requests)
cmp_ok "$n" -le 6 "a token that arrives too late to serve is not renewed back to back ($n requests in 8s)"
like "$(api /v1/credentials)" 'arrived with no more than min_valid left' "and last_error says why"

idp '/control?delay_ms=0&lifetime=60' >/dev/null
api '/v1/tokens/slow?wait=10' >/dev/null # its retries settle: next renewal far away
tok=$(api '/v1/tokens/guard?wait=10' -H 'Accept: text/plain')
before=$(idp_stat requests)
sleep 1.5
code=$(api_code '/v1/tokens/guard?min_valid=59&wait=0')
is "$code" 503 "min_valid right after a renewal does not renew again (within backoff_min)"
is "$(idp_stat requests)" "$before" "no upstream request for it"
sleep 4
got=$(api '/v1/tokens/guard?min_valid=55' -H 'Accept: text/plain')
[ -n "$got" ] && [ "$got" != "$tok" ]
ok $? "after backoff_min, min_valid renews"
done_testing
