#!/bin/bash
# SIGHUP reloads the configuration: unchanged credentials keep their tokens
# (no upstream request), changed ones renew, removed ones answer 404 (also
# to clients waiting on them), new ones start; an invalid file is refused
# with FILE:LINE and the running configuration stays.
. "$(dirname "$0")/lib.sh"

plan 14
idp_start --lifetime 3600
conf() {
	write_conf "$T_DIR/tb.conf"
}
conf <<EOF_CONF
$(cred keep)
$(cred change "scope = a")
$(cred drop "lazy = yes" "timeout = 30s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"
keep=$(api '/v1/tokens/keep?wait=10' -H 'Accept: text/plain')
change=$(api '/v1/tokens/change?wait=10' -H 'Accept: text/plain')
before=$(idp_stat requests)

# A client waits on "drop", whose upstream never answers.
idp '/control?mode=silent' >/dev/null
api '/v1/tokens/drop?wait=20' >"$T_DIR/dropwait" &
waiter=$!
sleep 0.5
idp '/control?mode=normal' >/dev/null

conf <<EOF_CONF
$(cred keep "allow_groups = root")
$(cred change "scope = a b")
$(cred new)
EOF_CONF
tbd_reload
wait $waiter
like "$(cat "$T_DIR/dropwait")" '"error": *"not_found"' "a client waiting on a removed credential gets 404"
is "$(api_code /v1/tokens/drop)" 404 "a removed credential is gone"
got=$(api /v1/tokens/keep -H 'Accept: text/plain')
[ "$got" = "$keep" ]
ok $? "an unchanged credential keeps its token"
new_change=$(api '/v1/tokens/change?wait=10' -H 'Accept: text/plain')
[ -n "$new_change" ] && [ "$new_change" != "$change" ]
ok $? "a changed credential renews"
like "$(api /v1/tokens/change)" '"scope": *"a b"' "with the new settings"
is "$(api_code '/v1/tokens/new?wait=10')" 200 "a new credential starts"
# keep: no request; change: one (new scope); new: one; the silent drop: one.
is "$(idp_stat requests)" $((before + 3)) "no upstream request for the unchanged credential"
like "$(cat "$T_DIR/daemon.log")" 'reloaded: 3 credentials \(1 added, 1 changed, 1 removed, 1 unchanged\)' \
	"the log says what changed"

# An invalid configuration is refused as a whole.
cp "$T_DIR/tb.conf" "$T_DIR/good.conf"
printf '[credential "broken"]\ntoken_url = %s/token\ncolour = red\n' "$IDP_URL" >>"$T_DIR/tb.conf"
tbd_reload
like "$(cat "$T_DIR/daemon.log")" "tb.conf:[0-9]+: colour" "an invalid file: the error with FILE:LINE"
like "$(cat "$T_DIR/daemon.log")" 'keeping the running configuration' "and the running configuration stays"
got=$(api /v1/tokens/keep -H 'Accept: text/plain')
[ "$got" = "$keep" ]
ok $? "tokens are still served after a refused reload"
is "$(api_code /v1/tokens/broken)" 404 "nothing of the invalid file is applied"

# A new socket path needs a restart; the daemon says so and keeps listening.
sed "s|^socket = .*|socket = $T_DIR/other.sock|" "$T_DIR/good.conf" >"$T_DIR/tb.conf"
tbd_reload
like "$(cat "$T_DIR/daemon.log")" 'needs a restart' "a changed socket path is reported as needing a restart"
is "$(api_code /v1/health)" 200 "the old socket keeps serving"
done_testing
