#!/bin/bash
# The Debian package, as an administrator meets it: `make deb` builds it
# twice from this tree (as its version, and as the next one), lintian has
# nothing to say, and in a container booted with a real systemd (an overlay
# of the machine's own root) `apt-get install ./…deb` leaves the socket
# listening; a credential added and the service restarted, a token is
# served; an upgrade to the next build keeps the configuration, the
# persisted token and a running service, restarted once; `apt-get purge`
# removes the units, the state and the configuration and leaves no process.
# Needs root, overlayfs, systemd-nspawn, dpkg-dev, debhelper and lintian;
# skips without them.  Runs from the repository root, with TB_BUILD (for
# the test's token endpoint).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/container.sh"

ct_need
for c in dpkg-buildpackage dh lintian apt-get; do
	command -v "$c" >/dev/null || skip "no $c (make deps installs dpkg-dev, debhelper, lintian)"
done
[ -x "$FAKEIDP" ] || skip "nothing built in $TB_BUILD"

PORT=18090
SECRET=pkg-secret-$RANDOM$RANDOM$RANDOM
T_START=$(date +%s)
VERSION=$(sed -n 's/^#define TOKENBROKER_VERSION "\(.*\)"$/\1/p' common/tokenbroker.h)
NEXT=$VERSION+next1
ARCH=$(dpkg --print-architecture)
DEB1=$T_DIR/b1/tokenbroker_${VERSION}_$ARCH.deb
DEB2=$T_DIR/b2/tokenbroker_${NEXT}_$ARCH.deb

# --- the packages ---
make --no-print-directory deb BUILD="$T_DIR/b1" >"$T_DIR/deb1.log" 2>&1
deb1_st=$?
make --no-print-directory deb BUILD="$T_DIR/b2" DEB_VERSION="$NEXT" >"$T_DIR/deb2.log" 2>&1
deb2_st=$?
# lintian takes a while: it reads the packages while the container works.
lintian --allow-root --fail-on error,warning "$DEB1" \
	"$T_DIR/b1/tokenbroker-dbgsym_${VERSION}_$ARCH.deb" >"$T_DIR/lintian.log" 2>&1 &
LINTIAN_PID=$!

ct_mount
# A container image's policy-rc.d (Docker's says 101: start nothing) would
# keep the maintainer scripts from starting, restarting and stopping the
# units, as they do on a Debian system.
rm -f "$ROOT/usr/sbin/policy-rc.d"
mkdir -p "$ROOT/root/debs"
cp "$DEB1" "$DEB2" "$ROOT/root/debs/" 2>/dev/null
# The token endpoint, started at boot; its secret is root's.
install -d -m 0755 "$ROOT/opt/tokenbroker-test"
install -m 0755 "$FAKEIDP" "$ROOT/opt/tokenbroker-test/fakeidp"
printf '%s\n' "$SECRET" >"$ROOT/opt/tokenbroker-test/secret"
chmod 600 "$ROOT/opt/tokenbroker-test/secret"
cat >"$ROOT/etc/systemd/system/tokenbroker-test-idp.service" <<EOF_UNIT
[Unit]
Description=token endpoint for the tokenbroker package test

[Service]
ExecStart=/opt/tokenbroker-test/fakeidp --quiet --listen 127.0.0.1 --port $PORT --client-id pkg-client --client-secret-file /opt/tokenbroker-test/secret --lifetime 3600
StandardOutput=null

[Install]
WantedBy=multi-user.target
EOF_UNIT
systemctl --root="$ROOT" enable tokenbroker-test-idp.service >"$T_DIR/enable.log" 2>&1

ct_boot
plan 35
is "$deb1_st" 0 "make deb builds the package"
[ "$deb1_st" = 0 ] || tail -n 20 "$T_DIR/deb1.log" | sed 's/^/#   /'
ok "$([ -f "$DEB1" ] && [ -f "$T_DIR/b1/tokenbroker-dbgsym_${VERSION}_$ARCH.deb" ]; echo $?)" \
	"and leaves tokenbroker_${VERSION}_$ARCH.deb and its -dbgsym in BUILD"
is "$deb2_st" 0 "make deb DEB_VERSION=$NEXT builds the next one"
is "$(dpkg-deb -f "$DEB2" Version)" "$NEXT" "which has that version"
is "$(dpkg-deb -f "$DEB1" Version)" "$VERSION" "the package's version is tokenbrokerd's"

# What it holds.
dpkg-deb -c "$DEB1" | awk '{ print $1, $2, $6 }' >"$T_DIR/contents"
missing=
for f in ./usr/sbin/tokenbrokerd ./usr/bin/tokenctl ./lib/systemd/system/tokenbrokerd.service \
	./lib/systemd/system/tokenbrokerd.socket ./usr/lib/sysusers.d/tokenbroker.conf \
	./usr/lib/tmpfiles.d/tokenbroker.conf ./usr/share/man/man8/tokenbrokerd.8.gz \
	./usr/share/man/man5/tokenbroker.conf.5.gz ./usr/share/man/man1/tokenctl.1.gz \
	./usr/share/bash-completion/completions/tokenctl ./usr/share/zsh/vendor-completions/_tokenctl \
	./usr/share/fish/vendor_completions.d/tokenctl.fish ./usr/share/doc/tokenbroker/README.md.gz \
	./usr/share/doc/tokenbroker/fleet.md.gz ./usr/share/doc/tokenbroker/fleet/daemonset.yaml \
	./usr/share/doc/tokenbroker/copyright ./usr/share/doc/tokenbroker/examples/xibo.conf; do
	grep -q " $f\$" "$T_DIR/contents" || missing="$missing $f"
done
is "$missing" "" "it holds the programs, units, snippets, man pages, completions, docs, examples"
like "$(grep ' ./etc/tokenbroker/tokenbroker.conf$' "$T_DIR/contents")" '^-rw-r----- root/root ' \
	"the configuration is root's, mode 0640"
dpkg-deb --ctrl-tarfile "$DEB1" | tar -xOf - ./conffiles >"$T_DIR/conffiles" 2>/dev/null
is "$(cat "$T_DIR/conffiles")" "/etc/tokenbroker/tokenbroker.conf" "and the one conffile"
ExecStart=$(dpkg-deb --fsys-tarfile "$DEB1" | tar -xOf - ./lib/systemd/system/tokenbrokerd.service |
	grep '^ExecStart=')
is "$ExecStart" "ExecStart=/usr/sbin/tokenbrokerd" "the service runs the packaged daemon"

state=$(ct_running)
like "$state" '^(running|degraded)$' "the container boots (system state: $state)"
ct_bail_if_gone "$state"

# --- install ---
apt_in() { in_ct env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends "$@"; }
apt_in install "/root/debs/${DEB1##*/}" >"$T_DIR/apt-install.log" 2>&1
st=$?
is "$st" 0 "apt-get install ./tokenbroker_${VERSION}_$ARCH.deb"
[ "$st" = 0 ] || tail -n 20 "$T_DIR/apt-install.log" | sed 's/^/#   /'
like "$(in_ct getent passwd tokenbroker)" '^tokenbroker:' "postinst created user tokenbroker"
is "$(in_ct stat -c '%U:%G %a' /etc/tokenbroker/tokenbroker.conf)" "root:tokenbroker 640" \
	"and gave the configuration to its group"
is "$(in_ct systemctl is-enabled tokenbrokerd.socket) $(prop ActiveState tokenbrokerd.socket)" \
	"enabled active" "tokenbrokerd.socket is enabled and listening"
wait_until 100 '[ "$(prop ActiveState)" = active ]'
is "$(in_ct systemctl is-enabled tokenbrokerd.service) $(prop ActiveState)" "enabled active" \
	"tokenbrokerd.service is enabled and started"

# --- a credential, a restart, a token ---
in_ct sh -c "umask 077 && printf '%s\n' '$SECRET' >/etc/tokenbroker/secrets/it &&
	chown tokenbroker /etc/tokenbroker/secrets/it"
in_ct sh -c "cat >>/etc/tokenbroker/tokenbroker.conf" <<EOF_CONF

[credential "it"]
token_url = http://127.0.0.1:$PORT/token
client_id = pkg-client
client_secret_file = /etc/tokenbroker/secrets/it
persist = yes
EOF_CONF
in_ct systemctl restart tokenbrokerd
token=$(in_ct /usr/bin/tokenctl token it --wait 30 2>"$T_DIR/ctl.err")
st=$?
is "$st" 0 "after systemctl restart tokenbrokerd, tokenctl token gets the new credential's token"
[ "$st" = 0 ] || sed 's/^/#   /' "$T_DIR/ctl.err"
cmp_ok "${#token}" -ge 16 "a token of some length"
wait_until 50 'in_ct test -f /var/lib/tokenbroker/it.token'
in_ct test -f /var/lib/tokenbroker/it.token
ok $? "and it is persisted in /var/lib/tokenbroker"
issued=$(in_ct curl -s "http://127.0.0.1:$PORT/stats" | json_field issued)

# --- upgrade ---
conf_sum=$(in_ct md5sum /etc/tokenbroker/tokenbroker.conf)
pid=$(prop MainPID)
started() { in_ct journalctl --no-pager -o cat -u tokenbrokerd.service | grep -c 'listening on'; }
starts=$(started)
apt_in install "/root/debs/${DEB2##*/}" >"$T_DIR/apt-upgrade.log" 2>&1
st=$?
is "$st" 0 "apt-get install of the next build upgrades"
[ "$st" = 0 ] || tail -n 20 "$T_DIR/apt-upgrade.log" | sed 's/^/#   /'
is "$(in_ct dpkg-query -W -f '${Version} ${Status}' tokenbroker)" "$NEXT install ok installed" \
	"to $NEXT"
is "$(in_ct md5sum /etc/tokenbroker/tokenbroker.conf)" "$conf_sum" "the configuration is kept"
wait_until 100 '[ "$(prop ActiveState)" = active ]'
new=$(prop MainPID)
ok "$([ "$(prop ActiveState)" = active ] && [ "$new" -gt 0 ] && [ "$new" != "$pid" ]; echo $?)" \
	"the service runs, a new process ($pid -> $new)"
is "$(($(started) - starts))" 1 "started once by the upgrade"
is "$(prop ActiveState tokenbrokerd.socket)" active "the socket listens"
is "$(in_ct /usr/bin/tokenctl token it 2>/dev/null)" "$token" "the persisted token is served after the upgrade"
is "$(in_ct curl -s "http://127.0.0.1:$PORT/stats" | json_field issued)" "$issued" \
	"and was not fetched anew"

# --- purge ---
apt_in purge tokenbroker >"$T_DIR/apt-purge.log" 2>&1
st=$?
is "$st" 0 "apt-get purge tokenbroker"
[ "$st" = 0 ] || tail -n 20 "$T_DIR/apt-purge.log" | sed 's/^/#   /'
left=$(in_ct sh -c 'ls -d /lib/systemd/system/tokenbrokerd.* /etc/systemd/system/*/tokenbrokerd.* \
	/usr/sbin/tokenbrokerd 2>/dev/null')
is "$left" "" "the units and their links are gone"
is "$(in_ct systemctl list-units --all --no-legend 'tokenbrokerd*' | grep -v not-found)" "" \
	"systemd knows no tokenbrokerd unit"
in_ct pgrep -x tokenbrokerd >/dev/null
is $? 1 "no tokenbrokerd process is left"
left=$(in_ct sh -c 'ls -d /var/lib/tokenbroker /etc/tokenbroker /run/tokenbroker 2>/dev/null')
is "$left" "" "the state, the configuration and the runtime directory are gone"
like "$(in_ct getent passwd tokenbroker)" '^tokenbroker:' \
	"the system user stays, as Debian's do (files elsewhere may be its)"
in_ct dpkg-query -W tokenbroker >/dev/null 2>&1
is $? 1 "dpkg knows the package no more"

# --- lintian ---
wait "$LINTIAN_PID"
lint_st=$?
is "$lint_st" 0 "lintian --fail-on error,warning passes the package and its -dbgsym"
is "$(grep -c '^[EW]: ' "$T_DIR/lintian.log")" 0 "with no error and no warning"
[ "$lint_st" = 0 ] || sed 's/^/#   /' "$T_DIR/lintian.log"

echo "# $(($(date +%s) - T_START)) s in all"
done_testing
