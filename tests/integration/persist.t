#!/bin/bash
# persist = yes: a token survives kill -9 and a restart (same token, no
# upstream request); a change of settings gets a new one; corrupt, foreign
# or over-permissive state files are ignored with a warning, never a crash.
. "$(dirname "$0")/lib.sh"

plan 15
idp_start --lifetime 3600
mkdir -m 700 "$T_DIR/state"
conf() { # conf SCOPE [AUDIENCE]
	write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred kept "persist = yes" "scope = $1" "param.audience = ${2:-one}")
EOF_CONF
	sed -i "s|^state_dir = .*|state_dir = $T_DIR/state|" "$T_DIR/tb.conf"
}
conf "a"
tbd_start "$T_DIR/tb.conf"
tok=$(api '/v1/tokens/kept?wait=10' -H 'Accept: text/plain')
st=$T_DIR/state/kept.token
[ -f "$st" ]
ok $? "the token is persisted in state_dir/NAME.token"
is "$(stat -c %a "$st")" 600 "with mode 0600"
grep -qF -- "$IDP_SECRET" "$st"
is $? 1 "the state file holds no client secret"

kill -KILL "$TBD_PID"
wait "$TBD_PID" 2>/dev/null
before=$(idp_stat requests)
tbd_start "$T_DIR/tb.conf"
got=$(api '/v1/tokens/kept?wait=10' -H 'Accept: text/plain')
[ "$got" = "$tok" ]
ok $? "after kill -9 and a restart the same token is served"
is "$(idp_stat requests)" "$before" "without an upstream request"
grep -q 'reusing persisted token' "$T_DIR/daemon.log"
ok $? "the log says the token was reused"
tbd_stop

conf "a b"
tbd_start "$T_DIR/tb.conf"
got=$(api '/v1/tokens/kept?wait=10' -H 'Accept: text/plain')
[ -n "$got" ] && [ "$got" != "$tok" ]
ok $? "after a change of scope a new token is fetched"
tbd_stop

tok=$got
conf "a b" "two"
tbd_start "$T_DIR/tb.conf"
got=$(api '/v1/tokens/kept?wait=10' -H 'Accept: text/plain')
[ -n "$got" ] && [ "$got" != "$tok" ]
ok $? "after a change of param.audience a new token is fetched"
tbd_stop

corrupt() { # corrupt DESCRIPTION COMMAND...: damage the state file, restart, expect a new token
	local desc=$1
	shift
	"$@"
	: >"$T_DIR/daemon.log"
	tbd_start "$T_DIR/tb.conf"
	local t
	t=$(api '/v1/tokens/kept?wait=10' -H 'Accept: text/plain')
	[ -n "$t" ] && kill -0 "$TBD_PID" && grep -q 'ignoring the persisted token\|removed' "$T_DIR/daemon.log"
	ok $? "$desc: ignored with a warning, a new token served"
	tbd_stop
}
corrupt "a truncated state file" truncate -s 20 "$st"
corrupt "a state file of garbage" sh -c "head -c 3000 /dev/urandom >'$st'; chmod 600 '$st'"
corrupt "an empty state file" sh -c ": >'$st'"
corrupt "a world-readable state file" chmod 644 "$st"
corrupt "a state file owned by someone else" chown nobody "$st"
corrupt "a state file that is a symlink" sh -c "rm -f '$st'; ln -s /etc/passwd '$st'"
is "$(stat -c %U /etc/passwd)" root "nothing outside state_dir was touched"
done_testing
