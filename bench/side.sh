#!/bin/bash
# bench/side.sh: tokenbrokerd side by side with its ceilings and a peer,
# under the same load generator.
#
# Starts, in a temporary directory: tests/fakeidp and tokenbrokerd with
# one credential, "bench" (as bench/run.sh does); the two ceilings,
# bench/ceil-epoll (a bare epoll server sending the daemon's answer as
# fixed bytes) and bench/ceil-evhttp (a bare evhttp server making the same
# JSON with yajl); and, when it is installed, oidc-agent with an account
# against a local oidc-provider (bench/oidc-peer.mjs).  Then:
#
#  1. requests/s of GET /v1/tokens/bench from bench/loadgen, for each of
#     the three HTTP servers at three points (16 and 256 keep-alive
#     connections, a new connection per request with 16 at a time):
#     BENCH_RUNS rounds, each round every point on every server in turn
#     (round-robin, so that a disturbance hits all of them alike), and a
#     markdown table of the medians with the ratios;
#  2. one token from a fresh process, timed by hyperfine (-N, 50 warm-up
#     runs): tokenctl, curl, /bin/true (the cost of a process) and
#     oidc-token, with each mean's ratio to /bin/true.
#
# oidc-agent is in part 2 only: its socket speaks its own protocol, one
# request per connection after an X25519 key exchange, encrypted with
# libsodium (crypto_box), not HTTP (see bench/README.md).
#
#   bench/side.sh                 (from anywhere; after `make all bench`)
#
# Environment:
#   BENCH_RUNS       rounds (default 3)
#   BENCH_DURATION   seconds per loadgen run (default 2)
#   BENCH_PIN        auto (default): with two CPUs or more, every server
#                    (fakeidp, tokenbrokerd, the ceilings, oidc-provider,
#                    oidc-agent) on the first, loadgen and hyperfine on the
#                    second; 0: no pinning
#   BUILD            build directory (default: build/ next to bench/)
#   LOADGEN TBD FAKEIDP TOKENCTL CEIL_EPOLL CEIL_EVHTTP   the binaries
#
# Nothing is installed: a missing hyperfine or oidc-agent is named and
# its part skipped.  Everything started is stopped on exit, also on ^C.
# Exit status: 0 when every loadgen request got a 2xx answer, 1 otherwise.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-2}
PIN=${BENCH_PIN:-auto}
CLK_TCK=$(getconf CLK_TCK)
NAME=bench # the credential, and the oidc-agent account

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
TOKENCTL=${TOKENCTL:-$BUILD/tokenctl}
CEIL_EPOLL=${CEIL_EPOLL:-$BUILD/bench/ceil-epoll}
CEIL_EVHTTP=${CEIL_EVHTTP:-$BUILD/bench/ceil-evhttp}
bench_need "$TBD" "$FAKEIDP" "$LOADGEN" "$TOKENCTL" "$CEIL_EPOLL" "$CEIL_EVHTTP"

DIR=$(mktemp -d /tmp/tokenbroker-side.XXXXXX) || exit 1
chmod 700 "$DIR"
SOCK=$DIR/tb.sock
IDP_PID=
TBD_PID=
EPOLL_PID=
EVHTTP_PID=
OIDC_PID=
AGENT_PID=
FAILED=0

# shellcheck disable=SC2317 # called from the trap
cleanup() {
	local pid
	for pid in "$AGENT_PID" "$OIDC_PID" "$EPOLL_PID" "$EVHTTP_PID" "$TBD_PID" "$IDP_PID"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
	done
	for pid in "$AGENT_PID" "$OIDC_PID" "$EPOLL_PID" "$EVHTTP_PID" "$TBD_PID" "$IDP_PID"; do
		[ -n "$pid" ] && wait "$pid" 2>/dev/null
	done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_pin

# wait_socket PATH PID: true once PATH is a socket, false if PID ends first
# or 10 s pass.
wait_socket() {
	for _ in $(seq 200); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# --- the servers ---------------------------------------------------------------
idp_start
{
	daemon_section
	cred "$NAME"
} >"$DIR/tb.conf"
chmod 600 "$DIR/tb.conf"
if ! tbd_start "$DIR/tb.conf" 1; then
	echo "side.sh: tokenbrokerd did not start:" >&2
	cat "$DIR/daemon.log" >&2
	exit 1
fi
"${SERVER[@]}" "$CEIL_EPOLL" -s "$DIR/epoll.sock" -n "$NAME" >"$DIR/epoll.log" 2>&1 &
EPOLL_PID=$!
"${SERVER[@]}" "$CEIL_EVHTTP" -s "$DIR/evhttp.sock" >"$DIR/evhttp.log" 2>&1 &
EVHTTP_PID=$!
for s in epoll evhttp; do
	pid=EPOLL_PID
	[ "$s" = evhttp ] && pid=EVHTTP_PID
	if ! wait_socket "$DIR/$s.sock" "${!pid}"; then
		echo "side.sh: ceil-$s did not start:" >&2
		cat "$DIR/$s.log" >&2
		exit 1
	fi
done

# oidc_setup: oidc-provider (bench/oidc-peer.mjs) and oidc-agent with the
# account NAME, made non-interactively from a refresh token the provider
# minted (oidc-gen --rt; oidc-provider has no password grant).  Sets
# AGENT_SOCK; or false with the reason in OIDC_SKIP.
oidc_setup() {
	local d=$DIR/oidc t missing='' port=''
	OIDC_SKIP=
	for t in oidc-agent oidc-gen oidc-token; do
		command -v "$t" >/dev/null || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		OIDC_SKIP="no$missing (Debian package oidc-agent)"
		return 1
	fi
	command -v node >/dev/null || { OIDC_SKIP="no node (Debian package nodejs)"; return 1; }
	[ -d "$ROOT/tests/oidc/node_modules/oidc-provider" ] ||
		{ OIDC_SKIP="no oidc-provider for its issuer (make oidc-deps)"; return 1; }
	mkdir -m 700 "$d" "$d/conf" || { OIDC_SKIP="cannot make $d"; return 1; }
	# a throw-away client secret and encryption password, for this run only
	printf 'bench-oidc-%s%s%s\n' "$RANDOM" "$RANDOM" "$RANDOM" >"$d/secret"
	chmod 600 "$d/secret"
	"${SERVER[@]}" node "$ROOT/bench/oidc-peer.mjs" "$d/secret" "$d/rt" "$d/port" \
		>"$d/provider.log" 2>&1 &
	OIDC_PID=$!
	for _ in $(seq 400); do
		[ -s "$d/port" ] && break
		kill -0 "$OIDC_PID" 2>/dev/null || break
		sleep 0.05
	done
	port=$(cat "$d/port" 2>/dev/null)
	if [ -z "$port" ]; then
		OIDC_SKIP="oidc-provider did not start: $(tail -n 1 "$d/provider.log")"
		return 1
	fi
	AGENT_SOCK=$d/agent.sock
	OIDC_CONFIG_DIR=$d/conf "${SERVER[@]}" oidc-agent -d -a "$AGENT_SOCK" >"$d/agent.log" 2>&1 &
	AGENT_PID=$!
	if ! wait_socket "$AGENT_SOCK" "$AGENT_PID"; then
		OIDC_SKIP="oidc-agent did not start: $(tail -n 1 "$d/agent.log")"
		return 1
	fi
	if ! OIDC_CONFIG_DIR=$d/conf OIDC_SOCK=$AGENT_SOCK \
	     OIDC_ENCRYPTION_PW="pw-$RANDOM$RANDOM$RANDOM" OIDC_REFRESH_TOKEN="$(cat "$d/rt")" \
	     timeout 60 oidc-gen "$NAME" --issuer="http://127.0.0.1:$port" --client-id=agent \
		--client-secret="$(cat "$d/secret")" --rt-env --scope=read --pw-env \
		--confirm-default --no-url-call --prompt=none >"$d/gen.log" 2>&1; then
		OIDC_SKIP="oidc-gen failed: $(grep -v '^$' "$d/gen.log" | tail -n 1)"
		return 1
	fi
	if ! OIDC_SOCK=$AGENT_SOCK oidc-token "$NAME" >/dev/null 2>"$d/token.err"; then
		OIDC_SKIP="oidc-token failed: $(tail -n 1 "$d/token.err")"
		return 1
	fi
	return 0
}

# oidc_stop: what oidc_setup started, when the rest did not work out.
oidc_stop() {
	local pid
	for pid in "$AGENT_PID" "$OIDC_PID"; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	AGENT_PID=
	OIDC_PID=
}

if oidc_setup; then
	OIDC=1
else
	OIDC=0
	oidc_stop
fi

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# tokenbrokerd side by side, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "# source: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)," \
	"libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
if [ -n "$SERVER_CPU" ]; then
	echo "# pinning: servers on CPU $SERVER_CPU, loadgen and hyperfine on CPU $CLIENT_CPU"
else
	echo "# pinning: none"
fi
echo "# $RUNS rounds of ${DURATION}s runs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$OIDC" = 1 ]; then
	echo "# oidc-agent $(oidc-agent --version 2>/dev/null | awk '{ print $2 }'):" \
		"account $NAME against oidc-provider on 127.0.0.1 (one-shot comparison only)"
else
	echo "# oidc-agent: skipped: $OIDC_SKIP"
fi
echo

# --- 1. throughput -------------------------------------------------------------
SERVERS=(epoll evhttp tokenbrokerd)
declare -A SRV_SOCK SRV_PID POINT_ARGS POINT_DESC
SRV_SOCK[epoll]=$DIR/epoll.sock
SRV_SOCK[evhttp]=$DIR/evhttp.sock
SRV_SOCK[tokenbrokerd]=$SOCK
SRV_PID[epoll]=$EPOLL_PID
SRV_PID[evhttp]=$EVHTTP_PID
SRV_PID[tokenbrokerd]=$TBD_PID
POINTS=(k16 k256 n16)
POINT_ARGS[k16]="-c 16 -k"
POINT_ARGS[k256]="-c 256 -k"
POINT_ARGS[n16]="-c 16"
POINT_DESC[k16]="keep-alive, 16 connections"
POINT_DESC[k256]="keep-alive, 256 connections"
POINT_DESC[n16]="new connection per request, 16 at a time"

on_client() { # on_client CMD ARGS...: on CLIENT_CPU (not for background jobs)
	if [ -n "$CLIENT_CPU" ]; then taskset -c "$CLIENT_CPU" "$@"; else "$@"; fi
}

# one_run SERVER POINT: a loadgen run; appends its requests/s to
# DIR/SERVER.POINT and prints a line on it.
one_run() {
	local srv=$1 pt=$2 out res c0 c1 s0 s1 t0 t1 others busy bad
	local -a args
	read -r -a args <<<"${POINT_ARGS[$pt]}"
	c0=$(proc_ticks "${SRV_PID[$srv]}")
	s0=$(sys_busy_ticks "")
	t0=$(date +%s.%N)
	out=$(on_client "$LOADGEN" -s "${SRV_SOCK[$srv]}" -d "$DURATION" "${args[@]}" "/v1/tokens/$NAME")
	t1=$(date +%s.%N)
	s1=$(sys_busy_ticks "")
	c1=$(proc_ticks "${SRV_PID[$srv]}")
	res=$(printf '%s\n' "$out" | grep '^result: ')
	if ! kill -0 "${SRV_PID[$srv]}" 2>/dev/null; then
		echo "side.sh: $srv died" >&2
		[ "$srv" = tokenbrokerd ] && tail -n 20 "$DIR/daemon.log" >&2
		exit 1
	fi
	if [ -z "$res" ]; then
		printf '#   %-12s %-5s no result from loadgen\n' "$srv" "$pt"
		FAILED=1
		return
	fi
	# CPU time of everything but this server and loadgen, in % of one CPU
	others=$(awk -v s=$((s1 - s0)) -v d=$((c1 - c0)) -v l="$(field cpu_s "$res")" \
		-v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
		'BEGIN { o = (s - d) / hz - l; if (o < 0) o = 0
			printf "%.0f", (t1 > t0) ? o / (t1 - t0) * 100 : 0 }')
	# the server's and loadgen's CPU time, in % of one CPU
	busy=$(awk -v d=$((c1 - c0)) -v l="$(field cpu_s "$res")" -v hz="$CLK_TCK" \
		-v e="$(field elapsed_s "$res")" \
		'BEGIN { if (e > 0) printf "%3.0f%%/%3.0f%%", d / hz / e * 100, l / e * 100 }')
	bad=$(($(field errors "$res") + $(field non2xx "$res")))
	field rps "$res" >>"$DIR/$srv.$pt"
	printf '#   %-12s %-5s %10s req/s  p50 %8s us  p99 %8s us  cpu %s  others %3s%%%s\n' \
		"$srv" "$pt" "$(field rps "$res")" "$(field p50_us "$res")" "$(field p99_us "$res")" \
		"$busy" "$others" \
		"$([ "$bad" -gt 0 ] && echo "  $bad FAILED ($(field codes "$res"))")"
	[ "$bad" -gt 0 ] && FAILED=1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
thousands() { printf '%s' "$1" | awk '!/^[0-9.]+$/ { print; next } { n = sprintf("%.0f", $1); s = ""
	while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) }
	print n s }'; }

echo "## 1. requests/s, GET /v1/tokens/$NAME (loadgen -d $DURATION)"
echo "# (cpu: the server's/loadgen's CPU time, in % of one CPU; others: everything else's)"
for srv in "${SERVERS[@]}"; do # warm-up, not counted
	on_client "$LOADGEN" -s "${SRV_SOCK[$srv]}" -c 16 -k -n 20000 "/v1/tokens/$NAME" >/dev/null
done
for i in $(seq "$RUNS"); do
	echo "# round $i"
	for pt in "${POINTS[@]}"; do
		for srv in "${SERVERS[@]}"; do
			one_run "$srv" "$pt"
		done
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Medians of $RUNS runs, requests/s; the ratios are of the medians."
echo
echo "| point | epoll | evhttp | tokenbrokerd | tokenbrokerd/evhttp | tokenbrokerd/epoll |"
echo "|---|---:|---:|---:|---:|---:|"
for pt in "${POINTS[@]}"; do
	declare -A med=()
	for srv in "${SERVERS[@]}"; do
		med[$srv]=$(median <"$DIR/$srv.$pt" 2>/dev/null || echo nan)
	done
	printf '| %s | %s | %s | %s | %s | %s |\n' "${POINT_DESC[$pt]}" \
		"$(thousands "${med[epoll]}")" "$(thousands "${med[evhttp]}")" \
		"$(thousands "${med[tokenbrokerd]}")" \
		"$(ratio "${med[tokenbrokerd]}" "${med[evhttp]}")" \
		"$(ratio "${med[tokenbrokerd]}" "${med[epoll]}")"
done
echo

# --- 2. one token from a fresh process -----------------------------------------
echo "## 2. one token from a fresh process (hyperfine -N --warmup 50)"
if ! command -v hyperfine >/dev/null; then
	echo "skipped: hyperfine is not installed (Debian package hyperfine)"
else
	CMDS=("$TOKENCTL -s $SOCK token $NAME"
		"curl -s --unix-socket $SOCK http://localhost/v1/tokens/$NAME"
		"/bin/true")
	LABELS=("tokenctl token $NAME" "curl --unix-socket" "/bin/true")
	if [ "$OIDC" = 1 ]; then
		CMDS+=("oidc-token $NAME")
		LABELS+=("oidc-token $NAME")
	else
		echo "(oidc-token left out: $OIDC_SKIP)"
	fi
	# the tokens go to /dev/null (hyperfine's default with -N)
	if ! on_client env OIDC_SOCK="${AGENT_SOCK:-}" hyperfine -N --warmup 50 --style none \
	     --export-csv "$DIR/hyperfine.csv" "${CMDS[@]}" >"$DIR/hyperfine.log" 2>&1; then
		echo "hyperfine failed:"
		tail -n 5 "$DIR/hyperfine.log"
	else
		# columns: command,mean,stddev,median,user,system,min,max (seconds)
		true_mean=$(awk -F, '$1 == "/bin/true" { print $2 }' "$DIR/hyperfine.csv")
		echo
		echo "| command | mean (us) | ± (us) | ratio to /bin/true |"
		echo "|---|---:|---:|---:|"
		for j in "${!CMDS[@]}"; do
			awk -F, -v c="${CMDS[$j]}" -v l="${LABELS[$j]}" -v t="$true_mean" '
				$1 == c { printf "| `%s` | %.0f | %.0f | %.2f |\n", l, $2 * 1e6, $3 * 1e6,
					(t > 0) ? $2 / t : 0 }' "$DIR/hyperfine.csv"
		done
		if [ "$OIDC" = 1 ]; then
			echo
			echo "(the issuer saw $(grep -c '^grant.success' "$DIR/oidc/provider.log")" \
				"token request(s) from oidc-agent in all: the rest came from its cache)"
		fi
	fi
fi
echo

if [ "$FAILED" != 0 ]; then
	echo "side.sh: some requests did not get a 2xx answer (see the runs above)" >&2
	exit 1
fi
exit 0
