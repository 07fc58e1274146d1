#!/bin/bash
# tokenctl token --format exec-credential: the Kubernetes ExecCredential
# (v1 by default, v1beta1 when $KUBERNETES_EXEC_INFO asks for it, its
# expirationTimestamp the token's expiry), the refusals of a malformed
# KUBERNETES_EXEC_INFO or another apiVersion, and the real kubectl running
# tokenctl from a kubeconfig's exec entry against an API stand-in: fakeapi,
# which takes only tokens fakeidp calls active, behind nginx for TLS
# (kubectl sends no credentials to a plain http:// server).  No token
# appears in this file's output: tokens are compared by fingerprint.
. "$(dirname "$0")/lib.sh"

plan 27
CTL=$PWD/$TBCTL
V1=client.authentication.k8s.io/v1
V1BETA1=client.authentication.k8s.io/v1beta1
one_cred_start main
unset KUBERNETES_EXEC_INFO KUBECONFIG

tok=$("$CTL" token main)
want=$(sha12 "$tok")
expires_at=$("$CTL" --json token main | json_field expires_at)

# shape: an ExecCredential on stdin as "apiVersion kind TOP-KEYS
# STATUS-KEYS TOKEN-SHA EXPIRATION", the token by its fingerprint.
shape() {
	perl -MJSON::PP -MDigest::SHA=sha256_hex -e '
		my $j = eval { decode_json(join("", <STDIN>)) };
		print("not JSON\n"), exit unless ref $j eq "HASH";
		my $s = ref $j->{status} eq "HASH" ? $j->{status} : {};
		print join(" ", $j->{apiVersion} // "-", $j->{kind} // "-",
			join(",", sort keys %$j), join(",", sort keys %$s),
			defined $s->{token} ? substr(sha256_hex($s->{token}), 0, 12) : "-",
			$s->{expirationTimestamp} // "-"), "\n";'
}
stamp=$(date -u -d "@$expires_at" +%Y-%m-%dT%H:%M:%SZ)

out=$("$CTL" token main --format exec-credential | shape)
is "${PIPESTATUS[0]}" 0 "--format exec-credential: exit 0"
is "$out" "$V1 ExecCredential apiVersion,kind,status expirationTimestamp,token $want $stamp" \
	"without KUBERNETES_EXEC_INFO: a v1 ExecCredential, the token, its expiry in RFC 3339 UTC"
out=$(KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"'$V1BETA1'","spec":{"interactive":false}}' \
	"$CTL" token main --format exec-credential | shape)
is "$out" "$V1BETA1 ExecCredential apiVersion,kind,status expirationTimestamp,token $want $stamp" \
	"KUBERNETES_EXEC_INFO asking for v1beta1 (as kubectl sends it) gets v1beta1"
out=$(KUBERNETES_EXEC_INFO='{"apiVersion":"'$V1'","kind":"ExecCredential","spec":{"interactive":true}}' \
	"$CTL" token main --format exec-credential | shape)
is "${out%% *}" "$V1" "KUBERNETES_EXEC_INFO asking for v1 gets v1"
out=$(KUBERNETES_EXEC_INFO= "$CTL" token main --format exec-credential | shape)
is "${out%% *}" "$V1" "an empty KUBERNETES_EXEC_INFO counts as unset"
is "$(sha12 "$("$CTL" token main --format token)")" "$want" "--format token is the bare token"

# refused INFO DESCRIPTION REGEX: exit 2, nothing on stdout, a message that
# matches, and the daemon not asked.
refused() {
	local n
	n=$(grep -c 'GET /v1/tokens/main' "$T_DIR/daemon.log")
	KUBERNETES_EXEC_INFO=$1 "$CTL" token main --format exec-credential >"$T_DIR/r.out" 2>"$T_DIR/r.log"
	is "$?:$(wc -c <"$T_DIR/r.out")" "2:0" "$2: exit 2, nothing on stdout"
	like "$(cat "$T_DIR/r.log")" "$3" "$2: the message says why and what to change"
	is "$(grep -c 'GET /v1/tokens/main' "$T_DIR/daemon.log")" "$n" "$2: the daemon is not asked"
}
refused '{"apiVersion":"client.authentication.k8s.io/v1alpha1"}' "apiVersion v1alpha1" \
	"apiVersion 'client.authentication.k8s.io/v1alpha1'.*set the kubeconfig's exec apiVersion to $V1 or $V1BETA1"
refused '{"apiVersion":' "malformed JSON" "KUBERNETES_EXEC_INFO is not a JSON object"
refused '{"kind":"ExecCredential"}' "no apiVersion" "KUBERNETES_EXEC_INFO has no apiVersion string"
"$CTL" token main --format yaml 2>"$T_DIR/f.log"
is "$?:$(cat "$T_DIR/f.log" | head -n 1)" "2:tokenctl: bad value for --format: 'yaml' (token or exec-credential)" \
	"an unknown --format: exit 2, the values named"

# --- the real kubectl ---
K_TESTS=11
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v kubectl >/dev/null; then
	for _ in $(seq $K_TESTS); do skip "no kubectl on PATH (make deps installs Debian's kubernetes-client)"; done
	exit 0
fi
if [ ! -x "$NGINX" ]; then
	for _ in $(seq $K_TESTS); do skip "no nginx for the stand-in's TLS (apt-get install nginx)"; done
	exit 0
fi
export HOME=$T_DIR/home
mkdir -p "$HOME"
minor=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p')
[ -n "$minor" ] || minor=0
echo "# kubectl $(kubectl version --client -o json 2>/dev/null | json_field gitVersion), minor $minor"

make_test_ca || { echo "Bail out! cannot make a test CA"; exit 1; }
fakeapi_start
nginx_start "" "$T_DIR/server.pem" "$T_DIR/server.key" "		location / { proxy_pass $API_URL; }"
TLS_PORT=$NGINX_PORT

# kubeconfig FILE USER-YAML: a kubeconfig for the stand-in, whose user is
# the given lines (indented under "user:").
kubeconfig() {
	cat >"$1" <<EOF_KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$TLS_PORT
    certificate-authority: $T_DIR/ca.pem
contexts:
- name: local
  context: {cluster: local, user: u}
current-context: local
users:
- name: u
  user:
$2
EOF_KC
}
# exec_user APIVERSION: the user entry that runs tokenctl.
exec_user() {
	printf '    exec:\n      apiVersion: %s\n      command: %s\n' "$1" "$CTL"
	printf '      args: [token, main, --format, exec-credential]\n'
	# v1 wants interactiveMode; kubectl before 1.22 knows no v1 at all.
	[ "$1" = "$V1" ] && printf '      interactiveMode: Never\n'
}
# kget FILE: kubectl get --raw of fakeapi's echo, its stdout in k.out and
# stderr in k.log; its status returned.
kget() {
	timeout 30 kubectl --kubeconfig "$1" get --raw /api/echo >"$T_DIR/k.out" 2>"$T_DIR/k.log"
}

kubeconfig "$T_DIR/static.kc" "    token: fk_forged"
kget "$T_DIR/static.kc"
cmp_ok "$?" -ne 0 "the stand-in refuses a token fakeidp never issued"
is "$(upstream_stat rejected)" 1 "it answered 401"

if [ "$minor" -ge 22 ]; then
	kubeconfig "$T_DIR/v1.kc" "$(exec_user "$V1")"
	kget "$T_DIR/v1.kc"
	is "$?" 0 "kubectl with an exec entry of apiVersion v1 running tokenctl: exit 0"
	[ "$T_FAILED" = 0 ] || sed 's/^/#   /' "$T_DIR/k.log"
	is "$(echo_header authorization_sha <"$T_DIR/k.out")" "$want" "the stand-in got the daemon's token"
	is "$(upstream /stats | sed -n 's/.*"current":"\([0-9a-f]*\)".*/\1/p')" "$want" \
		"and took it as the current token"
else
	for _ in 1 2 3; do skip "kubectl 1.$minor knows no ExecCredential v1 (1.22 and later do)"; done
fi
kubeconfig "$T_DIR/v1beta1.kc" "$(exec_user "$V1BETA1")"
n=$(upstream_stat authorized)
kget "$T_DIR/v1beta1.kc"
is "$?" 0 "kubectl with an exec entry of apiVersion v1beta1: exit 0"
is "$(echo_header authorization_sha <"$T_DIR/k.out")" "$want" "the stand-in got the daemon's token"
is "$(upstream_stat authorized)" "$((n + 1))" "and let the request through"

leaks "the token" "$tok" "$T_DIR"/*.log "$T_DIR"/nginx/*.log
is $? 1 "the token is in no log"

tbd_stop
kget "$T_DIR/v1beta1.kc"
cmp_ok "$?" -ne 0 "with the daemon stopped, kubectl fails"
like "$(cat "$T_DIR/k.log")" "is tokenbrokerd running" "and shows tokenctl's reason"
done_testing
