# Shared helpers for the integration tests: a TAP producer, and start/stop
# of the local token endpoint (fakeidp) and of the real tokenbrokerd.
# Sourced by each *.t file, which runs from the repository root.

set -u

TB_BUILD=${TB_BUILD:-build}
TBD=$TB_BUILD/tokenbrokerd
TBCTL=$TB_BUILD/tokenctl
FAKEIDP=$TB_BUILD/tests/fakeidp

T_NUM=0
T_FAILED=0
T_DIR=$(mktemp -d /tmp/tokenbroker-test.XXXXXX)
chmod 700 "$T_DIR"
SOCK=$T_DIR/tb.sock
IDP_PID=
TBD_PID=
IDP_PORT=
IDP_SECRET=it-secret-$RANDOM$RANDOM

t_cleanup() {
	[ -n "$TBD_PID" ] && kill "$TBD_PID" 2>/dev/null && wait "$TBD_PID" 2>/dev/null
	[ -n "$IDP_PID" ] && kill "$IDP_PID" 2>/dev/null && wait "$IDP_PID" 2>/dev/null
	if [ "$T_FAILED" -ne 0 ] && [ -f "$T_DIR/daemon.log" ]; then
		echo "# daemon log (last 30 lines):"
		tail -n 30 "$T_DIR/daemon.log" | sed 's/^/#   /'
	fi
	rm -rf "$T_DIR"
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

cmp_ok() { # cmp_ok A OP B DESCRIPTION   (numeric: -lt -le -eq -ge -gt -ne)
	if [ "$1" "$2" "$3" ] 2>/dev/null; then ok 0 "$4"; else ok 1 "$4"; echo "#   '$1' $2 '$3' is false"; fi
}

# Starts fakeidp on an ephemeral loopback port.
idp_start() {
	rm -f "$T_DIR/idp.port"
	"$FAKEIDP" --quiet --port 0 --port-file "$T_DIR/idp.port" --client-id it-client \
		--client-secret "$IDP_SECRET" "$@" >"$T_DIR/idp.log" 2>&1 &
	IDP_PID=$!
	for _ in $(seq 100); do
		[ -s "$T_DIR/idp.port" ] && break
		sleep 0.05
	done
	IDP_PORT=$(cat "$T_DIR/idp.port" 2>/dev/null)
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

# cred NAME [extra key = value lines...]: a credential section for fakeidp.
cred() {
	local name=$1
	shift
	printf '[credential "%s"]\ntoken_url = %s/token\nclient_id = it-client\nclient_secret = %s\n' \
		"$name" "$IDP_URL" "$IDP_SECRET"
	for kv in "$@"; do printf '%s\n' "$kv"; done
	printf '\n'
}

# Starts tokenbrokerd with the given config and waits for its socket.
tbd_start() {
	local conf=$1
	shift
	rm -f "$SOCK"
	"$TBD" -c "$conf" "$@" >>"$T_DIR/daemon.log" 2>&1 &
	TBD_PID=$!
	for _ in $(seq 200); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$TBD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "Bail out! tokenbrokerd did not start"
	exit 1
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
	for _ in $(seq 100); do
		[ -s "$T_DIR/$name.port" ] && break
		sleep 0.05
	done
	port=$(cat "$T_DIR/$name.port" 2>/dev/null)
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

