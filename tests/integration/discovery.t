#!/bin/bash
# issuer instead of token_url: the token endpoint read from the issuer's
# discovery document (OpenID Connect's, else RFC 8414's), its issuer checked
# (a mix-up is refused), asked for again after a reload and after a 404 at
# the token endpoint; none published, the error says where it looked.
# --test shows the document and what it found.
. "$(dirname "$0")/lib.sh"

plan 34
idp_start_named OIDC --issuer /tenant --discovery oidc
idp_start_named OAUTH --issuer /realms/prod --discovery oauth
idp_start_named PAGE --issuer /app --discovery oauth --discovery-page
idp_start_named MIXUP --issuer / --doc-issuer https://other.example
idp_start_named NONE
idp_start_named ORIGIN --issuer /

discovered() { # discovered NAME ISSUER [extra...]: a credential with issuer alone
	local name=$1 issuer=$2
	shift 2
	cred_at "$name" issuer "$issuer" "backoff_min = 1s" "backoff_max = 2s" "$@"
}
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(discovered oidc "$OIDC_URL/tenant" "allow_scopes = write")
$(discovered rfc "$OAUTH_URL/realms/prod")
$(discovered page "$PAGE_URL/app")
$(discovered mixup "$MIXUP_URL")
$(discovered none "$NONE_URL/nothing")
$(discovered down "http://127.0.0.1:$(free_port)/realm" "lazy = yes")
[credential "wrongpath"]
token_url = $ORIGIN_URL/oauth/token
client_id = it-client
client_secret = $IDP_SECRET
lazy = yes
EOF_CONF
out=$("$TBD" --check-config -c "$T_DIR/tb.conf" 2>&1)
is "$?" 0 "issuer alone is a valid credential ($out)"
tbd_start "$T_DIR/tb.conf"

# --- OpenID Connect Discovery ---
tok=$(api '/v1/tokens/oidc?wait=10' -H 'Accept: text/plain')
is "$(idp_at OIDC "/introspect?token=$tok" | json_field active)" true \
	"a token from the endpoint the OpenID Connect document names"
is "$(idp_stat_at OIDC discovery_fetches)" 1 "the document was fetched once"
like "$(grep 'credential oidc: token endpoint' "$T_DIR/daemon.log")" \
	"token endpoint $OIDC_URL/token, from $OIDC_URL/tenant/.well-known/openid-configuration" \
	"the log says which endpoint, from which document"

# --- RFC 8414 only: the OIDC path is a 404, the other is there ---
tok=$(api '/v1/tokens/rfc?wait=10' -H 'Accept: text/plain')
is "$(idp_at OAUTH "/introspect?token=$tok" | json_field active)" true \
	"a token from the endpoint an RFC 8414 document names"
is "$(idp_stat_at OAUTH discovery_fetches)" 1 \
	"found at /.well-known/oauth-authorization-server/realms/prod"
is "$(idp_stat_at OAUTH requests)" 1 "one token request"

# --- a site that answers every path with a page: the other document ---
tok=$(api '/v1/tokens/page?wait=10' -H 'Accept: text/plain')
is "$(idp_at PAGE "/introspect?token=$tok" | json_field active)" true \
	"a web page (200) at the OpenID Connect path: the RFC 8414 document is asked for next"

# --- a mix-up: the document is another issuer's ---
wait_until 50 '[ -n "$(cred_field mixup last_error)" ]'
like "$(api /v1/credentials | grep -o '"name":"mixup"[^}]*')" \
	"discovery: [^\"]*is issuer \\\\\"https://other.example\\\\\"'s, not" \
	"a document naming another issuer is refused, and last_error says whose it is"
is "$(idp_stat_at MIXUP requests)" 0 "and no token is asked of the endpoint it names"
is "$(api_code '/v1/tokens/mixup?wait=0')" 503 "no token is served"

# --- none published ---
wait_until 50 '[ -n "$(cred_field none last_error)" ]'
like "$(cred_field none last_error)" \
	"discovery: $NONE_URL/.well-known/oauth-authorization-server/nothing: HTTP 404 .*check issuer" \
	"no document at either path: the error names the last one tried and says check issuer"

# A variant (another scope) is a token of its own: it asks the document too.
is "$(api_code '/v1/tokens/oidc?scope=write&wait=10')" 200 "a variant's token"
is "$(idp_stat_at OIDC discovery_fetches)" 2 "the variant asked the document for itself"

# --- after a reload, the document is asked for again ---
before=$(idp_stat_at OIDC discovery_fetches)
tbd_reload
is "$(api_code /v1/tokens/oidc/renew -X POST)" 200 "a renewal after the reload"
is "$(idp_stat_at OIDC discovery_fetches)" $((before + 1)) "asked the document again first"
is "$(idp_stat_at OIDC requests)" 3 "then the token endpoint"
is "$(api_code '/v1/tokens/oidc/renew?scope=write' -X POST)" 200 "the variant's renewal"
is "$(idp_stat_at OIDC discovery_fetches)" $((before + 2)) "asked the document again too"

# --- a 404 at the token endpoint: looked up again ---
before=$(idp_stat_at OIDC discovery_fetches)
idp_at OIDC '/control?fail=404' >/dev/null
api_code /v1/tokens/oidc/renew -X POST >/dev/null
like "$(cred_field oidc last_error)" "HTTP 404" "the token endpoint answers 404 (the token held is still served)"
unlike "$(cred_field oidc last_error)" "will not fix itself" \
	"not a failure for good: the endpoint is looked up again"
idp_at OIDC '/control?fail=0' >/dev/null
wait_until 50 '[ "$(idp_stat_at OIDC discovery_fetches)" -gt "$before" ]'
is "$(idp_stat_at OIDC discovery_fetches)" $((before + 1)) \
	"the next attempt asks the issuer where the endpoint is now"
wait_until 50 '[ "$(cred_field oidc state)" = valid ]'
is "$(cred_field oidc state)" valid "and gets a token"
grep -q 'answered 404: it is looked up again' "$T_DIR/daemon.log"
ok $? "the log says the endpoint will be looked up again"

# --- --test ---
out=$("$TBD" -c "$T_DIR/tb.conf" --test rfc 2>&1)
is "$?" 0 "--test with issuer: a token"
like "$out" "discovery: +$OAUTH_URL/realms/prod/.well-known/openid-configuration: HTTP 404" \
	"it shows the OpenID Connect document missing"
like "$out" "discovery: +$OAUTH_URL/.well-known/oauth-authorization-server/realms/prod: HTTP 200" \
	"and the RFC 8414 one found"
like "$out" "token endpoint: $OAUTH_URL/token \\(the document's issuer matches\\)" \
	"and the endpoint it names"
out=$("$TBD" -c "$T_DIR/tb.conf" --test mixup 2>&1)
like "$out" "is issuer \"https://other.example\"'s" "--test of a mix-up says whose document it is"

out=$("$TBD" -c "$T_DIR/tb.conf" --test none 2>&1)
like "$out" "result: +failed: no discovery document for this issuer" \
	"--test where none is published: says so"
like "$out" "hint: +check issuer \\(the URL the server names as its issuer\\), or give token_url" \
	"and to check issuer"
out=$("$TBD" -c "$T_DIR/tb.conf" --test down 2>&1)
like "$out" "hint: +nothing listens on 127.0.0.1:[0-9]+: check the host and port in issuer" \
	"--test of an issuer where nothing listens: the table's hint, naming issuer"

# A token_url that is a 404, on a server that publishes its endpoints.
out=$("$TBD" -c "$T_DIR/tb.conf" --test wrongpath 2>&1)
like "$out" "HTTP status: +404" "--test of a token_url that is not there: a 404"
like "$out" "hint: +$ORIGIN_URL publishes its token endpoint: $ORIGIN_URL/token; set token_url = $ORIGIN_URL/token, or issuer = $ORIGIN_URL instead of token_url" \
	"and the discovery document at its origin names the right one"

tbd_stop
done_testing
