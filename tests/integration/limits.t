#!/bin/bash
# Limits a peer cannot talk the daemon out of: max_clients, request size,
# clients that hang up while they wait; and nothing secret in the logs.
. "$(dirname "$0")/lib.sh"

plan 21
idp_start --lifetime 3600
DAEMON_EXTRA="max_clients = 3
client_timeout = 1s" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred hang "lazy = yes" "timeout = 30s")
$(cred fine)
EOF_CONF
tbd_start "$T_DIR/tb.conf"
fine=$(api '/v1/tokens/fine?wait=10' -H 'Accept: text/plain')

idp '/control?mode=silent' >/dev/null
pids=()
for i in 1 2 3; do
	api '/v1/tokens/hang?wait=4' -o "$T_DIR/w.$i" &
	pids+=($!)
done
sleep 0.5
is "$(api_code /v1/health)" 503 "over max_clients: 503"
like "$(api /v1/health)" 'too_many_clients' "the answer says why"
wait "${pids[@]}"
like "$(cat "$T_DIR/w.1")" 'within 4s' "a waiting client gets 503 when its wait runs out"
is "$(api_code /v1/health)" 200 "with clients gone, new ones are served"

# A client that gives up while it waits is dropped at once.
curl -s -m 1 --unix-socket "$SOCK" 'http://localhost/v1/tokens/hang?wait=30' >/dev/null
sleep 0.3
grep -q "hung up while waiting" "$T_DIR/daemon.log"
ok $? "a client that hangs up while waiting is noticed"
is "$(api_code /v1/health)" 200 "and the daemon carries on"

# A client that sends half a request and stalls is closed after client_timeout.
ms=$(perl -MIO::Socket::UNIX -MTime::HiRes=time -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
	my $t = time;
	print $s "GET /v1/health HTTP/1.1\r\nHost: x\r\n";
	$s->flush;
	local $SIG{ALRM} = sub { print "9999\n"; exit };
	alarm 8;
	1 while sysread($s, my $buf, 4096);
	printf "%d\n", (time - $t) * 1000;' "$SOCK")
cmp_ok "$ms" -lt 3000 "a stalled client is closed after client_timeout (${ms}ms)"
cmp_ok "$ms" -ge 900 "not before"
is "$(api_code /v1/health)" 200 "and the daemon goes on serving"

# So is one that trickles its request a byte at a time, never silent for
# long: client_timeout is how long it may take to send the whole request,
# as the first one on a connection or one after an answer.
read -r ms _ < <(trickle "$SOCK" /v1/health 0)
cmp_ok "$ms" -lt 3000 "a client trickling its first request is closed after client_timeout (${ms}ms)"
read -r ms answered < <(trickle "$SOCK" /v1/health 1)
is "$answered" 1 "a keep-alive client is answered"
cmp_ok "$ms" -lt 3000 "and closed when it trickles its next request for longer (${ms}ms)"
cmp_ok "$ms" -ge 900 "not before client_timeout"
is "$(api_code /v1/health)" 200 "and the daemon goes on serving"

long=$(head -c 10000 /dev/zero | tr '\0' a)
code=$(api_code /v1/health -H "X-Long: $long")
[ "$code" = 400 ] || [ "$code" = 413 ] || [ "$code" = 431 ] || [ "$code" = 000 ]
ok $? "request headers over the limit are refused ($code)"
idp '/control?mode=normal' >/dev/null

# Few file descriptors: the clients' cap comes down to what is left after
# the reserve for upstream requests; past it, clients are refused at once.
tbd_stop
rm -f "$SOCK"
write_conf "$T_DIR/tb2.conf" <<EOF_CONF
$(cred hang "lazy = yes" "timeout = 30s")
EOF_CONF
(ulimit -n 40 && exec "$TBD" -c "$T_DIR/tb2.conf") >>"$T_DIR/daemon.log" 2>&1 &
TBD_PID=$!
wait_for 50 [ -S "$SOCK" ]
idp '/control?mode=silent' >/dev/null
pids=()
for i in $(seq 60); do
	curl -s -m 4 --unix-socket "$SOCK" 'http://localhost/v1/tokens/hang?wait=2' \
		>"$T_DIR/fd.$i" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
idp '/control?mode=normal' >/dev/null
grep -q 'only 40 files may be open .* at most 20 clients at once' "$T_DIR/daemon.log"
ok $? "a file limit below max_clients is warned about, with the clients it leaves room for"
refused=$(cat "$T_DIR"/fd.* | grep -c too_many_clients)
waited=$(cat "$T_DIR"/fd.* | grep -c 'no valid token within')
cmp_ok "$refused" -ge 10 "clients past that cap are refused at once ($refused of 60)"
is $((refused + waited)) 60 "and every client is answered ($waited waited their 2s)"
wait_until 50 '[ "$(api_code /v1/health)" = 200 ]'
ok $? "and the daemon answers again"

tbd_stop
grep -qF -- "$IDP_SECRET" "$T_DIR/daemon.log"
is $? 1 "the client secret is not in the debug log"
grep -qF -- "$fine" "$T_DIR/daemon.log"
is $? 1 "the token is not in the debug log"
done_testing
