#!/bin/bash
# A proxy to an HTTPS upstream: its TLS settings are the proxy's own.
# fakeidp over TLS stands in for the API (its /stats needs no token); the
# proxy trusts it through ca_file, refuses it without (502, naming the
# host and a certificate problem), and tls_verify = no goes through.
. "$(dirname "$0")/lib.sh"

plan 7
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" >/dev/null 2>&1 ||
	{ echo "Bail out! cannot make a test certificate"; exit 1; }
idp_start --lifetime 3600 --tls-cert "$T_DIR/cert.pem" --tls-key "$T_DIR/key.pem"
IDP_URL=https://127.0.0.1:$IDP_PORT
P1=$(free_port)
P2=$(free_port "$P1")
P3=$(free_port "$P1" "$P2")
upstream_to() { # upstream_to NAME PORT [extra...]: a proxy in front of fakeidp
	local name=$1 port=$2
	shift 2
	printf '[proxy "%s"]\nlisten = 127.0.0.1:%s\ncredential = main\nupstream = %s\n' \
		"$name" "$port" "$IDP_URL"
	for kv in "$@"; do printf '%s\n' "$kv"; done
	printf '\n'
}
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main "ca_file = $T_DIR/cert.pem")
$(upstream_to trusted "$P1" "ca_file = $T_DIR/cert.pem")
$(upstream_to untrusted "$P2")
$(upstream_to unverified "$P3" "tls_verify = no")
EOF_CONF
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$P3"

out=$(curl -s -m 10 -D "$T_DIR/h1" "http://127.0.0.1:$P1/stats")
is "$(head -n 1 "$T_DIR/h1" | cut -d' ' -f2)" 200 "ca_file: the HTTPS upstream is reached"
like "$out" '"requests"' "and its answer comes back"
out=$(curl -s -m 10 -D "$T_DIR/h2" "http://127.0.0.1:$P2/stats")
is "$(head -n 1 "$T_DIR/h2" | cut -d' ' -f2)" 502 "an upstream certificate not trusted: 502"
like "$out" "127\\.0\\.0\\.1" "naming the upstream host"
like "$out" '[Cc]ertificate|SSL|TLS' "and the TLS problem"
is "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P3/stats")" 200 \
	"tls_verify = no: reached without checking"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
