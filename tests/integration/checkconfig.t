#!/bin/bash
# tokenbrokerd --check-config: exit 0 for a valid file, 1 with FILE:LINE
# messages naming the key for every kind of mistake.
. "$(dirname "$0")/lib.sh"

plan 31
IDP_URL=http://127.0.0.1:9

check() { # check FILE: output in $out, status returned
	out=$("$TBD" --check-config -c "$1" 2>&1)
}

write_conf "$T_DIR/ok.conf" <<EOF_CONF
$(cred good "scope = a b")
EOF_CONF
check "$T_DIR/ok.conf"
is $? 0 "a valid configuration: exit 0"
is "$out" "$T_DIR/ok.conf: configuration is valid (1 credential)" "and says so, counting"

write_conf "$T_DIR/bad.conf" <<EOF_CONF
$(cred one "colour = blue")
EOF_CONF
check "$T_DIR/bad.conf"
is $? 1 "an unknown key: exit 1"
like "$out" "^$T_DIR/bad.conf:11: .*colour" "FILE:LINE names the unknown key"

printf '[daemon]\nsocket = %s\n[credential "x"]\ntoken_url = http://example.com/token\nauth_method = none\n' "$SOCK" >"$T_DIR/http.conf"
chmod 600 "$T_DIR/http.conf"
check "$T_DIR/http.conf"
is $? 1 "plain http to a remote host: exit 1"
like "$out" "http.conf:4: token_url: .*https" "it says https is required, at the key's line"

printf '[credential "x"]\nclient_id = a\nclient_secret = b\n' >"$T_DIR/nourl.conf"
chmod 600 "$T_DIR/nourl.conf"
check "$T_DIR/nourl.conf"
is $? 1 "a credential without a token_url: exit 1"
like "$out" "nourl.conf:1: .*token_url" "the error is at the section's line"

printf 's3cret\n' >"$T_DIR/secret"
chmod 644 "$T_DIR/secret"
printf '[credential "x"]\ntoken_url = %s/token\nclient_id = a\nclient_secret_file = %s\n' "$IDP_URL" "$T_DIR/secret" >"$T_DIR/perm.conf"
chmod 600 "$T_DIR/perm.conf"
check "$T_DIR/perm.conf"
is $? 1 "a group/world-readable secret file: exit 1"
like "$out" "perm.conf:4: client_secret_file: .*readable by group or others" "the error names the file's key and line"
printf '%s' "$out" | grep -q s3cret
is $? 1 "the secret itself is never printed"

printf '[credential "x"]\ntoken_url = %s/token\nclient_id = a\nclient_secret = inline\n' "$IDP_URL" >"$T_DIR/inline.conf"
chmod 644 "$T_DIR/inline.conf"
check "$T_DIR/inline.conf"
is $? 1 "an inline secret in a world-readable file: exit 1"

printf '[credential "x"]\ntoken_url = %s/token\ntimeout = soon\nbackoff_min = 1x\nclient_id = a\nclient_secret = b\n' "$IDP_URL" >"$T_DIR/multi.conf"
chmod 600 "$T_DIR/multi.conf"
check "$T_DIR/multi.conf"
is $? 1 "bad durations: exit 1"
like "$out" "multi.conf:3: timeout" "the first bad duration is reported"
like "$out" "multi.conf:4: backoff_min" "and the second one too: all errors are reported"

# A proxy hands out its token to whoever reaches it: loopback or a Unix
# socket only, said at the key's line.
proxy_conf() { # proxy_conf FILE LISTEN CREDENTIAL UPSTREAM [extra line]
	printf '[credential "x"]\ntoken_url = %s/token\nauth_method = none\n[proxy "p"]\nlisten = %s\ncredential = %s\nupstream = %s\n%s' \
		"$IDP_URL" "$2" "$3" "$4" "${5:-}" >"$1"
	chmod 600 "$1"
}
proxy_conf "$T_DIR/proxy-ok.conf" 127.0.0.1:8081 x http://127.0.0.1:9/api
check "$T_DIR/proxy-ok.conf"
is $? 0 "a proxy on loopback: exit 0"
proxy_conf "$T_DIR/proxy-any.conf" 0.0.0.0:8081 x http://127.0.0.1:9/api
check "$T_DIR/proxy-any.conf"
is $? 1 "a proxy listening on 0.0.0.0: exit 1"
like "$out" "^$T_DIR/proxy-any.conf:5: listen = 0\.0\.0\.0:8081: only a loopback address .*anyone who can reach the proxy uses its token" \
	"FILE:LINE: listen = VALUE says only loopback or a Unix socket will do, and why"
proxy_conf "$T_DIR/proxy-lan.conf" 192.168.1.5:8081 nosuch http://billing.example.com/api
check "$T_DIR/proxy-lan.conf"
is $? 1 "a proxy on a LAN address, of an unknown credential, to plain http: exit 1"
like "$out" "proxy-lan.conf:5: listen = 192\.168\.1\.5:8081: only a loopback address" "the address is refused at its line"
like "$out" "proxy-lan.conf:6: credential: no \[credential \"nosuch\"\] is defined" "so is the unknown credential"
like "$out" "proxy-lan.conf:7: upstream: https:// is required unless the host is loopback" "and the plain http upstream"
proxy_conf "$T_DIR/proxy-warn.conf" localhost:8081 x http://127.0.0.1:9/api "socket_mode = 0600"
check "$T_DIR/proxy-warn.conf"
is "$?:$(printf '%s' "$out" | grep -c 'proxy-warn.conf:8: socket_mode: only for a Unix socket listener')" "0:1" \
	"socket_mode on a TCP listener: a warning at its line, exit 0"

"$TBD" -c "$T_DIR/missing.conf" --check-config >/dev/null 2>&1
is $? 1 "a missing file: exit 1"

# The shipped examples are valid once their secret files exist.
mkdir -p "$T_DIR/secrets"
for f in conf/tokenbroker.conf conf/examples/*.conf; do
	for s in $(sed -n 's|.*_file = /etc/tokenbroker/secrets/\([^ ]*\).*|\1|p' "$f"); do
		printf 'x\n' >"$T_DIR/secrets/$s"
		chmod 600 "$T_DIR/secrets/$s"
	done
	# A signing key and its certificate, where an example has them.
	key=$(sed -n 's|^client_key = /etc/tokenbroker/secrets/\([^ ]*\).*|\1|p' "$f")
	cert=$(sed -n 's|^client_cert = /etc/tokenbroker/\([^ ]*\).*|\1|p' "$f")
	if [ -n "$key" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=example \
			-keyout "$T_DIR/secrets/$key" -out "$T_DIR/${cert:-cert.pem}" >/dev/null 2>&1
		chmod 600 "$T_DIR/secrets/$key"
	fi
	sed -e "s|/etc/tokenbroker/secrets/|$T_DIR/secrets/|" \
		-e "s|^client_cert = /etc/tokenbroker/|client_cert = $T_DIR/|" "$f" >"$T_DIR/example.conf"
	chmod 600 "$T_DIR/example.conf"
	"$TBD" --check-config -c "$T_DIR/example.conf" >/dev/null 2>"$T_DIR/example.err"
	is $? 0 "example $f is valid"
	[ -s "$T_DIR/example.err" ] && sed 's/^/#   /' "$T_DIR/example.err"
done
done_testing
