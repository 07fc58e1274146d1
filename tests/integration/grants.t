#!/bin/bash
# The grants that carry another party's token, read from a file at every
# request: jwt-bearer (RFC 7523 2.1, assertion_file) and token exchange
# (RFC 8693, subject_token_file, actor_token_file and the types).  What
# the configuration refuses, what reaches the token endpoint, and that
# neither token shows in the daemon's log.
. "$(dirname "$0")/lib.sh"

plan 10
idp_start --lifetime 3600 --grant-type '*'
SUBJECT=subject-$RANDOM$RANDOM$RANDOM
JWT=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4$RANDOM$RANDOM.
printf '%s\n' "$SUBJECT" >"$T_DIR/subject"
printf '%s\n' "$JWT" >"$T_DIR/jwt"
chmod 600 "$T_DIR/subject" "$T_DIR/jwt"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred exch "grant_type = urn:ietf:params:oauth:grant-type:token-exchange" \
	"subject_token_file = $T_DIR/subject" "requested_token_type = urn:ietf:params:oauth:token-type:access_token" \
	"audience = billing" "lazy = yes")
$(cred bearer "grant_type = urn:ietf:params:oauth:grant-type:jwt-bearer" \
	"assertion_file = $T_DIR/jwt" "lazy = yes")
EOF_CONF

# What the configuration refuses.
printf '[credential "x"]\ntoken_url = http://127.0.0.1:1/t\nauth_method = none\ngrant_type = urn:ietf:params:oauth:grant-type:token-exchange\n' \
	>"$T_DIR/bad.conf"
like "$("$TBD" -c "$T_DIR/bad.conf" --check-config 2>&1)" \
	'bad.conf:1: subject_token_file: required by grant_type urn:ietf:params:oauth:grant-type:token-exchange' \
	"token exchange without subject_token_file: FILE:LINE"
cp "$T_DIR/subject" "$T_DIR/open"
chmod 644 "$T_DIR/open"
printf 'subject_token_file = %s\n' "$T_DIR/open" >>"$T_DIR/bad.conf"
like "$("$TBD" -c "$T_DIR/bad.conf" --check-config 2>&1)" 'bad.conf:5: subject_token_file: .*(readable|chmod)' \
	"a subject token file others can read is refused"

tbd_start "$T_DIR/tb.conf"
"$TBCTL" -s "$SOCK" token exch --wait 10 >/dev/null
is $? 0 "token exchange: a token"
stats=$(idp /stats)
like "$stats" '"grant_type": *"urn:ietf:params:oauth:grant-type:token-exchange"' "with the grant type"
like "$stats" '"subject_token_type": *"urn:ietf:params:oauth:token-type:jwt"' \
	"and the subject token's type (a JWT unless said)"
like "$stats" '"requested_token_type": *"urn:ietf:params:oauth:token-type:access_token"' \
	"and the requested token type"
"$TBCTL" -s "$SOCK" token bearer --wait 10 >/dev/null
is $? 0 "jwt-bearer: a token"
like "$(idp /stats)" '"grant_type": *"urn:ietf:params:oauth:grant-type:jwt-bearer"' "with the grant type"
tbd_stop
"$TBD" -c "$T_DIR/tb.conf" --test exch >"$T_DIR/test.out" 2>&1
like "$(cat "$T_DIR/test.out")" "subject: +read from $T_DIR/subject, modified [0-9a-z]+ ago" \
	"--test says which subject token file was read, and its age"
found=0
grep -qF -- "$SUBJECT" "$T_DIR/daemon.log" "$T_DIR/test.out" && found=1
grep -qF -- "$JWT" "$T_DIR/daemon.log" && found=1
is "$found" 0 "neither the subject token nor the assertion is in the daemon's log or --test"
