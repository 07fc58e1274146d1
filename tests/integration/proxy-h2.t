#!/bin/bash
# A proxy to an upstream that speaks HTTP/2 over TLS (Debian's nginx): the
# proxy talks HTTP/2 to it, and requests at once share the connection.
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "1..0 # SKIP no nginx (apt-get install nginx)"; exit 0; }
plan 5
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" >/dev/null 2>&1 ||
	{ echo "Bail out! cannot make a test certificate"; exit 1; }
idp_start --lifetime 3600
# The answer says which protocol the request came in and whether it had a
# bearer token; a request without one is refused, as an API would.
nginx_start http2 "$T_DIR/cert.pem" "$T_DIR/key.pem" '
		location / {
			if ($http_authorization !~ "^Bearer .") { return 401; }
			default_type text/plain;
			return 200 "$server_protocol $uri\n";
		}'
H2_PORT=$NGINX_PORT
PX_PORT=$(free_port "$H2_PORT")
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred main)
[proxy "h2"]
listen = 127.0.0.1:$PX_PORT
credential = main
upstream = https://127.0.0.1:$H2_PORT/api
ca_file = $T_DIR/cert.pem
EOF_CONF
tbd_start_conf "$T_DIR/tb.conf"
wait_for 50 port_open "$PX_PORT"

is "$(curl -s -m 10 "http://127.0.0.1:$PX_PORT/x")" "HTTP/2.0 /api/x" \
	"the upstream got the request over HTTP/2, with the token"
is "$(curl -s -m 10 -o /dev/null -w '%{http_version}' "http://127.0.0.1:$PX_PORT/x")" 1.1 \
	"the client still talks HTTP/1.1 to the proxy"
pids=
for i in $(seq 10); do
	curl -s -m 10 -o "$T_DIR/r$i" -w "%{http_code}\n" "http://127.0.0.1:$PX_PORT/p$i" >"$T_DIR/c$i" &
	pids="$pids $!"
done
# shellcheck disable=SC2086 # one pid a word
wait $pids
is "$(cat "$T_DIR"/r* | grep -c '^HTTP/2.0 /api/p')" 10 "10 requests at once all answered over HTTP/2"
[ "$T_FAILED" = 0 ] || for i in $(seq 10); do echo "# $i: $(cat "$T_DIR/c$i") $(head -c 300 "$T_DIR/r$i")"; done
# One connection carries them: HTTP/2 multiplexes (nginx sees one TLS peer).
conns=$(ss -tnH state established "( dport = :$H2_PORT )" | wc -l)
cmp_ok "$conns" -le 2 "over at most two connections to the upstream ($conns)"
tbd_stop
is $? 0 "SIGTERM: exit status 0"
