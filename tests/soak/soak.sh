#!/bin/bash
# A soak in compressed time: SOAK_CREDS credentials (default 200) whose
# tokens live 2 s, for SOAK_SECONDS (default 600), against three fakeidps:
# most healthy, some behind one that always fails, some behind one that
# flaps every 5 s; a few persisted, a few with a sink, a few behind proxies
# with traffic through them to fakeapi, and a client of the API all along;
# a SIGHUP every 30 s with one credential changed.  Every SOAK_SAMPLE_S
# (2) seconds it samples the daemon's RSS, memory mappings, descriptors
# and the state directory's files; after the warm-up (a fifth of the run,
# at least 15 s) the least-squares slope of each must be about 0 (at most
# a small growth a minute: shrinking is no leak).  No
# renewal may be late (tokenbroker_late_renewals_total, and the log), the
# healthy credentials end valid, every proxied and API request is
# answered 200, and the daemon stops with status 0.  TAP on stdout, the
# figures as comments.  `make soak` runs it; `make check` runs a short one.
#
# usage: [TB_BUILD=DIR] [SOAK_SECONDS=N] [SOAK_CREDS=N] [SOAK_KEEP=DIR]
#        tests/soak/soak.sh
# SOAK_KEEP: a directory to copy the samples and the daemon's log into.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh

SECONDS_WANTED=${SOAK_SECONDS:-600}
NCREDS=${SOAK_CREDS:-200}
SAMPLE_S=${SOAK_SAMPLE_S:-2}
WARMUP=$((SECONDS_WANTED / 5 > 15 ? SECONDS_WANTED / 5 : 15))
# Generous bounds on the slopes after the warm-up, per minute.  A sample
# may catch a file being written (one descriptor more) or transfers in
# flight (sockets come and go by dozens); a leak of one a renewal, or even
# one a reload, is far above.
RSS_SLOPE_MAX_KB=${SOAK_RSS_SLOPE_MAX_KB:-512}
MAPS_SLOPE_MAX=2
FDS_SLOPE_MAX=2
SOCKETS_SLOPE_MAX=5
FILES_SLOPE_MAX=1
if [ "$NCREDS" -lt 20 ] || [ "$SECONDS_WANTED" -lt 30 ]; then
	echo "soak: at least 20 credentials and 30 seconds" >&2
	exit 2
fi
plan 17

# The credentials: c000... of which every 20th (from the 10th) fails for
# good, every 10th (from the 5th) flaps, every 4th (from the 2nd) is
# persisted, every 10th (from the 3rd) has a sink; NPROXY healthy ones have
# a proxy each.  kind I prints which.
NPROXY=$((NCREDS / 20))
kind() {
	if [ $(($1 % 20)) -eq 10 ]; then echo failing
	elif [ $(($1 % 10)) -eq 5 ]; then echo flapping
	else echo healthy
	fi
}
name() { printf 'c%03d' "$1"; }

idp_start --lifetime 2
idp_start_named FAILING --lifetime 2
idp_start_named FLAPPING --lifetime 2
idp_at FAILING '/control?fail=503' >/dev/null
fakeapi_start
mkdir -m 700 "$T_DIR/state" "$T_DIR/sinks"
PX_PORTS=()
for i in $(seq "$NPROXY"); do PX_PORTS+=("$(free_port "${PX_PORTS[@]}")"); done

# write_soak_conf GENERATION: the whole configuration; credential number
# GENERATION % NCREDS has a scope of that generation (0: none changed).
# One awk, not a subshell a credential: the soak must not starve the
# daemon of CPU whenever it reloads.
write_soak_conf() {
	awk -v gen="$1" -v n="$NCREDS" -v np="$NPROXY" -v sock="$SOCK" -v dir="$T_DIR" \
		-v ok="$IDP_URL" -v failing="$FAILING_URL" -v flapping="$FLAPPING_URL" \
		-v secret="$IDP_SECRET" -v api="$API_URL" -v ports="${PX_PORTS[*]}" 'BEGIN {
		printf "[daemon]\nsocket = %s\nstate_dir = %s/state\nlog_level = info\n", sock, dir
		printf "upstream_concurrency = 64\n\n"
		for (i = 0; i < n; i++) {
			url = i % 20 == 10 ? failing : i % 10 == 5 ? flapping : ok
			printf "[credential \"c%03d\"]\ntoken_url = %s/token\n", i, url
			printf "client_id = it-client\nclient_secret = %s\n", secret
			printf "backoff_min = 100ms\nbackoff_max = 2s\ntimeout = 5s\n"
			if (i % 4 == 2)
				printf "persist = yes\n"
			if (i % 10 == 3)
				printf "sink = %s/sinks/c%03d\n", dir, i
			if (gen > 0 && gen % n == i)
				printf "scope = gen%d\n", gen
			printf "\n"
		}
		split(ports, port, " ")
		for (i = 0; i < np; i++)
			printf "[proxy \"p%d\"]\nlisten = 127.0.0.1:%s\ncredential = c%03d\n" \
				"upstream = %s/api\n\n", i, port[i + 1], i * 20, api
	}' >"$T_DIR/tb.conf"
	chmod 600 "$T_DIR/tb.conf"
}

# sample T: a line "T RSS-kB MAPS FDS STATE-FILES RENEWALS LATE SOCKETS"
# of the daemon now (renewals and late ones summed over the credentials;
# FDS the descriptors that are not sockets: the sockets come and go with
# the transfers in flight, the rest must not move).
sample() {
	local fds socks
	socks=$(find "/proc/$TBD_PID/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null | wc -l)
	fds=$(($(fd_count "$TBD_PID") - socks))
	echo "$1 $(proc_kb "$TBD_PID" VmRSS) $(wc -l <"/proc/$TBD_PID/maps") $fds" \
		"$(find "$T_DIR/state" -mindepth 1 | wc -l)" \
		"$(api /metrics | awk '/^tokenbroker_renewals_total\{.*result="success"/ { r += $NF }
			/^tokenbroker_late_renewals_total\{/ { l += $NF } END { print r + 0, l + 0 }')" \
		"$socks"
}

# slope COLUMN: the least-squares slope of that column of the samples
# after the warm-up, per minute.
slope() {
	awk -v c="$1" -v w="$WARMUP" '$1 >= w {
		x = $1 / 60; y = $c; n++; sx += x; sy += y; sxx += x * x; sxy += x * y }
		END { d = n * sxx - sx * sx; printf "%.2f\n", (n > 2 && d > 0) ? (n * sxy - sx * sy) / d : 0 }' \
		"$T_DIR/samples"
}

# metric_sum NAME: the sum of every series of a family in /metrics.
metric_sum() {
	api /metrics | awk -v n="$1" 'index($0, n "{") == 1 { s += $NF } END { print s + 0 }'
}

write_soak_conf 0
tbd_start "$T_DIR/tb.conf"
wait_until 150 '[ "$(cred_field c000 state)" = valid ]'
ok $? "the first token is there"

# Traffic for the whole run: a client of the API, one through each proxy.
"$LOADGEN" -s "$SOCK" --rate 20 -d "$SECONDS_WANTED" /v1/tokens/c001 >"$T_DIR/api.out" 2>&1 &
LOAD_PIDS=$!
for i in $(seq 0 $((NPROXY - 1))); do
	"$LOADGEN" --tcp "127.0.0.1:${PX_PORTS[$i]}" --rate 5 -d "$SECONDS_WANTED" /echo \
		>"$T_DIR/px$i.out" 2>&1 &
	LOAD_PIDS="$LOAD_PIDS $!"
done

start=$(date +%s)
gen=0 flap=0 next_sample=0
: >"$T_DIR/samples"
while :; do
	t=$(($(date +%s) - start))
	[ "$t" -ge "$SECONDS_WANTED" ] && break
	if [ "$t" -ge "$next_sample" ]; then
		sample "$t" >>"$T_DIR/samples"
		next_sample=$((t + SAMPLE_S))
	fi
	if [ $((t / 5 % 2)) -ne "$flap" ]; then
		flap=$((t / 5 % 2))
		idp_at FLAPPING "/control?fail=$([ "$flap" = 1 ] && echo 503 || echo 0)" >/dev/null
	fi
	if [ "$t" -ge $(((gen + 1) * 30)) ]; then
		gen=$((gen + 1))
		write_soak_conf "$gen"
		tbd_reload
	fi
	sleep 0.5
done
# shellcheck disable=SC2086
wait $LOAD_PIDS
idp_at FLAPPING '/control?fail=0' >/dev/null

renewals=$(api /metrics | awk '/^tokenbroker_renewals_total\{.*result="success"/ { s += $NF } END { print s + 0 }')
failures=$(api /metrics | awk '/^tokenbroker_renewals_total\{.*result="failure"/ { s += $NF } END { print s + 0 }')
late=$(metric_sum tokenbroker_late_renewals_total)
echo "# $NCREDS credentials, ${SECONDS_WANTED}s, $gen reloads: $renewals renewals, $failures failed" \
	"attempts, $late late"
healthy=0
for i in $(seq 0 $((NCREDS - 1))); do [ "$(kind "$i")" = healthy ] && healthy=$((healthy + 1)); done
# A healthy token is renewed every second or so; half that is plenty.
cmp_ok "$renewals" -ge $((healthy * SECONDS_WANTED / 2)) \
	"renewals went on ($renewals for $healthy healthy credentials in ${SECONDS_WANTED}s)"
is "$late" 0 "no renewal was late (tokenbroker_late_renewals_total)"
is "$(grep -c 'expired before its renewal started' "$T_DIR/daemon.log")" 0 "nor says the log"
bad=
for i in $(seq 0 $((NCREDS - 1))); do
	[ "$(kind "$i")" = healthy ] || continue
	case $(cred_field "$(name "$i")" state) in valid | renewing) ;; *) bad="$bad $(name "$i")" ;; esac
done
is "$bad" "" "every healthy credential ends with a valid token"
is "$(cred_field c010 renewals) $(cred_field c010 state)" "0 pending" "one that always fails never had a token"
cmp_ok "$(cred_field c005 renewals)" -gt 0 "one that flaps got tokens"
cmp_ok "$(cred_field c005 failures)" -gt 0 "and failed in between"
is "$gen" "$((SECONDS_WANTED / 30 - (SECONDS_WANTED % 30 == 0 ? 1 : 0)))" "a reload every 30 s"
echo "# the API's client: $(grep '^result' "$T_DIR/api.out")"
like "$(lg_served "$T_DIR/api.out")" '^[1-9][0-9]* 0$' "every request of the API's client got its token"
bad=
for i in $(seq 0 $((NPROXY - 1))); do
	echo "# proxy p$i: $(grep '^result' "$T_DIR/px$i.out")"
	lg_served "$T_DIR/px$i.out" | grep -Eq '^[1-9][0-9]* 0$' || bad="$bad p$i"
done
is "$bad" "" "every request through the $NPROXY proxies was answered 2xx"

# The samples after the warm-up.
read -r _ rss0 maps0 fds0 files0 _ _ socks0 < <(awk -v w="$WARMUP" '$1 >= w' "$T_DIR/samples" | head -n 1)
read -r _ rss1 maps1 fds1 files1 _ _ socks1 < <(tail -n 1 "$T_DIR/samples")
echo "# after ${WARMUP}s of warm-up -> the end: RSS $rss0 -> $rss1 kB, mappings $maps0 -> $maps1," \
	"descriptors $fds0 -> $fds1 and sockets $socks0 -> $socks1, state files $files0 -> $files1" \
	"($(wc -l <"$T_DIR/samples") samples)"
s_rss=$(slope 2) s_maps=$(slope 3) s_fds=$(slope 4) s_files=$(slope 5) s_socks=$(slope 8)
late_at=$(awk '$7 > l { printf " %ds (+%d)", $1, $7 - l; l = $7 }' "$T_DIR/samples")
[ -n "$late_at" ] && echo "# late renewals seen at:$late_at"
echo "# slopes a minute: RSS $s_rss kB, mappings $s_maps, descriptors $s_fds, sockets $s_socks," \
	"state files $s_files"
within() { # within VALUE MAX: VALUE <= MAX (decimals allowed)
	awk -v v="$1" -v m="$2" 'BEGIN { exit !(v <= m) }'
}
if sanitized; then
	skip "RSS under ASan is its quarantine's ($s_rss kB a minute)"
	skip "mappings under ASan are its allocator's ($s_maps a minute)"
else
	within "$s_rss" "$RSS_SLOPE_MAX_KB"
	ok $? "RSS is flat: $s_rss kB a minute (at most $RSS_SLOPE_MAX_KB)"
	within "$s_maps" "$MAPS_SLOPE_MAX"
	ok $? "memory mappings are flat: $s_maps a minute (at most $MAPS_SLOPE_MAX)"
fi
within "$s_fds" "$FDS_SLOPE_MAX"
ok $? "descriptors other than sockets are flat: $s_fds a minute (at most $FDS_SLOPE_MAX)"
within "$s_socks" "$SOCKETS_SLOPE_MAX"
ok $? "sockets do not pile up: $s_socks a minute (at most $SOCKETS_SLOPE_MAX)"
within "$s_files" "$FILES_SLOPE_MAX"
ok $? "the state directory's files are flat: $s_files a minute (at most $FILES_SLOPE_MAX)"
[ -n "${SOAK_KEEP:-}" ] && cp "$T_DIR/samples" "$T_DIR/daemon.log" "$SOAK_KEEP/"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
done_testing
