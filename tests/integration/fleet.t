#!/bin/bash
# The Kubernetes manifests of doc/fleet/: the configurations in their
# ConfigMaps pass tokenbrokerd --check-config (with made-up secrets in
# $CREDENTIALS_DIRECTORY, as the pods hand them over), every secret they
# name is a key of the Secret, the clients look for the socket where the
# broker puts it, and kubectl reads every manifest: `kubectl kustomize`
# without a cluster, `kubectl apply --dry-run=client` with one.  That last
# needs a cluster's API for its schemas: it runs against the kubeconfig in
# $TB_KUBECONFIG when that is set (it creates nothing there), and is
# skipped otherwise, so that no test reaches a cluster unasked.
. "$(dirname "$0")/lib.sh"

FLEET=doc/fleet
MANIFESTS=$(cd "$FLEET" && printf '%s\n' *.yaml)

# conf_of FILE: the tokenbroker.conf of the ConfigMap in FILE (a literal
# block, indented four spaces).
conf_of() {
	awk '/^  tokenbroker\.conf: \|$/ { on = 1; next }
		on && /^    / { sub(/^    /, ""); print; next }
		on && /^$/ { print; next }
		on { exit }' "$1"
}

# The secrets the Secret holds: its stringData keys.
secret_keys=$(sed -n '/^stringData:/,/^[^ ]/s/^  \([A-Za-z0-9._-]*\):.*/\1/p' "$FLEET/secret.yaml" |
	LC_ALL=C sort)

plan $((11 + 2 * $(echo "$MANIFESTS" | wc -w)))

like "$secret_keys" "client-secret" "the Secret has keys"
for file in configmap.yaml sidecar.yaml; do
	conf=$T_DIR/${file%.yaml}.conf
	conf_of "$FLEET/$file" >"$conf"
	like "$(cat "$conf")" "^\[daemon\]" "$file holds a configuration"
	names=$(grep -o '%d/[A-Za-z0-9._-]*' "$conf" | sed 's|^%d/||' | LC_ALL=C sort -u)
	lacking=$(LC_ALL=C comm -23 <(echo "$names") <(echo "$secret_keys"))
	is "$lacking" "" "every secret $file names is a key of the Secret in secret.yaml"
	creds=$T_DIR/creds-${file%.yaml}
	mkdir -m 700 "$creds"
	for n in $names; do
		(umask 077 && echo "made-up-$n" >"$creds/$n")
	done
	out=$(CREDENTIALS_DIRECTORY=$creds "$TBD" -c "$conf" --check-config 2>&1)
	st=$?
	is "$st" 0 "tokenbrokerd --check-config accepts the configuration of $file"
	[ "$st" = 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
	sock=$(sed -n 's/^socket = //p' "$conf")
	like "$(cat "$FLEET/$file" "$FLEET/client-deployment.yaml")" \
		"value: $sock\$" "the client's TOKENBROKER_SOCKET is the socket of $file"
done
# A Unix listener of a proxy must be in the directory the clients mount.
dir=$(dirname "$(sed -n 's/^socket = //p' "$T_DIR/configmap.conf")")
is "$(sed -n 's/^listen = \(\/.*\)/\1/p' "$T_DIR/configmap.conf" | xargs -rn1 dirname | sort -u)" "$dir" \
	"the node's proxy listens beside the broker's socket"
grep -A2 'hostPath:' "$FLEET/daemonset.yaml" | grep -q "^ *path: $dir\$" &&
	grep -A2 'hostPath:' "$FLEET/client-deployment.yaml" | grep -q "^ *path: $dir\$"
ok $? "the DaemonSet and its client mount that directory of the node"

if ! command -v kubectl >/dev/null; then
	for file in $MANIFESTS; do
		skip "$file: no kubectl on PATH"
		skip "$file: no kubectl on PATH"
	done
	done_testing
	exit
fi

# kubectl kustomize reads every document of every manifest as a Kubernetes
# object (apiVersion, kind, metadata) without a cluster.
export KUBECONFIG=${TB_KUBECONFIG:-$T_DIR/no-cluster}
: >"$T_DIR/no-cluster"
for file in $MANIFESTS; do
	mkdir "$T_DIR/k-$file"
	cp "$FLEET/$file" "$T_DIR/k-$file/"
	printf 'resources:\n- %s\n' "$file" >"$T_DIR/k-$file/kustomization.yaml"
	docs=$(grep -c '^kind:' "$FLEET/$file")
	out=$(kubectl kustomize "$T_DIR/k-$file" 2>&1)
	st=$?
	is "$st:$(printf '%s\n' "$out" | grep -c '^kind:')" "0:$docs" \
		"kubectl kustomize reads the $docs object(s) of $file"
	[ "$st" = 0 ] || printf '%s\n' "$out" | head -n 5 | sed 's/^/#   /'

	out=$(kubectl apply --dry-run=client --request-timeout=10s -f "$FLEET/$file" 2>&1)
	st=$?
	if [ "$st" != 0 ] && [ -z "${TB_KUBECONFIG:-}" ] &&
		printf '%s\n' "$out" | grep -Eq 'connection refused|localhost:8080|unable to recognize|failed to download openapi|no configuration'; then
		skip "$file: kubectl apply --dry-run=client needs a cluster (set TB_KUBECONFIG to check against one)"
	else
		is "$st" 0 "kubectl apply --dry-run=client -f $file"
		[ "$st" = 0 ] || printf '%s\n' "$out" | head -n 5 | sed 's/^/#   /'
	fi
done

done_testing
