#!/bin/bash
# make install and make uninstall, as a package build runs them: the tree
# under DESTDIR, the modes, ExecStart= for the PREFIX, an existing
# configuration that is never replaced, and an uninstall that removes all
# but the configuration.
. "$(dirname "$0")/lib.sh"

plan 35
ROOT=$PWD
# A make that runs this test (make check) must not hand its flags down.
unset MAKEFLAGS MFLAGS MAKELEVEL
if grep -Eq '^-?include +install\.mk' "$ROOT/Makefile"; then
	MK=(make --no-print-directory -C "$ROOT")
else
	echo "# the Makefile does not include install.mk yet: using make -f install.mk"
	MK=(make --no-print-directory -C "$ROOT" -f install.mk)
fi
DIRS=(SYSTEMDUNITDIR=/usr/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d
	TMPFILESDIR=/usr/lib/tmpfiles.d BASHCOMPLETIONDIR=/usr/share/bash-completion/completions
	FISHCOMPLETIONDIR=/usr/share/fish/vendor_completions.d)

# mk DESTDIR ARGS...: make with BUILD, output in $T_DIR/make.log.
mk() {
	local dest=$1
	shift
	"${MK[@]}" BUILD="$TB_BUILD" DESTDIR="$dest" "$@" >"$T_DIR/make.log" 2>&1
}

tree() { # the files and links under $1, one relative path a line
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort)
}

mode() { stat -c %a "$1"; }

show_log() { sed 's/^/#   /' "$T_DIR/make.log"; }

DEST=$T_DIR/dest
mk "$DEST" PREFIX=/usr "${DIRS[@]}" install
st=$?
is "$st" 0 "make install DESTDIR=... PREFIX=/usr succeeds"
[ "$st" = 0 ] || show_log

examples=$(cd conf/examples && ls *.conf | sed 's|^|usr/share/doc/tokenbroker/examples/|')
fleet=$(cd doc/fleet && ls *.yaml | sed 's|^|usr/share/doc/tokenbroker/fleet/|')
expected=$(LC_ALL=C sort <<EOF_TREE
etc/tokenbroker/tokenbroker.conf
usr/bin/tokenctl
usr/lib/systemd/system/tokenbrokerd.service
usr/lib/systemd/system/tokenbrokerd.socket
usr/lib/sysusers.d/tokenbroker.conf
usr/lib/tmpfiles.d/tokenbroker.conf
usr/sbin/tokenbrokerd
usr/share/bash-completion/completions/tokenctl
usr/share/fish/vendor_completions.d/tokenctl.fish
usr/share/zsh/vendor-completions/_tokenctl
usr/share/man/man1/tokenctl.1
usr/share/man/man5/tokenbroker.conf.5
usr/share/man/man8/tokenbrokerd.8
usr/share/doc/tokenbroker/examples/tokenbroker-proxy-example.socket
usr/share/doc/tokenbroker/fleet.md
$examples
$fleet
EOF_TREE
)
got=$(tree "$DEST")
is "$got" "$expected" "install puts exactly the expected files in place"
[ "$got" = "$expected" ] || diff <(echo "$expected") <(echo "$got") | sed 's/^/#   /'
cmp_ok "$(echo "$examples" | wc -l)" -ge 4 "an example for each profile is installed"
diff -r doc/fleet "$DEST/usr/share/doc/tokenbroker/fleet" >/dev/null &&
	cmp -s doc/fleet.md "$DEST/usr/share/doc/tokenbroker/fleet.md"
ok $? "the fleet document and its manifests are installed as they are"

is "$(mode "$DEST/usr/sbin/tokenbrokerd") $(mode "$DEST/usr/bin/tokenctl")" "755 755" \
	"the programs are mode 0755"
cmp -s "$TB_BUILD/tokenbrokerd" "$DEST/usr/sbin/tokenbrokerd" &&
	cmp -s "$TB_BUILD/tokenctl" "$DEST/usr/bin/tokenctl"
ok $? "the programs are the ones built in \$BUILD"
is "$(mode "$DEST/etc/tokenbroker/tokenbroker.conf")" 640 "the configuration is mode 0640"
cmp -s conf/tokenbroker.conf "$DEST/etc/tokenbroker/tokenbroker.conf"
ok $? "the configuration is conf/tokenbroker.conf"
modes=$(cd "$DEST" && stat -c %a usr/share/man/man*/* usr/lib/systemd/system/* \
	usr/lib/sysusers.d/* usr/lib/tmpfiles.d/* usr/share/bash-completion/completions/* \
	usr/share/zsh/vendor-completions/* usr/share/fish/vendor_completions.d/* \
	usr/share/doc/tokenbroker/examples/* usr/share/doc/tokenbroker/fleet.md \
	usr/share/doc/tokenbroker/fleet/* | sort -u | tr '\n' ' ')
is "$modes" "644 " "man pages, units, snippets, completions, examples and documents are mode 0644"
dirmodes=$(cd "$DEST" && find . -type d -exec stat -c %a {} + | sort -u | tr '\n' ' ')
is "$dirmodes" "755 " "the directories made are mode 0755"

unit=$DEST/usr/lib/systemd/system/tokenbrokerd.service
is "$(grep '^ExecStart=' "$unit")" "ExecStart=/usr/sbin/tokenbrokerd" \
	"the installed unit starts the installed daemon"
is "$(diff systemd/tokenbrokerd.service "$unit" | grep -c '^[<>]')" 2 \
	"and differs from systemd/tokenbrokerd.service in that line only"
cmp -s systemd/tokenbrokerd.socket "$DEST/usr/lib/systemd/system/tokenbrokerd.socket" &&
	cmp -s systemd/tokenbroker.sysusers "$DEST/usr/lib/sysusers.d/tokenbroker.conf" &&
	cmp -s systemd/tokenbroker.tmpfiles "$DEST/usr/lib/tmpfiles.d/tokenbroker.conf" &&
	cmp -s contrib/tokenctl.bash-completion "$DEST/usr/share/bash-completion/completions/tokenctl" &&
	cmp -s contrib/tokenctl.zsh-completion "$DEST/usr/share/zsh/vendor-completions/_tokenctl" &&
	cmp -s contrib/tokenctl.fish "$DEST/usr/share/fish/vendor_completions.d/tokenctl.fish"
ok $? "socket unit, sysusers.d and tmpfiles.d snippets and completions are copied as they are"

# An existing configuration stays as it is, content and mode.
conf=$DEST/etc/tokenbroker/tokenbroker.conf
printf '# local change\n[daemon]\nlog_level = debug\n' >"$conf"
chmod 600 "$conf"
before=$(cat "$conf")
mk "$DEST" PREFIX=/usr "${DIRS[@]}" install
is $? 0 "a second make install succeeds"
is "$(cat "$conf")" "$before" "it does not overwrite the existing configuration"
is "$(mode "$conf")" 600 "nor change its mode"
like "$(cat "$T_DIR/make.log")" "keeping the existing .*tokenbroker\.conf" "and says so"
is "$(tree "$DEST")" "$expected" "the tree is the same after a second install"

mk "$DEST" PREFIX=/usr "${DIRS[@]}" uninstall
st=$?
is "$st" 0 "make uninstall succeeds"
[ "$st" = 0 ] || show_log
is "$(tree "$DEST")" "etc/tokenbroker/tokenbroker.conf" \
	"uninstall removes every installed file but the configuration"
is "$(cat "$conf")" "$before" "the configuration is left unchanged"
[ ! -e "$DEST/usr/share/doc/tokenbroker" ]
ok $? "the documentation directory is removed"
mk "$DEST" PREFIX=/usr "${DIRS[@]}" uninstall
is $? 0 "a second uninstall succeeds too"

# Without the directory overrides: where pkg-config says.
DEST2=$T_DIR/dest2
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
unitdir=${unitdir:-/usr/lib/systemd/system}
compdir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null)
compdir=${compdir:-/usr/share/bash-completion/completions}
fishdir=$(pkg-config --variable=completionsdir fish 2>/dev/null)
fishdir=${fishdir:-/usr/share/fish/vendor_completions.d}
sysusersdir=$(pkg-config --variable=sysusersdir systemd 2>/dev/null)
sysusersdir=${sysusersdir:-/usr/lib/sysusers.d}
mk "$DEST2" PREFIX=/usr install
is $? 0 "make install with the default directories succeeds"
[ -f "$DEST2$unitdir/tokenbrokerd.service" ] && [ -f "$DEST2$unitdir/tokenbrokerd.socket" ]
ok $? "the units go to the unit directory pkg-config names ($unitdir)"
[ -f "$DEST2$compdir/tokenctl" ]
ok $? "the bash completion goes to $compdir"
[ -f "$DEST2$fishdir/tokenctl.fish" ]
ok $? "the fish completion goes to $fishdir"
[ -f "$DEST2/usr/share/zsh/vendor-completions/_tokenctl" ]
ok $? "the zsh completion goes to zsh's vendor directory"
[ -f "$DEST2$sysusersdir/tokenbroker.conf" ]
ok $? "the sysusers.d snippet goes to $sysusersdir"

# Another PREFIX, and SYSTEMDUNITDIR given by hand.
DEST3=$T_DIR/dest3
mk "$DEST3" PREFIX=/opt/tb SYSTEMDUNITDIR=/opt/tb/units install
is $? 0 "make install PREFIX=/opt/tb succeeds"
is "$(grep '^ExecStart=' "$DEST3/opt/tb/units/tokenbrokerd.service" 2>/dev/null)" \
	"ExecStart=/opt/tb/sbin/tokenbrokerd" "ExecStart= follows PREFIX; SYSTEMDUNITDIR is honoured"
[ -x "$DEST3/opt/tb/bin/tokenctl" ] && [ -f "$DEST3/opt/tb/share/man/man8/tokenbrokerd.8" ] &&
	[ -f "$DEST3/opt/tb/share/zsh/vendor-completions/_tokenctl" ]
ok $? "programs, man pages and the zsh completion go under PREFIX"

# Nothing built: install refuses, and installs nothing.
DEST4=$T_DIR/dest4
"${MK[@]}" BUILD="$T_DIR/nobuild" DESTDIR="$DEST4" PREFIX=/usr install >"$T_DIR/make.log" 2>&1
st=$?
cmp_ok "$st" -ne 0 "make install without a build fails"
like "$(cat "$T_DIR/make.log")" "make all" "and says to build first"
[ ! -e "$DEST4" ]
ok $? "and installs nothing"

done_testing
