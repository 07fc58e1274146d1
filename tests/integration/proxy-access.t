#!/bin/bash
# Who may use a proxy: allow_users on a loopback TCP listener (the caller's
# uid from the kernel's socket table) and on a Unix listener (from
# SO_PEERCRED), the credential's own lists as well; refused callers get 403
# and nothing goes upstream.  A Unix listener has its socket_mode and no
# Host check.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs root and setpriv to make requests as nobody"
	exit 0
fi
plan 16
chmod 711 "$T_DIR"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
code_of() { # code_of [curl args...] URL: the status of one request
	curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"
}
nobody_code_of() { # the same, made as nobody
	as_nobody curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"
}

idp_start --lifetime 3600
fakeapi_start
P1=$(free_port)
P2=$(free_port "$P1")
P3=$(free_port "$P1" "$P2")
PSOCK=$T_DIR/proxy.sock
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
$(cred restricted "allow_users = root")
$(proxy_conf tcp "127.0.0.1:$P1" main "allow_users = root")
$(proxy_conf open "127.0.0.1:$P2" main)
$(proxy_conf viacred "127.0.0.1:$P3" restricted)
$(proxy_conf unix "$PSOCK" main "allow_users = root" "socket_mode = 0666")
EOF_CONF
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$P3"
wait_for 50 [ -S "$PSOCK" ]

before=$(upstream_stat requests)
is "$(nobody_code_of "http://127.0.0.1:$P1/echo")" 403 \
	"TCP listener with allow_users = root: nobody gets 403"
like "$(as_nobody curl -s -m 10 "http://127.0.0.1:$P1/echo")" '"error": *"[^"]+"' "with a JSON error"
is "$(code_of "http://127.0.0.1:$P1/echo")" 200 "root gets 200"
is "$(upstream_stat requests)" $((before + 1)) "the refused requests never went upstream"
is "$(nobody_code_of "http://127.0.0.1:$P2/echo")" 200 "a proxy without allow lists lets nobody through"
is "$(nobody_code_of "http://127.0.0.1:$P3/echo")" 403 \
	"the credential's allow_users hold for its proxies too"
is "$(code_of "http://127.0.0.1:$P3/echo")" 200 "root passes both lists"

is "$(stat -c %a "$PSOCK")" 666 "the Unix listener has the proxy's socket_mode"
before=$(upstream_stat requests)
is "$(nobody_code_of --unix-socket "$PSOCK" http://localhost/echo)" 403 \
	"Unix listener with allow_users = root: nobody gets 403"
is "$(code_of --unix-socket "$PSOCK" http://localhost/echo)" 200 "root gets 200"
is "$(upstream_stat requests)" $((before + 1)) "the refused request never went upstream"
out=$(curl -s -m 10 --unix-socket "$PSOCK" http://api.internal/echo)
is "$(printf '%s' "$out" | json_field path)" /api/echo "a Unix listener does not check Host"
is "$(printf '%s' "$out" | echo_header Host)" "127.0.0.1:$API_PORT" "and sends the upstream's"

# Port probes (connect, hang up at once) are often gone before the daemon
# can ask the kernel who made them: refused, and not worth a warning each.
perl -MIO::Socket::INET -e 'for (1 .. 300) { IO::Socket::INET->new("127.0.0.1:$ARGV[0]") }' "$P3"
is "$(code_of "http://127.0.0.1:$P3/echo")" 200 "after 300 port probes the proxy serves"
grep -c 'cannot tell who a client is' "$T_DIR/daemon.log" | grep -qx 0
ok $? "and they left no warning in the log"

tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
