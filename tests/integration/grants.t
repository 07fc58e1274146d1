#!/bin/bash
# The grants that carry another party's token, read from a file at every
# request: jwt-bearer (RFC 7523 2.1, assertion_file) and token exchange
# (RFC 8693, subject_token_file, actor_token_file and the types); and the
# password grant (username, password_file).  What the configuration
# refuses, what reaches the token endpoint, and that neither token nor the
# password shows in the daemon's log.
. "$(dirname "$0")/lib.sh"

plan 14
idp_start --lifetime 3600 --grant-type '*'
SUBJECT=subject-$RANDOM$RANDOM$RANDOM
JWT=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4$RANDOM$RANDOM.
PASSWORD=pw-$RANDOM$RANDOM$RANDOM
printf '%s\n' "$SUBJECT" >"$T_DIR/subject"
printf '%s\n' "$JWT" >"$T_DIR/jwt"
printf '%s\n' "$PASSWORD" >"$T_DIR/password"
chmod 600 "$T_DIR/subject" "$T_DIR/jwt" "$T_DIR/password"
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred exch "grant_type = urn:ietf:params:oauth:grant-type:token-exchange" \
	"subject_token_file = $T_DIR/subject" "requested_token_type = urn:ietf:params:oauth:token-type:access_token" \
	"audience = billing" "lazy = yes")
$(cred bearer "grant_type = urn:ietf:params:oauth:grant-type:jwt-bearer" \
	"assertion_file = $T_DIR/jwt" "lazy = yes")
$(cred pw "grant_type = password" "username = alice@example.com" \
	"password_file = $T_DIR/password" "lazy = yes")
EOF_CONF
printf '[credential "x"]\ntoken_url = http://127.0.0.1:1/t\nauth_method = none\ngrant_type = password\nusername = alice\n' \
	>"$T_DIR/nopw.conf"
like "$("$TBD" -c "$T_DIR/nopw.conf" --check-config 2>&1)" \
	'nopw.conf:1: password: required by grant_type password' \
	"the password grant without a password: FILE:LINE"

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
"$TBCTL" -s "$SOCK" token pw --wait 10 >/dev/null
is $? 0 "the password grant: a token"
stats=$(idp /stats)
like "$stats" '"grant_type": *"password"' "with the grant type"
like "$stats" '"username": *"alice@example.com".*"password": *"\(redacted\)"' \
	"the username and the password (which fakeidp does not show) in the body"
tbd_stop
"$TBD" -c "$T_DIR/tb.conf" --test exch >"$T_DIR/test.out" 2>&1
like "$(cat "$T_DIR/test.out")" "subject: +read from $T_DIR/subject, modified [0-9a-z]+ ago" \
	"--test says which subject token file was read, and its age"
found=0
grep -qF -- "$SUBJECT" "$T_DIR/daemon.log" "$T_DIR/test.out" && found=1
grep -qF -- "$JWT" "$T_DIR/daemon.log" && found=1
grep -qF -- "$PASSWORD" "$T_DIR/daemon.log" "$T_DIR/test.out" && found=1
is "$found" 0 "neither the subject token, nor the assertion, nor the password is in the daemon's log or --test"
