#!/bin/bash
# The token endpoint answering with an error status, all at once against
# one daemon, each credential with a fakeidp of its own: 500, 502, 503 and
# 504; 429 with a Retry-After in seconds and as an HTTP-date; and one that
# flips between success and failure.  For each failing one: the token it
# had is served until min_valid before its expiry and never after, then
# 503; the attempts follow the backoff, or the Retry-After where there is
# one (fewer than the backoff alone would make); last_error names the
# status; it recovers when the upstream does.  The flapping one is served
# at every poll, never a token that is not valid with min_valid left.
# (retryafter.t has 503 with Retry-After and renew against it; outage.t
# the 503 answer's own Retry-After.)  A healthy credential beside them
# keeps renewing; the daemon exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"

W=14	# seconds of fault watched; the tokens live 10
RA=4	# the Retry-After the 429s carry
FAULTS="s500 s502 s503 s504 ra429 date429"
declare -A CONTROL=([s500]=fail=500 [s502]=fail=502 [s503]=fail=503 [s504]=fail=504
	[ra429]="fail=429&retry_after=$RA" [date429]="fail=429&retry_after=$RA&retry_after_date=1")
# The wait between attempts: the backoff, or the Retry-After (an HTTP-date
# has whole seconds: it may come up to a second early).
declare -A WAIT_MIN=([s500]=1 [s502]=1 [s503]=1 [s504]=1 [ra429]=$RA [date429]=$((RA - 1)))
declare -A WAIT_MAX=([s500]=2 [s502]=2 [s503]=2 [s504]=2 [ra429]=$RA [date429]=$RA)

up() { echo "IDP_$1" | tr '[:lower:]' '[:upper:]'; }
fault_on() { idp_at "$(up "$1")" "/control?reset=1&${CONTROL[$1]}" | grep -q '"ok": *true'; }
fault_off() { idp_at "$(up "$1")" /control?reset=1 | grep -q '"ok": *true'; }
fault_issuer() { up "$1"; }
fault_attempts() { idp_stat_at "$(up "$1")" requests; }
fault_bounds() { rate_bounds "$2" 0 "${WAIT_MIN[$1]}" "${WAIT_MAX[$1]}"; }
fault_cause() { local s=${CONTROL[$1]#fail=}; echo "^HTTP ${s%%&*}: "; }

for f in $FAULTS; do
	idp_start_named "$(up "$f")" --lifetime 10
done
idp_start_named IDP_FLAP --lifetime 8
url_of() { local v="$(up "$1")_URL"; echo "${!v}"; }

faults_daemon <<EOF_CONF
$(for f in $FAULTS flap; do fcred "$f" "$(url_of "$f")/token"; done)
EOF_CONF

api '/v1/tokens/flap?wait=10' >/dev/null
watch_introspect flap IDP_FLAP
flap_renewals=$(cred_field flap renewals)
# Every other token request fails from now on, the first one not.
idp_at IDP_FLAP '/control?reset=1&flap=1' | grep -q '"ok": *true' || echo "# cannot set flap"
faults_watch "$W" flap
faults_checks

# The flapping upstream: renewals and failures in turn, never a lapse.
# The three counts, read while no request started (the endpoint's count the
# same before and after): a request that started and ended between the
# reads would otherwise count on one side only.
for _ in 1 2 3 4 5; do
	n=$(idp_stat_at IDP_FLAP requests)
	fails=$(cred_field flap failures)
	renewed=$(( $(cred_field flap renewals) - flap_renewals ))
	[ "$(idp_stat_at IDP_FLAP requests)" = "$n" ] && break
done
echo "# flap: $n requests, $renewed renewals, $fails failures in ${WINDOW}s"
is "${W503[flap]:-0}/${WOTHER[flap]:-0}" 0/0 "flap: served at every poll (${W200[flap]:-0} times)"
is "${WSTALE[flap]:-0}" 0 "flap: every token served was valid with min_valid left"
cmp_ok "$fails" -ge 1 "flap: some renewals failed ($fails)"
cmp_ok "$renewed" -ge 2 "flap: and the next ones succeeded ($renewed)"
ok $(( n != renewed + fails && n != renewed + fails + 1 )) \
	"flap: one request for each ($n), no more: no retry loop"

faults_end
