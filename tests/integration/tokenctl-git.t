#!/bin/bash
# tokenctl git-credential: git's credential-helper protocol, through the
# real git.  "git credential fill" gets the token as password; a clone over
# HTTP from a local server that takes only tokens fakeidp issued
# (tests/githttp.pl in front of git http-backend) works with the helper and
# fails without it; store and erase say nothing; a malformed request or one
# too long is refused with the line named and nothing of it quoted.  No
# token appears in this file's output: tokens are compared by fingerprint.
. "$(dirname "$0")/lib.sh"

command -v git >/dev/null || { echo "1..0 # SKIP no git (apt-get install git)"; exit 0; }
[ -x "$(git --exec-path)/git-http-backend" ] ||
	{ echo "1..0 # SKIP no git http-backend in $(git --exec-path)"; exit 0; }
plan 30

CTL=$PWD/$TBCTL
one_cred_start main

# git sees only what this file sets: no system or user configuration, no
# prompt, no askpass program.
export HOME=$T_DIR/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export GIT_CONFIG_GLOBAL=$HOME/.gitconfig
unset GIT_ASKPASS SSH_ASKPASS GIT_DIR GIT_WORK_TREE XDG_CONFIG_HOME
mkdir -p "$HOME"
git config --global user.name tokenbroker-test
git config --global user.email test@localhost

tok=$("$CTL" token main)
is $? 0 "the daemon hands out a token"
want=$(sha12 "$tok")

# fill [git -c ... args]: git credential fill for https://git.example.com,
# its output in $T_DIR/fill.out, its stderr in fill.log, its status returned.
fill() {
	printf 'protocol=https\nhost=git.example.com\n\n' |
		git "$@" credential fill >"$T_DIR/fill.out" 2>"$T_DIR/fill.log"
}
field() { sed -n "s/^$1=//p" "$T_DIR/fill.out"; }

fill -c credential.helper="!$CTL git-credential main"
is $? 0 "git credential fill with the helper: exit 0"
is "$(field username)" x-access-token "the username is x-access-token"
is "$(sha12 "$(field password)")" "$want" "the password is the daemon's token"
is "$(field host)" git.example.com "git keeps the host it asked about"

fill -c credential.helper="!$CTL git-credential main --username deploy"
is "$(field username)" deploy "--username names the user"

# The helper as git calls it, by hand.
printf 'protocol=https\nhost=h\n\n' | "$CTL" git-credential main get >"$T_DIR/get.out" 2>"$T_DIR/get.log"
is "$?:$(grep -c . "$T_DIR/get.out"):$(sed -n 's/=.*//p' "$T_DIR/get.out" | tr '\n' ' ')" \
	"0:3:username password password_expiry_utc " "get answers username, password and expiry lines"
# git 2.41 and later read it (older ones drop it): cached copies then expire.
is "$(sed -n 's/^password_expiry_utc=//p' "$T_DIR/get.out")" \
	"$("$CTL" --json token main | json_field expires_at)" "password_expiry_utc is the token's expiry"
for op in store erase; do
	printf 'protocol=https\nhost=h\nusername=x-access-token\npassword=%s\n\n' "$tok" |
		"$CTL" git-credential main "$op" >"$T_DIR/$op.out" 2>"$T_DIR/$op.log"
	is "$?:$(wc -c <"$T_DIR/$op.out"):$(wc -c <"$T_DIR/$op.log")" "0:0:0" "$op: exit 0, no output"
done
printf 'protocol=https\nhost=h\n\n' | "$CTL" git-credential main frobnicate >"$T_DIR/op.out" 2>&1
is "$?:$(wc -c <"$T_DIR/op.out")" "0:0" "an operation git may add later is ignored silently"
# A request without its closing blank line, ended by EOF, is a request.
printf 'protocol=https\nhost=h' | "$CTL" git-credential main get >"$T_DIR/eof.out" 2>"$T_DIR/eof.log"
is "$?:$(sha12 "$(sed -n 's/^password=//p' "$T_DIR/eof.out")")" "0:$want" "a request ended by EOF is answered"

# Refusals: exit 2, the line named, the line never quoted, nothing on stdout.
printf 'protocol=https\nsecret-line-without-equals\n\n' |
	"$CTL" git-credential main get >"$T_DIR/bad.out" 2>"$T_DIR/bad.log"
is "$?:$(wc -c <"$T_DIR/bad.out")" "2:0" "a line that is not key=value: exit 2, no output"
like "$(cat "$T_DIR/bad.log")" "line 2 .*not key=value" "the message names the line and what is wrong"
grep -q secret-line "$T_DIR/bad.log"
is $? 1 "the message does not quote the line"
printf '=x\n\n' | "$CTL" git-credential main get >/dev/null 2>"$T_DIR/bad.log"
is "$?:$(cat "$T_DIR/bad.log")" "2:tokenctl: git-credential: line 1 of git's request has an empty key before '='" \
	"an empty key is refused"
head -c 70000 /dev/zero | tr '\0' a | "$CTL" git-credential main get >"$T_DIR/big.out" 2>"$T_DIR/big.log"
is "$?:$(wc -c <"$T_DIR/big.out")" "2:0" "a request over 64 KiB: exit 2, no output"
like "$(cat "$T_DIR/big.log")" "longer than 65536 bytes" "the message gives the limit"
"$CTL" git-credential main </dev/null 2>"$T_DIR/usage.log"
is "$?" 2 "no operation: exit 2"
like "$(cat "$T_DIR/usage.log")" "needs an operation after NAME: get, store or erase" \
	"the message names the operations"
"$CTL" git-credential main get --username '' </dev/null 2>/dev/null
is "$?" 2 "an empty --username: exit 2"
"$CTL" git-credential nosuch get </dev/null 2>"$T_DIR/nosuch.log"
is "$?" 66 "an unknown credential: exit 66"

# A clone over HTTP from a server that wants the token.
mkdir -p "$T_DIR/repos" "$T_DIR/src"
git init -q "$T_DIR/src" && printf 'hello from the repository\n' >"$T_DIR/src/README" &&
	git -C "$T_DIR/src" add README && git -C "$T_DIR/src" commit -q -m first &&
	git clone -q --bare "$T_DIR/src" "$T_DIR/repos/r.git" ||
	{ echo "Bail out! cannot make the test repository"; exit 1; }
perl tests/githttp.pl "$T_DIR/repos" "$T_DIR/git.port" "$IDP_URL/introspect" "$T_DIR/githttp.access" \
	2>"$T_DIR/githttp.log" &
GIT_PID=$!
trap 'kill "$GIT_PID" 2>/dev/null; wait "$GIT_PID" 2>/dev/null; t_cleanup' EXIT
GIT_PORT=$(port_file_wait "$T_DIR/git.port")
[ -n "$GIT_PORT" ] || { echo "Bail out! githttp.pl did not start"; sed 's/^/# /' "$T_DIR/githttp.log"; exit 1; }
URL=http://127.0.0.1:$GIT_PORT/r.git

git clone -q "$URL" "$T_DIR/c0" 2>"$T_DIR/c0.log"
cmp_ok "$?" -ne 0 "a clone without the helper fails"
grep -q "^401 GET /r.git/info/refs -$" "$T_DIR/githttp.access"
ok $? "the server asked for credentials (401)"
git -c credential.helper='!f() { echo username=x-access-token; echo password=fk_forged; }; f' \
	clone -q "$URL" "$T_DIR/c1" 2>"$T_DIR/c1.log"
cmp_ok "$?" -ne 0 "a clone with a token fakeidp never issued fails"

git config --global credential.helper "!$CTL git-credential main"
git clone -q "$URL" "$T_DIR/c2" 2>"$T_DIR/c2.log"
is "$?:$(cat "$T_DIR/c2/README" 2>/dev/null)" "0:hello from the repository" \
	"with credential.helper set, the clone works and has the file"
grep -q "^200 POST /r.git/git-upload-pack $want$" "$T_DIR/githttp.access"
ok $? "the server took the daemon's token for the pack"

# Nothing of the token in a log: the daemon's, the server's, git's.
leaks "the token" "$tok" "$T_DIR"/*.log "$T_DIR/githttp.access"
is $? 1 "the token is in no log"

tbd_stop
rm -rf "$T_DIR/c3"
git clone -q "$URL" "$T_DIR/c3" 2>"$T_DIR/c3.log"
cmp_ok "$?" -ne 0 "with the daemon stopped, the clone fails"
like "$(cat "$T_DIR/c3.log")" "tokenctl: .*is tokenbrokerd running" "and git shows tokenctl's reason"
done_testing
