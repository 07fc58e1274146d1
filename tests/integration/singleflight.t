#!/bin/bash
# Fifty clients asking at once for a lazy credential cause one upstream
# request, and all of them get its token.
. "$(dirname "$0")/lib.sh"

plan 4
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred lazy "lazy = yes")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
idp '/control?delay_ms=700' >/dev/null

pids=()
for i in $(seq 50); do
	api '/v1/tokens/lazy?wait=10' -H 'Accept: text/plain' >"$T_DIR/out.$i" &
	pids+=($!)
done
wait "${pids[@]}"
got=$(cat "$T_DIR"/out.* | grep -c .)
distinct=$(cat "$T_DIR"/out.* | sort -u | grep -c .)
is "$got" 50 "all 50 clients got a token"
is "$distinct" 1 "they all got the same token"
is "$(idp_stat requests)" 1 "one upstream request for 50 clients"
is "$(idp_stat max_concurrent)" 1 "never more than one request in flight"
done_testing
