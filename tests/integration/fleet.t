#!/bin/bash
# The Kubernetes manifests of doc/fleet/: the configurations in their
# ConfigMaps pass tokenbrokerd --check-config (with made-up secrets in
# $CREDENTIALS_DIRECTORY, as the pods hand them over), every secret they
# name is a key of the Secret, the clients look for the socket where the
# broker puts it, and kubectl reads every manifest: `kubectl kustomize`
# without a cluster, and `kubectl apply --dry-run=client`, which needs an
# API server to map kinds to resources and to look for the objects: a
# stand-in (Debian's nginx serving the discovery documents of the kinds
# the manifests use, and "not found" for every object) unless
# $TB_KUBECONFIG names a real cluster (it creates nothing there).  The
# stand-in publishes no OpenAPI schemas, so against it kubectl runs with
# --validate=false: what it checks is that every object decodes and maps
# to a resource of that cluster, not each field.
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
validate=true
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -n "${TB_KUBECONFIG:-}" ]; then
	export KUBECONFIG=$TB_KUBECONFIG
elif [ -x "$NGINX" ] && make_test_ca && [ -f "$T_DIR/server.pem" ]; then
	# The API stand-in: discovery of core/v1 and apps/v1, no objects.
	d=$T_DIR/api
	mkdir -p "$d"
	res() { printf '{"name":"%s","singularName":"","namespaced":true,"kind":"%s","verbs":["create","delete","get","list","patch","update"]}' "$1" "$2"; }
	printf '{"major":"1","minor":"32","gitVersion":"v1.32.0"}' >"$d/version"
	printf '{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}' >"$d/api"
	printf '{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}' >"$d/apis"
	printf '{"kind":"APIResourceList","groupVersion":"v1","resources":[%s,%s,%s]}' \
		"$(res configmaps ConfigMap)" "$(res secrets Secret)" "$(res pods Pod)" >"$d/core"
	printf '{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[%s,%s]}' \
		"$(res daemonsets DaemonSet)" "$(res deployments Deployment)" >"$d/apps"
	printf '{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}' >"$d/none"
	nginx_start "" "$T_DIR/server.pem" "$T_DIR/server.key" "
		default_type application/json;
		location = /version { alias $d/version; }
		location = /api { alias $d/api; }
		location = /apis { alias $d/apis; }
		location = /api/v1 { alias $d/core; }
		location = /apis/apps/v1 { alias $d/apps; }
		location / { return 404 '$(cat "$d/none")'; }"
	cat >"$T_DIR/kubeconfig" <<EOF_KC
apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster:
    server: https://127.0.0.1:$NGINX_PORT
    certificate-authority: $T_DIR/ca.pem
contexts:
- name: stand-in
  context:
    cluster: stand-in
    user: nobody
current-context: stand-in
users:
- name: nobody
  user:
    token: not-checked-by-the-stand-in
EOF_KC
	export KUBECONFIG=$T_DIR/kubeconfig
	validate=false
else
	export KUBECONFIG=$T_DIR/no-cluster
	: >"$T_DIR/no-cluster"
fi
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

	out=$(kubectl apply --dry-run=client --validate=$validate --request-timeout=10s \
		-f "$FLEET/$file" 2>&1)
	st=$?
	if [ "$KUBECONFIG" = "$T_DIR/no-cluster" ]; then
		skip "$file: kubectl apply --dry-run=client needs an API server (no nginx for the stand-in)"
	else
		is "$st:$(printf '%s\n' "$out" | grep -c '(dry run)$')" "0:$docs" \
			"kubectl apply --dry-run=client -f $file: each of its $docs object(s) created (dry run)"
		[ "$st" = 0 ] || printf '%s\n' "$out" | head -n 5 | sed 's/^/#   /'
	fi
done

done_testing
