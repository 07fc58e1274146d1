#!/bin/bash
# tokenbroker under a real systemd: the machine's own root, with tokenbroker
# installed into an overlay of it as a package would be (make install
# DESTDIR=... PREFIX=/usr, the units enabled), booted in a container with
# systemd-nspawn.  The boot itself creates the user (sysusers.d) and hands
# the configuration to its group (tmpfiles.d); then the service, socket
# activation, peer checks, LoadCredential=, the journal, reload, watchdog,
# restart after a crash, stop and the status line are checked with
# systemctl and journalctl inside.  Needs root, overlayfs and systemd-nspawn;
# skips without them.  Runs from the repository root, with TB_BUILD.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/container.sh"

ct_need
[ -x "$TBD" ] && [ -x "$TBCTL" ] && [ -x "$FAKEIDP" ] || skip "nothing built in $TB_BUILD"

SECRET=rsd-secret-$RANDOM$RANDOM$RANDOM
SOCKET=/run/tokenbroker/tokenbroker.sock
PORT=18080
PROXY_PORT=18081
T_START=$(date +%s)

ct_mount

# --- as a package installs it, before the boot (reported once it is
# known that this machine can boot a container at all) ---
make --no-print-directory BUILD="$TB_BUILD" DESTDIR="$ROOT" PREFIX=/usr install >"$T_DIR/make.log" 2>&1
install_st=$?
conf_owner=$(stat -c '%U:%G %a' "$ROOT/etc/tokenbroker/tokenbroker.conf" 2>&1)
# What the package's postinst does: enable the units.
systemctl --root="$ROOT" enable tokenbrokerd.service tokenbrokerd.socket >"$T_DIR/enable.log" 2>&1
enable_st=$?

# The test's own parts: a token endpoint on the container's loopback, the
# secret as a root-only file handed over with LoadCredential=, a short
# watchdog, and two client users (put in group tokenbroker after the boot
# has created it).
install -d -m 0755 "$ROOT/opt/tokenbroker-test"
install -m 0755 "$FAKEIDP" "$ROOT/opt/tokenbroker-test/fakeidp"
install -d -m 0750 "$ROOT/etc/tokenbroker/secrets"
printf '%s\n' "$SECRET" >"$ROOT/etc/tokenbroker/secrets/it"
chmod 600 "$ROOT/etc/tokenbroker/secrets/it"
cat >"$ROOT/etc/systemd/system/tokenbroker-test-idp.service" <<EOF_UNIT
[Unit]
Description=token endpoint for the tokenbroker test
Before=tokenbrokerd.service

[Service]
ExecStart=/opt/tokenbroker-test/fakeidp --quiet --listen 127.0.0.1 --port $PORT --client-id rsd-client --client-secret-file /etc/tokenbroker/secrets/it --lifetime 3600
StandardOutput=null

[Install]
WantedBy=multi-user.target
EOF_UNIT
systemctl --root="$ROOT" enable tokenbroker-test-idp.service >>"$T_DIR/enable.log" 2>&1
mkdir -p "$ROOT/etc/systemd/system/tokenbrokerd.service.d"
cat >"$ROOT/etc/systemd/system/tokenbrokerd.service.d/test.conf" <<EOF_DROPIN
[Service]
LoadCredential=it-secret:/etc/tokenbroker/secrets/it
WatchdogSec=3s
EOF_DROPIN
for u in tbclient tbother; do
	useradd -R "$ROOT" -M -s /usr/sbin/nologin "$u" || echo "# useradd $u failed"
done
cat >>"$ROOT/etc/tokenbroker/tokenbroker.conf" <<EOF_CONF

[credential "it"]
token_url = http://127.0.0.1:$PORT/token
client_id = rsd-client
client_secret_file = %d/it-secret
allow_users = tbclient

[credential "iu"]
token_url = http://127.0.0.1:$PORT/token
client_id = rsd-client
client_secret_file = %d/it-secret
allow_users = tbclient
allow_units = allowed-client.service

[proxy "rp"]
listen = 127.0.0.1:$PROXY_PORT
credential = it
upstream = http://127.0.0.1:$PORT

[proxy "ru"]
listen = /run/tokenbroker/ru.sock
socket_mode = 0666
credential = it
upstream = http://127.0.0.1:$PORT
allow_units = allowed-client.service
EOF_CONF
# The proxy's listener held by systemd, from the installed example.
sed -e "s/^ListenStream=.*/ListenStream=127.0.0.1:$PROXY_PORT/" \
	-e 's/^FileDescriptorName=.*/FileDescriptorName=rp/' \
	"$ROOT/usr/share/doc/tokenbroker/examples/tokenbroker-proxy-example.socket" \
	>"$ROOT/etc/systemd/system/tokenbroker-proxy-rp.socket"
systemctl --root="$ROOT" enable tokenbroker-proxy-rp.socket >>"$T_DIR/enable.log" 2>&1

# --- boot ---
ct_boot

plan 44
is "$install_st" 0 "make install DESTDIR=ROOT PREFIX=/usr into the overlay"
[ "$install_st" = 0 ] || sed 's/^/#   /' "$T_DIR/make.log"
is "$conf_owner" "root:root 640" \
	"the configuration is installed root:root 0640, as a package build leaves it"
is "$enable_st" 0 "systemctl enable tokenbrokerd.service tokenbrokerd.socket"
state=$(ct_running)
like "$state" '^(running|degraded)$' "the container boots (system state: $state)"
ct_bail_if_gone "$state"

# --- what the boot did, as for a package ---
like "$(in_ct getent passwd tokenbroker)" '^tokenbroker:' "the boot created user tokenbroker (sysusers.d)"
is "$(in_ct stat -c '%U:%G %a' /etc/tokenbroker/tokenbroker.conf)" "root:tokenbroker 640" \
	"and gave the configuration to group tokenbroker (tmpfiles.d)"
wait_until 300 '[ "$(prop ActiveState)" = active ]'
is "$(prop ActiveState)" active "tokenbrokerd.service is active as installed"
is "$(prop ActiveState tokenbrokerd.socket)" active "tokenbrokerd.socket is active"
# Its owner is root until the service starts: then RuntimeDirectory= hands
# /run/tokenbroker and what is in it to User=, the socket too.
is "$(in_ct stat -c '%G %a' "$SOCKET")" "tokenbroker 660" "the socket is group tokenbroker, mode 0660"

# --- clients ---
for u in tbclient tbother; do in_ct usermod -aG tokenbroker "$u"; done
# --wait: the endpoint may have come up a moment after the daemon tried.
token=$(as tbclient tokenctl -s "$SOCKET" token it --min-valid 60 --wait 30 2>"$T_DIR/ctl.err")
st=$?
is "$st" 0 "a member of group tokenbroker in allow_users gets a token"
[ "$st" = 0 ] || sed 's/^/#   /' "$T_DIR/ctl.err"
cmp_ok "${#token}" -ge 16 "a token of some length"
# The secret file is root's, mode 0600: the daemon's user can only have
# read it as the credential systemd handed over.
in_ct test -f /run/credentials/tokenbrokerd.service/it-secret
ok $? "LoadCredential= hands the secret to the service as a credential"
like "$(in_ct journalctl --no-pager -o cat -u tokenbrokerd | grep -c 'credential it: new token')" \
	'^[1-9]' "and the daemon used it, as %d/it-secret, to get the token"
as tbother tokenctl -s "$SOCKET" token it >/dev/null 2>&1
is $? 77 "a member of the group not in allow_users is refused (exit 77)"
is "$(as tbother curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCKET" http://localhost/v1/tokens/it)" \
	403 "and gets 403 from curl --unix-socket"
err=$(in_ct setpriv --reuid=nobody --regid=nogroup --clear-groups tokenctl -s "$SOCKET" token it 2>&1)
is $? 77 "nobody, not in the group, is refused by the socket's permissions (exit 77)"
like "$err" 'ermission denied' "and told so ($err)"

# --- the journal ---
verbose=$(in_ct journalctl --no-pager -o verbose -u tokenbrokerd)
like "$verbose" $'\n    CREDENTIAL=it\n' "journal entries carry CREDENTIAL="
like "$verbose" $'\n    TOKEN_FP=[0-9a-f]{6}\n' "and TOKEN_FP="
in_ct journalctl --no-pager -o export >"$T_DIR/journal.export" 2>/dev/null
cmp_ok "$(wc -c <"$T_DIR/journal.export")" -gt 1000 "the whole journal can be read"
grep -qaF -- "$SECRET" "$T_DIR/journal.export"
is $? 1 "the client secret is nowhere in the journal"
grep -qaF -- "$token" "$T_DIR/journal.export"
is $? 1 "the served token is nowhere in the journal"

# --- status, reload, watchdog ---
like "$(prop StatusText)" '^[0-9]+ credentials?' "StatusText= is the daemon's STATUS= line ($(prop StatusText))"
like "$(in_ct systemctl status --no-pager tokenbrokerd 2>&1)" 'Status: "[0-9]+ credential' \
	"systemctl status shows it"
pid=$(prop MainPID)
# --- the proxy, on a socket systemd passed by name ---
is "$(prop ActiveState tokenbroker-proxy-rp.socket)" active "the proxy's socket unit is active"
like "$(in_ct journalctl --no-pager -o cat -u tokenbrokerd | grep 'proxy rp: listening')" \
	'passed by the service manager' "the daemon took it as proxy rp's listener (FileDescriptorName=)"
# fakeidp's /stats stands in for the API.  On TCP the caller's uid comes
# from the kernel's socket table: the credential's allow_users decide.
rp_get() {
	as "$1" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROXY_PORT/stats" 2>/dev/null
}
is "$(rp_get tbclient)" 200 "proxy rp forwards for a user in the credential's allow_users"
is "$(rp_get tbother)" 403 "and refuses another user (403)"
# On a Unix listener, allow_units: the unit from the caller's cgroup.
ru_get() {
	in_ct systemd-run --quiet --wait --pipe --unit="$1" -p User=tbclient \
		curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/tokenbroker/ru.sock \
		http://localhost/stats 2>/dev/null
}
is "$(ru_get allowed-client)" 200 "proxy ru forwards for a caller in a unit of allow_units"
is "$(ru_get other-client)" 403 "and refuses the same user in another unit"
# A credential's allow_units, on the socket: the unit from the cgroup of
# the pid SO_PEERCRED gives, the process held by SO_PEERPIDFD meanwhile.
iu_get() {
	in_ct systemd-run --quiet --wait --pipe --unit="$1" -p User=tbclient \
		tokenctl -s "$SOCKET" token iu --wait 30 >/dev/null 2>&1
}
iu_get allowed-client
is $? 0 "a caller in the credential's allow_units gets its token"
iu_get other-client
is $? 77 "the same user in another unit is refused (exit 77)"

in_ct systemctl reload tokenbrokerd
is $? 0 "systemctl reload tokenbrokerd"
is "$(as tbclient tokenctl -s "$SOCKET" token it)" "$token" "the same token after the reload"
echo "# StatusText after the reload: $(prop StatusText)"
wd1=$(prop WatchdogTimestampMonotonic)
sleep 3.5
wd2=$(prop WatchdogTimestampMonotonic)
cmp_ok "${wd2:-0}" -gt "${wd1:-0}" "watchdog pings arrive (WatchdogTimestamp moves)"
is "$(prop MainPID) $(prop ActiveState) $(prop NRestarts)" "$pid active 0" \
	"the service outlives WatchdogSec=3s, same process, no restart"

# --- --check-config run by root trusts secrets of the service's account ---
in_ct sh -c 'umask 077 && mkdir -p /etc/tokenbroker/secrets && printf s >/etc/tokenbroker/secrets/svc &&
	chown tokenbroker /etc/tokenbroker/secrets/svc && mkdir -p /tmp/chk &&
	printf "[credential \"c\"]\ntoken_url = http://127.0.0.1:1/token\nclient_id = x\nclient_secret_file = /etc/tokenbroker/secrets/svc\n" >/tmp/chk/c.conf'
out=$(in_ct /usr/sbin/tokenbrokerd --check-config -c /tmp/chk/c.conf 2>&1)
is "$?" 0 "root's --check-config accepts a secret owned by tokenbroker ($out)"

# --- a crash: Restart=on-failure ---
in_ct systemctl kill -s KILL tokenbrokerd
restarted() { [ "$(prop ActiveState)" = active ] && [ "$(prop NRestarts)" = 1 ]; }
wait_for 300 restarted
is "$(prop NRestarts)" 1 "after SIGKILL the service is restarted (NRestarts=1)"
new=$(prop MainPID)
ok "$([ "$new" -gt 0 ] && [ "$new" != "$pid" ]; echo $?)" "with a new MainPID ($pid -> $new)"
t=$(as tbclient tokenctl -s "$SOCKET" token it --min-valid 60 --wait 30 2>/dev/null)
ok "$([ -n "$t" ]; echo $?)" "and serving tokens again"

# --- stop, then socket activation ---
# (systemctl warns that the socket can still start it: that is the point.)
in_ct systemctl stop tokenbrokerd.service 2>/dev/null
is "$(prop ActiveState) $(prop Result)" "inactive success" "systemctl stop: inactive, Result=success"
in_ct pgrep -u tokenbroker >/dev/null
is $? 1 "no process of user tokenbroker is left"
is "$(prop ActiveState tokenbrokerd.socket)" active "the socket still listens"
t=$(as tbclient tokenctl -s "$SOCKET" token it --min-valid 60 --wait 30 2>/dev/null)
ok "$([ -n "$t" ] && [ "$(prop ActiveState)" = active ]; echo $?)" \
	"the first connection starts the service, and is answered"

echo "# $(($(date +%s) - T_START)) s in all"
done_testing
