#!/bin/bash
# Against a real authorization server: oidc-provider (tests/oidc, installed
# by `make deps`), its client credentials grant and its token
# introspection.  Each client authentication method the daemon speaks gets
# a token that the server itself then calls active: client secrets (Basic,
# post), private_key_jwt with an RSA and an EC key (a renewal is accepted
# too, which the server refuses for an assertion whose jti it has seen),
# and tls_client_auth over HTTPS with a client certificate.  Skipped
# without Node.js or the npm packages.
. "$(dirname "$0")/../integration/lib.sh"
oidc_require

SECRET=oidc-secret-$RANDOM$RANDOM$RANDOM$RANDOM-$RANDOM$RANDOM$RANDOM
# private_key_jwt, once the daemon has it: keys, their public JWKs.
jwt=no
printf '[credential "x"]\ntoken_url = http://127.0.0.1:1/t\nauth_method = private_key_jwt\nclient_id = x\nclient_key = %s\n' \
	"$T_DIR/rsa.pem" >"$T_DIR/probe.conf"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T_DIR/rsa.pem" 2>/dev/null &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T_DIR/ec.pem" 2>/dev/null &&
	chmod 600 "$T_DIR/rsa.pem" "$T_DIR/ec.pem" &&
	"$TBD" -c "$T_DIR/probe.conf" --check-config >/dev/null 2>&1 && jwt=yes
jwk() { # jwk PEM KID: the public half as a JWK
	node -e 'const c = require("crypto");
		const k = c.createPublicKey(require("fs").readFileSync(process.argv[1])).export({ format: "jwk" });
		k.kid = process.argv[2]; process.stdout.write(JSON.stringify(k));' "$1" "$2"
}
# A CA, the server's certificate, and a client certificate it signed.
make_test_ca
openssl req -newkey rsa:2048 -nodes -subj /CN=tb-client -keyout "$T_DIR/client.key" \
	-out "$T_DIR/client.csr" >/dev/null 2>&1 &&
	openssl x509 -req -in "$T_DIR/client.csr" -CA "$T_DIR/ca.pem" -CAkey "$T_DIR/ca.key" \
		-CAcreateserial -days 2 -out "$T_DIR/client.pem" >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=someone-else -keyout "$T_DIR/other.key" \
		-out "$T_DIR/other.csr" >/dev/null 2>&1 &&
	openssl x509 -req -in "$T_DIR/other.csr" -CA "$T_DIR/ca.pem" -CAkey "$T_DIR/ca.key" \
		-CAcreateserial -days 2 -out "$T_DIR/other.pem" >/dev/null 2>&1 &&
	chmod 600 "$T_DIR/client.key" "$T_DIR/other.key" ||
	{ echo "Bail out! cannot make test certificates"; exit 1; }
{
	printf '[{"client_id":"basic","client_secret":"%s","token_endpoint_auth_method":"client_secret_basic"}' "$SECRET"
	printf ',{"client_id":"mtls","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=tb-client"}'
	printf ',{"client_id":"post","client_secret":"%s","token_endpoint_auth_method":"client_secret_post"}' "$SECRET"
	if [ "$jwt" = yes ]; then
		printf ',{"client_id":"jwt-rsa","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[%s]}}' \
			"$(jwk "$T_DIR/rsa.pem" rsa1)"
		printf ',{"client_id":"jwt-ec","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[%s]}}' \
			"$(jwk "$T_DIR/ec.pem" ec1)"
	fi
	printf ']\n'
} >"$T_DIR/clients.json"

oidc_start "$T_DIR/clients.json" \
	"$T_DIR/server.pem" "$T_DIR/server.key" "$T_DIR/ca.pem" "$T_DIR/oidc-tls.port"
TLS_PORT=$(port_file_wait "$T_DIR/oidc-tls.port")
[ -n "$TLS_PORT" ] ||
	{ sed 's/^/# /' "$T_DIR/oidc.log"; echo "Bail out! oidc-provider did not start HTTPS"; exit 1; }

oidc_cred() { # oidc_cred NAME CLIENT-ID [extra...]
	local name=$1 id=$2
	shift 2
	printf '[credential "%s"]\ntoken_url = %s/token\nclient_id = %s\nscope = read\n' \
		"$name" "$ISSUER" "$id"
	for kv in "$@"; do printf '%s\n' "$kv"; done
	printf '\n'
}
printf '%s\n' "$SECRET" >"$T_DIR/secret"
chmod 600 "$T_DIR/secret"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(oidc_cred basic basic "client_secret_file = $T_DIR/secret")
$(oidc_cred post post "client_secret_file = $T_DIR/secret" "auth_method = client_secret_post")
$(oidc_cred res basic "client_secret_file = $T_DIR/secret" "resource = https://api.example.com/")
[credential "disc"]
issuer = $ISSUER
client_id = basic
client_secret_file = $T_DIR/secret
scope = read

[credential "mtls"]
token_url = https://127.0.0.1:$TLS_PORT/token
client_id = mtls
scope = read
auth_method = tls_client_auth
ca_file = $T_DIR/ca.pem
client_cert = $T_DIR/client.pem
client_key = $T_DIR/client.key

[credential "mtls-other"]
token_url = https://127.0.0.1:$TLS_PORT/token
client_id = mtls
auth_method = tls_client_auth
ca_file = $T_DIR/ca.pem
client_cert = $T_DIR/other.pem
client_key = $T_DIR/other.key
lazy = yes
backoff_min = 30s

$([ "$jwt" = yes ] && oidc_cred jwt-rsa jwt-rsa "auth_method = private_key_jwt" \
	"client_key = $T_DIR/rsa.pem" "assertion_kid = rsa1")
$([ "$jwt" = yes ] && oidc_cred jwt-ec jwt-ec "auth_method = private_key_jwt" \
	"client_key = $T_DIR/ec.pem" "assertion_kid = ec1")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

# active NAME: what the server's introspection says of NAME's token now
# ("true CLIENT SCOPE"); the token itself is never printed.
active() {
	local tok
	tok=$("$TBCTL" -s "$SOCK" token "$1" --wait 10 2>/dev/null) || { echo "no token"; return; }
	oidc_introspect "basic:$SECRET" "$tok"
}

if [ "$jwt" = yes ]; then plan 14; else plan 9; fi
is "$(active basic)" "true basic read" "client_secret_basic: oidc-provider issued the token and calls it active"
is "$(active post)" "true post read" "client_secret_post: the same"
is "$(active disc)" "true basic read" \
	"issuer alone: the token endpoint from oidc-provider's discovery document"
like "$(grep 'credential disc: token endpoint' "$T_DIR/daemon.log")" \
	"token endpoint $ISSUER/token, from $ISSUER/.well-known/openid-configuration" \
	"the one it publishes at /.well-known/openid-configuration"
is "$(active mtls)" "true mtls read" "tls_client_auth: over HTTPS, the client certificate authenticates"
tok=$("$TBCTL" -s "$SOCK" token res --wait 10 2>/dev/null)
like "$(curl -s -m 10 -u "basic:$SECRET" --data-urlencode "token=$tok" "$ISSUER/token/introspection")" \
	'"aud":"https://api\.example\.com/"' "resource (RFC 8707): the token is for that resource"
"$TBCTL" -s "$SOCK" token mtls-other --wait 10 >/dev/null 2>&1
is $? 69 "a certificate of another subject is refused by the server (exit 69)"
like "$(grep 'credential mtls-other: .*failed' "$T_DIR/daemon.log" | head -n 1)" 'invalid_client' \
	"as invalid_client"
if [ "$jwt" = yes ]; then
	is "$(active jwt-rsa)" "true jwt-rsa read" "private_key_jwt with an RSA key (RS256, kid)"
	is "$(active jwt-ec)" "true jwt-ec read" "private_key_jwt with an EC P-256 key (ES256, kid)"
	for c in jwt-rsa jwt-ec; do
		old=$("$TBCTL" -s "$SOCK" token "$c")
		"$TBCTL" -s "$SOCK" renew "$c" >/dev/null 2>&1
		new=$("$TBCTL" -s "$SOCK" token "$c")
		ok "$([ -n "$new" ] && [ "$new" != "$old" ]; echo $?)" \
			"$c: a renewal is accepted (a fresh jti: the server refuses one it has seen)"
	done
fi
found=0
for f in "$T_DIR/daemon.log" "$T_DIR/oidc.log"; do
	grep -qF -- "$SECRET" "$f" && found=1
	grep -q 'PRIVATE KEY' "$f" && found=1
done
is "$found" 0 "neither the secret nor a private key is in the daemon's log"
[ "$jwt" = yes ] && { tbd_stop; is $? 0 "SIGTERM: exit status 0"; }
done_testing
