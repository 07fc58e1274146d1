#!/bin/bash
# Start-up and shutdown: the socket's mode, a stale socket replaced, a live
# one refused; SIGTERM answers waiting clients, removes the socket and exits
# 0; under valgrind nothing leaks.
. "$(dirname "$0")/lib.sh"

plan 10
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred slow "lazy = yes" "timeout = 30s")
$(cred fine)
EOF_CONF

# A daemon killed with SIGKILL leaves its socket file behind: it is replaced.
tbd_start "$T_DIR/tb.conf"
kill -KILL "$TBD_PID"
wait "$TBD_PID" 2>/dev/null
[ -S "$SOCK" ] || echo "# no stale socket left to test with"
"$TBD" -c "$T_DIR/tb.conf" >>"$T_DIR/daemon.log" 2>&1 &
TBD_PID=$!
wait_for 50 api /v1/health -o /dev/null
is "$(api_code /v1/health)" 200 "a stale socket file is replaced"
is "$(stat -c %a "$SOCK")" 660 "the socket has socket_mode (0660 by default)"

"$TBD" -c "$T_DIR/tb.conf" >"$T_DIR/second.log" 2>&1
is $? 1 "a second daemon on the same socket fails to start"
like "$(cat "$T_DIR/second.log")" "another daemon is listening on $SOCK" "and says why"
is "$(api_code /v1/health)" 200 "the first one still answers"

idp '/control?mode=silent' >/dev/null
api '/v1/tokens/slow?wait=20' -D "$T_DIR/hdr" >"$T_DIR/waiting" &
client=$!
sleep 1
tbd_stop
is $? 0 "SIGTERM with a client waiting: exit 0"
wait $client
like "$(cat "$T_DIR/waiting")" '"error": *"stopping"' "the waiting client is answered (stopping)"
[ ! -e "$SOCK" ]
ok $? "the socket file is removed"
idp '/control?mode=normal' >/dev/null

if command -v valgrind >/dev/null && [ "${TB_BUILD#*asan}" = "$TB_BUILD" ]; then
	rm -f "$SOCK"
	valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
		"$TBD" -c "$T_DIR/tb.conf" >"$T_DIR/vg.log" 2>&1 &
	TBD_PID=$!
	wait_for 100 [ -S "$SOCK" ]
	api '/v1/tokens/fine?wait=20' >/dev/null
	api '/v1/tokens/slow?wait=20' >/dev/null
	api /v1/credentials >/dev/null
	api /v1/tokens/nosuch >/dev/null
	api /v1/tokens/fine/renew -X POST >/dev/null
	sed -i 's/^\[credential "slow"\]/[credential "slower"]/' "$T_DIR/tb.conf"
	kill -HUP "$TBD_PID"
	wait_for 100 grep -q 'configuration reloaded' "$T_DIR/vg.log"
	api /metrics >/dev/null
	tbd_stop
	st=$?
	is "$st" 0 "under valgrind: clean exit, no leak, no error"
	[ "$st" -ne 0 ] && sed 's/^/#   /' "$T_DIR/vg.log" | head -40
	grep -q 'ERROR SUMMARY: [1-9]' "$T_DIR/vg.log"
	is $? 1 "valgrind reports no memory errors"
else
	ok 0 "# SKIP valgrind (sanitizer build or no valgrind)"
	ok 0 "# SKIP valgrind (sanitizer build or no valgrind)"
fi
done_testing
