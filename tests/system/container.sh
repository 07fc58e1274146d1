# A real systemd in a container whose root is an overlay of the machine's
# own: sourced by the whole-system tests after tests/integration/lib.sh.
#
#   ct_need                 skips the test (TAP) without root, overlayfs,
#                           systemd-nspawn or a systemd to boot
#   ct_mount                mounts the overlay at $ROOT (a tmpfs upper layer)
#                           with no tokenbroker of the machine's in it
#   ct_boot                 boots $ROOT; $CT is the container's PID 1 (the
#                           test skips when this machine cannot boot one)
#   ct_running              waits for the boot's end; prints the system state
#   in_ct CMD...            runs CMD inside
#   as USER CMD...          runs CMD inside as USER, with USER's groups
#   prop PROP [UNIT]        a property of UNIT (tokenbrokerd.service)
#
# ct_cleanup (installed as the EXIT trap by ct_mount) prints the journal of
# tokenbrokerd when a test failed, shuts the container down and unmounts.

MNT=$T_DIR/mnt
ROOT=$MNT/root
NSPAWN_PID=
CT=
MACHINE=tbtest-$$

skip() { echo "1..0 # SKIP $*"; exit 0; }

ct_need() {
	[ "$(id -u)" = 0 ] || skip "needs root to boot a container"
	for c in systemd-nspawn nsenter setpriv mountpoint; do
		command -v "$c" >/dev/null || skip "no $c (apt-get install systemd-container util-linux)"
	done
	[ -x /lib/systemd/systemd ] || skip "no systemd to boot"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		skip "no overlayfs in this kernel"
	# A make that runs the test (make check) must not hand its flags down.
	unset MAKEFLAGS MFLAGS MAKELEVEL
}

in_ct() { nsenter -t "$CT" -a "$@"; }
as() {
	local u=$1
	shift
	in_ct setpriv --reuid="$u" --regid="$u" --init-groups "$@"
}
prop() { in_ct systemctl show -p "$1" --value "${2:-tokenbrokerd.service}"; }

ct_cleanup() {
	local i m
	if [ -n "$CT" ] && [ "$T_FAILED" -ne 0 ] && kill -0 "$CT" 2>/dev/null; then
		echo "# journal of tokenbrokerd (last 60 lines):"
		in_ct journalctl --no-pager -n 60 -u tokenbrokerd -u tokenbrokerd.socket 2>&1 |
			sed 's/^/#   /'
	fi
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		# SIGTERM to nspawn is an orderly shutdown of the container.
		kill -TERM "$NSPAWN_PID"
		for i in $(seq 100); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$NSPAWN_PID" 2>/dev/null
		[ -n "$CT" ] && kill -KILL "$CT" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	for m in "$ROOT" "$MNT"; do
		if mountpoint -q "$m"; then
			umount "$m" 2>/dev/null || umount -l "$m"
		fi
	done
	if mountpoint -q "$MNT"; then
		echo "# $MNT is still mounted; leaving $T_DIR"
		return
	fi
	t_cleanup
}

ct_mount() {
	trap ct_cleanup EXIT
	trap "exit 1" INT TERM HUP
	# The overlay's upper layer must not be on an overlay itself: a tmpfs
	# of its own, whatever /tmp is.
	mkdir -p "$MNT"
	mount -t tmpfs -o mode=0700,size=1g tokenbroker-test "$MNT" || skip "cannot mount a tmpfs"
	mkdir "$MNT/upper" "$MNT/work" "$ROOT"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$MNT/upper,workdir=$MNT/work" "$ROOT" ||
		skip "cannot mount an overlay of /"
	# A tokenbroker the machine itself may have installed is not in the way.
	rm -rf "$ROOT/etc/tokenbroker" "$ROOT"/etc/systemd/system/tokenbrokerd.* \
		"$ROOT"/etc/systemd/system/*/tokenbrokerd.* "$ROOT/var/lib/tokenbroker"
	getent -s files passwd tokenbroker >/dev/null && userdel -R "$ROOT" tokenbroker 2>/dev/null
	getent -s files group tokenbroker >/dev/null && groupdel -R "$ROOT" tokenbroker 2>/dev/null
	return 0
}

# The container's PID 1: nspawn's child that is pid 1 in its own PID
# namespace (NSpid ends in 1).  nspawn forks an intermediate child first,
# which exits: taking any child could catch that one.
ct_init() {
	local p
	for p in $(ps --ppid "$NSPAWN_PID" -o pid= 2>/dev/null); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] &&
			echo "$p" && return 0
	done
	return 1
}

ct_boot() {
	systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --machine="$MACHINE" \
		--private-network --console=passive </dev/null >"$T_DIR/nspawn.log" 2>&1 &
	NSPAWN_PID=$!
	CT=
	for _ in $(seq 200); do
		CT=$(ct_init) && break
		CT=
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$CT" ]; then
		sed 's/^/# /' "$T_DIR/nspawn.log"
		skip "systemd-nspawn cannot boot a container here"
	fi
}

# Until the boot is done (or not): polls, for a first answer may take the
# manager a moment to be reachable at all.
ct_running() {
	local state=
	for _ in $(seq 90); do
		state=$(timeout 90 nsenter -t "$CT" -a systemctl is-system-running --wait 2>/dev/null)
		case "$state" in running | degraded | maintenance | stopping) break ;; esac
		kill -0 "$CT" 2>/dev/null || break
		sleep 0.2
	done
	echo "$state"
}

# After a failed boot check: why, and stop.
ct_bail_if_gone() {
	[ "$1" = degraded ] && in_ct systemctl --failed --no-legend --no-pager | sed 's/^/#   /'
	if ! kill -0 "$CT" 2>/dev/null; then
		sed 's/^/# /' "$T_DIR/nspawn.log" | tail -n 20
		echo "Bail out! the container stopped"
		exit 1
	fi
}
