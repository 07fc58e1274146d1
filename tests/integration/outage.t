#!/bin/bash
# During an upstream outage the cached token is served until min_valid
# before its expiry, then 503 with Retry-After; attempts back off (a bounded
# number of requests), and service recovers when the upstream does.
. "$(dirname "$0")/lib.sh"

plan 8
idp_start --lifetime 8
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred flaky "timeout = 2s" "min_valid = 2s" "backoff_min = 1s" "backoff_max = 2s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

tok=$(api '/v1/tokens/flaky?wait=10' -H 'Accept: text/plain')
idp '/control?fail=503' >/dev/null
start_requests=$(idp_stat requests)
served_ok=0 served_bad=0 first503= last_left=
end=$((SECONDS + 12))
while [ $SECONDS -lt $end ]; do
	code=$(curl -s -m 5 -o "$T_DIR/body" -D "$T_DIR/hdr" -w '%{http_code}' \
		--unix-socket "$SOCK" -H 'Accept: text/plain' 'http://localhost/v1/tokens/flaky?wait=0')
	if [ "$code" = 200 ]; then
		t=$(cat "$T_DIR/body")
		left=$(idp "/introspect?token=$t" | json_field expires_in)
		if [ "$(idp "/introspect?token=$t" | json_field active)" = true ]; then
			served_ok=$((served_ok + 1)); last_left=$left
		else
			served_bad=$((served_bad + 1))
		fi
	elif [ "$code" = 503 ]; then
		first503=$(tr -d '\r' <"$T_DIR/hdr" | sed -n 's/^Retry-After: *//Ip')
		break
	fi
	sleep 0.2
done
cmp_ok "$served_ok" -gt 5 "the cached token is served during the outage ($served_ok times)"
is "$served_bad" 0 "no expired token was served"
cmp_ok "${last_left:-99}" -le 3 "it is served until about min_valid before expiry (last had ${last_left:-?}s left)"
cmp_ok "${first503:-0}" -ge 1 "then 503 with a Retry-After (${first503:-none})"
body=$(api /v1/tokens/flaky)
like "$body" '"upstream_status": *503' "the 503 names the upstream status"

sleep 3
during=$(( $(idp_stat requests) - start_requests ))
cmp_ok "$during" -le 14 "attempts back off during the outage ($during requests)"
cmp_ok "$during" -ge 3 "attempts go on during the outage"

idp '/control?fail=0' >/dev/null
got=
for _ in $(seq 40); do
	got=$(api '/v1/tokens/flaky?wait=0' -H 'Accept: text/plain')
	[ "$(idp "/introspect?token=$got" | json_field active)" = true ] && break
	got=
	sleep 0.25
done
[ -n "$got" ]
ok $? "service recovers after the outage"
done_testing
