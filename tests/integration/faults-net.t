#!/bin/bash
# The token endpoint unreachable or misbehaving on the wire, all at once
# against one daemon, each credential behind a faultsrv of its own in front
# of one fakeidp: connection refused, a name that does not resolve
# (.invalid), a connect that times out (a full accept queue: works on
# loopback with no network), a server that accepts and never answers, one
# that stops after the headers, one that answers a byte a second, and
# answers cut off mid-body by FIN and by RST.  For each: the token it had
# is served until min_valid before its expiry and never after, then 503;
# the attempts follow the backoff (counted at the upstream, as SYNs where
# no connection gets through); last_error names the cause; it recovers
# when the upstream does.  A healthy credential beside them keeps
# renewing; the daemon's memory stays bounded and it exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"

W=14	# seconds of fault watched; the tokens live 10
FAULTS="refused slowconnect blackhole stall trickle cut reset"
declare -A MODE=([refused]=refuse [slowconnect]=backlog [blackhole]=blackhole [stall]=stall
	[trickle]=trickle [cut]=cut [reset]=reset)
# How long an attempt takes to fail: connect_timeout, timeout, or at once.
declare -A TAKES=([refused]=0 [slowconnect]=1 [blackhole]=2 [stall]=2 [trickle]=2 [cut]=0
	[reset]=0)
# What the upstream counts: attempts that never connect only show as SYNs.
declare -A COUNTER=([refused]=syns [slowconnect]=syns [blackhole]=connections
	[stall]=connections [trickle]=connections [cut]=connections [reset]=connections)
declare -A CAUSE=(
	[refused]='^Failed to connect to 127\.0\.0\.1 port [0-9]+ .*\(Connection refused\)$'
	[slowconnect]='no connection within 1s'
	[blackhole]='^no answer within 2s'
	[stall]='^HTTP 200, then: no answer within 2s'
	[trickle]='^no answer within 2s'
	[cut]='^HTTP 200, then: transfer closed with [0-9]+ bytes remaining'
	[reset]='^HTTP 200, then: .*[Rr]eset by peer'
)

fault_on() { fault "F_$1" "reset=1&mode=${MODE[$1]}"; }
fault_off() { fault "F_$1" mode=pass; }
fault_issuer() { :; }
fault_attempts() { fault_stat "F_$1" "${COUNTER[$1]}"; }
fault_bounds() { rate_bounds "$2" "${TAKES[$1]}" 1 2; }
fault_cause() { echo "${CAUSE[$1]}"; }

idp_start --lifetime 10
for f in $FAULTS; do
	faultsrv_start "F_$f" "$IDP_PORT"
done
fport() { local v="F_${1}_PORT"; echo "${!v}"; }

faults_daemon <<EOF_CONF
$(for f in $FAULTS; do fcred "$f" "http://127.0.0.1:$(fport "$f")/token"; done)
$(fcred dns https://tokenbroker-fault-test.invalid/token "lazy = yes")
EOF_CONF

faults_watch "$W" dns
faults_checks

# No name to resolve: nothing upstream to count, the daemon's failures are.
is "${W200[dns]:-0}" 0 "dns: no token was ever served"
fails=$(cred_field dns failures)
read -r lo hi <<<"$(rate_bounds "$WINDOW" 0 1 2)"
echo "# dns: $fails failures in ${WINDOW}s"
ok $(( fails < lo || fails > hi )) "dns: the attempts follow the backoff ($fails, within $lo..$hi)"
like "$(cred_field dns last_error)" 'resolve.*tokenbroker-fault-test\.invalid' \
	"dns: last_error says the name does not resolve"

faults_end
