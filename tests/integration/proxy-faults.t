#!/bin/bash
# The proxy's upstream misbehaving on the wire, through a faultsrv in front
# of fakeapi: refused (502 naming the host and the cause), a connect that
# times out (502), accepted and never answered and headers a byte a second
# (504 after timeout), an answer cut off mid-body by FIN and by RST, with a
# Content-Length and chunked (the client sees a broken answer, never a
# complete-looking one), and a body that stalls until its client hangs up
# (the upstream transfer is dropped with it).  After each the next request
# goes through, and in the end no transfer, descriptor or memory is left
# over and the daemon exits 0.  (proxy-upstream.t has the upstream not
# running and closing without an answer, and a body longer than timeout;
# proxy-stream.t 200 clients hanging up mid-download.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"

idp_start --lifetime 3600
fakeapi_start
faultsrv_start UP "$API_PORT"
PX_PORT=$(free_port)
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
$(API_URL=http://127.0.0.1:$UP_PORT proxy_conf api "127.0.0.1:$PX_PORT" main \
	"timeout = 2s" "connect_timeout = 1s")
EOF_CONF
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$PX_PORT"

status_of() { head -n 1 "$1" | cut -d' ' -f2; }
active() { metric 'tokenbroker_proxy_active{proxy="api"}'; }
# next_ok: the relay passes again, and a request goes through.
next_ok() {
	fault UP mode=pass
	is "$(px_code /echo)" 200 "$1: the next request goes through"
}
N=4000000	# bytes of the downloads cut off
CUT=1000000	# of which the client gets these

is "$(px_code /echo)" 200 "through the relay: 200"
fd0=$(fd_count "$TBD_PID")
rss0=$(proc_kb "$TBD_PID" VmRSS)

# Unreachable: 502 with a JSON error naming the host and the cause.
fault UP mode=refuse
out=$(px /echo -D "$T_DIR/h")
is "$(status_of "$T_DIR/h")" 502 "refused: 502"
like "$out" '"error": *"upstream_unreachable".*127\.0\.0\.1.*Connection refused' \
	"refused: the JSON error names the host and the cause"
next_ok refused

fault UP mode=backlog
out=$(px /echo -D "$T_DIR/h")
is "$(status_of "$T_DIR/h")" 502 "no connection within connect_timeout: 502"
like "$out" 'no connection within 1s' "slow connect: the JSON error says so"
next_ok "slow connect"

# No headers within timeout: 504.
for m in blackhole trickle; do
	fault UP "mode=$m"
	out=$(px /echo -D "$T_DIR/h")
	is "$(status_of "$T_DIR/h")" 504 "$m: no response headers within timeout: 504"
	like "$out" '"error": *"upstream_timeout".*no response headers within 2s' "$m: the JSON error says so"
	next_ok "$m"
done

# Cut off mid-body: the client must not take it for a whole answer.  The
# proxy still sends what it had from upstream (every byte before the cut),
# then closes without the end of the answer: the client sees the status and
# part of the body, then the connection closed short (curl 18, or 56 for a
# reset), or, when the failure came before the headers went out, no answer
# at all (52).
broken() { # broken STATUS CURL-EXIT: an answer no client takes for whole
	case "$1:$2" in
	200:18 | 200:56 | :52) return 0 ;;
	*) return 1 ;;
	esac
}
for m in cut reset; do
	for chunked in 0 1; do
		what="$m mid-body$([ "$chunked" = 1 ] && echo ", chunked")"
		fault UP "mode=$m&cut=$CUT"
		rm -f "$T_DIR/body" "$T_DIR/h"
		px "/bytes?n=$N&chunked=$chunked" -o "$T_DIR/body" -D "$T_DIR/h"
		st=$?
		code=$(status_of "$T_DIR/h" 2>/dev/null)
		got=$(stat -c %s "$T_DIR/body" 2>/dev/null || echo 0)
		broken "$code" "$st"
		ok $? "$what: the client sees a broken answer (status ${code:-none}, curl exit $st)"
		if [ "$m" = reset ]; then
			# A reset discards what the proxy's kernel had not handed over yet.
			cmp_ok "$got" -lt "$N" "$what: not the whole body ($got bytes)"
		elif [ "$chunked" = 0 ]; then
			is "$got" "$CUT" "$what: every byte that came before the cut, and no more"
		else
			# CUT counts the chunks' framing too.
			[ "$got" -gt $((CUT - 64)) ] && [ "$got" -le "$CUT" ]
			ok $? "$what: every byte that came before the cut ($got of $CUT with framing)"
		fi
		next_ok "$what"
	done
done

# A body that stalls: its client gives up, the proxy drops the upstream.
fault UP mode=stall
px "/bytes?n=$N" -m 3 -o /dev/null -D "$T_DIR/h"
st=$?
is "$(status_of "$T_DIR/h"):$st" 200:28 "stalled body: headers came, then the client gave up (curl exit 28)"
wait_until 50 '[ "$(fault_stat UP active)" = 0 ]'
is "$(fault_stat UP active)" 0 "stalled body: the proxy closed its upstream connection after the client left"
wait_until 50 '[ "$(active)" = 0 ]'
is "$(active)" 0 "stalled body: tokenbroker_proxy_active is back to 0"
next_ok "stalled body"

is "$(metric 'tokenbroker_proxy_requests_total{proxy="api",code="502"}')" 2 "/metrics counts the 502s"
is "$(metric 'tokenbroker_proxy_requests_total{proxy="api",code="504"}')" 2 "and the 504s"
wait_until 50 '[ "$(active)" = 0 ]'
is "$(active)" 0 "in the end no proxied request is in flight"
kill -0 "$TBD_PID" 2>/dev/null
ok $? "the daemon is still running"
fd1=$(fd_count "$TBD_PID")
cmp_ok "$fd1" -le $((fd0 + 8)) "its descriptors are back near the start ($fd0, now $fd1)"
rss_checks "$TBD_PID" "$rss0" 8192 65536
tbd_stop
is $? 0 "SIGTERM: exit status 0"
plan "$T_NUM"
done_testing
