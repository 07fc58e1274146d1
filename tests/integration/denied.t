#!/bin/bash
# A configuration or secret file the daemon's user may not read: the message
# says which user the daemon runs as and what to change, not only
# "Permission denied", and a secret's keeps the FILE:LINE of its key.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs root and setpriv to run the daemon as nobody"
	exit 0
fi
plan 8
chmod 711 "$T_DIR"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

conf=$T_DIR/tb.conf
printf 's3cret\n' >"$T_DIR/secret"
chmod 600 "$T_DIR/secret"
IDP_URL=http://127.0.0.1:9
write_conf "$conf" <<EOF_CONF
[credential "one"]
token_url = $IDP_URL/token
client_id = it-client
client_secret_file = $T_DIR/secret
EOF_CONF

# The configuration itself: root's, mode 0600.
out=$(as_nobody "$TBD" -c "$conf" --check-config 2>&1)
is $? 1 "an unreadable configuration fails --check-config"
like "$out" "^$conf: cannot open: Permission denied" "the message names the file and the cause"
like "$out" "runs as user nobody \\(uid 65534\\), group nogroup" "and the user and group the daemon runs as"
like "$out" "chgrp nogroup $conf and chmod 0640 it" "and what to change"

# The secret: readable configuration, a secret only root may read.
chmod 644 "$conf"
line=$(grep -n '^client_secret_file' "$conf" | cut -d: -f1)
out=$(as_nobody "$TBD" -c "$conf" --check-config 2>&1)
is $? 1 "an unreadable secret file fails --check-config"
like "$out" "^$conf:$line: client_secret_file: cannot open $T_DIR/secret: Permission denied" \
	"the message is FILE:LINE of the key, naming the secret file"
like "$out" "runs as user nobody \\(uid 65534\\): chown nobody $T_DIR/secret and chmod 600 it" \
	"and says whom to give it to"
like "$out" "LoadCredential=NAME:$T_DIR/secret .*%d/NAME" "or to use LoadCredential="
done_testing
