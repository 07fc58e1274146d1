#!/bin/bash
# Token answers no parser should take, all at once against one daemon, each
# credential with a fakeidp of its own: JSON cut short, JSON that is not
# (a trailing comma), JSON nested 100000 deep, a token that is not UTF-8,
# a 50 MiB body with a Content-Length and the same chunked; XML with
# external entities (a file and a URL), a billion laughs, an external DTD.
# For each: the token it had is served until min_valid before its expiry
# and never after, then 503; the attempts follow the backoff; last_error
# names the cause; nothing an entity or DTD names is ever fetched; it
# recovers when the upstream answers well again.  A healthy credential
# beside them keeps renewing; the daemon's memory stays bounded (no 50 MiB
# in it) and it exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults.sh"

W=14	# seconds of fault watched; the tokens live 10
JSON_FAULTS="truncated invalid deep utf8 huge chunked"
XML_FAULTS="entity laughs dtd"
FAULTS="$JSON_FAULTS $XML_FAULTS"
declare -A MODE=([truncated]=malformed [invalid]=invalid_json [deep]=deep_json [utf8]=bad_utf8
	[huge]=huge [chunked]=huge_chunked [entity]=xml_entity [laughs]=xml_bomb [dtd]=xml_dtd)
declare -A CAUSE=(
	[truncated]='^HTTP 200 but the body is not JSON: invalid JSON'
	[invalid]='^HTTP 200 but the body is not JSON: invalid JSON at byte 9[0-9]'
	[deep]='^HTTP 200 but the body is not JSON: invalid JSON at byte [0-9]+: nested deeper than 64'
	[utf8]='^HTTP 200 but the body is not JSON: invalid JSON at byte [0-9]+: .*UTF8'
	[huge]='^HTTP 200: response body larger than 1048576 bytes'
	[chunked]='^HTTP 200: response body larger than 1048576 bytes'
	[entity]='^HTTP 200 but the body is not XML: entity declarations refused'
	[laughs]='^HTTP 200 but the body is not XML: (entity declarations refused|parse error)'
	[dtd]='^HTTP 200 but the body is not XML: external DTD refused'
)

up() { echo "IDP_$1" | tr '[:lower:]' '[:upper:]'; }
fault_on() { idp_at "$(up "$1")" "/control?reset=1&mode=${MODE[$1]}" | grep -q '"ok": *true'; }
fault_off() { idp_at "$(up "$1")" /control?mode=normal | grep -q '"ok": *true'; }
fault_issuer() { up "$1"; }
fault_attempts() { idp_stat_at "$(up "$1")" requests; }
fault_bounds() { rate_bounds "$2" 0 1 2; }
fault_cause() { echo "${CAUSE[$1]}"; }

for f in $JSON_FAULTS; do
	idp_start_named "$(up "$f")" --lifetime 10
done
for f in $XML_FAULTS; do
	idp_start_named "$(up "$f")" --lifetime 10 --dialect oracle-sbc
done
url_of() { local v="$(up "$1")_URL"; echo "${!v}"; }

# The XML ones as the Oracle SBC's profile has it: no expiry in the answer.
xcred() {
	printf '[credential "%s"]\nprofile = oracle-sbc\nbase_url = %s\nusername = it-client\n' \
		"$1" "$(url_of "$1")"
	printf 'password = %s\ndefault_lifetime = 10s\nmin_valid = 2s\nbackoff_min = 1s\n' "$IDP_SECRET"
	printf 'backoff_max = 2s\nconnect_timeout = 1s\ntimeout = 2s\n\n'
}
faults_daemon <<EOF_CONF
$(for f in $JSON_FAULTS; do fcred "$f" "$(url_of "$f")/token"; done)
$(for f in $XML_FAULTS; do xcred "$f"; done)
EOF_CONF

faults_watch "$W"
faults_checks
fetched=0
for f in $XML_FAULTS; do
	fetched=$((fetched + $(idp_stat_at "$(up "$f")" entity_fetches)))
done
is "$fetched" 0 "no URL an entity or a DTD names was fetched"
leaks "a line of /etc/passwd" "root:x:0:0" "$T_DIR/daemon.log"
ok $((! $?)) "nothing of the file an entity names reached the log"

faults_end
