#!/bin/bash
# Scale: SCALE_CREDS credentials (default 10000) whose tokens live
# SCALE_LIFETIME seconds (60), for SCALE_SECONDS (300), against one
# fakeidp that holds each answer SCALE_DELAY_MS (20) so that requests pile
# up.  Asserted (counts and bounds, never timings): every credential gets
# its token; no renewal is late (tokenbroker_late_renewals_total); the
# upstream requests in flight never exceed upstream_concurrency (fakeidp's
# max_concurrent); every credential is valid at the end; a reload with one
# credential changed renews that one alone; the daemon's RSS while it
# renews and during the reload stays under SCALE_RSS_MAX_KB (40 MiB) and
# it exits 0.  Reported as comments
# (what the scale targets are about, measured here, not asserted): the
# time from exec to READY=1, the most renewals in any one second after the
# first lifetime, GET /v1/credentials and /metrics, the reload from
# RELOADING=1 to READY=1.  TAP on stdout.  `make scale` runs it; `make
# check` runs 1000 credentials for 60 s.
#
# usage: [TB_BUILD=DIR] [SCALE_CREDS=N] [SCALE_SECONDS=N] [SCALE_LIFETIME=N]
#        [SCALE_DELAY_MS=N] [SCALE_KEEP=DIR] tests/scale/scale.sh
# SCALE_KEEP: a directory to copy the per-second samples and the logs into.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh

NCREDS=${SCALE_CREDS:-10000}
SECONDS_WANTED=${SCALE_SECONDS:-300}
LIFETIME=${SCALE_LIFETIME:-60}
DELAY_MS=${SCALE_DELAY_MS:-20}
RSS_MAX_KB=${SCALE_RSS_MAX_KB:-40960}
CONCURRENCY=32
if [ "$SECONDS_WANTED" -lt $((LIFETIME / 2 + 10)) ]; then
	echo "scale: SCALE_SECONDS must cover at least half a lifetime and 10 s" >&2
	exit 2
fi
plan 9

now_ms() { date +%s%3N; }

idp_start --lifetime "$LIFETIME"
idp "/control?delay_ms=$DELAY_MS" >/dev/null

# write_scale_conf CHANGED: every credential; number CHANGED (if any) has a
# scope.  One awk: the script must not take the CPU the daemon needs.
# timeout = 5s (a local endpoint): with the default 15 s, min_valid (capped
# at 15 s) plus timeout put a 60 s token's renewal at half its lifetime,
# where jitter has no room, and the tokens obtained together at the start
# would renew together every time.
write_scale_conf() {
	awk -v n="$NCREDS" -v changed="$1" -v sock="$SOCK" -v url="$IDP_URL" \
		-v secret="$IDP_SECRET" -v conc="$CONCURRENCY" 'BEGIN {
		printf "[daemon]\nsocket = %s\nlog_level = notice\n", sock
		printf "upstream_concurrency = %d\n\n", conc
		for (i = 0; i < n; i++) {
			printf "[credential \"s%05d\"]\ntoken_url = %s/token\n", i, url
			printf "client_id = it-client\nclient_secret = %s\ntimeout = 5s\n", secret
			if (i == changed)
				printf "scope = changed\n"
			printf "\n"
		}
	}' >"$T_DIR/tb.conf"
	chmod 600 "$T_DIR/tb.conf"
}

# metric_sum NAME [FILTER]: the sum of a family's series in /metrics (whose
# line holds FILTER, when given).
metric_sum() {
	api /metrics | awk -v n="$1" -v f="${2:-}" \
		'index($0, n "{") == 1 && index($0, f) { s += $NF } END { print s + 0 }'
}
# notify_ms TEXT [NTH]: when (ms since notifylisten started) the NTH (1)
# message line equal to TEXT came, or nothing.
notify_ms() {
	awk -v t="$1" -v k="${2:-1}" '$2 == t && ++n == k { print $1; exit }' "$T_DIR/notify.log"
}
issued() { idp /stats | json_field issued; }

write_scale_conf -1
NOTIFY=$T_DIR/notify.sock
nl_start=$(now_ms)
"$TB_BUILD/tests/notifylisten" "$NOTIFY" >"$T_DIR/notify.log" 2>&1 &
NL_PID=$!
wait_until 50 '[ -S "$NOTIFY" ]'
t_exec=$(now_ms)
NOTIFY_SOCKET=$NOTIFY tbd_start "$T_DIR/tb.conf"
wait_until 100 '[ -n "$(notify_ms READY=1)" ]'
ready=$(notify_ms READY=1)
echo "# start-up, exec to READY=1 with $NCREDS credentials: $((nl_start + ${ready:-0} - t_exec)) ms"

# Every credential gets its first token; then a sample a second: tokens
# issued, late renewals, the daemon's RSS.
wait_until 600 '[ "$(metric_sum tokenbroker_renewals_total success)" -ge "$NCREDS" ]'
first=$(metric_sum tokenbroker_renewals_total success)
cmp_ok "$first" -ge "$NCREDS" "every credential got its first token ($first renewals)"
echo "# the first tokens of all $NCREDS: $(($(now_ms) - t_exec)) ms after exec"

start_s=$(date +%s)
: >"$T_DIR/samples"
last=$(issued)
while [ $(($(date +%s) - start_s)) -lt "$SECONDS_WANTED" ]; do
	sleep 1
	cur=$(issued)
	echo "$(($(date +%s) - start_s)) $((cur - last)) $(proc_kb "$TBD_PID" VmRSS)" >>"$T_DIR/samples"
	last=$cur
done

late=$(metric_sum tokenbroker_late_renewals_total)
is "$late" 0 "no renewal was late"
grep -i 'late' "$T_DIR/daemon.log" | head -n 3 | sed 's/^/# /'
max_conc=$(idp /stats | json_field max_concurrent)
cmp_ok "$max_conc" -le "$CONCURRENCY" \
	"upstream requests in flight never above upstream_concurrency ($max_conc of $CONCURRENCY)"
valid=$(api /v1/credentials | grep -Eo '"state": *"(valid|renewing)"' | wc -l)
is "$valid" "$NCREDS" "every credential has a valid token at the end"
renewals=$(metric_sum tokenbroker_renewals_total success)
echo "# renewals in ${SECONDS_WANTED}s after the first tokens: $((renewals - first))"
echo "# tokens issued a second after the first ones: most $(awk '$2 > m { m = $2 }
	END { print m + 0 }' "$T_DIR/samples"), mean $(awk '{ s += $2; n++ }
	END { printf "%.0f", n ? s / n : 0 }' "$T_DIR/samples")"

t=$(curl -s -o "$T_DIR/creds.json" -w '%{time_total}' --unix-socket "$SOCK" http://localhost/v1/credentials)
echo "# GET /v1/credentials: $t s, $(wc -c <"$T_DIR/creds.json") bytes"
t=$(curl -s -o "$T_DIR/metrics.txt" -w '%{time_total}' --unix-socket "$SOCK" http://localhost/metrics)
echo "# GET /metrics: $t s, $(wc -c <"$T_DIR/metrics.txt") bytes"

# A reload with one credential changed: that one renews, no other.
# VmHWM misses a peak that malloc_trim gives back with madvise, so the
# reload's RSS is sampled every millisecond until READY=1 comes.
hwm_start=$(proc_kb "$TBD_PID" VmHWM)
before=$(metric_sum tokenbroker_renewals_total 's00007"')
write_scale_conf 7
perl -e '
	my ($pid, $log) = @ARGV;
	my $max = 0;
	for (my $i = 0; $i < 10000; $i++) {
		open(my $f, "<", "/proc/$pid/status") or last;
		while (<$f>) { $max = $1 if /^VmRSS:\s+(\d+)/ && $1 > $max; }
		close($f);
		last if $i % 10 == 0 && `grep -c "READY=1" $log` >= 2;
		select(undef, undef, undef, 0.001);
	}
	print "$max\n";' "$TBD_PID" "$T_DIR/notify.log" >"$T_DIR/reload-rss" &
SAMPLER=$!
sleep 0.05
kill -HUP "$TBD_PID"
wait_until 100 '[ -n "$(notify_ms READY=1 2)" ]'
wait "$SAMPLER"
reloading=$(notify_ms RELOADING=1)
ready2=$(notify_ms READY=1 2)
echo "# reload with $NCREDS credentials, one changed: RELOADING=1 to READY=1 in" \
	"$((${ready2:-0} - ${reloading:-0})) ms"
wait_until 100 '[ "$(metric_sum tokenbroker_renewals_total "s00007\"")" -gt "$before" ]'
cmp_ok "$(metric_sum tokenbroker_renewals_total 's00007"')" -gt "$before" \
	"after the reload the changed credential renewed"
notices=$(grep -c 'settings changed' "$T_DIR/daemon.log")
is "$notices" 1 "and it alone had its settings changed"

rss_run=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$T_DIR/samples")
cmp_ok "$rss_run" -lt "$RSS_MAX_KB" \
	"RSS while renewing under $((RSS_MAX_KB / 1024)) MiB (at most $rss_run kB)"
rss_reload=$(cat "$T_DIR/reload-rss")
cmp_ok "${rss_reload:-999999999}" -lt "$RSS_MAX_KB" \
	"RSS during the reload under $((RSS_MAX_KB / 1024)) MiB (at most $rss_reload kB)"
echo "# peak RSS (VmHWM): $hwm_start kB before the reload; at the end $(proc_kb "$TBD_PID" VmRSS) kB"

if [ -n "${SCALE_KEEP:-}" ]; then
	mkdir -p "$SCALE_KEEP"
	cp "$T_DIR/samples" "$T_DIR/daemon.log" "$T_DIR/notify.log" "$SCALE_KEEP/"
fi
tbd_stop
is $? 0 "SIGTERM: exit status 0"
kill "$NL_PID" 2>/dev/null
wait "$NL_PID" 2>/dev/null
done_testing
