#!/bin/bash
# tokenbrokerd --test against each cause of tokenbrokerd(8)'s table of
# causes and hints, one fixture a row: a local server that makes the
# mistake (fakeidp in a mode, faultsrv, openssl s_server, a certificate
# made here; credentials with fcred's short limits) and the configuration a user would have written.  Each hint
# must be the row's, name what to change, and never hold the secret.
# Then the configuration's own slips: the nearest known name, and no
# second error caused by the first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"

# --- certificates: two CAs, and servers' certificates of each kind ------
cert_begin
{
	ca_make ca && ca_make otherca &&
		cert_make good ca "$SAN" "$START" "$END" &&
		cert_make untrusted otherca "$SAN" "$START" "$END" untrusted &&
		cert_make expired ca "$SAN" 20200101000000Z 20200102000000Z expired &&
		cert_make future ca "$SAN" 20990101000000Z 20990102000000Z future &&
		cert_make mismatch ca DNS:cms.example.org "$START" "$END" &&
		cert_make client otherca DNS:client "$START" "$END" client &&
		cert_make purpose ca "$SAN
extendedKeyUsage = clientAuth" "$START" "$END" purpose
} || { echo "Bail out! cannot make the test certificates"; exit 1; }
chmod 600 "$T_DIR"/*.key

# --- the servers -----------------------------------------------------------
idp_start
for c in untrusted expired future mismatch purpose; do
	idp_start_named "$c" --tls-cert "$T_DIR/$c.pem" --tls-key "$T_DIR/$c.key"
done
idp_start_named TLS --tls-cert "$T_DIR/good.pem" --tls-key "$T_DIR/good.key" \
	--plain-port-file "$T_DIR/plain.port"
PLAIN_PORT=$(port_file_wait "$T_DIR/plain.port")
idp_start_named XIBO --dialect xibo
idp_start_named SBC --dialect oracle-sbc
faultsrv_start SLOW "$IDP_PORT" --mode backlog
# A server that wants a client certificate its CA signed, and refuses any other.
MTLS_PORT=$(free_port)
openssl s_server -quiet -accept "127.0.0.1:$MTLS_PORT" -cert "$T_DIR/good.pem" -key "$T_DIR/good.key" \
	-CAfile "$T_DIR/ca.pem" -Verify 1 -verify_return_error -www >"$T_DIR/s_server.log" 2>&1 &
IDP_EXTRA_PIDS="$IDP_EXTRA_PIDS $!"
wait_for 50 port_open "$MTLS_PORT" || { echo "Bail out! openssl s_server did not start"; exit 1; }
FREE=$(free_port "$MTLS_PORT")

ca="ca_file = $T_DIR/ca.pem"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(fcred tls-plain-http "https://127.0.0.1:$IDP_PORT/token")
$(fcred dns "https://cms.invalid/token")
$(fcred dns-proxy "https://127.0.0.1:$TLS_PORT/token" "proxy = http://proxy.invalid:3128")
$(fcred refused "http://127.0.0.1:$FREE/token")
$(fcred proxy-refused "http://127.0.0.1:$IDP_PORT/token" "proxy = http://127.0.0.1:$FREE")
$(fcred connect-timeout "http://127.0.0.1:$SLOW_PORT/token")
$(fcred proxy-connect-timeout "http://127.0.0.1:$IDP_PORT/token" "proxy = http://127.0.0.1:$SLOW_PORT")
$(fcred proxy-tunnel "https://127.0.0.1:$TLS_PORT/token" "proxy = $IDP_URL" "$ca")
$(fcred timeout "$IDP_URL/token")
$(fcred tls-unknown-ca "https://127.0.0.1:$untrusted_PORT/token" "$ca")
$(fcred tls-expired "https://127.0.0.1:$expired_PORT/token" "$ca")
$(fcred tls-not-yet-valid "https://127.0.0.1:$future_PORT/token" "$ca")
$(fcred tls-name-mismatch "https://127.0.0.1:$mismatch_PORT/token" "$ca")
$(fcred tls-client-cert-refused "https://127.0.0.1:$MTLS_PORT/token" "$ca" \
	"client_cert = $T_DIR/client.pem" "client_key = $T_DIR/client.key")
$(fcred tls-client-cert-wanted "https://127.0.0.1:$MTLS_PORT/token" "$ca")
$(fcred tls-cert "https://127.0.0.1:$purpose_PORT/token" "$ca")
$(fcred tls "https://127.0.0.1:$TLS_PORT/token" "ca_file = $T_DIR/index.txt")
$(fcred refresh-token-refused "$IDP_URL/token" "grant_type = refresh_token" \
	"refresh_token_file = $T_DIR/rt")
[credential "password-refused"]
token_url = $IDP_URL/token
client_id = it-client
client_secret = $IDP_SECRET
grant_type = password
username = someone
password = wrong-password

$(fcred jwt-bearer-refused "$IDP_URL/token" "grant_type = urn:ietf:params:oauth:grant-type:jwt-bearer" \
	"assertion_file = $T_DIR/assertion")
$(fcred token-exchange-refused "$IDP_URL/token" \
	"grant_type = urn:ietf:params:oauth:grant-type:token-exchange" \
	"subject_token_file = $T_DIR/subject")
[credential "xibo-path"]
profile = xibo
base_url = $XIBO_URL/cms
client_id = it-client
client_secret = $IDP_SECRET

[credential "not-found-base-url"]
profile = oracle-sbc
base_url = $SBC_URL/sbc
username = it-client
password = $IDP_SECRET

$(fcred not-found "$IDP_URL/oauth/token")
$(fcred method-not-allowed "$IDP_URL/token")
$(fcred redirect "$IDP_URL/token")
$(fcred upgrade-required "http://127.0.0.1:$PLAIN_PORT/token")
$(fcred rate-limited "$IDP_URL/token")
$(fcred unsupported-grant-type "$IDP_URL/token" "grant_type = authorization_code")
$(fcred unauthorized-client "$IDP_URL/token")
$(fcred invalid-scope "$IDP_URL/token" "scope = everything")
[credential "assertion-refused"]
token_url = $IDP_URL/token
client_id = it-client
auth_method = private_key_jwt
client_key = $T_DIR/client.key

[credential "assertion-file-refused"]
token_url = $IDP_URL/token
client_id = it-client
auth_method = client_assertion
client_assertion_file = $T_DIR/assertion

[credential "client-cert-refused"]
token_url = $TLS_URL/token
client_id = it-client
auth_method = tls_client_auth
client_cert = $T_DIR/client.pem
client_key = $T_DIR/client.key
$ca

[credential "basic-refused"]
profile = oracle-sbc
base_url = $SBC_URL
username = it-client
password = wrong-password

[credential "secret-refused"]
profile = xibo
base_url = $XIBO_URL
client_id = it-client
client_secret = wrong-secret

[credential "secret-refused-basic"]
token_url = $IDP_URL/token
client_id = it-client
client_secret = wrong-secret

[credential "secret-refused-method"]
profile = xibo
base_url = $XIBO_URL
client_id = it-client
client_secret = $IDP_SECRET
auth_method = client_secret_basic

[credential "no-client-auth"]
token_url = $IDP_URL/token
client_id = it-client
auth_method = none

$(fcred server-error-retry "$IDP_URL/token")
$(fcred server-error "$IDP_URL/token")
$(fcred web-page "$IDP_URL/token")
$(fcred no-token "$IDP_URL/token")
EOF_CONF
printf 'rt_not-a-valid-one\n' >"$T_DIR/rt"
printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\n' >"$T_DIR/assertion"
printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ5In0.\n' >"$T_DIR/subject"
chmod 600 "$T_DIR/rt" "$T_DIR/assertion" "$T_DIR/subject"

# diag NAME: --test NAME; its output in DIAG_OUT (and in all.out), its status in DIAG_ST.
diag() {
	DIAG_OUT=$("$TBD" -c "$T_DIR/tb.conf" --test "$1" 2>&1)
	DIAG_ST=$?
	printf '%s\n' "$DIAG_OUT" >>"$T_DIR/all.out"
}
# hint NAME REGEX [CONTROL]: --test NAME fails (69) with one hint line that
# matches; CONTROL, when given, is fakeidp's /control query first (and
# reset after).
hint() {
	local name=$1 re=$2 out h
	[ -n "${3:-}" ] && idp "/control?$3" >/dev/null
	diag "$name"
	out=$DIAG_OUT
	[ -n "${3:-}" ] && idp "/control?reset=1" >/dev/null
	h=$(printf '%s\n' "$out" | grep '^hint:')
	TESTED="$TESTED $name"
	echo "# $name: ${h:-(no hint)}"
	if [ "$DIAG_ST" -ne 69 ] || [ "$(printf '%s\n' "$h" | grep -c .)" -ne 1 ]; then
		ok 1 "$name: --test exits 69 with one hint"
		printf '%s\n' "$out" | sed 's/^/#   /'
		return
	fi
	like "$h" "$re" "$name: the hint says what to change"
}

TESTED=
# --- the network ------------------------------------------------------------
hint tls-plain-http "answered in plain HTTP on port $IDP_PORT: use http:// \(loopback only\) or the server's TLS port"
hint dns "host name cms\.invalid does not resolve \(looked up by hosts: .* in /etc/nsswitch\.conf; .* in /etc/resolv\.conf\): check the host in token_url"
hint dns-proxy "proxy's host name proxy\.invalid does not resolve .*: check proxy"
hint refused "nothing listens on 127\.0\.0\.1:$FREE: check the host and port in token_url"
hint proxy-refused "nothing listens on 127\.0\.0\.1:$FREE, the proxy: check proxy"
hint connect-timeout "no connection to 127\.0\.0\.1:$SLOW_PORT within 1s \(connect_timeout\)"
hint proxy-connect-timeout "no connection to the proxy 127\.0\.0\.1:$SLOW_PORT within 1s .*check proxy"
hint proxy-tunnel "proxy 127\.0\.0\.1:$IDP_PORT would not connect to 127\.0\.0\.1:$TLS_PORT .*check proxy"
hint timeout "127\.0\.0\.1:$IDP_PORT took the request but did not answer within 2s \(timeout\)" "mode=silent"

# --- TLS ----------------------------------------------------------------------
hint tls-unknown-ca "certificate \(CN=untrusted\) was issued by CN=tokenbroker-test-otherca, which this host does not trust: set ca_file"
hint tls-expired "certificate \(CN=expired\) expired at 2020-01-02 00:00:00 UTC \(valid from 2020-01-01 00:00:00 UTC; now 2[0-9-]+ "
hint tls-not-yet-valid "certificate \(CN=future\) is valid only from 2099-01-01 00:00:00 UTC \(now .*check this host's clock"
hint tls-name-mismatch "certificate is for DNS:cms\.example\.org, not 127\.0\.0\.1: use one of those names in token_url"
hint tls-client-cert-refused "server refused the client certificate \(.*alert.*\): check client_cert and client_key"
hint tls-client-cert-wanted "server ended the handshake \(.*alert.*\): it may want a client certificate; set client_cert"
hint tls-cert "certificate \(CN=purpose, issued by CN=tokenbroker-test-ca\) failed verification \(unsuitable certificate purpose\): check ca_file"
hint tls "TLS handshake failed \(.*\): check ca_file"

# --- the token endpoint's errors, by grant ----------------------------------
hint refresh-token-refused "refresh token was refused: .* put it in $T_DIR/rt and reload" \
	"refresh_token=rt_current-one&require_auth=1"
hint password-refused "refused username or password: check username and password" \
	"fail=400&fail_error=invalid_grant"
hint jwt-bearer-refused "refused the assertion in $T_DIR/assertion: check its issuer" \
	"fail=400&fail_error=invalid_grant"
hint token-exchange-refused "refused the token exchange: check the subject token in $T_DIR/subject" \
	"fail=400&fail_error=invalid_target"

# --- HTTP -------------------------------------------------------------------
hint xibo-path "Xibo 1\.8\+ token endpoint is $XIBO_URL/cms/api/authorize/access_token"
hint not-found-base-url "no token endpoint at this URL: check base_url"
hint not-found "no token endpoint at this URL: check token_url"
hint method-not-allowed "does not take POST: it is not the token endpoint; check token_url" "fail=405"
hint redirect "redirects to $IDP_URL/token; redirects are not followed .*: put that URL in token_url" "fail=302"
hint upgrade-required "requires HTTPS: use an https:// URL"
hint rate-limited "limits requests \(429, Retry-After: 7\)" "fail=429&retry_after=7"
hint unsupported-grant-type "does not accept grant_type = authorization_code: check grant_type"
hint unauthorized-client "does not allow grant_type client_credentials to this client: enable it" \
	"fail=400&fail_error=unauthorized_client"
hint invalid-scope "check scope \(and scope_separator\)" "fail=400&fail_error=invalid_scope"

# --- the client refused, by auth_method -----------------------------------
hint assertion-refused "refused the assertion: check that it knows the public key of client_key"
hint assertion-file-refused "refused the assertion from client_assertion_file: check its issuer"
hint client-cert-refused "refused the client certificate: check client_cert, client_key and client_id"
hint basic-refused "refused username or password \(sent with HTTP Basic\)"
hint secret-refused "check client_id and the secret first \(auth_method client_secret_post is what profile xibo sends\)"
hint secret-refused-basic "check client_id and the secret first \(auth_method client_secret_basic is what profile oauth2 sends\); only if they are right, try auth_method = client_secret_post"
hint secret-refused-method "check client_id and the secret, and auth_method: profile xibo sends client_secret_post, this credential client_secret_basic"
hint no-client-auth "wants the client to authenticate: set auth_method"

# --- the server's side --------------------------------------------------------
hint server-error-retry "server failed \(503, Retry-After 5\): a fault on its side" "fail=503&retry_after=5"
hint server-error "server failed \(500\): a fault on its side" "fail=500"
hint web-page "serves a web page \(a login page\?\), not a token endpoint: check token_url" "mode=html"
hint no-token "no token where expected: check response_format and token_path" "mode=no_token"

# The table, its tests and the man page name the same causes.
rows=$(sed -n 's/^	{ "\([a-z0-9-]*\)", HTTP_FAIL_.*/\1/p' daemon/hint.c | sort)
man=$(sed -n '/^\.Sh CAUSES AND HINTS/,/^\.Sh /s/^\.It Sy \([a-z0-9-]*\)$/\1/p' man/tokenbrokerd.8 | sort)
tested=$(printf '%s\n' $TESTED | sort -u)
cmp_ok "$(printf '%s\n' "$rows" | grep -c .)" -ge 40 "hint.c has its rows ($(printf '%s\n' "$rows" | grep -c .))"
is "$(comm -23 <(printf '%s\n' "$rows") <(printf '%s\n' "$tested") | tr '\n' ' ')" "" \
	"every row of the table has a fixture and a test here"
is "$(printf '%s\n' "$rows" | tr '\n' ' ')" "$(printf '%s\n' "$man" | tr '\n' ' ')" \
	"tokenbrokerd(8) lists exactly the table's causes"

# The product's four everyday mistakes: each answer is one line to act on.
ALL_OUT=$(cat "$T_DIR/all.out")
case $ALL_OUT in *"$IDP_SECRET"*) leak=1 ;; *) leak=0 ;; esac
is "$leak" 0 "no --test output holds the client secret"
if printf '%s' "$ALL_OUT" | grep -Eq 'fk_[0-9a-f]{8}|rt_current-one'; then leak=1; fi
is "$leak" 0 "nor a token or a refresh token"

# --- the configuration's slips ----------------------------------------------
write_conf "$T_DIR/slip.conf" <<EOF_CONF
[credential "x"]
token_url = $IDP_URL/token
client_id = it-client
client_secert_file = $T_DIR/rt
EOF_CONF
out=$("$TBD" -c "$T_DIR/slip.conf" --test x 2>&1)
st=$?
echo "# $(printf '%s' "$out" | tr '\n' '|')"
cmp_ok "$st" -ne 0 "--test with a misspelt key: refused"
like "$out" "slip\.conf:[0-9]+: client_secert_file: unknown key in \[credential \"x\"\]; did you mean client_secret_file\?" \
	"a misspelt key: did you mean the key it is near"
is "$(printf '%s\n' "$out" | grep -c 'client_secret: required')" 0 "and no second error that the secret is missing"

write_conf "$T_DIR/slip2.conf" <<EOF_CONF
[credentials "x"]
token_url = $IDP_URL/token

[credential "y"]
token_url = $IDP_URL/token
client_id = it-client
client_secret = s
auth_method = client_secret_psot
timeout = soon
max_variants = many
ca_file = $T_DIR/no-such-ca.pem
EOF_CONF
out=$("$TBD" -c "$T_DIR/slip2.conf" --check-config 2>&1)
echo "# $(printf '%s' "$out" | tr '\n' '|')"
like "$out" "unknown section \[credentials \"x\"\] .*; did you mean \[credential \"x\"\]\?" "a misspelt section: did you mean"
like "$out" "auth_method: unknown value \"client_secret_psot\" .*; did you mean client_secret_post\?" "a misspelt value: did you mean"
like "$out" "timeout: invalid duration \"soon\" \(use 90, 90s, 15m, 1h\)" "a value of the wrong kind: the kind, with examples"
like "$out" "max_variants: invalid number \"many\" \(use a whole number from" "a number: what kind and range"
like "$out" "ca_file: cannot open $T_DIR/no-such-ca\.pem: No such file or directory" "a missing file: named, with the cause"

printf 'secret\n' >"$T_DIR/open-secret"
chmod 644 "$T_DIR/open-secret"
write_conf "$T_DIR/slip3.conf" <<EOF_CONF
$(fcred z "$IDP_URL/token" "client_secret_file = $T_DIR/open-secret" | grep -v '^client_secret = ')
EOF_CONF
out=$("$TBD" -c "$T_DIR/slip3.conf" --check-config 2>&1)
like "$out" "client_secret_file: .*open-secret is readable by group or others \(mode 0644\); chmod 600 it" \
	"a secret file of the wrong mode: says chmod 600"
chmod 600 "$T_DIR/open-secret"
chown nobody "$T_DIR/open-secret"
out=$("$TBD" -c "$T_DIR/slip3.conf" --check-config 2>&1)
like "$out" "open-secret is owned by uid [0-9]+ \(nobody\), must be owned by root: chown root" "a secret file of another owner: says chown"
chown 0 "$T_DIR/open-secret"
chmod 711 "$T_DIR"
cp "$T_DIR/slip3.conf" "$T_DIR/nobody.conf"
chown nobody "$T_DIR/nobody.conf"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$TBD" -c "$T_DIR/nobody.conf" --check-config 2>&1)
chmod 700 "$T_DIR"
like "$out" "open-secret: Permission denied; tokenbrokerd runs as user nobody .*chown nobody" \
	"a secret file the daemon's user cannot read: says who it runs as and what to do"

plan "$T_NUM"
done_testing
