#!/bin/bash
# Files the daemon (root here) writes or reads for others' sake: no user
# other than root can redirect a sink by swapping a directory on its way,
# state_dir is held to the same rules, and a secret file owned by another
# user is refused.  The attacker is the user nobody.
. "$(dirname "$0")/lib.sh"

plan 13
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
idp_start --lifetime 4
chmod 711 "$T_DIR"
mkdir -m 755 "$T_DIR/srv" "$T_DIR/srv/u" "$T_DIR/srv/u/sub" "$T_DIR/target"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred env "sink = $T_DIR/srv/u/sub/environment" "sink_format = env" "sink_owner = nobody:nogroup")
EOF_CONF

# An ancestor another user owns is refused at load, naming it.
chown nobody:nogroup "$T_DIR/srv/u"
out=$("$TBD" -c "$T_DIR/tb.conf" --check-config 2>&1)
is "$?" 1 "a sink below a directory owned by nobody is refused at load"
like "$out" "tb.conf:[0-9]+: sink: $T_DIR/srv/u: owned by uid 65534 \(nobody\), must be owned by root: chown root $T_DIR/srv/u" \
	"the message names the directory and what to change"
chown root:root "$T_DIR/srv/u"
chmod 775 "$T_DIR/srv/u/sub"
out=$("$TBD" -c "$T_DIR/tb.conf" --check-config 2>&1)
like "$out" "sink: $T_DIR/srv/u/sub: writable by group \(mode 0775\): chmod g-w $T_DIR/srv/u/sub" \
	"a group-writable sink directory is refused"
chmod 755 "$T_DIR/srv/u/sub"

# Safe at load; then u is handed to nobody, who swaps sub for a link.
tbd_start "$T_DIR/tb.conf"
api '/v1/tokens/env?wait=10' -H 'Accept: text/plain' >/dev/null
wait_for 50 [ -s "$T_DIR/srv/u/sub/environment" ]
ok $? "the sink is written while every directory on its way is root's"
chown nobody:nogroup "$T_DIR/srv/u"
as_nobody sh -c "mv '$T_DIR/srv/u/sub' '$T_DIR/srv/u/sub.old' && ln -s '$T_DIR/target' '$T_DIR/srv/u/sub'"
ok $? "(nobody swapped the sink's directory for a link)"
before=$(idp_stat requests)
more_requests() { [ "$(idp_stat requests)" -gt "$before" ]; }
wait_for 80 more_requests
ok $? "the token is renewed"
wait_for 50 grep -q "cannot write sink: .*$T_DIR/srv/u: owned by uid 65534" "$T_DIR/daemon.log"
ok $? "the sink failure is logged, naming the directory at fault"
is "$(ls -A "$T_DIR/target")" "" "nothing was written into the link's target"
[ -s "$T_DIR/srv/u/sub.old/environment" ]
ok $? "(the old sink is left as it was)"
tbd_stop

# state_dir: a group-writable one is refused when saving, naming it.
chown root:root "$T_DIR/srv/u"
mkdir -m 770 "$T_DIR/state"
chmod 770 "$T_DIR/state"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred kept "persist = yes")
EOF_CONF
sed -i "s|^state_dir = .*|state_dir = $T_DIR/state|" "$T_DIR/tb.conf"
tbd_start "$T_DIR/tb.conf"
api '/v1/tokens/kept?wait=10' -H 'Accept: text/plain' >/dev/null
wait_for 50 grep -q "cannot persist the token: state_dir: $T_DIR/state: writable by group" "$T_DIR/daemon.log"
ok $? "a group-writable state_dir is refused with what to change"
is "$(ls -A "$T_DIR/state")" "" "nothing was written there"
tbd_stop

# A secret file owned by another user, or a link to one, is refused.
printf 's3cret\n' >"$T_DIR/theirs"
chmod 600 "$T_DIR/theirs"
chown nobody:nogroup "$T_DIR/theirs"
ln -s "$T_DIR/theirs" "$T_DIR/link"
for f in theirs link; do
	write_conf "$T_DIR/tb.conf" <<EOF_CONF
[credential "s"]
token_url = $IDP_URL/token
client_id = it-client
client_secret_file = $T_DIR/$f
EOF_CONF
	out=$("$TBD" -c "$T_DIR/tb.conf" --check-config 2>&1)
	st=$?
	like "$st: $out" "^1: .*tb.conf:[0-9]+: client_secret_file: $T_DIR/$f is owned by uid 65534 \(nobody\), must be owned by root( or tokenbroker)?: chown root $T_DIR/$f" \
		"a secret file ($f) owned by nobody is refused at --check-config"
done
done_testing
