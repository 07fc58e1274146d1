#!/bin/bash
# HTTPS to the token endpoint: trusted through ca_file, refused when the
# certificate is not trusted, and tls_verify = no works with a warning.
. "$(dirname "$0")/lib.sh"

plan 6
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" >/dev/null 2>&1 ||
	{ echo "Bail out! cannot make a test certificate"; exit 1; }
idp_start --lifetime 3600 --tls-cert "$T_DIR/cert.pem" --tls-key "$T_DIR/key.pem"
HTTPS=https://127.0.0.1:$IDP_PORT
IDP_URL=$HTTPS
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred trusted "ca_file = $T_DIR/cert.pem")
$(cred untrusted "lazy = yes" "backoff_min = 5s")
$(cred unverified "lazy = yes" "tls_verify = no")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

tok=$(api '/v1/tokens/trusted?wait=10' -H 'Accept: text/plain')
act=$(curl -s -m 5 --cacert "$T_DIR/cert.pem" "$HTTPS/introspect?token=$tok" | json_field active)
is "$act" true "ca_file: a token over HTTPS"
is "$(api_code '/v1/tokens/untrusted?wait=10')" 503 "an untrusted certificate: no token"
like "$(api /v1/credentials)" '"name":"untrusted"[^}]*"last_error":"[^"]*(certificate|SSL)' \
	"last_error says the certificate is the problem"
is "$(api_code '/v1/tokens/unverified?wait=10')" 200 "tls_verify = no: a token"
grep -q "unverified: tls_verify = no" "$T_DIR/daemon.log"
ok $? "tls_verify = no is warned about"
printf '[credential "x"]\ntoken_url = https://127.0.0.1:1/t\nauth_method = none\nca_file = %s\n' \
	"$T_DIR/nonexistent.pem" >"$T_DIR/bad.conf"
chmod 600 "$T_DIR/bad.conf"
out=$("$TBD" --check-config -c "$T_DIR/bad.conf" 2>&1)
like "$out" "bad.conf:4: ca_file" "a missing ca_file is a configuration error"
done_testing
