#!/bin/bash
# make demo: starts the bundled token endpoint and tokenbrokerd with
# conf/demo.conf, then shows tokens being served and renewed.  Runs until
# Ctrl-C, or for $DEMO_SECONDS seconds when that is set.
set -u
cd "$(dirname "$0")/.."
build=${BUILD:-build}
dir=$(mktemp -d /tmp/tokenbroker-demo.XXXXXX)
chmod 700 "$dir"
idp_pid= tbd_pid=

stop() {
	[ -n "$tbd_pid" ] && kill "$tbd_pid" 2>/dev/null && wait "$tbd_pid" 2>/dev/null
	[ -n "$idp_pid" ] && kill "$idp_pid" 2>/dev/null && wait "$idp_pid" 2>/dev/null
	rm -rf "$dir"
}
trap stop EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

secret=demo-secret
printf '%s\n' "$secret" >"$dir/demo.secret"
chmod 600 "$dir/demo.secret"

"$build/tests/fakeidp" --quiet --port 0 --port-file "$dir/port" --lifetime 20 \
	--client-id demo-client --client-secret "$secret" &
idp_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port") || { echo "demo: the token endpoint did not start"; exit 1; }

sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" conf/demo.conf >"$dir/tokenbroker.conf"
chmod 600 "$dir/tokenbroker.conf"
echo "== demo token endpoint on 127.0.0.1:$port (tokens live 20s)"
echo "== starting: $build/tokenbrokerd -c $dir/tokenbroker.conf"
"$build/tokenbrokerd" -c "$dir/tokenbroker.conf" &
tbd_pid=$!
for _ in $(seq 100); do [ -S "$dir/tokenbroker.sock" ] && break; sleep 0.05; done
export TOKENBROKER_SOCKET=$dir/tokenbroker.sock
sleep 0.5

echo
echo "== tokenctl status"
"$build/tokenctl" status
echo
echo "== curl --unix-socket $TOKENBROKER_SOCKET http://localhost/v1/tokens/demo"
curl -s --unix-socket "$TOKENBROKER_SOCKET" http://localhost/v1/tokens/demo |
	sed 's/"access_token":"\([^"]\{6\}\)[^"]*"/"access_token":"\1…"/'
echo
echo "== the token, every 4 seconds: it changes before it expires (fingerprints shown)"
start=$SECONDS
while :; do
	tok=$("$build/tokenctl" token demo) || { echo "demo: tokenctl failed"; exit 1; }
	fp=$(printf '%s' "$tok" | sha256sum | cut -c1-6)
	left=$(curl -s --unix-socket "$TOKENBROKER_SOCKET" http://localhost/v1/tokens/demo |
		sed -n 's/.*"expires_in":\([0-9]*\).*/\1/p')
	printf '%3ds  token %s  expires in %ss\n' $((SECONDS - start)) "$fp" "$left"
	if [ -n "${DEMO_SECONDS:-}" ] && [ $((SECONDS - start)) -ge "$DEMO_SECONDS" ]; then
		break
	fi
	sleep 4
done
echo
echo "== tokenctl status"
"$build/tokenctl" status
echo
echo "demo finished"
