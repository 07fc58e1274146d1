#!/bin/bash
# Hostile local clients of the API's socket, one kind after another, each
# while a well-behaved client of another uid asks for its token (bench's
# loadgen both): 5000 idle connections (as nobody, then as root), requests
# dribbled a byte at a time (slowloris), 1 MiB heads, random bytes,
# requests pipelined and never read, clients that hang up while they wait
# for a token from a slow upstream, and pipelining done right.  Each time
# every well-behaved request gets its token, and throughout renewals go on
# and none fails; afterwards the daemon holds what it held before.  Only
# counts and generous bounds are asserted; the latencies are printed (prove
# -v) for tests/RELIABILITY.md.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs root and setpriv to be other users"
	exit 0
fi
plan 31
series() { # series NAME: a series of /metrics without labels, 0 when absent
	api /metrics | sed -n "s/^$1 //p" | grep . || echo 0
}
maps() { wc -l <"/proc/$TBD_PID/maps"; }

# Tokens that live 4 s: a renewal every 2 s or so, all along.  The socket
# where every user can reach it; T_DIR is root's alone.
idp_start --lifetime 4
idp_start_named SLOW --lifetime 3600
idp_at SLOW '/control?mode=silent' >/dev/null
PUB=$(mktemp -d /tmp/tokenbroker-hostile.XXXXXX)
chmod 755 "$PUB"
trap 'rm -rf "$PUB"; idp_stop_named; t_cleanup' EXIT
SOCK=$PUB/tb.sock
ABUSE_AT="-s $SOCK" WELL_AT="-s $SOCK" WELL_PATH=/v1/tokens/fine
DAEMON_EXTRA="socket_mode = 0666
max_clients = 1000
max_clients_per_uid = 300
client_timeout = 3s" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred fine)
$(IDP_URL=$SLOW_URL cred slow "lazy = yes" "timeout = 2s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
wait_until 100 '[ "$(cred_field fine state)" = valid ]'
ok $? "the short-lived token is there"
renewals=$(cred_field fine renewals)
rss0=$(proc_kb "$TBD_PID" VmRSS) fds0=$(fd_count "$TBD_PID") maps0=$(maps)
echo "# before: RSS $rss0 kB, $fds0 descriptors, $maps0 mappings"

# 5000 connections that send nothing, as nobody: 300 are admitted (its
# max_clients_per_uid), the rest answered 503 and closed; those admitted
# are closed when they have sent no request in client_timeout (3 s here).
abuse idle-nobody nobody --abuse idle -c 5000 --reopen-ms 1000 /
like "$(lg_served "$T_DIR/idle-nobody.well")" '^[1-9][0-9]* 0$' \
	"5000 idle connections of nobody: every well-behaved request got its token"
like "$(lg_result codes "$T_DIR/idle-nobody.abuse")" '503:[0-9]' "those past nobody's cap were refused"
held=$(lg_result held_max_s "$T_DIR/idle-nobody.abuse")
cmp_ok "${held%.*}" -le 4 "none was held longer than client_timeout ($held s)"

# The same as root, past max_clients: root may take every slot, and a
# well-behaved client already connected keeps being served.
WELL_ARGS="-k --rate 100 -d 4.5" abuse idle-root root --abuse idle -c 5000 --reopen-ms 1000 /
like "$(lg_served "$T_DIR/idle-root.well")" '^[1-9][0-9]* 0$' \
	"5000 idle connections of root: the connected well-behaved client got every token"
like "$(lg_result codes "$T_DIR/idle-root.abuse")" '503:[0-9]' "connections past max_clients were refused"

# Slowloris: heads dribbled a byte every 200 ms, never ended.
abuse slow nobody --abuse slow -c 500 --dribble-ms 200 /v1/tokens/fine
like "$(lg_served "$T_DIR/slow.well")" '^[1-9][0-9]* 0$' "slowloris: every well-behaved request got its token"
cmp_ok "$(lg_result closed "$T_DIR/slow.abuse")" -ge 300 \
	"dribbling connections were closed ($(lg_result closed "$T_DIR/slow.abuse"))"
held=$(lg_result held_max_s "$T_DIR/slow.abuse")
cmp_ok "${held%.*}" -le 4 "none was held longer than client_timeout, however it trickled ($held s)"

# Heads of 1 MiB: refused once past 8 KiB, never read whole.
rss=$(proc_kb "$TBD_PID" VmRSS)
abuse bighead nobody --abuse bighead -c 20 --head-size 1048576 /v1/tokens/fine
like "$(lg_served "$T_DIR/bighead.well")" '^[1-9][0-9]* 0$' "1 MiB heads: every well-behaved request got its token"
like "$(lg_result codes "$T_DIR/bighead.abuse")" '^(4[0-9][0-9]:[0-9]+,)*(none:[0-9]+)$' \
	"each was refused (4xx) or cut off ($(lg_result codes "$T_DIR/bighead.abuse"))"
sent=$(lg_result bytes_sent "$T_DIR/bighead.abuse")
if sanitized; then
	skip "the daemon's RSS under ASan is its quarantine's"
else
	cmp_ok $(($(proc_kb "$TBD_PID" VmRSS) - rss)) -lt 16384 \
		"after $((sent / 1048576)) MiB of heads the daemon grew less than 16 MiB"
fi

# Random bytes.
abuse garbage nobody --abuse garbage -c 50 /v1/tokens/fine
like "$(lg_served "$T_DIR/garbage.well")" '^[1-9][0-9]* 0$' "random bytes: every well-behaved request got its token"
like "$(lg_result codes "$T_DIR/garbage.abuse")" '^(4[0-9][0-9]:[0-9]+,)*(none:[0-9]+)$' \
	"the garbage was refused (4xx) or cut off ($(lg_result codes "$T_DIR/garbage.abuse"))"
cmp_ok "$(lg_result closed "$T_DIR/garbage.abuse")" -ge 50 "every connection that sent it was closed"

# Requests pipelined without end, answers never read.
abuse noread nobody --abuse noread -c 50 /v1/tokens/fine
like "$(lg_served "$T_DIR/noread.well")" '^[1-9][0-9]* 0$' \
	"pipelined requests never read: every well-behaved request got its token"
cmp_ok "$(lg_result closed "$T_DIR/noread.abuse")" -ge 50 "those connections were closed"

# Clients that hang up while they wait for a token the upstream does not
# give (it never answers: every attempt times out after 2 s).
before=$(idp_stat_at SLOW requests)
abuse hangup nobody --abuse hangup -c 200 --hangup-ms 300 '/v1/tokens/slow?wait=10'
like "$(lg_served "$T_DIR/hangup.well")" '^[1-9][0-9]* 0$' \
	"clients hanging up while they wait: every well-behaved request got its token"
hungup=$(lg_result hungup "$T_DIR/hangup.abuse")
cmp_ok "$hungup" -ge 1000 "they hung up $hungup times"
attempts=$(($(idp_stat_at SLOW requests) - before))
cmp_ok "$attempts" -le 4 "and the slow upstream saw $attempts attempts, not one each"
grep -q 'hung up while waiting' "$T_DIR/daemon.log"
ok $? "the hang-ups were noticed while they waited"
wait_until 50 '[ "$(series tokenbroker_waiting_clients)" = 0 ]'
ok $? "no waiter is left behind"

# Pipelining done right: 50 requests at a time on each of 4 connections.
as_user daemon "$LOADGEN" -s "$SOCK" -c 4 -k --pipeline 50 -n 20000 /v1/tokens/fine >"$T_DIR/pipe.well" 2>&1
is "$(lg_result ok "$T_DIR/pipe.well")" 20000 "pipelined requests: all 20000 answered 200, in order"
echo "# pipelined: $(grep '^result' "$T_DIR/pipe.well")"

# Throughout: renewals, and what the daemon holds afterwards.
cmp_ok "$(cred_field fine renewals)" -ge $((renewals + 8)) \
	"renewals went on all along ($renewals -> $(cred_field fine renewals))"
is "$(cred_field fine failures)" 0 "and none failed"
wait_until 100 '[ "$(series tokenbroker_clients)" -le 1 ]'
ok $? "every hostile connection is gone"
rss1=$(proc_kb "$TBD_PID" VmRSS) fds1=$(fd_count "$TBD_PID") maps1=$(maps)
echo "# after: RSS $rss1 kB (peak $(proc_kb "$TBD_PID" VmHWM) kB), $fds1 descriptors, $maps1 mappings"
cmp_ok "$fds1" -le $((fds0 + 2)) "descriptors: as many as before ($fds0 -> $fds1)"
if sanitized; then
	skip "mappings and RSS under ASan are its allocator's"
	skip "mappings and RSS under ASan are its allocator's"
else
	cmp_ok "$maps1" -le $((maps0 + 8)) "memory mappings: about as many as before ($maps0 -> $maps1)"
	cmp_ok $((rss1 - rss0)) -lt 32768 "RSS grew less than 32 MiB ($rss0 -> $rss1 kB)"
fi
grep -qF -- "$IDP_SECRET" "$T_DIR/daemon.log"
is $? 1 "the client secret is not in the debug log"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
