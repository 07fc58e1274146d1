#!/bin/bash
# Client authentication without a secret, checked on the wire by fakeidp:
# private_key_jwt (RS256, PS256, ES256; a new jti at every renewal),
# client_assertion (the file read again at every request; a missing file is
# a failed renewal that names it), tls_client_auth (a client certificate
# fakeidp verifies), --test's account of the claims, and neither the key,
# nor an assertion, nor a token in any log or output.
. "$(dirname "$0")/lib.sh"

plan 38

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# sign_jwt KEY AUD: a client assertion for it-client, signed RS256 in the shell.
sign_jwt() {
	local now h c s
	now=$(date +%s)
	h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
	c=$(printf '{"iss":"it-client","sub":"it-client","aud":"%s","jti":"%s","iat":%d,"exp":%d}' \
		"$2" "$(openssl rand -hex 16)" $((now - 5)) $((now + 600)) | b64url)
	s=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$1" -binary | b64url)
	printf '%s.%s.%s' "$h" "$c" "$s"
}

fp() { printf '%s' "$1" | sha256sum | cut -c1-6; }

# stat_str NAME [FIELD]: a string field of fakeidp NAME's /stats.
stat_str() { idp_at "$1" /stats | sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p"; }

umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T_DIR/rsa.key" 2>/dev/null
openssl pkey -in "$T_DIR/rsa.key" -pubout -out "$T_DIR/rsa.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T_DIR/ec.key" 2>/dev/null
openssl pkey -in "$T_DIR/ec.key" -pubout -out "$T_DIR/ec.pub" 2>/dev/null
make_test_ca
openssl req -newkey rsa:2048 -nodes -subj /CN=it-client -keyout "$T_DIR/client.key" \
	-out "$T_DIR/client.csr" >/dev/null 2>&1
openssl x509 -req -in "$T_DIR/client.csr" -CA "$T_DIR/ca.pem" -CAkey "$T_DIR/ca.key" \
	-CAcreateserial -days 2 -out "$T_DIR/client.pem" >/dev/null 2>&1
openssl req -x509 -key "$T_DIR/rsa.key" -subj /CN=it-client -days 2 -out "$T_DIR/rsa.pem" \
	>/dev/null 2>&1
chmod 600 "$T_DIR"/*.key

idp_start_named rsa --client-public-key "$T_DIR/rsa.pub"
idp_start_named ec --client-public-key "$T_DIR/ec.pub"
idp_start_named mtls --tls-cert "$T_DIR/server.pem" --tls-key "$T_DIR/server.key" \
	--client-ca "$T_DIR/ca.pem" --client-public-key "$T_DIR/rsa.pub"

# --- fakeidp itself refuses a replayed jti ---------------------------------
jwt=$(sign_jwt "$T_DIR/rsa.key" "$rsa_URL/token")
post() { curl -s -m 5 "$rsa_URL/token" -d grant_type=client_credentials \
	-d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
	--data-urlencode "client_assertion=$1"; }
like "$(post "$jwt")" '"access_token"' "fakeidp takes an assertion signed with the key"
like "$(post "$jwt")" 'invalid_client.*jti replayed' "and refuses it the second time (400 invalid_client)"

printf '%s\n' "$(sign_jwt "$T_DIR/rsa.key" "$rsa_URL/token")" >"$T_DIR/sa.jwt"
first_file_jwt=$(cat "$T_DIR/sa.jwt")
write_conf "$T_DIR/tb.conf" <<EOF_CONF
[credential "rsa"]
token_url = $rsa_URL/token
auth_method = private_key_jwt
client_id = it-client
client_key = $T_DIR/rsa.key
assertion_kid = key-1
lazy = yes

[credential "x5t"]
token_url = $rsa_URL/token
auth_method = private_key_jwt
client_id = it-client
client_key = $T_DIR/rsa.key
client_cert = $T_DIR/rsa.pem
assertion_kid = x5t
backoff_min = 1s
lazy = yes

[credential "ps"]
token_url = $rsa_URL/token
auth_method = private_key_jwt
client_id = it-client
client_key = $T_DIR/rsa.key
assertion_alg = PS256
assertion_lifetime = 30s
lazy = yes

[credential "ec"]
token_url = $ec_URL/token
auth_method = private_key_jwt
client_id = it-client
client_key = $T_DIR/ec.key
lazy = yes

[credential "file"]
token_url = $rsa_URL/token
auth_method = client_assertion
client_assertion_file = $T_DIR/sa.jwt
backoff_min = 1s
lazy = yes

[credential "jwttls"]
token_url = $mtls_URL/token
auth_method = private_key_jwt
client_id = it-client
client_key = $T_DIR/rsa.key
ca_file = $T_DIR/ca.pem
lazy = yes

[credential "mtls"]
token_url = $mtls_URL/token
auth_method = tls_client_auth
client_id = it-client
ca_file = $T_DIR/ca.pem
client_cert = $T_DIR/client.pem
client_key = $T_DIR/client.key
lazy = yes
EOF_CONF
tbd_start_conf "$T_DIR/tb.conf"

# --- private_key_jwt -------------------------------------------------------
tokens=()
t1=$(api '/v1/tokens/rsa?wait=10' -H 'Accept: text/plain')
tokens+=("$t1")
like "$t1" '^fk_' "private_key_jwt RS256: a token"
is "$(stat_str rsa auth)" assertion "fakeidp saw an assertion, no secret"
is "$(stat_str rsa assertion_alg)/$(stat_str rsa assertion_kid)" RS256/key-1 "alg RS256 and the kid"
is "$(idp_stat_at rsa assertion_jti_unique)" true "its jti was new"
is "$(stat_str rsa assertion_aud)" "$rsa_URL/token" "aud is the token_url, as a string"
fp1=$(stat_str rsa assertion_fp)
n1=$(idp_stat_at rsa assertions)

out=$("$TBCTL" -s "$SOCK" renew rsa 2>&1)
is $? 0 "tokenctl renew rsa"
printf '%s\n' "$out" >>"$T_DIR/answers"
t2=$(api '/v1/tokens/rsa?wait=10' -H 'Accept: text/plain')
tokens+=("$t2")
ok "$([ -n "$t2" ] && [ "$t2" != "$t1" ]; echo $?)" "a second token after the renewal"
is "$(idp_stat_at rsa assertions)" $((n1 + 1)) "fakeidp accepted a second assertion"
is "$(idp_stat_at rsa assertion_jti_unique)" true "with a jti it had not seen"
fp2=$(stat_str rsa assertion_fp)
ok "$([ -n "$fp2" ] && [ "$fp1" != "$fp2" ]; echo $?)" "and it was a new assertion ($fp1, $fp2)"

# A failed attempt and its retry: the retry's assertion has a new jti.
t=$(api '/v1/tokens/x5t?wait=10' -H 'Accept: text/plain')
tokens+=("$t")
x5t=$(openssl x509 -in "$T_DIR/rsa.pem" -outform DER | openssl dgst -sha256 -binary | b64url)
is "$(stat_str rsa assertion_x5t)" "$x5t" "assertion_kid = x5t: x5t#S256 of client_cert"
is "$(stat_str rsa assertion_kid)" "" "and no kid"
n1=$(idp_stat_at rsa assertions)
idp_at rsa '/control?fail_count=1' >/dev/null
"$TBCTL" -s "$SOCK" renew x5t >>"$T_DIR/answers" 2>&1
# The renewal fails (503) while the current token is still served; the
# retry follows backoff_min later.
wait_until 50 '[ "$(idp_stat_at rsa assertions)" -ge $((n1 + 2)) ]'
is "$(idp_stat_at rsa assertions)/$(idp_stat_at rsa assertion_jti_unique)" $((n1 + 2))/true \
	"a failed attempt and its retry: the retry's assertion had a jti fakeidp had not seen"
wait_until 20 '[ "$(api "/v1/tokens/x5t?wait=5" -H "Accept: text/plain")" != "$t" ]'
t2=$(api '/v1/tokens/x5t?wait=5' -H 'Accept: text/plain')
tokens+=("$t2")
ok "$([ -n "$t2" ] && [ "$t2" != "$t" ]; echo $?)" "and the retry got the new token"

t=$(api '/v1/tokens/ps?wait=10' -H 'Accept: text/plain')
tokens+=("$t")
like "$t" '^fk_' "private_key_jwt PS256: a token"
is "$(stat_str rsa assertion_alg)" PS256 "signed PS256"

t=$(api '/v1/tokens/ec?wait=10' -H 'Accept: text/plain')
tokens+=("$t")
like "$t" '^fk_' "private_key_jwt ES256: a token"
is "$(stat_str ec assertion_alg)" ES256 "signed ES256 (fakeidp verified R||S)"

# --- client_assertion: the file is read at every request ---------------------
t=$(api '/v1/tokens/file?wait=10' -H 'Accept: text/plain')
tokens+=("$t")
like "$t" '^fk_' "client_assertion: a token"
is "$(stat_str rsa assertion_fp)" "$(fp "$first_file_jwt")" "fakeidp saw the file's assertion"
second_file_jwt=$(sign_jwt "$T_DIR/rsa.key" "$rsa_URL/token")
printf '%s\n' "$second_file_jwt" >"$T_DIR/sa.jwt"
"$TBCTL" -s "$SOCK" renew file >>"$T_DIR/answers" 2>&1
is "$(stat_str rsa assertion_fp)" "$(fp "$second_file_jwt")" "after a rewrite and a renewal: the new one"
is "$(idp_stat_at rsa assertion_ok)" true "and accepted it"

"$TBD" -c "$T_DIR/tb.conf" --test file >"$T_DIR/test.out" 2>&1
like "$(cat "$T_DIR/test.out")" "assertion: +read from $T_DIR/sa.jwt, modified [0-9]+[a-z]* ago" \
	"--test: which file was read, and its age"
# The file's assertion was used by the renewal: fakeidp takes a jti once.
like "$(cat "$T_DIR/test.out")" "jti replayed" "--test: a reused assertion is refused"
like "$(cat "$T_DIR/test.out")" "hint: +the server refused the assertion from client_assertion_file" \
	"with a hint about the assertion, not the secret"

# Over HTTPS, client_key without client_cert only signs: no TLS client auth.
t=$(api '/v1/tokens/jwttls?wait=10' -H 'Accept: text/plain')
tokens+=("$t")
like "$t" '^fk_' "private_key_jwt over HTTPS: a token"
is "$(stat_str mtls auth)/$(stat_str mtls assertion_aud)/$(idp_stat_at mtls tls_client_cert)" \
	"assertion/$mtls_URL/token/false" "aud is the https token_url; no client certificate was sent"

# --- --test for private_key_jwt: the claims, never the assertion ---------------
"$TBD" -c "$T_DIR/tb.conf" --test rsa >>"$T_DIR/test.out" 2>&1
out=$(cat "$T_DIR/test.out")
like "$out" "iss, sub: +it-client" "--test shows iss and sub"
like "$out" "aud: +$rsa_URL/token" "--test shows aud"
like "$out" "kid: +key-1" "--test shows the kid"

rm "$T_DIR/sa.jwt"
"$TBCTL" -s "$SOCK" renew file >>"$T_DIR/answers" 2>&1
wait_for 50 [ -n "$(cred_field file last_error)" ]
like "$(cred_field file last_error)" "client_assertion_file $T_DIR/sa.jwt: No such file" \
	"a missing file fails the renewal, and last_error names the file"
"$TBCTL" -s "$SOCK" status >>"$T_DIR/answers" 2>&1
kill -0 "$TBD_PID"
ok $? "the daemon is still running"

# --- tls_client_auth ---------------------------------------------------------
t=$(api '/v1/tokens/mtls?wait=10' -H 'Accept: text/plain')
tokens+=("$t")
like "$t" '^fk_' "tls_client_auth: a token"
is "$(stat_str mtls auth)/$(idp_stat_at mtls tls_client_cert)" tls/true \
	"fakeidp verified the client certificate; client_id, no secret"

# --- secrets ---------------------------------------------------------------
tbd_stop
found=0
key_line=$(sed -n 2p "$T_DIR/rsa.key")
ec_line=$(sed -n 2p "$T_DIR/ec.key")
for f in "$T_DIR/daemon.log" "$T_DIR/test.out" "$T_DIR/answers"; do
	for s in "PRIVATE KEY" "$key_line" "$ec_line" "$first_file_jwt" "$second_file_jwt" \
		"eyJhbGciOi" "${tokens[@]}"; do
		[ -n "$s" ] || continue
		grep -qF -- "$s" "$f" && found=1 && echo "# a secret is in $(basename "$f"): ${s:0:12}..."
	done
done
is "$found" 0 "no key, assertion (nor any JWT header) or token in the log, --test or tokenctl"
grep -q 'secrets were not freed' "$T_DIR/daemon.log"
is $? 1 "every secret was freed at exit (the signing key's too)"
done_testing
