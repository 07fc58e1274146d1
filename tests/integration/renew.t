#!/bin/bash
# Tokens that live 4 seconds are renewed before they expire, and clients
# polling all the while never get an expired one; min_valid forces a renewal.
. "$(dirname "$0")/lib.sh"

plan 7
idp_start --lifetime 4
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred short "timeout = 2s")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

api '/v1/tokens/short?wait=10' >/dev/null
bad=0 polls=0 seen=""
end=$((SECONDS + 10))
while [ $SECONDS -lt $end ]; do
	tok=$(api /v1/tokens/short -H 'Accept: text/plain')
	polls=$((polls + 1))
	left=$(idp "/introspect?token=$tok" | json_field expires_in)
	active=$(idp "/introspect?token=$tok" | json_field active)
	if [ "$active" != true ] || [ -z "$left" ]; then bad=$((bad + 1)); fi
	case " $seen " in *" $tok "*) ;; *) seen="$seen $tok" ;; esac
	sleep 0.2
done
distinct=$(echo $seen | wc -w)
is "$bad" 0 "no served token was expired at the endpoint ($polls polls over 10s)"
cmp_ok "$distinct" -ge 4 "the token was renewed several times ($distinct distinct tokens)"
failures=$(api /v1/credentials | json_field failures)
is "$failures" 0 "no renewal failed"
issued=$(idp_stat issued)
cmp_ok "$issued" -le 8 "renewals are paced by the lifetime, not a loop ($issued issued in ~11s)"

# min_valid: with 60s tokens, asking for more than is left renews first.
idp '/control?lifetime=60' >/dev/null
api /v1/tokens/short/renew -X POST >/dev/null
before=$(idp_stat issued)
tok1=$(api /v1/tokens/short -H 'Accept: text/plain')
sleep 2.5
tok2=$(api '/v1/tokens/short?min_valid=58' -H 'Accept: text/plain')
after=$(idp_stat issued)
is "$after" $((before + 1)) "min_valid above what is left forces one renewal"
[ -n "$tok2" ] && [ "$tok1" != "$tok2" ]
ok $? "the renewed token is served"
code=$(api_code '/v1/tokens/short?min_valid=600')
is "$code" 503 "min_valid longer than any token lives: 503"
done_testing
