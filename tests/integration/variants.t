#!/bin/bash
# Token variants: ?scope=, audience=, resource= (and tokenctl --scope ...)
# ask for a credential's token with other values, as its allow_* permit.
# Each variant is a token of its own: one upstream request for all who
# ask at once, the variant's values on the wire, renewed while asked for,
# dropped when idle or beyond max_variants, persisted, listed, measured and
# logged; what is not allowed is a 400 that names the key that would.
. "$(dirname "$0")/lib.sh"

plan 60
idp_start --lifetime 3600
mkdir -m 700 "$T_DIR/state"
conf() { # conf CAP-ALLOW-SCOPES CAP-SCOPE: no credential "cap" when they are empty
	DAEMON_EXTRA="log_access = yes" write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred api "lazy = yes" "scope = read" "allow_scopes = read write admin" "allow_audiences = billing a+b" \
	"allow_resources = https://res.example.com/")
$(cred plain "lazy = yes" "scope = read")
$([ -n "$1" ] && cred cap "lazy = yes" "scope = $2" "allow_scopes = $1" "max_variants = 2")
$(cred idle "lazy = yes" "allow_audiences = x" "variant_idle = 2s" "persist = yes")
$(cred kept "allow_scopes = p q" "persist = yes")
EOF_CONF
	sed -i "s|^state_dir = .*|state_dir = $T_DIR/state|" "$T_DIR/tb.conf"
}
conf "a b c" "s"
tbd_start_conf "$T_DIR/tb.conf"

tok() { api "$1" -H 'Accept: text/plain'; }
# variants NAME: credential NAME's variants in /v1/credentials, one a line,
# as scope|audience|resource|state ("-" for a field left out).
variants() {
	api /v1/credentials | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		for my $c (@{$d->{credentials}}) {
			next unless $c->{name} eq $ARGV[0];
			print join("|", map { $_ // "-" } @$_{qw(scope audience resource state)}), "\n"
				for @{$c->{variants} || []};
		}' "$1"
}
# idp_param NAME: the form field NAME of the last token request fakeidp saw.
idp_param() {
	idp /stats | perl -MJSON::PP -e '
		my $d = decode_json(join "", <STDIN>);
		print $d->{params}{$ARGV[0]} // "(none)"' "$1"
}
message() { perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{message}'; }
# at_once PATH: 20 clients ask for PATH at once; their answers in $T_DIR/out.*
at_once() {
	local pids=() i
	rm -f "$T_DIR"/out.*
	for i in $(seq 20); do
		tok "$1" >"$T_DIR/out.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
}

for c in api plain kept; do
	wait_until 50 '[ -n "$(tok "/v1/tokens/$c?wait=5")" ]'
done
main=$(tok '/v1/tokens/api')
idp '/control?reset=1&delay_ms=700' >/dev/null

# --- 20 clients at once for a new variant: one upstream request.
at_once '/v1/tokens/api?scope=write&wait=10'
is "$(cat "$T_DIR"/out.* | grep -c .)" 20 "20 clients asking at once for a new variant all get a token"
is "$(cat "$T_DIR"/out.* | sort -u | grep -c .)" 1 "the same token"
is "$(idp_stat requests)" 1 "from one upstream request"
is "$(idp_param scope)" "write" "which asked for the variant's scope"
write=$(cat "$T_DIR/out.1")
[ "$write" != "$main" ]
ok $? "the variant's token is not the main token"
at_once '/v1/tokens/api'
is "$(cat "$T_DIR"/out.* | sort -u)" "$main" "20 clients of the main token get it, unchanged"
is "$(idp_stat requests)" 1 "without an upstream request"
idp '/control?delay_ms=0' >/dev/null

# --- the variant's answer, its key canonical.
a=$(api '/v1/tokens/api?scope=write')
is "$(printf '%s' "$a" | json_field scope)" "write" "the answer's scope is the variant's"
t1=$(tok '/v1/tokens/api?scope=write+read')
t2=$(tok '/v1/tokens/api?scope=read%20write%20write')
t3=$(tok '/v1/tokens/api?scope=read%2Bwrite')
[ -n "$t1" ] && [ "$t1" = "$t2" ] && [ "$t1" = "$t3" ]
ok $? "scope 'write+read', 'read write write' and 'read%2Bwrite' are one variant"
is "$(idp_stat requests)" 2 "fetched once"
is "$(idp_param scope)" "read write" "with its scopes, sorted, upstream"
is "$(api '/v1/tokens/api?scope=read+write' | json_field scope)" "read write" \
	"its answer's scope is the granted one"
is "$(tok '/v1/tokens/api?scope=read')" "$main" "the configured scope is the main token"
is "$(variants api | sort | tr '\n' ' ')" "read write|-|-|valid write|-|-|valid " \
	"no variant is made for it: /v1/credentials lists the two variants under api"

t=$(tok '/v1/tokens/api?audience=billing&resource=https://res.example.com/')
[ -n "$t" ] && [ "$t" != "$main" ]
ok $? "a variant for an audience and a resource"
is "$(idp_param audience)|$(idp_param resource)|$(idp_param scope)" \
	"billing|https://res.example.com/|read" \
	"its request carries them, and the configured scope"

# --- what is not allowed.
is "$(api_code '/v1/tokens/api?scope=read+delete')" 400 "a scope not allowed is refused with 400"
is "$(api '/v1/tokens/api?scope=read+delete' | message)" \
	'scope "delete" is not allowed for credential "api" (allow_scopes would allow it)' \
	"naming the scope and the key that would allow it"
like "$(api '/v1/tokens/api?audience=payroll' | message)" \
	'audience "payroll" is not allowed .*allow_audiences' "an audience not allowed, naming allow_audiences"
like "$(api '/v1/tokens/api?resource=https://other.example.com/' | message)" \
	'resource .* is not allowed .*allow_resources' "a resource not allowed, naming allow_resources"
is "$(api_code '/v1/tokens/plain?scope=write')" 400 "a credential without allow_* takes no variant"
is "$(api '/v1/tokens/plain?scope=write' | message)" \
	'credential "plain" takes no token variants: set allow_scopes in its configuration to let callers ask for a scope' \
	"and says which key to set"
is "$(tok '/v1/tokens/plain?scope=read')" "$(tok '/v1/tokens/plain')" \
	"its configured scope is still its main token"
is "$(api_code "/v1/tokens/api?scope=$(printf 'w%.0s' $(seq 1100))")" 400 "an over-long scope is refused"
is "$(api_code '/v1/tokens/api?scope=write&scope=read')" 400 "so is a scope given twice"
is "$(idp_stat requests)" 3 "and none of them went upstream"

# --- renew a variant.
r=$(api '/v1/tokens/api/renew?scope=write' -X POST)
is "$(printf '%s' "$r" | json_field renewed)" true "a variant is renewed on request"
new=$(printf '%s' "$r" | json_field access_token)
[ -n "$new" ] && [ "$new" != "$write" ] && [ "$(tok '/v1/tokens/api?scope=write')" = "$new" ]
ok $? "with a new token, served from then on"
is "$(idp_param scope)" "write" "asked with the variant's scope"
is "$(tok '/v1/tokens/api')" "$main" "the main token stays"

# --- metrics.
m=$(api /metrics)
like "$m" 'tokenbroker_token_expiry_seconds\{credential="api",variant="scope=write"\} [0-9]+' \
	"/metrics: the variant's seconds to expiry, labelled with its key"
like "$m" 'tokenbroker_renewals_total\{credential="api",variant="scope=write",result="success"\} 2' \
	"its renewals"
like "$m" 'tokenbroker_renewals_total\{credential="api",variant="scope=read audience=billing resource=https://res.example.com/",result="success"\} 1' \
	"a key of several fields"
like "$m" 'tokenbroker_renewals_total\{credential="api",result="success"\} 1' \
	"the main token's series keep their labels"

# --- tokenctl.
export TOKENBROKER_SOCKET=$SOCK
is "$("$TBCTL" token api --scope write)" "$new" "tokenctl token --scope: the variant's token"
is "$("$TBCTL" token api --scope 'write read')" "$t1" "a space-separated --scope is sent encoded"
"$TBCTL" token api --audience 'a+b' >/dev/null
is "$(idp_param audience)" "a+b" "a + in --audience reaches the upstream as one"
"$TBCTL" token api --scope delete 2>"$T_DIR/err"
is $? 2 "a variant not allowed: exit 2"
like "$(cat "$T_DIR/err")" 'allow_scopes would allow it' "with the daemon's words"
like "$("$TBCTL" status api)" $'\n  scope=write +valid' "tokenctl status shows the variant as an indented row"

# --- access log.
grep -qE 'credential api \(variant scope=write\): token for uid 0 \(pid [0-9]+\): 200$' "$T_DIR/daemon.log"
ok $? "log_access names the variant of a hand-out"

# --- max_variants = 2: the least recently asked one goes.
tok '/v1/tokens/cap?scope=a&wait=5' >/dev/null
tok '/v1/tokens/cap?scope=b&wait=5' >/dev/null
tok '/v1/tokens/cap?scope=a' >/dev/null
tok '/v1/tokens/cap?scope=c&wait=5' >/dev/null
is "$(variants cap | cut -d'|' -f1 | tr '\n' ' ')" "a c " \
	"beyond max_variants the least recently asked variant is dropped"
n=$(idp_stat requests)
tok '/v1/tokens/cap?scope=b&wait=5' >/dev/null
is "$(idp_stat requests)" $((n + 1)) "asked again, it is fetched again"

# --- reload: allow_* no longer permitting c drops it; a changed scope drops all.
conf "a b" "s"
tbd_reload
is "$(variants cap | cut -d'|' -f1 | tr '\n' ' ')" "b " \
	"SIGHUP: a variant the new allow_scopes does not permit is dropped, the others kept"
conf "a b" "t"
tbd_reload
is "$(variants cap | wc -l)" 0 "SIGHUP with another scope: every variant is dropped"
idp '/control?delay_ms=4000' >/dev/null
api '/v1/tokens/cap?scope=a&wait=10' -w ' %{http_code}' >"$T_DIR/waiter" &
waiter=$!
wait_until 50 'api /metrics | grep -qx "tokenbroker_waiting_clients 1"'
conf "a b" "u"
tbd_reload
wait "$waiter"
like "$(cat "$T_DIR/waiter")" ' 503$' "a client waiting for a variant that a reload drops is answered 503"
like "$(sed 's/ 503$//' "$T_DIR/waiter" | message)" \
	'variant scope=a.*dropped by a reload' "saying why"
idp '/control?delay_ms=0' >/dev/null
[ -n "$(tok '/v1/tokens/cap?scope=b&wait=5')" ]
ok $? "asked again after the reload, the variant is made anew"
conf "" ""
tbd_reload
is "$(api_code '/v1/tokens/cap?scope=b')" 404 "SIGHUP without the credential: it is gone with its variants"

# --- persisted, and reused after a restart.
kp=$(tok '/v1/tokens/kept?scope=p&wait=5')
kmain=$(tok '/v1/tokens/kept')
f=$(ls "$T_DIR"/state/kept@*.token 2>/dev/null)
[ "$(echo "$f" | grep -c .)" = 1 ] && [ "$(stat -c %a "$f")" = 600 ]
ok $? "the variant's token is persisted in its own file, mode 0600"
tbd_stop
before=$(idp_stat requests)
tbd_start "$T_DIR/tb.conf"
is "$(variants kept | wc -l)" 0 "after a restart it is not listed before it is asked for"
is "$(tok '/v1/tokens/kept?scope=p&wait=5')" "$kp" "then its persisted token is served"
is "$(tok '/v1/tokens/kept')" "$kmain" "and the main token is its own"
is "$(idp_stat requests)" "$before" "without an upstream request"

# --- variant_idle = 2s: renewed while asked for, then dropped and not renewed.
idp '/control?lifetime=3' >/dev/null
tok '/v1/tokens/idle?audience=x&wait=5' >/dev/null
n=$(idp_stat requests)
for _ in 1 2 3 4 5 6; do
	sleep 0.5
	tok '/v1/tokens/idle?audience=x' >/dev/null
done
is "$(variants idle)" "-|x|-|valid" "a variant asked for more often than variant_idle stays"
cmp_ok "$(idp_stat requests)" -gt "$n" "and is renewed meanwhile"
ls "$T_DIR"/state/idle@*.token >/dev/null 2>&1
ok $? "and persisted"
wait_until 50 '[ -z "$(variants idle)" ]'
ok $? "not asked for during variant_idle, it is dropped"
n=$(idp_stat requests)
sleep 2
is "$(idp_stat requests)" "$n" "and no longer renewed"
ls "$T_DIR"/state/idle@*.token >/dev/null 2>&1
is $? 2 "its persisted file is removed"
idp '/control?lifetime=3600' >/dev/null
tbd_stop
done_testing
