#!/bin/bash
# The upstream failing, as the proxy reports it: unreachable (502), a
# connection closed without an answer (502), no response headers within
# the proxy's timeout (504); each a JSON error naming the upstream host.
# timeout bounds the wait for the headers only, not a slow body.
. "$(dirname "$0")/lib.sh"

plan 17
proxy_start api "timeout = 1s"

status_of() { head -n 1 "$1" | cut -d' ' -f2; }

is "$(px_code '/delay?ms=200')" 200 "an answer within timeout goes through"
out=$(px '/delay?ms=3000' -D "$T_DIR/h.504")
is "$(status_of "$T_DIR/h.504")" 504 "no response headers within timeout (1s): 504"
like "$out" '"error": *"[^"]+"' "with a JSON error"
like "$out" '127\.0\.0\.1' "naming the upstream host"
n=20971520
got=$(px "/bytes?n=$n" --limit-rate 10M | sha256sum | cut -d' ' -f1)
is "$got" "$(pattern_sha $n)" "a body that takes longer than timeout is not cut off"

upstream '/control?down=1' >/dev/null
out=$(px /echo -D "$T_DIR/h.down")
is "$(status_of "$T_DIR/h.down")" 502 "an upstream that closes the connection without answering: 502"
like "$out" '"error": *"[^"]+"' "with a JSON error"
like "$out" '127\.0\.0\.1' "naming the upstream host"
cmp_ok "$(upstream_stat dropped)" -ge 1 "the API did close it"
upstream '/control?down=0' >/dev/null
is "$(px_code /echo)" 200 "the proxy answers again once the upstream does"

fakeapi_stop
out=$(px /echo -D "$T_DIR/h.502")
is "$(status_of "$T_DIR/h.502")" 502 "the upstream not running: 502"
like "$out" '"error": *"[^"]+"' "with a JSON error"
like "$out" '127\.0\.0\.1' "naming the upstream host"
is "$(metric 'tokenbroker_proxy_requests_total{proxy="api",code="502"}')" 2 "/metrics counts the 502s"
is "$(metric 'tokenbroker_proxy_requests_total{proxy="api",code="504"}')" 1 "and the 504"
like "$(api /v1/proxies)" '"last_status": *502' "GET /v1/proxies shows the last status"

tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
