#!/bin/bash
# bench/run.sh: tokenbrokerd's socket API under load.
#
# Starts the local token endpoint (tests/fakeidp) and tokenbrokerd
# (log_level = warning) in a temporary directory, runs each scenario
# BENCH_RUNS times (default 5) with bench/loadgen and prints the medians.
# Everything it starts is stopped on exit, also on ^C.
#
#   bench/run.sh                  (from anywhere; after `make all bench`)
#
# Environment:
#   BUILD            build directory (default: build/ next to bench/)
#   LOADGEN TBD FAKEIDP   the binaries (default: from BUILD)
#   BENCH_RUNS       runs per scenario (default 5)
#   BENCH_DURATION   seconds per timed run (default 2)
#   BENCH_PIN        auto (default): with two CPUs or more, the daemon and
#                    fakeidp run on the first, loadgen on the second (or on
#                    the first, for the scenarios marked "same CPU"); 0: no
#                    pinning
#   BENCH_MAX_OTHERS  a timed run during which other processes used more
#                    than this % of a CPU (of the CPUs the scenario uses) is
#                    repeated, up to BENCH_TRIES (4) times in all; the last
#                    try counts, marked DISTURBED (default 10; the
#                    figure is approximate: a few % is bookkeeping noise)
#
# Exit status: 0 when every request got a 2xx answer and the single-flight
# scenario cost exactly one upstream request per run; 1 otherwise.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
DURATION=${BENCH_DURATION:-2}
PIN=${BENCH_PIN:-auto}
MAX_OTHERS=${BENCH_MAX_OTHERS:-10}
TRIES=${BENCH_TRIES:-4}
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_need "$TBD" "$FAKEIDP" "$LOADGEN"

DIR=$(mktemp -d /tmp/tokenbroker-bench.XXXXXX) || exit 1
chmod 700 "$DIR"
SOCK=$DIR/tb.sock
IDP_PID=
TBD_PID=
FAILED=0

# shellcheck disable=SC2317 # called from the trap
cleanup() {
	if [ -n "$TBD_PID" ]; then kill "$TBD_PID" 2>/dev/null; wait "$TBD_PID" 2>/dev/null; fi
	if [ -n "$IDP_PID" ]; then kill "$IDP_PID" 2>/dev/null; wait "$IDP_PID" 2>/dev/null; fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_pin

on_cpu() { # on_cpu CPU|"" CMD ARGS...: not for background jobs (see SERVER)
	local cpu=$1
	shift
	if [ -n "$cpu" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

idp_url() { curl -s -m 5 "http://127.0.0.1:$IDP_PORT$1"; }

idp_stat() { # a number from fakeidp's /stats
	idp_url /stats | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}

tbd_failed() {
	echo "run.sh: tokenbrokerd did not start:" >&2
	cat "$DIR/daemon.log" >&2
	exit 1
}

tbd_cpu_ticks() { proc_ticks "$TBD_PID"; }

declare -A MED DESC
ORDER=()

# scenario KEY CPU DESCRIPTION -- LOADGEN-ARGS...: RUNS runs of loadgen on
# CPU, with the daemon's CPU time per answer from /proc; medians into MED.
scenario() {
	local key=$1 cpu=$2 desc=$3 i try out res c0 c1 s0 s1 t0 t1 answered dcpu others bad
	local cpus=
	shift 4
	ORDER+=("$key")
	DESC[$key]=$desc
	: >"$DIR/$key.runs"
	[ -n "$cpu" ] && cpus=$(printf '%s\n' "$SERVER_CPU" "$cpu" | sort -u | tr '\n' ' ')
	echo "# $key: $desc"
	echo "#   loadgen -s SOCK $*"
	for i in $(seq "$RUNS"); do
		for try in $(seq "$TRIES"); do
			c0=$(tbd_cpu_ticks)
			s0=$(sys_busy_ticks "$cpus")
			t0=$(date +%s.%N)
			out=$(on_cpu "$cpu" "$LOADGEN" -s "$SOCK" "$@")
			t1=$(date +%s.%N)
			s1=$(sys_busy_ticks "$cpus")
			c1=$(tbd_cpu_ticks)
			if ! kill -0 "$TBD_PID" 2>/dev/null; then
				echo "run.sh: tokenbrokerd died; its log:" >&2
				tail -n 20 "$DIR/daemon.log" >&2
				exit 1
			fi
			res=$(printf '%s\n' "$out" | grep '^result: ')
			[ -n "$res" ] || break
			# CPU time of everything but tokenbrokerd and loadgen on the
			# CPUs this scenario uses, in % of one CPU
			others=$(awk -v s=$((s1 - s0)) -v d=$((c1 - c0)) \
				-v l="$(field cpu_s "$res")" -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
				'BEGIN { o = (s - d) / hz - l; if (o < 0) o = 0
					printf "%.0f", (t1 > t0) ? o / (t1 - t0) * 100 : 0 }')
			[ "$others" -le "$MAX_OTHERS" ] && break
			[ "$try" -lt "$TRIES" ] &&
				echo "#   run $i: others used ${others}% of a CPU meanwhile; again"
		done
		if [ -z "$res" ]; then
			echo "#   run $i: no result from loadgen"
			FAILED=1
			continue
		fi
		answered=$(field answered "$res")
		dcpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$answered" \
			'BEGIN { printf "%.2f", (n > 0) ? t / hz * 1e6 / n : 0 }')
		echo "$(field rps "$res") $(field p50_us "$res") $(field p90_us "$res")" \
			"$(field p99_us "$res") $(field max_us "$res") $dcpu $others" >>"$DIR/$key.runs"
		bad=$(( $(field errors "$res") + $(field non2xx "$res") ))
		printf '#   run %d: %s req/s, p50 %s us, p99 %s us, daemon %s us CPU/req, %s answers, others %s%%%s%s\n' \
			"$i" "$(field rps "$res")" "$(field p50_us "$res")" "$(field p99_us "$res")" \
			"$dcpu" "$answered" "$others" \
			"$([ "$others" -gt "$MAX_OTHERS" ] && echo " (DISTURBED)")" \
			"$([ "$bad" -gt 0 ] && echo ", $bad FAILED ($(field codes "$res"))")"
		[ "$bad" -gt 0 ] && FAILED=1
	done
	for i in 1 2 3 4 5 6 7; do
		MED[$key,$i]=$(awk -v c="$i" '{ print $c }' "$DIR/$key.runs" | median)
	done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# tokenbroker benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "# source: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)," \
	"libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
if [ -n "$SERVER_CPU" ]; then
	echo "# pinning: tokenbrokerd and fakeidp on CPU $SERVER_CPU, loadgen on CPU $CLIENT_CPU" \
		"(\"same CPU\": on CPU $SERVER_CPU)"
else
	echo "# pinning: none"
fi
echo "# $RUNS runs per scenario, ${DURATION}s each unless -n is given;" \
	"load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

SAME=$SERVER_CPU
OTHER=$CLIENT_CPU
D=(-d "$DURATION")

# --- a daemon with a few credentials ---------------------------------------
idp_start
{
	daemon_section
	cred bench
	cred bench2 "scope = read write"
	for i in $(seq "$RUNS"); do
		cred "lazy$i" "lazy = yes"
		cred "single$i" "lazy = yes"
	done
} >"$DIR/few.conf"
chmod 600 "$DIR/few.conf"
tbd_start "$DIR/few.conf" 2 || tbd_failed
NFEW=$((2 + 2 * RUNS))
on_cpu "$OTHER" "$LOADGEN" -s "$SOCK" -c 8 -k -n 20000 /v1/tokens/bench >/dev/null # warm-up

scenario a "$SAME" "cached token, JSON, 1 connection, keep-alive (same CPU)" -- \
	"${D[@]}" -k /v1/tokens/bench
scenario ax "$OTHER" "cached token, JSON, 1 connection, keep-alive (other CPU)" -- \
	"${D[@]}" -k /v1/tokens/bench
scenario h1 "$SAME" "GET /v1/health, 1 connection, keep-alive (same CPU)" -- \
	"${D[@]}" -k /v1/health
scenario b "$OTHER" "cached token, JSON, 32 connections, keep-alive" -- \
	"${D[@]}" -c 32 -k /v1/tokens/bench
scenario h32 "$OTHER" "GET /v1/health, 32 connections, keep-alive" -- \
	"${D[@]}" -c 32 -k /v1/health
scenario c "$SAME" "cached token, text/plain, 1 connection, keep-alive (same CPU)" -- \
	"${D[@]}" -k --accept text /v1/tokens/bench
scenario d "$OTHER" "cached token, JSON, new connection per request, 32 concurrent" -- \
	"${D[@]}" -c 32 /v1/tokens/bench
scenario ef "$SAME" "GET /v1/credentials, $NFEW credentials, 1 connection, keep-alive (same CPU)" -- \
	"${D[@]}" -k /v1/credentials

# (f) single flight: 200 clients at once on a lazy credential whose
# upstream takes 200 ms; fakeidp counts the token requests it saw.  A lone
# client on another fresh lazy credential gives the baseline.
ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
echo "# f: 200 concurrent clients, one request each, lazy credential, upstream delay 200 ms"
echo "#   loadgen -s SOCK -c 200 -n 200 -t 10 /v1/tokens/lazyN (and -n 1 on single<N> first)"
: >"$DIR/f.runs"
for i in $(seq "$RUNS"); do
	idp_url '/control?reset=1&delay_ms=200' >/dev/null
	one=$(on_cpu "$OTHER" "$LOADGEN" -s "$SOCK" -n 1 -t 10 "/v1/tokens/single$i" |
		grep '^result: ')
	idp_url '/control?reset=1&delay_ms=200' >/dev/null
	res=$(on_cpu "$OTHER" "$LOADGEN" -s "$SOCK" -c 200 -n 200 -t 10 "/v1/tokens/lazy$i" |
		grep '^result: ')
	up=$(idp_stat requests)
	inflight=$(idp_stat max_concurrent)
	printf '#   run %d: upstream requests %s (max in flight %s); %s of 200 got 200;' \
		"$i" "${up:-?}" "${inflight:-?}" "$(field ok "$res")"
	printf ' latency ms: min %s p50 %s p90 %s p99 %s max %s; lone client %s\n' \
		"$(ms "$(field min_us "$res")")" "$(ms "$(field p50_us "$res")")" \
		"$(ms "$(field p90_us "$res")")" "$(ms "$(field p99_us "$res")")" \
		"$(ms "$(field max_us "$res")")" "$(ms "$(field max_us "$one")")"
	echo "${up:-0} $(field min_us "$res") $(field p50_us "$res") $(field p90_us "$res")" \
		"$(field p99_us "$res") $(field max_us "$res") $(field max_us "$one")" >>"$DIR/f.runs"
	if [ "${up:-0}" != 1 ] || [ "$(field ok "$res")" != 200 ] ||
	   [ "$(field ok "$one")" != 1 ]; then
		FAILED=1
	fi
done
idp_url '/control?reset=1' >/dev/null
tbd_stop

# --- a daemon with 100 credentials -----------------------------------------
{
	daemon_section
	for i in $(seq -w 1 100); do cred "cred$i"; done
} >"$DIR/many.conf"
chmod 600 "$DIR/many.conf"
tbd_start "$DIR/many.conf" 100 || tbd_failed
scenario e100 "$SAME" "GET /v1/credentials, 100 credentials, 1 connection, keep-alive (same CPU)" -- \
	"${D[@]}" -k /v1/credentials
scenario t100 "$SAME" "cached token, JSON, 1 connection, keep-alive, 100 credentials (same CPU)" -- \
	"${D[@]}" -k /v1/tokens/cred100
tbd_stop

# --- summary -----------------------------------------------------------------
echo
echo "== medians of $RUNS runs =="
printf '%-5s %-76s %9s %8s %8s %8s %9s %8s %7s\n' "" "scenario" "req/s" "p50 us" "p90 us" \
	"p99 us" "max us" "CPU us" "others"
for k in "${ORDER[@]}"; do
	printf '%-5s %-76s %9s %8s %8s %8s %9s %8s %6s%%\n' "$k" "${DESC[$k]}" "${MED[$k,1]}" \
		"${MED[$k,2]}" "${MED[$k,3]}" "${MED[$k,4]}" "${MED[$k,5]}" "${MED[$k,6]}" \
		"${MED[$k,7]}"
done
echo "(CPU us: tokenbrokerd's CPU time per answer, user + system, from /proc;"
echo " others: CPU time of everything else on the machine during the runs, in % of one CPU;"
echo " more than a few % means the req/s and latency of that scenario are disturbed)"
echo
fmed() { awk -v c="$1" '{ print $c }' "$DIR/f.runs" | median; }
echo "f     200 clients on a lazy credential, upstream delay 200 ms:"
echo "      upstream token requests per run: $(awk '{ printf "%s ", $1 }' "$DIR/f.runs")"
echo "      latency ms (medians): min $(ms "$(fmed 2)") p50 $(ms "$(fmed 3)")" \
	"p90 $(ms "$(fmed 4)") p99 $(ms "$(fmed 5)") max $(ms "$(fmed 6)");" \
	"a lone client: $(ms "$(fmed 7)")"
echo
echo "== ratios (of medians) =="
rline() { printf '%-34s req/s %s%s\n' "$1" "$(ratio "$2" "$3")" \
	"$([ $# -gt 3 ] && echo ", daemon CPU/req $(ratio "$4" "$5")")"; }
rline "token vs health, 1 connection:" "${MED[a,1]}" "${MED[h1,1]}" "${MED[a,6]}" "${MED[h1,6]}"
rline "token vs health, 32 connections:" "${MED[b,1]}" "${MED[h32,1]}" "${MED[b,6]}" "${MED[h32,6]}"
rline "text/plain vs JSON:" "${MED[c,1]}" "${MED[a,1]}" "${MED[c,6]}" "${MED[a,6]}"
rline "new connection vs keep-alive:" "${MED[d,1]}" "${MED[b,1]}" "${MED[d,6]}" "${MED[b,6]}"
rline "32 connections vs 1:" "${MED[b,1]}" "${MED[a,1]}"
rline "1 connection, other vs same CPU:" "${MED[ax,1]}" "${MED[a,1]}" "${MED[ax,6]}" "${MED[a,6]}"
rline "credentials list, 100 vs $NFEW:" "${MED[e100,1]}" "${MED[ef,1]}" "${MED[e100,6]}" "${MED[ef,6]}"
rline "token, 100 vs $NFEW credentials:" "${MED[t100,1]}" "${MED[a,1]}" "${MED[t100,6]}" "${MED[a,6]}"
echo
if [ -s "$DIR/daemon.log" ]; then
	echo "# tokenbrokerd said (log_level = warning; last 20 lines):"
	tail -n 20 "$DIR/daemon.log" | sed 's/^/#   /'
else
	echo "# tokenbrokerd logged nothing at level warning or above"
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $SECONDS s in all; $([ "$FAILED" = 0 ] && echo "no failures" || echo "FAILURES above")"
exit "$FAILED"
