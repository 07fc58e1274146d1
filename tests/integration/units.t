#!/bin/bash
# The systemd units as shipped: systemd-analyze verify is clean,
# systemd-analyze security rates the service 1.5 or better, the settings the
# contract asks for are there (and PrivateUsers= is not), and the user,
# group and directories of the sysusers.d and tmpfiles.d snippets match the
# units.  Needs systemd's tools (Debian package systemd), not a running
# systemd.
. "$(dirname "$0")/lib.sh"

plan 19
ROOT=$PWD
SERVICE=systemd/tokenbrokerd.service
SOCKET=systemd/tokenbrokerd.socket
MAXSCORE=1.5
TBD_ABS=$TBD
case $TBD_ABS in /*) ;; *) TBD_ABS=$ROOT/$TBD_ABS ;; esac

if ! command -v systemd-analyze >/dev/null; then
	echo "Bail out! systemd-analyze is missing (apt-get install systemd)"
	exit 1
fi

# The value of the last KEY= line in a unit file, as systemd would take it.
unit_get() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# security: "→ Overall exposure level for tokenbrokerd.service: 1.2 OK 🙂"
out=$(LC_ALL=C systemd-analyze security --offline=yes "$SERVICE" 2>"$T_DIR/security.err")
st=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\).*/\1/p')
is "$st" 0 "systemd-analyze security --offline=yes runs on the service"
like "$score" '^[0-9]+(\.[0-9]+)?$' "and gives an overall exposure level ($score)"
awk -v s="$score" -v max="$MAXSCORE" 'BEGIN { exit !(s != "" && s + 0 <= max + 0) }'
ok $? "the exposure level is $MAXSCORE or lower"
[ -s "$T_DIR/security.err" ] && sed 's/^/#   /' "$T_DIR/security.err"

# verify: ExecStart= must exist, so a copy runs the built daemon; the man
# pages of Documentation= are looked up in a man tree made from man/.
mkdir -p "$T_DIR/units" "$T_DIR/man/man1" "$T_DIR/man/man5" "$T_DIR/man/man8"
sed "s|^ExecStart=/usr/local/sbin/tokenbrokerd|ExecStart=$TBD_ABS|" "$SERVICE" \
	>"$T_DIR/units/tokenbrokerd.service"
cp "$SOCKET" "$T_DIR/units/"
cp man/*.1 "$T_DIR/man/man1/"
cp man/*.5 "$T_DIR/man/man5/"
cp man/*.8 "$T_DIR/man/man8/"
man_opt=
if ! command -v man >/dev/null; then
	echo "# man is not installed: Documentation= is not checked"
	man_opt=--man=no
fi
(cd "$T_DIR/units" && MANPATH=$T_DIR/man systemd-analyze verify $man_opt \
	tokenbrokerd.service tokenbrokerd.socket) >"$T_DIR/verify.out" 2>&1
st=$?
is "$st" 0 "systemd-analyze verify passes on both units"
is "$(cat "$T_DIR/verify.out")" "" "and has nothing to say"
is "$(grep -c '^ExecStart=/usr/local/sbin/tokenbrokerd$' "$SERVICE")" 1 \
	"ExecStart= names the default install path, which make install rewrites"

# What the contract asks of the service.
missing=
for kv in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' WatchdogSec=30s \
	Restart=on-failure StateDirectory=tokenbroker RuntimeDirectory=tokenbroker \
	RuntimeDirectoryPreserve=yes ConfigurationDirectory=tokenbroker \
	ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
	NoNewPrivileges=yes CapabilityBoundingSet= \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' \
	SystemCallFilter=@system-service SystemCallArchitectures=native \
	MemoryDenyWriteExecute=yes LockPersonality=yes ProtectKernelTunables=yes \
	ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes \
	ProtectClock=yes ProtectHostname=yes RestrictNamespaces=yes RestrictRealtime=yes \
	RestrictSUIDSGID=yes RemoveIPC=yes UMask=0077 ProcSubset=pid; do
	grep -qxF -- "$kv" "$SERVICE" || missing="$missing [$kv]"
done
is "$missing" "" "the service has every setting the contract asks for"
grep -q '^PrivateUsers=' "$SERVICE"
cmp_ok $? -ne 0 "the service does not set PrivateUsers= (callers would all be nobody)"
grep -q '^ProtectProc=invisible' "$SERVICE"
cmp_ok $? -ne 0 "nor ProtectProc=invisible (allow_units reads the caller's /proc/PID/cgroup)"
like "$(grep '^#LoadCredential=' "$SERVICE")" '^#LoadCredential=.+:/' \
	"the service shows LoadCredential= in a comment"
grep -qx 'Requires=tokenbrokerd.socket' "$SERVICE" &&
	grep -q '^After=.*tokenbrokerd\.socket' "$SERVICE" &&
	grep -qx 'Also=tokenbrokerd.socket' "$SERVICE"
ok $? "the service requires and follows its socket, and enabling it enables the socket"

# The socket unit.
is "$(unit_get "$SOCKET" ListenStream) $(unit_get "$SOCKET" SocketMode)" \
	"/run/tokenbroker/tokenbroker.sock 0660" "the socket is /run/tokenbroker/tokenbroker.sock, mode 0660"
is "$(unit_get "$SOCKET" WantedBy)" sockets.target "the socket is wanted by sockets.target"

# One user and group everywhere: service, socket, sysusers.d.
user=$(unit_get "$SERVICE" User)
group=$(unit_get "$SERVICE" Group)
is "$user:$group:$(unit_get "$SOCKET" SocketGroup)" "tokenbroker:tokenbroker:tokenbroker" \
	"service user and group and the socket's group are tokenbroker"

# The snippets, applied to an empty root.
mkdir -p "$T_DIR/root/etc"
systemd-sysusers --root="$T_DIR/root" "$ROOT/systemd/tokenbroker.sysusers" \
	>"$T_DIR/sysusers.out" 2>&1
is $? 0 "systemd-sysusers accepts the sysusers.d snippet"
pw=$(grep "^$user:" "$T_DIR/root/etc/passwd" 2>/dev/null)
like "$pw" "^$user:x:[0-9]+:[0-9]+:[^:]*:/var/lib/tokenbroker:/usr/sbin/nologin$" \
	"it creates the system user $user, without a login shell"
gid=$(sed -n "s/^$group:x:\([0-9]*\):.*/\1/p" "$T_DIR/root/etc/group" 2>/dev/null)
like "$gid" '^[0-9]+$' "and the group $group"
if [ "$(id -u)" = 0 ]; then
	systemd-tmpfiles --root="$T_DIR/root" --create "$ROOT/systemd/tokenbroker.tmpfiles" \
		>"$T_DIR/tmpfiles.out" 2>&1
	is $? 0 "systemd-tmpfiles accepts the tmpfiles.d snippet"
	is "$(stat -c '%a %u %g' "$T_DIR/root/etc/tokenbroker/secrets" 2>/dev/null)" "750 0 $gid" \
		"it creates /etc/tokenbroker/secrets, mode 0750, root:$group"
else
	T_NUM=$((T_NUM + 2))
	echo "ok $((T_NUM - 1)) # skip systemd-tmpfiles needs root to set owners"
	echo "ok $T_NUM # skip systemd-tmpfiles needs root to set owners"
fi

done_testing
