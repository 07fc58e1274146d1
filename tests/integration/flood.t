#!/bin/bash
# A local user who floods the socket with connections that never send a
# request cannot take the daemon down: connections are counted (total and
# per uid) when they are accepted, those over a cap are answered 503 and
# closed at once, silent ones are dropped after a few seconds, and the
# descriptors upstream renewals need are never the clients'.
. "$(dirname "$0")/lib.sh"

plan 14
# Tokens that live 4s: renewals must go on during the flood.
idp_start --lifetime 4
# The socket where nobody can reach it; T_DIR is root's alone.
PUB=$(mktemp -d /tmp/tokenbroker-flood.XXXXXX)
chmod 755 "$PUB"
trap 'rm -rf "$PUB"; t_cleanup' EXIT
SOCK=$PUB/tb.sock
DAEMON_EXTRA="socket_mode = 0666
upstream_concurrency = 4" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred short)
EOF_CONF
# Fewer descriptors than the flood has connections; the daemon raises its
# soft limit to the hard one, so both are set.
prlimit --nofile=256:256 -- "$TBD" -c "$T_DIR/tb.conf" >>"$T_DIR/daemon.log" 2>&1 &
TBD_PID=$!
wait_for 100 [ -S "$SOCK" ] || { echo "Bail out! tokenbrokerd did not start"; exit 1; }
wait_until 100 '[ "$(cred_field short state)" = valid ]'
ok $? "the short-lived token is there"
before=$(idp_stat requests)

# Holds N connections that send nothing for SECONDS, opening a new one for
# each the daemon closes, ten rounds a second (a tighter loop only fills the
# socket's backlog, which no daemon can help); prints how many it opened,
# how many were closed and how many connects failed.
flood='
use IO::Socket::UNIX; use IO::Select; use Time::HiRes qw(time sleep);
my ($path, $n, $secs) = @ARGV;
my $sel = IO::Select->new; my ($made, $closed, $failed) = (0, 0, 0);
my $end = time + $secs;
while (time < $end) {
	while ($sel->count < $n) {
		my $c = IO::Socket::UNIX->new(Peer => $path) or do { $failed++; last };
		$sel->add($c); $made++;
	}
	sleep 0.1;
	for my $c ($sel->can_read(0)) { $sel->remove($c); close $c; $closed++ }
}
print "$made $closed $failed\n";'
setpriv --reuid=nobody --regid=nogroup --clear-groups perl -e "$flood" "$SOCK" 400 9 \
	>"$T_DIR/flood.out" 2>&1 &
flood_pid=$!

# A connection that says nothing is closed after 5s, not client_timeout (30s).
perl -MIO::Socket::UNIX -MTime::HiRes=time -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
	my $t = time;
	local $SIG{ALRM} = sub { print "99999\n"; exit };
	alarm 20;
	1 while sysread($s, my $buf, 4096);
	printf "%d\n", (time - $t) * 1000;' "$SOCK" >"$T_DIR/idle.ms" &
idle_pid=$!

sleep 1
codes= tokens_ok=0 max_clients=0
for _ in 1 2 3 4 5 6; do
	codes="$codes $(curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/v1/health)"
	tok=$(curl -s -m 5 --unix-socket "$SOCK" -H 'Accept: text/plain' 'http://localhost/v1/tokens/short')
	[ -n "$tok" ] && tokens_ok=$((tokens_ok + 1))
	n=$(curl -s -m 5 --unix-socket "$SOCK" http://localhost/metrics | sed -n 's/^tokenbroker_clients \([0-9]*\)$/\1/p')
	[ "${n:-0}" -gt "$max_clients" ] && max_clients=$n
	sleep 0.8
done
is "$codes" " 200 200 200 200 200 200" "root is answered during the flood"
is "$tokens_ok" 6 "and gets its token every time"
other=$(setpriv --reuid=daemon --regid=daemon --clear-groups \
	curl -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/v1/health)
is "$other" 200 "another user is answered too: one uid holds at most half the slots"
cmp_ok "$max_clients" -le 144 "clients never take the descriptors kept back ($max_clients at most)"
cmp_ok "$max_clients" -ge 40 "the flood did hold connections ($max_clients)"

wait "$idle_pid"
ms=$(cat "$T_DIR/idle.ms")
cmp_ok "$ms" -lt 7000 "a connection that sends nothing is closed after a few seconds (${ms}ms)"
cmp_ok "$ms" -ge 4000 "not before"

wait "$flood_pid"
read -r made closed failed <"$T_DIR/flood.out"
cmp_ok "${made:-0}" -gt 400 "connections over the caps were closed at once (${made:-0} opened)"
after=$(idp_stat requests)
cmp_ok "$after" -ge $((before + 2)) "renewals went on during the flood ($before -> $after requests)"
is "$(cred_field short failures)" 0 "and none failed"
like "$(api '/v1/tokens/short')" '"expires_in":[1-9]' "the token is valid after the flood"
wait_until 50 '[ "$(api /metrics | sed -n "s/^tokenbroker_clients //p")" = 1 ]'
ok $? "every closed connection was counted out: only this one is left"
grep -q 'refused [0-9]* connections* over the client limits' "$T_DIR/daemon.log"
ok $? "refusals are logged, in summary"
tbd_stop
done_testing
