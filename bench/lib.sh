# shellcheck shell=bash
# bench/lib.sh: what bench/run.sh, bench/proxy.sh and bench/side.sh share.
# Sourced, not run; uses the caller's ROOT (the source tree), DIR (its
# temporary directory), SOCK (the daemon's socket) and PIN.  What it sets
# (BUILD, TBD, FAKEIDP, LOADGEN unless given) is for its callers:
# shellcheck disable=SC2034

# The binaries every script runs (each may be given in the environment).
BUILD=${BUILD:-$ROOT/build}
TBD=${TBD:-$BUILD/tokenbrokerd}
FAKEIDP=${FAKEIDP:-$BUILD/tests/fakeidp}
LOADGEN=${LOADGEN:-$BUILD/bench/loadgen}

# bench_need BINARY...: exits unless they are all built, and the tools
# the scripts use are there.
bench_need() {
	local bin tool
	for bin in "$@"; do
		if [ ! -x "$bin" ]; then
			echo "${0##*/}: $bin is missing; build first: make -C $ROOT all bench" >&2
			exit 1
		fi
	done
	for tool in curl awk; do
		command -v "$tool" >/dev/null || { echo "${0##*/}: $tool is needed" >&2; exit 1; }
	done
}

# The CPUs this script may use, one per line ("0-1,4" -> 0 1 4).
allowed_cpus() {
	local list part
	list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
	for part in ${list//,/ }; do
		if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
	done
}

# bench_pin: with PIN not 0, taskset and two CPUs or more, SERVER_CPU is
# the first and CLIENT_CPU the second (else both empty); SERVER is the
# prefix that runs a server on SERVER_CPU (taskset execs, so $! is the
# server's own pid), CLIENT the one for clients on CLIENT_CPU.
bench_pin() {
	local allowed
	SERVER_CPU=
	CLIENT_CPU=
	SERVER=()
	CLIENT=()
	if [ "$PIN" != 0 ] && command -v taskset >/dev/null; then
		mapfile -t allowed < <(allowed_cpus)
		if [ "${#allowed[@]}" -ge 2 ]; then
			SERVER_CPU=${allowed[0]}
			CLIENT_CPU=${allowed[1]}
			SERVER=(taskset -c "$SERVER_CPU")
			CLIENT=(taskset -c "$CLIENT_CPU")
		fi
	fi
}

# idp_start: the local token endpoint (tests/fakeidp) on SERVER_CPU, with a
# fresh client secret in DIR/secret; sets IDP_PID and IDP_PORT, or exits.
idp_start() {
	printf 'bench-secret-%s%s\n' "$RANDOM" "$RANDOM" >"$DIR/secret"
	chmod 600 "$DIR/secret"
	"${SERVER[@]}" "$FAKEIDP" --quiet --port 0 --port-file "$DIR/idp.port" \
		--client-id bench-client --client-secret-file "$DIR/secret" \
		>"$DIR/idp.log" 2>&1 &
	IDP_PID=$!
	for _ in $(seq 100); do
		[ -s "$DIR/idp.port" ] && break
		sleep 0.05
	done
	IDP_PORT=$(cat "$DIR/idp.port" 2>/dev/null)
	[ -n "$IDP_PORT" ] || { echo "${0##*/}: fakeidp did not start" >&2; exit 1; }
}

cred() { # cred NAME [key = value...]
	local name=$1 kv
	shift
	printf '[credential "%s"]\ntoken_url = http://127.0.0.1:%s/token\n' "$name" "$IDP_PORT"
	printf 'client_id = bench-client\nclient_secret_file = %s/secret\n' "$DIR"
	for kv in "$@"; do printf '%s\n' "$kv"; done
	printf '\n'
}

daemon_section() {
	printf '[daemon]\nsocket = %s\nstate_dir = %s\nlog_level = warning\n\n' "$SOCK" "$DIR"
}

api() { curl -s -m 10 --unix-socket "$SOCK" "http://localhost$1"; }

# tbd_start CONF EAGER: starts the daemon on SERVER_CPU (TBD_PID, its log
# DIR/daemon.log) and waits until its EAGER credentials that are not lazy
# hold a token.  False when the daemon did not start (it is gone then);
# exits when the tokens do not come.
tbd_start() {
	local conf=$1 eager=$2 n=0
	rm -f "$SOCK"
	"${SERVER[@]}" "$TBD" -c "$conf" >>"$DIR/daemon.log" 2>&1 &
	TBD_PID=$!
	for _ in $(seq 200); do
		[ -S "$SOCK" ] && break
		kill -0 "$TBD_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -S "$SOCK" ]; then
		tbd_stop
		return 1
	fi
	for _ in $(seq 300); do
		n=$(api /v1/credentials | grep -o '"state":"valid"' | wc -l)
		[ "$n" -ge "$eager" ] && return 0
		sleep 0.1
	done
	echo "${0##*/}: only $n of $eager credentials got a token" >&2
	exit 1
}

tbd_stop() {
	kill -TERM "$TBD_PID" 2>/dev/null
	wait "$TBD_PID" 2>/dev/null
	TBD_PID=
}

# sys_busy_ticks "CPU..."|"": busy ticks (user nice system irq softirq
# steal) of those CPUs, or of all, for telling how much else ran meanwhile.
sys_busy_ticks() {
	awk -v list=" $1 " '
		list ~ /^ *$/ && /^cpu / { n += $2 + $3 + $4 + $7 + $8 + $9 }
		/^cpu[0-9]/ && index(list, " " substr($1, 4) " ") { n += $2 + $3 + $4 + $7 + $8 + $9 }
		END { print n + 0 }' /proc/stat
}

# proc_ticks PID...: the CPU time (user + system, in ticks) those
# processes used so far; the ones gone count 0.
proc_ticks() {
	local pid n=0 t
	for pid in "$@"; do
		t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) && n=$((n + t))
	done
	echo "$n"
}

field() { # field NAME LINE: a value from loadgen's result line
	printf '%s\n' "$2" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"
}

median() { # median of the numbers on stdin
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "nan"
		else if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
