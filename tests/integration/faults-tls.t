#!/bin/bash
# HTTPS to the token endpoint going bad, all at once against one daemon:
# each credential reaches a fakeidp with a good certificate through a
# faultsrv of its own, which then relays to one whose certificate was
# signed by another CA, has expired, or names another host.  For each: the
# token it had is served until min_valid before its expiry and never after,
# then 503; the attempts follow the backoff; last_error names the
# certificate's problem; it recovers when the good certificate is back.  A
# healthy credential beside them keeps renewing; the daemon exits 0.
# (tls.t has a self-signed certificate that is not trusted, and
# tls_verify = no.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"

W=14	# seconds of fault watched; the tokens live 10
FAULTS="wrongca expired mismatch"
declare -A CAUSE=(
	[wrongca]='SSL certificate problem: unable to get local issuer certificate'
	[expired]='SSL certificate problem: certificate has expired'
	[mismatch]="no alternative certificate subject name matches target host name '127\\.0\\.0\\.1'"
)

# Two CAs ($T_DIR/ca.pem is the one the daemon trusts, and idp_at too), and
# their certificates (faults.sh: ca_make, cert_make).
cert_begin
{
	ca_make ca && ca_make otherca &&
		cert_make good ca "$SAN" "$START" "$END" &&
		cert_make wrongca otherca "$SAN" "$START" "$END" &&
		cert_make expired ca "$SAN" 20200101000000Z 20200102000000Z &&
		cert_make mismatch ca DNS:other.example "$START" "$END"
} || { echo "Bail out! cannot make the test certificates"; exit 1; }

fault_on() { fault "F_$1" "reset=1&to=$(badport "$1")"; }
fault_off() { fault "F_$1" "to=$GOOD_PORT"; }
fault_issuer() { echo GOOD; }
fault_attempts() { fault_stat "F_$1" connections; }
fault_bounds() { rate_bounds "$2" 0 1 2; }
fault_cause() { echo "${CAUSE[$1]}"; }

idp_start_named GOOD --lifetime 10 --tls-cert "$T_DIR/good.pem" --tls-key "$T_DIR/good.key"
for f in $FAULTS; do
	idp_start_named "BAD_$f" --lifetime 10 --tls-cert "$T_DIR/$f.pem" --tls-key "$T_DIR/$f.key"
	faultsrv_start "F_$f" "$GOOD_PORT"
done
fport() { local v="F_${1}_PORT"; echo "${!v}"; }
badport() { local v="BAD_${1}_PORT"; echo "${!v}"; }

faults_daemon <<EOF_CONF
$(for f in $FAULTS; do fcred "$f" "https://127.0.0.1:$(fport "$f")/token" "ca_file = $T_DIR/ca.pem"; done)
EOF_CONF

faults_watch "$W"
faults_checks
faults_end
