#!/bin/bash
# Bodies of any size go through the proxy intact and with bounded memory:
# a 100 kB upload, a 200 MiB download with Content-Length and the same
# chunked, one to a slow reader; clients that hang up mid-download free
# their transfers, the upstream's included: after 200 of them no
# descriptors, memory or transfers are left over.
. "$(dirname "$0")/lib.sh"

plan 18
proxy_start api

# Uploads and downloads, byte for byte.
head -c 102400 /dev/urandom >"$T_DIR/upload"
out=$(px /echo --data-binary @"$T_DIR/upload" -H 'Content-Type: application/octet-stream')
is "$(printf '%s' "$out" | json_field body_len)" 102400 "a 100 kB POST body arrives whole"
is "$(printf '%s' "$out" | json_field body_sha256)" "$(sha256sum <"$T_DIR/upload" | cut -d' ' -f1)" \
	"and intact"

n=209715200
want=$(pattern_sha $n)
got=$(px "/bytes?n=$n" -D "$T_DIR/h.length" | sha256sum | cut -d' ' -f1)
is "$got" "$want" "a 200 MiB download with Content-Length arrives intact"
like "$(cat "$T_DIR/h.length")" "[Cc]ontent-[Ll]ength: $n" "with the upstream's Content-Length"
got=$(px "/bytes?n=$n&chunked=1" -D "$T_DIR/h.chunked" | sha256sum | cut -d' ' -f1)
is "$got" "$want" "a 200 MiB chunked download arrives intact"
like "$(cat "$T_DIR/h.chunked")" '[Tt]ransfer-[Ee]ncoding: chunked' "chunked, as its length is unknown"
# A reader slower than the upstream: the proxy must hold the upstream back.
n=104857600
got=$(px "/bytes?n=$n" --limit-rate 40M | sha256sum | cut -d' ' -f1)
is "$got" "$(pattern_sha $n)" "a 100 MiB download to a slow reader arrives intact"
# Under AddressSanitizer freed memory waits in its quarantine (256 MiB):
# RSS says nothing about the daemon's own use there.
asan=no
ldd "$TBD" 2>/dev/null | grep -q libasan && asan=yes
skip_rss() { echo "ok $((T_NUM += 1)) # skip $1: AddressSanitizer's quarantine holds freed memory"; }
hwm=$(proc_kb "$TBD_PID" VmHWM)
if [ "$asan" = yes ]; then
	skip_rss "peak RSS"
else
	cmp_ok "$hwm" -lt 65536 "the daemon's peak RSS stayed under 64 MiB (${hwm} kB)"
fi

# 200 clients that hang up after the first bytes of a 50 MB download.
fd0=$(fd_count "$TBD_PID")
rss0=$(proc_kb "$TBD_PID" VmRSS)
streams0=$(upstream_stat streams)
aborted0=$(upstream_stat aborted)
for _ in $(seq 20); do
	pids=()
	for _ in $(seq 10); do
		(px '/bytes?n=50000000' | head -c 1000 >/dev/null) &
		pids+=($!)
	done
	wait "${pids[@]}"
done
idle() { api /metrics | grep -q '^tokenbroker_proxy_active{proxy="api"} 0$'; }
wait_for 50 idle
ok $? "tokenbroker_proxy_active is 0 once they hung up"
wait_until 50 '[ "$(upstream_stat active)" = 0 ]'
is "$(upstream_stat active)" 0 "the API has no answer in progress left"
is "$(upstream_stat streams)" $((streams0 + 200)) "the API started the 200 downloads"
is "$(upstream_stat aborted)" $((aborted0 + 200)) \
	"and each was cut off: the proxy dropped the upstream transfer when its client went away"
fd1=$(fd_count "$TBD_PID")
cmp_ok "$fd1" -le $((fd0 + 16)) "the daemon's descriptors are back near the start ($fd0, now $fd1)"
rss1=$(proc_kb "$TBD_PID" VmRSS)
if [ "$asan" = yes ]; then
	skip_rss "RSS after the hang-ups"
else
	cmp_ok "$rss1" -le $((rss0 + 16384)) "its RSS is back near the start (${rss0} kB, now ${rss1} kB)"
fi
is "$(px_code /echo)" 200 "the proxy still answers"

# 120 requests at once need 120 upstream connections; once answered, the
# proxies keep at most 64 of them for reuse (kept back from the clients'
# descriptors), not one per request that ever ran at once.
upstream_conns() { ss -Htn state established "dst 127.0.0.1:$API_PORT" | wc -l; }
# One curl makes the 120 at once (--parallel): 120 processes started one by
# one may take longer, on a busy machine, than an answer takes.
args=()
for i in $(seq 120); do args+=(-o /dev/null "http://127.0.0.1:$PX_PORT/delay?ms=4000&n=$i"); done
curl -s --no-progress-meter -m 30 --parallel --parallel-immediate --parallel-max 120 "${args[@]}" 2>/dev/null &
pids=($!)
wait_until 50 '[ "$(upstream_conns)" -ge 100 ]'
cmp_ok "$(upstream_conns)" -ge 100 "120 requests at once: as many upstream connections ($(upstream_conns))"
wait "${pids[@]}"
wait_until 50 '[ "$(upstream_conns)" -le 64 ]'
cmp_ok "$(upstream_conns)" -le 64 "once answered, at most 64 kept for reuse ($(upstream_conns))"

tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
