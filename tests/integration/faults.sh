# Helpers for the upstream fault tests (faults-*.t, proxy-faults.t),
# sourced after lib.sh: faultsrv (tests/faultsrv) in front of a fake
# server, a watch that polls several credentials at once while their
# upstreams misbehave, and the checks every fault gets.  Not a test itself
# (run-tests runs *.t only).

FAULTSRV=$TB_BUILD/tests/faultsrv
# Under AddressSanitizer freed memory waits in its quarantine: RSS says
# nothing about the daemon's own use there.
ASAN=no
ldd "$TBD" 2>/dev/null | grep -q libasan && ASAN=yes

# faultsrv_start NAME TO-PORT [faultsrv args...]: a faultsrv relaying to
# 127.0.0.1:TO-PORT; sets NAME_PORT (its fault port) and NAME_CTL (the URL
# of its control port).  Its log is $T_DIR/NAME.flog; it is stopped at exit
# with the fakeidps of idp_start_named.
faultsrv_start() {
	local name=$1 to=$2 port ctl
	shift 2
	rm -f "$T_DIR/$name.fport" "$T_DIR/$name.fctl"
	"$FAULTSRV" --quiet --to "$to" --port-file "$T_DIR/$name.fport" \
		--control-port-file "$T_DIR/$name.fctl" "$@" >"$T_DIR/$name.flog" 2>&1 &
	IDP_EXTRA_PIDS="$IDP_EXTRA_PIDS $!"
	trap 'idp_stop_named; t_cleanup' EXIT
	port=$(port_file_wait "$T_DIR/$name.fport")
	ctl=$(cat "$T_DIR/$name.fctl" 2>/dev/null)
	[ -n "$port" ] && [ -n "$ctl" ] || { echo "Bail out! faultsrv $name did not start"; exit 1; }
	printf -v "${name}_PORT" '%s' "$port"
	printf -v "${name}_CTL" '%s' "http://127.0.0.1:$ctl"
}

# cert_begin: what cert_make needs first: the CAs' index, and the usual
# names (SAN) and validity (START to END, a day back to two ahead).
cert_begin() {
	: >"$T_DIR/index.txt"
	SAN=DNS:localhost,IP:127.0.0.1
	START=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
	END=$(date -u -d '+2 days' +%Y%m%d%H%M%SZ)
}

# Test certificates, made with openssl ca, as only it sets a validity in
# the past; P-256 keys, quick to make.  cert_begin first (the CAs' index).
tls_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca_make() { # ca_make NAME: NAME.pem and NAME.key in T_DIR, subject CN=tokenbroker-test-NAME
	tls_key "$T_DIR/$1.key" &&
		openssl req -x509 -new -key "$T_DIR/$1.key" -days 2 -subj "/CN=tokenbroker-test-$1" \
			-out "$T_DIR/$1.pem" 2>/dev/null
}
cert_make() { # cert_make NAME CA SAN START END [CN]: NAME.pem, NAME.key, signed by CA (CN localhost)
	tls_key "$T_DIR/$1.key" &&
		openssl req -new -key "$T_DIR/$1.key" -subj "/CN=${6:-localhost}" -out "$T_DIR/$1.csr" 2>/dev/null &&
		printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nrand_serial = yes\nunique_subject = no\n[p]\ncommonName = supplied\n[e]\nsubjectAltName = %s\n' \
			"$T_DIR" "$T_DIR" "$3" >"$T_DIR/$1.cnf" &&
		openssl ca -batch -config "$T_DIR/$1.cnf" -policy p -md sha256 -extensions e -notext \
			-cert "$T_DIR/$2.pem" -keyfile "$T_DIR/$2.key" -in "$T_DIR/$1.csr" -out "$T_DIR/$1.pem" \
			-startdate "$4" -enddate "$5" >/dev/null 2>&1
}

fault() { # fault NAME QUERY: faultsrv NAME's /control; false unless it took it
	local ctl="${1}_CTL"
	curl -s -m 5 "${!ctl}/control?$2" | grep -q '"ok": *true'
}

fault_stat() { # fault_stat NAME FIELD: a number from faultsrv NAME's /stats
	local ctl="${1}_CTL"
	curl -s -m 5 "${!ctl}/stats" | sed -n "s/.*\"$2\": *\(-\{0,1\}[0-9]*\).*/\1/p"
}

# fcred NAME TOKEN-URL [extra key = value lines...]: a credential section
# for fakeidp's client, with the timings every fault test uses: tokens
# served until min_valid (2 s) before their expiry, retries after 1-2 s,
# connecting within 1 s and answering within 2 s.
fcred() {
	local name=$1 url=$2
	shift 2
	cred_at "$name" token_url "$url" "min_valid = 2s" "backoff_min = 1s" "backoff_max = 2s" \
		"connect_timeout = 1s" "timeout = 2s" "$@"
}
FAULT_MIN_VALID=2

cpu_ticks() { # cpu_ticks PID: its user and system time so far, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

now_us() { # microseconds since the epoch, without a fork
	echo "${EPOCHREALTIME/./}"
}

# --- the watch --------------------------------------------------------
#
# watch_token NAME [IDP-NAME]: remembers the token NAME serves now (T0),
# and its expiry as the fakeidp that issued it says (IDP-NAME as for
# idp_at; empty: the first fakeidp).  During the watch, only T0 may be
# served, and only until its expiry minus min_valid.
# watch_introspect NAME IDP-NAME: for a credential whose token changes
# during the watch: every token served is asked at IDP-NAME instead, and
# must be active with min_valid left (less one second: expires_in is
# rounded down).
# watch SECONDS NAME...: polls GET /v1/tokens/NAME?wait=0 for each, every
# quarter second, with one curl; counts per credential in W200, W503,
# WOTHER; WSTALE (a token served at or after its expiry minus min_valid),
# WEARLY (503 more than a second and a half before that: the fetch itself
# may have taken that long), WFOREIGN (a token other than T0 served).

declare -A T0 EXP0 ISSUER WCHANGING W200 W503 WOTHER WSTALE WEARLY WFOREIGN WLAST200 WFIRST503
declare -A RECOVERED

introspect() { # introspect NAME TOKEN: its issuer's word on TOKEN (JSON)
	if [ -n "${ISSUER[$1]:-}" ]; then
		idp_at "${ISSUER[$1]}" "/introspect?token=$2"
	else
		idp "/introspect?token=$2"
	fi
}

watch_token() {
	local name=$1 body exp
	ISSUER[$name]=${2:-}
	body=$(api "/v1/tokens/$name?wait=10")
	[[ $body =~ \"access_token\":\"([^\"]*)\" ]] || { T0[$name]=; return 1; }
	T0[$name]=${BASH_REMATCH[1]}
	exp=$(introspect "$name" "${T0[$name]}" | json_field exp_ms)
	EXP0[$name]=${exp:-0}
	[ -n "$exp" ]
}

watch_introspect() {
	ISSUER[$1]=$2
	WCHANGING[$1]=1
}

# watch_one NAME CODE BODY START-US END-US: one answer, counted.
watch_one() {
	local name=$1 code=$2 body=$3 t0=$4 t1=$5 tok info left
	case $code in
	200)
		W200[$name]=$(( ${W200[$name]:-0} + 1 ))
		WLAST200[$name]=$t0
		[[ $body =~ \"access_token\":\"([^\"]*)\" ]] && tok=${BASH_REMATCH[1]}
		if [ -n "${T0[$name]:-}" ]; then
			[ "${tok:-}" != "${T0[$name]}" ] && WFOREIGN[$name]=$(( ${WFOREIGN[$name]:-0} + 1 ))
			# Asked for after the end of its service: stale.
			[ "$t0" -ge $(( (${EXP0[$name]} - FAULT_MIN_VALID * 1000) * 1000 )) ] &&
				WSTALE[$name]=$(( ${WSTALE[$name]:-0} + 1 ))
		elif [ -n "${WCHANGING[$name]:-}" ]; then
			info=$(introspect "$name" "${tok:-none}")
			left=$(printf '%s' "$info" | json_field expires_in)
			if [ "$(printf '%s' "$info" | json_field active)" != true ] ||
				[ "${left:-0}" -lt $((FAULT_MIN_VALID - 1)) ]; then
				WSTALE[$name]=$(( ${WSTALE[$name]:-0} + 1 ))
			fi
		fi
		;;
	503)
		W503[$name]=$(( ${W503[$name]:-0} + 1 ))
		[ -z "${WFIRST503[$name]:-}" ] && WFIRST503[$name]=$t1
		if [ -n "${T0[$name]:-}" ] &&
			[ "$t1" -lt $(( (${EXP0[$name]} - FAULT_MIN_VALID * 1000 - 1500) * 1000 )) ]; then
			WEARLY[$name]=$(( ${WEARLY[$name]:-0} + 1 ))
		fi
		;;
	*)
		WOTHER[$name]=$(( ${WOTHER[$name]:-0} + 1 ))
		;;
	esac
}

watch() {
	local secs=$1 end t0 t1 out line body i name
	shift
	local names=("$@") urls=()
	for name in "$@"; do
		urls+=("http://localhost/v1/tokens/$name?wait=0")
	done
	end=$(( $(now_us) + secs * 1000000 ))
	while [ "$(now_us)" -lt "$end" ]; do
		t0=$(now_us)
		out=$(curl -s -m 5 --unix-socket "$SOCK" -w '\n\t%{http_code}\n' "${urls[@]}")
		t1=$(now_us)
		i=0 body=
		while IFS= read -r line; do
			if [[ $line == $'\t'* ]]; then
				watch_one "${names[i]}" "${line#$'\t'}" "$body" "$t0" "$t1"
				i=$((i + 1)) body=
			else
				body+=$line
			fi
		done <<<"$out"
		sleep 0.25
	done
}

# watch_served NAME: the checks of what a credential served during the
# watch of its fault, as test results.
watch_served() {
	local name=$1 limit
	if [ -n "${T0[$name]:-}" ]; then
		# The end of T0's service, expiry less min_valid, by its issuer's clock.
		limit=$(( (${EXP0[$name]} - FAULT_MIN_VALID * 1000) * 1000 ))
		echo "# $name: the last 200 asked for $(( (limit - ${WLAST200[$name]:-0}) / 1000 )) ms" \
			"before the end of its token's service, the first 503 answered" \
			"$(( (${WFIRST503[$name]:-0} - limit) / 1000 )) ms after it"
	fi
	cmp_ok "${W200[$name]:-0}" -ge 1 "$name: the token it had is served during the fault (${W200[$name]:-0} times)"
	is "${WEARLY[$name]:-0}" 0 "$name: and not refused while it had more than min_valid left"
	is "$(( ${WSTALE[$name]:-0} + ${WFOREIGN[$name]:-0} ))" 0 \
		"$name: no token served after its expiry minus min_valid, nor any other"
	cmp_ok "${W503[$name]:-0}" -ge 1 "$name: then 503 (${W503[$name]:-0} times)"
	is "${WOTHER[$name]:-0}" 0 "$name: no answer but 200 and 503"
}

# rate_bounds SECONDS FAIL-SECONDS MIN MAX: "LO HI", generous bounds on the
# attempts in SECONDS when each takes FAIL-SECONDS to fail and the next
# follows after MIN to MAX seconds (backoff, or a Retry-After): at most one
# per FAIL+MIN (two more for a start and an end in the window), at least
# one per FAIL+MAX less one, and never fewer than 2.
rate_bounds() {
	awk -v w="$1" -v d="$2" -v lo="$3" -v hi="$4" 'BEGIN {
		l = int(w / (d + hi)) - 1; if (l < 2) l = 2
		h = int(w / (d + lo) + 0.999) + 2
		print l, h }'
}

# rss_checks PID BEFORE-KB MAX-GROWTH-KB PEAK-KB: the daemon's memory after
# a fault, as test results (skipped under AddressSanitizer).
rss_checks() {
	local pid=$1 before=$2 growth=$3 peak=$4 now hwm
	now=$(proc_kb "$pid" VmRSS)
	hwm=$(proc_kb "$pid" VmHWM)
	echo "# memory: VmRSS ${before} kB before, ${now} kB after; VmHWM ${hwm} kB"
	if [ "$ASAN" = yes ]; then
		echo "ok $((T_NUM += 1)) # skip RSS: AddressSanitizer's quarantine holds freed memory"
		echo "ok $((T_NUM += 1)) # skip peak RSS: AddressSanitizer's quarantine holds freed memory"
		return
	fi
	cmp_ok "$now" -le $((before + growth)) "memory: RSS grew by at most $((growth / 1024)) MiB (${before} kB, now ${now} kB)"
	cmp_ok "$hwm" -le "$peak" "memory: peak RSS at most $((peak / 1024)) MiB (${hwm} kB)"
}

# kick NAME...: POST renew for each at once, in the background (KICK_PID):
# their attempts start now, whatever the backoff.
kick() {
	local args=() name
	for name in "$@"; do
		args+=(-o /dev/null "http://localhost/v1/tokens/$name/renew?wait=0")
	done
	curl -s -m 10 -Z -X POST --unix-socket "$SOCK" "${args[@]}" 2>/dev/null &
	KICK_PID=$!
}

# fault_checks NAME ATTEMPTS FAILURES LO HI CAUSE-REGEX: what a credential
# served during its fault (watch_served), the attempts its upstream saw
# within LO..HI (rate_bounds) and each counted by the daemon as a failure
# (give or take two: one in flight, one retried on a dead connection), and
# its last_error, as test results.
fault_checks() {
	local name=$1 n=$2 fails=$3 lo=$4 hi=$5 cause=$6 err
	watch_served "$name"
	echo "# $name: $n attempts at the upstream, $fails failures counted"
	ok $(( n < lo || n > hi )) "$name: the attempts follow the backoff ($n, within $lo..$hi)"
	ok $(( n - fails > 2 || fails - n > 2 )) "$name: each was a failure the daemon counted ($fails)"
	err=$(cred_field "$name" last_error)
	echo "# $name: last_error: $err"
	like "$err" "$cause" "$name: last_error names the cause"
}

# recover NAME...: once the upstreams are back, waits (10 s at most) until
# each credential serves a token other than T0 that its issuer holds
# valid; RECOVERED[NAME] is how long that took, in ms; then one test
# result each.
recover() {
	local t0 name tok left
	t0=$(now_us)
	for _ in $(seq 50); do
		left=0
		for name in "$@"; do
			[ -n "${RECOVERED[$name]:-}" ] && continue
			tok=$(api "/v1/tokens/$name?wait=0" -H 'Accept: text/plain')
			if [ -n "$tok" ] && [ "$tok" != "${T0[$name]:-}" ] &&
				[ "$(introspect "$name" "$tok" | json_field active)" = true ]; then
				RECOVERED[$name]=$(( ($(now_us) - t0) / 1000 ))
			else
				left=$((left + 1))
			fi
		done
		[ "$left" = 0 ] && break
		sleep 0.2
	done
	for name in "$@"; do
		ok "$([ -n "${RECOVERED[$name]:-}" ]; echo $?)" \
			"$name: a new token once the upstream is back (${RECOVERED[$name]:-never} ms)"
	done
}

# healthy_checks NAME RENEWALS-BEFORE IDP-NAME: the credential beside the
# faults was served at every poll of the watch, never failed, kept renewing,
# and what it serves now is valid at its fakeidp.
healthy_checks() {
	local name=$1 renewed tok
	is "${W200[$name]:-0}/${W503[$name]:-0}/${WOTHER[$name]:-0}" "${W200[$name]:-0}/0/0" \
		"$name: served at every poll during the faults (${W200[$name]:-0} times)"
	is "$(cred_field "$name" failures)" 0 "$name: no failure"
	renewed=$(( $(cred_field "$name" renewals) - $2 ))
	cmp_ok "$renewed" -ge 2 "$name: it renewed as its tokens ran out ($renewed times)"
	tok=$(api "/v1/tokens/$name?wait=0" -H 'Accept: text/plain')
	is "$(idp_at "$3" "/introspect?token=$tok" | json_field active)" true "$name: its token is valid"
}

# daemon_checks CPU-TICKS-BEFORE SECONDS: the daemon still runs and did
# not spin (CPU time under half the window: a generous bound, not a speed).
daemon_checks() {
	local cpu hz
	kill -0 "$TBD_PID" 2>/dev/null
	ok $? "the daemon is still running after ${2}s of faults"
	cpu=$(( $(cpu_ticks "$TBD_PID") - $1 ))
	hz=$(getconf CLK_TCK)
	echo "# daemon CPU time during the faults: $((cpu * 1000 / hz)) ms in ${2}s"
	cmp_ok $((cpu * 1000 / hz)) -lt $(($2 * 500)) "the daemon did not spin: CPU time under half the window"
}

# --- a fault test's course ----------------------------------------------
#
# A test names its credentials in FAULTS, each with an upstream of its own
# to break and mend, and a credential "healthy" beside them whose tokens
# the fakeidp HEALTHY issues; and defines for each NAME of FAULTS:
#   fault_on NAME, fault_off NAME   break its upstream (counters from zero),
#                                   mend it; false when it could not
#   fault_issuer NAME               the fakeidp (for idp_at) that issues its
#                                   tokens; empty: the first one
#   fault_attempts NAME             the attempts its upstream saw since
#                                   fault_on; -1 when it cannot count them
#   fault_bounds NAME SECONDS       "LO HI" for them (rate_bounds)
#   fault_cause NAME                what its last_error must match
# Then: faults_daemon, faults_watch, faults_checks (and its own checks),
# faults_end.

declare -A FAIL0

# faults_daemon: starts the fakeidp HEALTHY, and the daemon with the
# credentials on stdin and healthy.
faults_daemon() {
	idp_start_named HEALTHY --lifetime 4
	{
		cat
		fcred healthy "$HEALTHY_URL/token"
	} | write_conf "$T_DIR/tb.conf"
	tbd_start_conf "$T_DIR/tb.conf"
}

# faults_ready: test result that every credential of FAULTS has its first
# token; notes where the daemon starts from.
faults_ready() {
	local f got=0
	for f in $FAULTS; do
		[ "$(api_code "/v1/tokens/$f?wait=10")" = 200 ] && got=$((got + 1))
	done
	is "$got" "$(wc -w <<<"$FAULTS")" "every credential has its first token"
	HEALTHY_RENEWALS=$(cred_field healthy renewals)
	RSS0=$(proc_kb "$TBD_PID" VmRSS)
	CPU0=$(cpu_ticks "$TBD_PID")
}

# faults_watch SECONDS [NAME...]: once each has its first token
# (faults_ready), breaks every upstream at once, starts each credential's
# attempts now (kick), and watches the credentials of FAULTS, the NAMEs and
# healthy for SECONDS; WINDOW is how long that took.
faults_watch() {
	local secs=$1 f t
	shift
	faults_ready
	for f in $FAULTS; do
		fault_on "$f" || echo "# cannot break $f's upstream"
		FAIL0[$f]=$(cred_field "$f" failures)
	done
	# What each serves now, its upstream failing: no renewal can replace it.
	for f in $FAULTS; do
		watch_token "$f" "$(fault_issuer "$f")" || echo "# $f: no token to watch"
	done
	kick $FAULTS
	t=$SECONDS
	watch "$secs" $FAULTS "$@" healthy
	wait "$KICK_PID"
	WINDOW=$((SECONDS - t))
	daemon_checks "$CPU0" "$WINDOW"
}

# faults_checks: fault_checks for each credential of FAULTS, and
# healthy_checks.
faults_checks() {
	local f n fails lo hi
	for f in $FAULTS; do
		n=$(fault_attempts "$f")
		fails=$(( $(cred_field "$f" failures) - ${FAIL0[$f]} ))
		if [ "${n:--1}" -lt 0 ]; then
			echo "# $f: its upstream cannot count the attempts: the daemon's failures stand in"
			n=$fails
		fi
		read -r lo hi <<<"$(fault_bounds "$f" "$WINDOW")"
		fault_checks "$f" "$n" "$fails" "$lo" "$hi" "$(fault_cause "$f")"
	done
	healthy_checks healthy "$HEALTHY_RENEWALS" HEALTHY
}

# faults_end: mends every upstream and waits for each credential to
# recover, checks the daemon's memory, stops it (exit 0), and ends the
# test with its plan.
faults_end() {
	local f
	for f in $FAULTS; do
		fault_off "$f" || echo "# cannot mend $f's upstream"
	done
	recover $FAULTS
	rss_checks "$TBD_PID" "$RSS0" 8192 65536
	tbd_stop
	is $? 0 "SIGTERM: exit status 0"
	plan "$T_NUM"
	done_testing
}
