# Shared helpers for the integration tests: a TAP producer, and start/stop
# of the local token endpoint (fakeidp) and of the real tokenbrokerd.
# Sourced by each *.t file, which runs from the repository root.

set -u

TB_BUILD=${TB_BUILD:-build}
TBD=$TB_BUILD/tokenbrokerd
TBCTL=$TB_BUILD/tokenctl
FAKEIDP=$TB_BUILD/tests/fakeidp
FAKEAPI=$TB_BUILD/tests/fakeapi

T_NUM=0
T_FAILED=0
T_DIR=$(mktemp -d /tmp/tokenbroker-test.XXXXXX)
chmod 700 "$T_DIR"
SOCK=$T_DIR/tb.sock
IDP_PID=
TBD_PID=
API_PID=
IDP_PORT=
IDP_SECRET=it-secret-$RANDOM$RANDOM

# At exit: stops what is still running.  A daemon still running must stop
# as tbd_stop wants it to (status 0), and no log may hold a sanitizer's
# report (the fakes' included): either fails the file, also when the test
# itself did not stop the daemon.
t_cleanup() {
	local st=0 f
	if [ -n "$TBD_PID" ] && kill "$TBD_PID" 2>/dev/null; then
		wait "$TBD_PID" 2>/dev/null
		st=$?
		[ "$st" -ne 0 ] && echo "# tokenbrokerd exited with status $st at the end" && T_FAILED=$((T_FAILED + 1))
	fi
	[ -n "$IDP_PID" ] && kill "$IDP_PID" 2>/dev/null && wait "$IDP_PID" 2>/dev/null
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	for f in "$T_DIR"/*.log; do
		[ -f "$f" ] && grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" || continue
		echo "# a sanitizer's report in $(basename "$f"):"
		grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" | head -n 40 | sed 's/^/#   /'
		T_FAILED=$((T_FAILED + 1))
	done
	if [ "$T_FAILED" -ne 0 ] && [ -f "$T_DIR/daemon.log" ]; then
		echo "# daemon log (last 30 lines):"
		tail -n 30 "$T_DIR/daemon.log" | sed 's/^/#   /'
	fi
	rm -rf "$T_DIR"
	[ "$T_FAILED" -eq 0 ] || exit 1
}
trap t_cleanup EXIT

plan() { echo "1..$1"; }

ok() { # ok CONDITION-STATUS DESCRIPTION
	T_NUM=$((T_NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_NUM - $2"
	else
		echo "not ok $T_NUM - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

is() { # is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:      '$1'"; echo "#   expected: '$2'"; fi
}

like() { # like GOT REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:      '$1'"; echo "#   expected to match: '$2'"; fi
}

unlike() { # unlike GOT REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 1 "$3"; echo "#   got:      '$1'"; echo "#   expected not to match: '$2'"; else ok 0 "$3"; fi
}

cmp_ok() { # cmp_ok A OP B DESCRIPTION   (numeric: -lt -le -eq -ge -gt -ne)
	if [ "$1" "$2" "$3" ] 2>/dev/null; then ok 0 "$4"; else ok 1 "$4"; echo "#   '$1' $2 '$3' is false"; fi
}

# port_file_wait FILE: the port a fake server wrote there, waiting up to 5 s.
port_file_wait() {
	for _ in $(seq 100); do
		[ -s "$1" ] && break
		sleep 0.05
	done
	cat "$1" 2>/dev/null
}

# Starts fakeidp on an ephemeral loopback port.
idp_start() {
	rm -f "$T_DIR/idp.port"
	"$FAKEIDP" --quiet --port 0 --port-file "$T_DIR/idp.port" --client-id it-client \
		--client-secret "$IDP_SECRET" "$@" >"$T_DIR/idp.log" 2>&1 &
	IDP_PID=$!
	IDP_PORT=$(port_file_wait "$T_DIR/idp.port")
	IDP_URL=http://127.0.0.1:$IDP_PORT
	[ -n "$IDP_PORT" ] || { echo "Bail out! fakeidp did not start"; exit 1; }
}

idp() { # idp PATH-AND-QUERY: GET from the fake endpoint (control, stats)
	curl -s -m 5 "$IDP_URL$1"
}

idp_stat() { # idp_stat FIELD: a number from /stats
	idp /stats | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}

# write_conf FILE: the [daemon] part plus whatever is on stdin.
write_conf() {
	{
		printf '[daemon]\nsocket = %s\nstate_dir = %s\nlog_level = debug\n%s\n\n' \
			"$SOCK" "$T_DIR" "${DAEMON_EXTRA:-}"
		cat
	} >"$1"
	chmod 600 "$1"
}

# section KIND NAME [key = value lines...]: an INI section [KIND "NAME"].
section() {
	printf '[%s "%s"]\n' "$1" "$2"
	shift 2
	for kv in "$@"; do printf '%s\n' "$kv"; done
	printf '\n'
}

# cred_at NAME KEY URL [extra key = value lines...]: a credential section
# for fakeidp's client whose KEY (token_url, issuer) is URL.
cred_at() {
	local name=$1 key=$2 url=$3
	shift 3
	section credential "$name" "$key = $url" "client_id = it-client" \
		"client_secret = $IDP_SECRET" "$@"
}

# cred NAME [extra key = value lines...]: a credential section for fakeidp.
cred() {
	local name=$1
	shift
	cred_at "$name" token_url "$IDP_URL/token" "$@"
}

# Starts tokenbrokerd with the given config and waits for its socket.
# TBD_WRAP, when set, is a command that runs it and execs it in the end
# (prlimit ... --, valgrind ...): its pid is then the daemon's.
tbd_start() {
	local conf=$1
	shift
	rm -f "$SOCK"
	${TBD_WRAP:-} "$TBD" -c "$conf" "$@" >>"$T_DIR/daemon.log" 2>&1 &
	TBD_PID=$!
	for _ in $(seq 200); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$TBD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "Bail out! tokenbrokerd did not start"
	tail -n 5 "$T_DIR/daemon.log" | sed 's/^/# /'
	exit 1
}

# tbd_start_conf CONF [args...]: tbd_start once --check-config accepts CONF.
# A configuration the daemon refuses fails this file, with the daemon's
# words, and not the whole run as a bail-out would.
tbd_start_conf() {
	local out
	if ! out=$("$TBD" -c "$1" --check-config 2>&1); then
		ok 1 "tokenbrokerd accepts the configuration"
		printf '%s\n' "$out" | sed 's/^/#   /'
		exit 1
	fi
	tbd_start "$@"
}

# tbd_start_lazy NAME...: the daemon with a lazy credential of each name,
# none of them ever fetched (their token endpoint is a closed port), for
# tests of what the daemon lists.
tbd_start_lazy() {
	local name
	for name in "$@"; do
		IDP_URL=http://127.0.0.1:9 cred "$name" "lazy = yes"
	done | write_conf "$T_DIR/tb.conf"
	tbd_start "$T_DIR/tb.conf"
}

# tbd_reload: SIGHUP, and wait (bounded) for the reload's two log lines.
tbd_reload() {
	local n
	n=$(grep -c 'reload' "$T_DIR/daemon.log")
	kill -HUP "$TBD_PID"
	wait_until 50 '[ "$(grep -c reload "$T_DIR/daemon.log")" -ge $((n + 2)) ]'
}

# Stops tokenbrokerd with SIGTERM; returns its exit status.
tbd_stop() {
	local st
	kill -TERM "$TBD_PID" 2>/dev/null
	wait "$TBD_PID"
	st=$?
	TBD_PID=
	# A daemon that does not exit 0 (a sanitizer's report, a crash) fails the file.
	if [ "$st" -ne 0 ]; then
		echo "# tokenbrokerd exited with status $st"
		T_FAILED=$((T_FAILED + 1))
	fi
	return $st
}

api() { # api PATH [curl args...]: body on stdout
	local path=$1
	shift
	curl -s -m 30 --unix-socket "$SOCK" "$@" "http://localhost$path"
}

api_code() { # api_code PATH [curl args...]: HTTP status only
	local path=$1
	shift
	curl -s -m 30 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" "$@" "http://localhost$path"
}

json_field() { # json_field NAME: a scalar field from JSON on stdin
	sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# Waits until the command succeeds, up to N tenths of a second.
wait_for() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_until N 'CONDITION': as wait_for, with a shell condition evaluated
# anew each time (single-quoted, so that a $(...) in it is run each time,
# not once when the call is made).
wait_until() {
	local _wu_tries=$1 # not "n": the condition may name its caller's n
	shift
	for _ in $(seq "$_wu_tries"); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

skip() { # skip DESCRIPTION: a test that does not apply here, counted as passed
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM # skip $1"
}

# sanitized: the build under test is the ASan one, whose allocator keeps
# freed memory in quarantine: its RSS and mappings tell nothing of leaks.
sanitized() {
	case "$TB_BUILD" in *asan*) return 0 ;; esac
	return 1
}

done_testing() {
	[ "$T_FAILED" -eq 0 ]
}

# --- helpers for several endpoints at once (profiles.t) ---

IDP_EXTRA_PIDS=

idp_stop_named() {
	local pid
	for pid in $IDP_EXTRA_PIDS; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	IDP_EXTRA_PIDS=
}

# idp_start_named NAME [fakeidp args...]: one more fakeidp beside the first
# (another dialect, say), with the same client id and secret; sets NAME_PORT
# and NAME_URL (https:// when --tls-cert is among the args), and stops it at
# exit.  Its log is $T_DIR/NAME.log.
idp_start_named() {
	local name=$1 port scheme=http arg
	shift
	for arg in "$@"; do [ "$arg" = --tls-cert ] && scheme=https; done
	rm -f "$T_DIR/$name.port"
	"$FAKEIDP" --quiet --port 0 --port-file "$T_DIR/$name.port" --client-id it-client \
		--client-secret "$IDP_SECRET" "$@" >"$T_DIR/$name.log" 2>&1 &
	IDP_EXTRA_PIDS="$IDP_EXTRA_PIDS $!"
	trap 'idp_stop_named; t_cleanup' EXIT
	port=$(port_file_wait "$T_DIR/$name.port")
	[ -n "$port" ] || { echo "Bail out! fakeidp $name did not start"; exit 1; }
	printf -v "${name}_PORT" '%s' "$port"
	printf -v "${name}_URL" '%s' "$scheme://127.0.0.1:$port"
}

# idp_at NAME PATH-AND-QUERY [curl args...]: GET from the fakeidp NAME
# (trusting $T_DIR/ca.pem for HTTPS when it exists).
idp_at() {
	local url="${1}_URL" path=$2
	shift 2
	if [ -f "$T_DIR/ca.pem" ]; then set -- --cacert "$T_DIR/ca.pem" "$@"; fi
	curl -s -m 5 "$@" "${!url}$path"
}

# idp_stat_at NAME FIELD: a number or boolean from that fakeidp's /stats.
idp_stat_at() {
	idp_at "$1" /stats | sed -n "s/.*\"$2\": *\([0-9a-z]*\).*/\1/p"
}

# make_test_ca: a CA ($T_DIR/ca.pem) and a server certificate it signed for
# localhost and 127.0.0.1 ($T_DIR/server.pem, server.key).
make_test_ca() {
	{
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tokenbroker-test-ca \
			-keyout "$T_DIR/ca.key" -out "$T_DIR/ca.pem" &&
		openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
			-keyout "$T_DIR/server.key" -out "$T_DIR/server.csr" &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$T_DIR/server.ext" &&
		openssl x509 -req -in "$T_DIR/server.csr" -CA "$T_DIR/ca.pem" -CAkey "$T_DIR/ca.key" \
			-CAcreateserial -days 2 -extfile "$T_DIR/server.ext" -out "$T_DIR/server.pem"
	} >/dev/null 2>&1
}

# cred_field NAME FIELD: a string or number field of credential NAME in
# GET /v1/credentials.
cred_field() {
	api /v1/credentials | sed -n \
		-e "s/.*\"name\":\"$1\"[^}]*\"$2\":\"\([^\"]*\)\".*/\1/p" -e t \
		-e "s/.*\"name\":\"$1\"[^}]*\"$2\":\([0-9.-]*\).*/\1/p"
}


# --- the proxy: fakeapi behind it (proxy*.t) ---

# Starts fakeapi on an ephemeral loopback port, checking tokens at fakeidp
# (idp_start first); sets API_PORT and API_URL.
fakeapi_start() {
	rm -f "$T_DIR/api.port"
	"$FAKEAPI" --quiet --port 0 --port-file "$T_DIR/api.port" \
		--introspect "$IDP_URL/introspect" "$@" >"$T_DIR/fakeapi.log" 2>&1 &
	API_PID=$!
	API_PORT=$(port_file_wait "$T_DIR/api.port")
	API_URL=http://127.0.0.1:$API_PORT
	[ -n "$API_PORT" ] || { echo "Bail out! fakeapi did not start"; exit 1; }
}

fakeapi_stop() {
	kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	API_PID=
}

upstream() { # upstream PATH-AND-QUERY: fakeapi's /stats or /control
	curl -s -m 5 "$API_URL$1"
}

upstream_stat() { # upstream_stat FIELD: a top-level number or boolean of fakeapi's /stats
	# [^[]*: the top level comes before the "tokens" list, whose entries
	# have fields of the same names.
	upstream /stats | sed -n "s/^{[^[]*\"$1\": *\([0-9a-z]*\).*/\1/p" | head -n 1
}

# free_port [PORT...]: a loopback TCP port nothing listens on (the kernel's
# pick, released again), none of the ones given.
free_port() {
	local p
	for _ in $(seq 20); do
		p=$(perl -MIO::Socket::INET -e \
			'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
		case " $* " in *" $p "*) continue ;; esac
		echo "$p"
		return 0
	done
	return 1
}

port_open() { # port_open PORT: something accepts connections there
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# proxy_conf NAME LISTEN CREDENTIAL [extra key = value lines...]: a proxy
# section whose upstream is fakeapi's /api.
proxy_conf() {
	local name=$1 listen=$2 credential=$3
	shift 3
	section proxy "$name" "listen = $listen" "credential = $credential" \
		"upstream = $API_URL/api" "$@"
}

# proxy_start NAME [extra key = value lines...]: fakeidp, fakeapi and the
# daemon with credential "main" and a proxy NAME for it on a free loopback
# port (PX_PORT) in front of fakeapi; returns once the proxy listens.
proxy_start() {
	local name=$1
	shift
	idp_start --lifetime 3600
	fakeapi_start
	PX_PORT=$(free_port)
	write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
$(proxy_conf "$name" "127.0.0.1:$PX_PORT" main "$@")
EOF_CONF
	tbd_start_conf "$T_DIR/tb.conf"
	wait_for 50 port_open "$PX_PORT"
}

px() { # px PATH [curl args...]: through the proxy on $PX_PORT, body on stdout
	local path=$1
	shift
	curl -s -m 30 "$@" "http://127.0.0.1:$PX_PORT$path"
}

px_code() { # px_code PATH [curl args...]: the status only
	local path=$1
	shift
	curl -s -m 30 -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:$PX_PORT$path"
}

# nginx_start LISTEN-OPTIONS CERT KEY LOCATIONS: Debian's nginx in the
# foreground on a free loopback port (NGINX_PORT), "listen 127.0.0.1:PORT
# ssl LISTEN-OPTIONS" with the certificate CERT and its key KEY, and
# LOCATIONS (nginx text) in the server block; stopped at exit.  Its files
# are under $T_DIR/nginx.  The caller checks NGINX (the binary) exists.
nginx_start() {
	local opts=$1 cert=$2 key=$3 locations=$4
	NGINX_PORT=$(free_port)
	mkdir -p "$T_DIR/nginx"
	cat >"$T_DIR/nginx/nginx.conf" <<EOF_NGINX
user root;
worker_processes 1;
daemon off;
pid $T_DIR/nginx/nginx.pid;
error_log $T_DIR/nginx/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $T_DIR/nginx/body;
	proxy_temp_path $T_DIR/nginx/proxy;
	fastcgi_temp_path $T_DIR/nginx/fastcgi;
	uwsgi_temp_path $T_DIR/nginx/uwsgi;
	scgi_temp_path $T_DIR/nginx/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT ssl $opts;
		ssl_certificate $cert;
		ssl_certificate_key $key;
$locations
	}
}
EOF_NGINX
	"$NGINX" -c "$T_DIR/nginx/nginx.conf" >"$T_DIR/nginx/out.log" 2>&1 &
	NGINX_PID=$!
	trap 'kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; t_cleanup' EXIT
	wait_for 50 port_open "$NGINX_PORT" || { echo "Bail out! nginx did not start"; exit 1; }
}

# one_cred_start NAME: fakeidp (tokens of an hour) and the daemon with
# the one credential NAME; TOKENBROKER_SOCKET names its socket.
one_cred_start() {
	idp_start --lifetime 3600
	write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred "$1")
EOF_CONF
	tbd_start_conf "$T_DIR/tb.conf"
	export TOKENBROKER_SOCKET=$SOCK
}

# echo_header NAME: a header's value in fakeapi's /api/echo answer on
# stdin (name matched without regard to case), empty when absent.
echo_header() {
	sed -n 's/.*"headers":{\([^}]*\)}.*/\1/p' | grep -io "\"$1\":\"[^\"]*\"" | head -n 1 |
		sed 's/^"[^"]*":"\(.*\)"$/\1/'
}

sha12() { # sha12 TEXT: the first 12 hex digits of its SHA-256 (TEXT is not shown)
	printf '%s' "$1" | sha256sum | cut -c1-12
}

# pattern_sha N: SHA-256 of the first N bytes of fakeapi's /api/bytes
# pattern (byte i is (i * 7 + 3) mod 256), made here independently.
pattern_sha() {
	perl -e 'my $n = shift; my $b = join("", map { chr(($_ * 7 + 3) & 255) } 0 .. 255) x 4096;
		while ($n > 0) { my $k = $n < length($b) ? $n : length($b); print substr($b, 0, $k); $n -= $k; }' \
		"$1" | sha256sum | cut -d' ' -f1
}

# trickle TARGET PATH FIRST: a client of TARGET (a Unix socket's path, or
# HOST:PORT) that, after one whole request for PATH when FIRST is 1, sends
# the head of another a byte every 0.2 s and never ends it; prints how many
# ms the server kept the connection (at most 8000: it gives up then) and
# whether that first request was answered 200 (1 or 0).
trickle() {
	perl -e '
use IO::Socket::UNIX; use IO::Socket::INET; use Time::HiRes qw(time sleep);
$SIG{PIPE} = "IGNORE";
my ($to, $path, $first) = @ARGV;
my $s = ($to =~ m{/} ? IO::Socket::UNIX->new(Peer => $to) : IO::Socket::INET->new($to))
	or die "connect: $!";
my ($answered, $req) = (0, "GET $path HTTP/1.1\r\nHost: localhost\r\n");
if ($first) {
	print $s "$req\r\n"; $s->flush;
	sysread($s, my $buf, 4096); $answered = $buf =~ m{^HTTP/1.1 200} ? 1 : 0;
}
$s->blocking(0);
my $t = time; my $head = $req . "X-Slow: 1\r\n" x 200;
for my $i (0 .. length($head) - 1) {
	last if time - $t > 8;
	last unless defined syswrite($s, substr($head, $i, 1));
	my $r = sysread($s, my $buf, 4096);
	last if defined $r && $r == 0;
	sleep 0.2;
}
printf "%d %d\n", (time - $t) * 1000, $answered;' "$@"
}

proc_kb() { # proc_kb PID FIELD: VmRSS, VmHWM... of /proc/PID/status, in kB
	sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"
}

fd_count() { # fd_count PID: its open descriptors
	ls "/proc/$1/fd" | wc -l
}

metric() { # metric SERIES: the value of one series of /metrics (name and labels); 0 when absent
	local v
	v=$(api /metrics | grep -v '^#' | grep -F "$1 " | head -n 1 | awk '{print $2}')
	echo "${v:-0}"
}

# leaks WHAT NEEDLE FILE...: true when a file holds NEEDLE, and a comment
# names each that does (not NEEDLE: it is a secret).
leaks() {
	local what=$1 needle=$2 f found=1
	shift 2
	for f in "$@"; do
		grep -qF -- "$needle" "$f" && found=0 && echo "# $what is in $(basename "$f")"
	done
	return $found
}

# --- oidc-provider, a real authorization server (tests/system/oidc*.t) ---

OIDC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../oidc" && pwd)

# oidc_require: the whole file is skipped (a plan of 0) without Node.js or
# the npm packages of tests/oidc.
oidc_require() {
	command -v node >/dev/null || { echo "1..0 # SKIP no node (apt-get install nodejs)"; exit 0; }
	[ -d "$OIDC_DIR/node_modules/oidc-provider" ] ||
		{ echo "1..0 # SKIP no oidc-provider (make oidc-deps)"; exit 0; }
}

# oidc_start CLIENTS.json [server.mjs arguments and options...]: oidc-provider
# on a port of its own (tests/oidc/server.mjs says what it takes), stopped
# at exit; sets OIDC_PORT and ISSUER.  Its log is $T_DIR/oidc.log.
oidc_start() {
	local clients=$1
	shift
	node "$OIDC_DIR/server.mjs" "$clients" "$T_DIR/oidc.port" "$@" >"$T_DIR/oidc.log" 2>&1 &
	OIDC_PID=$!
	trap 'kill "$OIDC_PID" 2>/dev/null; wait "$OIDC_PID" 2>/dev/null; t_cleanup' EXIT
	OIDC_PORT=$(port_file_wait "$T_DIR/oidc.port")
	[ -n "$OIDC_PORT" ] ||
		{ sed 's/^/# /' "$T_DIR/oidc.log"; echo "Bail out! oidc-provider did not start"; exit 1; }
	ISSUER=http://127.0.0.1:$OIDC_PORT
}

# oidc_introspect ID:SECRET TOKEN: "ACTIVE CLIENT SCOPE" as the server's
# introspection endpoint tells of TOKEN (asked by that client), "false"
# alone for a token it does not know or no longer honours.  TOKEN is never
# printed.
oidc_introspect() {
	local out
	out=$(curl -s -m 10 -u "$1" --data-urlencode "token=$2" "$ISSUER/token/introspection")
	printf '%s %s %s' "$(printf '%s' "$out" | grep -o '"active":[a-z]*' | cut -d: -f2)" \
		"$(printf '%s' "$out" | grep -o '"client_id":"[^"]*"' | cut -d'"' -f4)" \
		"$(printf '%s' "$out" | grep -o '"scope":"[^"]*"' | cut -d'"' -f4)" | sed 's/ *$//'
	echo
}

# --- hostile clients (hostile*.t): bench/loadgen, as other users ---

LOADGEN=$TB_BUILD/bench/loadgen

as_user() { # as_user USER CMD...: CMD as USER (and its group), no other groups
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"
}

lg_result() { # lg_result KEY FILE: a field of loadgen's result line in FILE
	sed -n "s/^result: .*\b$1=\([^ ]*\).*/\1/p" "$2"
}

lg_served() { # lg_served FILE: "N 0" when loadgen's N answers were all 2xx and none failed
	echo "$(lg_result ok "$1") $(($(lg_result non2xx "$1") + $(lg_result errors "$1")))"
}

# abuse NAME USER LOADGEN-ARGS...: hostile clients (loadgen --abuse ...,
# at $ABUSE_AT: "-s SOCKET" or "--tcp HOST:PORT") as USER for 4 s, from
# half a second after a well-behaved client starts: as ${WELL_USER:-daemon},
# at $WELL_AT for $WELL_PATH, 100 requests a second for 4.5 s, each on a
# new connection ($WELL_ARGS instead, when set).  Their results are in
# $T_DIR/NAME.abuse and NAME.well, and a line of figures is printed.
abuse() {
	local name=$1 user=$2 pid
	shift 2
	# shellcheck disable=SC2086
	as_user "${WELL_USER:-daemon}" "$LOADGEN" $WELL_AT ${WELL_ARGS:---rate 100 -d 4.5} \
		"$WELL_PATH" >"$T_DIR/$name.well" 2>&1 &
	pid=$!
	sleep 0.5
	# shellcheck disable=SC2086
	as_user "$user" "$LOADGEN" $ABUSE_AT -d 4 "$@" >"$T_DIR/$name.abuse" 2>&1
	wait "$pid"
	echo "# $name: well-behaved p50 $(lg_result p50_us "$T_DIR/$name.well") us," \
		"p99 $(lg_result p99_us "$T_DIR/$name.well") us, max $(lg_result max_us "$T_DIR/$name.well") us," \
		"$(lg_result requests "$T_DIR/$name.well") requests; hostile: $(grep '^result' "$T_DIR/$name.abuse")"
}
