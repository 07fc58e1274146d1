#!/bin/bash
# An upstream Retry-After (seconds or HTTP-date) holds back the next attempt,
# also for POST renew; the attempt after it succeeds.
. "$(dirname "$0")/lib.sh"

plan 10
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred ra "lazy = yes" "backoff_min = 1s" "backoff_max = 2s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
idp '/control?fail=503&retry_after=4' >/dev/null

code=$(curl -s -m 10 -o /dev/null -D "$T_DIR/hdr" -w '%{http_code}' --unix-socket "$SOCK" \
	'http://localhost/v1/tokens/ra?wait=2')
is "$code" 503 "the failed first attempt answers 503"
ra=$(tr -d '\r' <"$T_DIR/hdr" | sed -n 's/^Retry-After: *//Ip')
cmp_ok "${ra:-0}" -ge 3 "its Retry-After passes on the upstream's (${ra:-none}s)"
is "$(idp_stat requests)" 1 "one upstream request so far"
sleep 2
is "$(api_code '/v1/tokens/ra?wait=0')" 503 "still 503 while Retry-After is in force"
is "$(api_code /v1/tokens/ra/renew -X POST)" 503 "POST renew does not override Retry-After"
is "$(idp_stat requests)" 1 "no upstream request while Retry-After is in force"
idp '/control?fail=0' >/dev/null
tok=$(api '/v1/tokens/ra?wait=5' -H 'Accept: text/plain')
is "$(idp "/introspect?token=$tok" | json_field active)" true "after Retry-After the attempt succeeds"
is "$(idp_stat requests)" 2 "exactly one more request"

# The HTTP-date form.
idp '/control?fail=503&retry_after=3&retry_after_date=1' >/dev/null
before=$(idp_stat requests)
api /v1/tokens/ra/renew -X POST >/dev/null
sleep 1.5
api /v1/tokens/ra/renew -X POST >/dev/null
is "$(idp_stat requests)" $((before + 1)) "Retry-After as an HTTP-date holds back attempts too"
idp '/control?fail=0' >/dev/null
sleep 2.5
tok=$(api '/v1/tokens/ra/renew?wait=5' -X POST -H 'Accept: text/plain')
is "$(idp "/introspect?token=$tok" | json_field active)" true "and it is lifted when it passes"
done_testing
