#!/bin/bash
# bench/proxy.sh: tokenbrokerd's proxy ([proxy] in tokenbroker.conf) against
# nginx doing the same job, both in front of one upstream (bench/upstream),
# and that upstream called directly as the baseline.
#
# Starts bench/upstream, the local token endpoint (tests/fakeidp),
# tokenbrokerd (log_level = warning) with a [proxy "bench"] on loopback TCP,
# and nginx (one worker, keep-alive to the upstream, the daemon's token in a
# fixed Authorization header, its defaults otherwise) in a temporary
# directory.  Runs each scenario BENCH_RUNS times, the three targets
# interleaved within each run (nginx, daemon, direct), and prints the
# medians and the ratios daemon/nginx:
#   (a) 1 KiB answers, 16 keep-alive clients: requests/s and p99 latency
#   (b) one BENCH_DOWNLOAD-byte download (1 GiB) with curl: MB/s, and the
#       proxy's peak RSS meanwhile (VmHWM, reset before each download)
#   (c) 1 keep-alive client: median latency, and what the proxy adds to
#       calling the upstream directly (per run, then the median)
# Everything it starts is stopped on exit, also on ^C.  The token is
# never printed.
#
#   bench/proxy.sh                (from anywhere; after `make all bench`)
#
# Environment:
#   BUILD            build directory (default: build/ next to bench/)
#   LOADGEN TBD FAKEIDP UPSTREAM   the binaries (default: from BUILD)
#   NGINX            nginx (default: from PATH or /usr/sbin; as root it is
#                    installed with apt-get when missing)
#   BENCH_RUNS       runs per scenario (default 3)
#   BENCH_DURATION   seconds per timed loadgen run (default 2)
#   BENCH_CLIENTS    keep-alive clients in (a) (default 16)
#   BENCH_DOWNLOAD   bytes downloaded in (b) (default 1073741824)
#   BENCH_PIN        auto (default): with two CPUs or more, every server
#                    (upstream, fakeidp, tokenbrokerd, nginx) runs on the
#                    first, loadgen and curl on the second; 0: no pinning
#   BENCH_MAX_OTHERS  a loadgen run during which other processes used more
#                    than this % of a CPU is repeated, up to BENCH_TRIES (4)
#                    times in all; the last try counts, marked (DISTURBED)
#                    (default 10)
#
# Exit status: 0 when every request through every target got a 2xx answer;
# 1 when one did not (or something would not start); 3 when only the
# daemon's column is missing because tokenbrokerd has no proxy to measure.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-2}
CLIENTS=${BENCH_CLIENTS:-16}
DOWNLOAD=${BENCH_DOWNLOAD:-1073741824}
PIN=${BENCH_PIN:-auto}
MAX_OTHERS=${BENCH_MAX_OTHERS:-10}
TRIES=${BENCH_TRIES:-4}
CLK_TCK=$(getconf CLK_TCK)
DISTURBED=0

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
UPSTREAM=${UPSTREAM:-$BUILD/bench/upstream}
bench_need "$TBD" "$FAKEIDP" "$LOADGEN" "$UPSTREAM"

find_nginx() {
	if [ -n "${NGINX:-}" ]; then
		[ -x "$NGINX" ] || NGINX=$(command -v "$NGINX") || return 1
		return 0
	fi
	NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }) || return 1
}
if ! find_nginx; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "proxy.sh: nginx is needed: apt-get install nginx (as root), or set NGINX" >&2
		exit 1
	fi
	echo "# installing Debian's nginx (its own service is not used here)"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx; } >/dev/null ||
		{ echo "proxy.sh: cannot install nginx" >&2; exit 1; }
	find_nginx || { echo "proxy.sh: nginx installed but not found" >&2; exit 1; }
fi

DIR=$(mktemp -d /tmp/tokenbroker-proxybench.XXXXXX) || exit 1
# 0711: nginx's worker (nobody, when started as root) reaches its temp
# directory; the secret and the configurations stay 0600.
chmod 711 "$DIR"
SOCK=$DIR/tb.sock
UP_PID=
IDP_PID=
TBD_PID=
NGINX_PID=
FAILED=0

# shellcheck disable=SC2317 # called from the trap
cleanup() {
	local pid
	for pid in "$NGINX_PID" "$TBD_PID" "$IDP_PID" "$UP_PID"; do
		if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_pin

# wait_port_file FILE PID NAME: the port a server wrote, once it has.
wait_port_file() {
	local i
	for i in $(seq 100); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	echo "proxy.sh: $3 did not start:" >&2
	cat "$DIR/$3.log" >&2 2>/dev/null
	return 1
}

# A loopback port nothing uses now, for the listeners that need one in
# their configuration.
port_in_use() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v h=":$hex" '$2 ~ h"$" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	echo "proxy.sh: no free port found" >&2
	return 1
}

# status URL: the HTTP status of a GET, 000 when there was no answer.
status() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1"; }

# wait_ok URL TRIES: whether URL answers 200 within TRIES tenths of a second.
wait_ok() {
	local i
	for i in $(seq "$2"); do
		[ "$(status "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# --- the servers ---------------------------------------------------------------
"${SERVER[@]}" "$UPSTREAM" --quiet --port-file "$DIR/up.port" >"$DIR/upstream.log" 2>&1 &
UP_PID=$!
UP_PORT=$(wait_port_file "$DIR/up.port" "$UP_PID" upstream) || exit 1

idp_start

TBD_PORT=$(free_port) || exit 1
NGINX_PORT=$(free_port) || exit 1
[ "$NGINX_PORT" = "$TBD_PORT" ] && { NGINX_PORT=$(free_port) || exit 1; }

# tbd_conf WITH_PROXY: the daemon's configuration.
tbd_conf() {
	daemon_section
	cred bench
	if [ "$1" = 1 ]; then
		printf '[proxy "bench"]\nlisten = 127.0.0.1:%s\ncredential = bench\n' "$TBD_PORT"
		printf 'upstream = http://127.0.0.1:%s\n' "$UP_PORT"
	fi
}

DAEMON_OK=1
DAEMON_WHY=
tbd_conf 1 >"$DIR/tbd.conf"
chmod 600 "$DIR/tbd.conf"
if ! tbd_start "$DIR/tbd.conf" 1; then
	DAEMON_OK=0
	DAEMON_WHY="tokenbrokerd refused a configuration with a [proxy] section: $(head -n 3 "$DIR/daemon.log")"
	: >"$DIR/daemon.log"
	tbd_conf 0 >"$DIR/tbd.conf"
	tbd_start "$DIR/tbd.conf" 1 || {
		echo "proxy.sh: tokenbrokerd did not start:" >&2
		cat "$DIR/daemon.log" >&2
		exit 1
	}
elif ! wait_ok "http://127.0.0.1:$TBD_PORT/small" 50; then
	DAEMON_OK=0
	DAEMON_WHY="tokenbrokerd runs but its [proxy \"bench\"] does not answer on 127.0.0.1:$TBD_PORT (HTTP status $(status "http://127.0.0.1:$TBD_PORT/small"); 000: nothing listens): this build has no proxy yet"
fi

# The token nginx adds, fetched from the daemon once; it goes into
# nginx.conf (0600) and nowhere else.
TOKEN=$(curl -s -m 10 --unix-socket "$SOCK" -H 'Accept: text/plain' \
	http://localhost/v1/tokens/bench)
if ! [[ $TOKEN =~ ^[A-Za-z0-9._~+/=-]+$ ]]; then
	echo "proxy.sh: the daemon gave no usable token for nginx" >&2
	exit 1
fi

mkdir "$DIR/nginx"
(
	umask 077
	cat >"$DIR/nginx.conf" <<EOF
# nginx in front of the benchmark's upstream, as tokenbrokerd's proxy is
worker_processes 1;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx.log warn;
events {
	worker_connections 1024;
}
http {
	access_log off;
	client_body_temp_path $DIR/nginx/client_body;
	proxy_temp_path $DIR/nginx/proxy;
	fastcgi_temp_path $DIR/nginx/fastcgi;
	uwsgi_temp_path $DIR/nginx/uwsgi;
	scgi_temp_path $DIR/nginx/scgi;
	upstream bench_upstream {
		server 127.0.0.1:$UP_PORT;
		keepalive 32;
	}
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / {
			proxy_pass http://bench_upstream;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Authorization "Bearer $TOKEN";
		}
	}
}
EOF
)
unset TOKEN
"${SERVER[@]}" "$NGINX" -p "$DIR/nginx" -c "$DIR/nginx.conf" -e "$DIR/nginx.log" \
	>"$DIR/nginx.out" 2>&1 &
NGINX_PID=$!
if ! wait_ok "http://127.0.0.1:$NGINX_PORT/small" 50; then
	echo "proxy.sh: nginx did not start:" >&2
	cat "$DIR/nginx.log" "$DIR/nginx.out" >&2 2>/dev/null
	exit 1
fi
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -n 1)
# Whose CPU time is not "others"
OURS=("$UP_PID" "$IDP_PID" "$TBD_PID" "$NGINX_PID" "$NGINX_WORKER")

TARGETS=(nginx daemon direct)
declare -A PORT=([nginx]=$NGINX_PORT [daemon]=$TBD_PORT [direct]=$UP_PORT)
# The process whose peak RSS (b) reports.
declare -A RSS_PID=([nginx]=$NGINX_WORKER [daemon]=$TBD_PID [direct]=$UP_PID)
declare -A RSS_NAME=([nginx]="nginx's worker" [daemon]=tokenbrokerd [direct]=upstream)

measured() { [ "$1" != daemon ] || [ "$DAEMON_OK" = 1 ]; }

# lg TARGET ARGS...: one loadgen run against TARGET; its result line in
# RES (empty when there was none), and in OTHERS the CPU time everything
# but the servers and loadgen used meanwhile, in % of one CPU.  A run with
# OTHERS above MAX_OTHERS is repeated, up to TRIES runs in all.
lg() {
	local t=$1 try s0 s1 c0 c1 t0 t1 bad
	shift
	for try in $(seq "$TRIES"); do
		s0=$(sys_busy_ticks "")
		c0=$(proc_ticks "${OURS[@]}")
		t0=$(date +%s.%N)
		RES=$("${CLIENT[@]}" "$LOADGEN" --tcp "127.0.0.1:${PORT[$t]}" "$@" | grep '^result: ')
		t1=$(date +%s.%N)
		c1=$(proc_ticks "${OURS[@]}")
		s1=$(sys_busy_ticks "")
		[ -n "$RES" ] || break
		OTHERS=$(awk -v s=$((s1 - s0)) -v d=$((c1 - c0)) -v l="$(field cpu_s "$RES")" \
			-v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
			'BEGIN { o = (s - d) / hz - l; if (o < 0) o = 0
				printf "%.0f", (t1 > t0) ? o / (t1 - t0) * 100 : 0 }')
		[ "$OTHERS" -le "$MAX_OTHERS" ] && break
		[ "$try" -lt "$TRIES" ] && echo "#   $t: others used ${OTHERS}% of a CPU meanwhile; again"
	done
	if [ -z "$RES" ]; then
		echo "#   $t: no result from loadgen"
		FAILED=1
		return
	fi
	[ "$OTHERS" -gt "$MAX_OTHERS" ] && DISTURBED=1
	bad=$(($(field errors "$RES") + $(field non2xx "$RES")))
	if [ "$bad" -gt 0 ]; then
		echo "#   $t: $bad requests FAILED ($(field codes "$RES"), errors $(field errors "$RES"))"
		FAILED=1
	fi
}

vm_kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$2/status" 2>/dev/null; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# tokenbroker proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r)"
echo "# source: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)," \
	"$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), curl $(curl -V | awk 'NR == 1 { print $2 }')"
if [ -n "$SERVER_CPU" ]; then
	echo "# pinning: upstream, fakeidp, tokenbrokerd and nginx on CPU $SERVER_CPU," \
		"loadgen and curl on CPU $CLIENT_CPU"
else
	echo "# pinning: none"
fi
echo "# targets: nginx 127.0.0.1:$NGINX_PORT, daemon 127.0.0.1:$TBD_PORT," \
	"direct (the upstream) 127.0.0.1:$UP_PORT"
echo "# $RUNS runs, targets interleaved in each; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$DAEMON_OK" = 0 ]; then
	echo "#"
	echo "# NO DAEMON COLUMN: $DAEMON_WHY"
	echo "# nginx and direct are measured all the same."
fi
echo

for t in "${TARGETS[@]}"; do # warm-up: connections, caches, the token; once
	measured "$t" && TRIES=1 lg "$t" -c "$CLIENTS" -k -n 5000 /small
done
DISTURBED=0

declare -A RPS P99 MBS RSS LAT ADD
for t in "${TARGETS[@]}"; do RPS[$t]='' P99[$t]='' MBS[$t]='' RSS[$t]='' LAT[$t]='' ADD[$t]=''; done

echo "# (a) GET /small (1 KiB), $CLIENTS keep-alive clients, ${DURATION}s"
for i in $(seq "$RUNS"); do
	line="#   run $i:"
	for t in "${TARGETS[@]}"; do
		measured "$t" || continue
		lg "$t" -c "$CLIENTS" -k -d "$DURATION" /small
		res=$RES
		[ -n "$res" ] || continue
		RPS[$t]+="$(field rps "$res") "
		P99[$t]+="$(field p99_us "$res") "
		line+=" $t $(field rps "$res") req/s p99 $(field p99_us "$res") us"
		line+=" (others $OTHERS%$([ "$OTHERS" -gt "$MAX_OTHERS" ] && echo ", DISTURBED"));"
	done
	echo "$line"
done

echo "# (b) GET /bytes?n=$DOWNLOAD with curl -o /dev/null"
for i in $(seq "$RUNS"); do
	line="#   run $i:"
	for t in "${TARGETS[@]}"; do
		measured "$t" || continue
		pid=${RSS_PID[$t]}
		# VmHWM back to the current RSS (Linux 4.0 and later), so the peak
		# is this download's
		echo 5 >"/proc/$pid/clear_refs" 2>/dev/null
		out=$("${CLIENT[@]}" curl -s -o /dev/null -m 300 \
			-w '%{http_code} %{size_download} %{time_total}' \
			"http://127.0.0.1:${PORT[$t]}/bytes?n=$DOWNLOAD")
		read -r code size secs <<<"$out"
		if [ "${code:-000}" != 200 ] || [ "${size:-0}" != "$DOWNLOAD" ]; then
			echo "#   $t: download FAILED (status ${code:-none}, ${size:-0} bytes)"
			FAILED=1
			continue
		fi
		mbs=$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0) ? b / s / 1e6 : 0 }')
		hwm=$(vm_kib VmHWM "$pid")
		rss=$(awk -v k="${hwm:-0}" 'BEGIN { printf "%.1f", k / 1024 }')
		MBS[$t]+="$mbs "
		RSS[$t]+="$rss "
		line+=" $t $mbs MB/s (${RSS_NAME[$t]} peak RSS $rss MiB);"
	done
	echo "$line"
done

echo "# (c) GET /small, 1 keep-alive client, ${DURATION}s: p50 latency, and over direct"
for i in $(seq "$RUNS"); do
	line="#   run $i:"
	declare -A p50=()
	for t in "${TARGETS[@]}"; do
		measured "$t" || continue
		lg "$t" -k -d "$DURATION" /small
		res=$RES
		[ -n "$res" ] || continue
		p50[$t]=$(field p50_us "$res")
		LAT[$t]+="${p50[$t]} "
		line+=" $t p50 ${p50[$t]} us (others $OTHERS%$([ "$OTHERS" -gt "$MAX_OTHERS" ] &&
			echo ", DISTURBED"));"
	done
	if [ -n "${p50[direct]:-}" ]; then
		for t in nginx daemon; do
			[ -n "${p50[$t]:-}" ] || continue
			ADD[$t]+="$(awk -v a="${p50[$t]}" -v d="${p50[direct]}" 'BEGIN { printf "%.1f", a - d }') "
		done
	fi
	echo "$line"
	unset p50
done

med() { # med "N N N...": their median, n/a for none
	if [ -z "${1// /}" ]; then echo n/a; else tr ' ' '\n' <<<"$1" | grep . | median; fi
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.-]+$/ && b ~ /^[0-9.-]+$/ && b != 0)
		printf "%.2f", a / b; else print "n/a" }'
}
row() { # row LABEL ARRAY-NAME
	local -n arr=$2
	local n d x
	n=$(med "${arr[nginx]}")
	d=$(med "${arr[daemon]}")
	x=$(med "${arr[direct]}")
	[ -z "${arr[direct]}" ] && x=-
	printf '%-44s %10s %10s %10s %12s\n' "$1" "$n" "$d" "$x" "$(ratio "$d" "$n")"
}

echo
echo "== medians of $RUNS runs =="
printf '%-44s %10s %10s %10s %12s\n' "" nginx daemon direct daemon/nginx
row "(a) 1 KiB, $CLIENTS clients: requests/s" RPS
row "(a) 1 KiB, $CLIENTS clients: p99 latency (us)" P99
row "(b) $((DOWNLOAD / 1048576)) MiB download: MB/s" MBS
row "(b) peak RSS during it (MiB)" RSS
row "(c) 1 client: p50 latency (us)" LAT
row "(c) 1 client: added over direct (us)" ADD
echo "(MB/s: 10^6 bytes/s as curl saw it; peak RSS: VmHWM of tokenbrokerd, of"
echo " nginx's one worker, of the upstream in the direct column)"
echo
if [ "$DAEMON_OK" = 0 ]; then
	echo "# NO DAEMON COLUMN: $DAEMON_WHY"
fi
for f in daemon nginx nginx.out; do
	[[ $f == *.* ]] || f=$f.log
	if [ -s "$DIR/$f" ]; then
		echo "# $f (last 10 lines):"
		tail -n 10 "$DIR/$f" | sed 's/^/#   /'
	fi
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$DISTURBED" = 1 ] &&
	echo "# some loadgen runs stayed DISTURBED: other processes used more than $MAX_OTHERS% of a CPU"
echo "# $SECONDS s in all; $([ "$FAILED" = 0 ] && echo "no failures" || echo "FAILURES above")"
[ "$FAILED" != 0 ] && exit 1
[ "$DAEMON_OK" = 0 ] && exit 3
exit 0
