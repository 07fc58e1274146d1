#!/bin/bash
# body_format = json: the token request's fields as a JSON object (a
# repeated one, audience here, an array), with Content-Type
# application/json, as some token endpoints want; the secret is still
# where auth_method puts it.
. "$(dirname "$0")/lib.sh"

plan 7
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred post "auth_method = client_secret_post" "body_format = json" "scope = read" \
	"audience = billing ledger" "lazy = yes")
$(cred basic "body_format = json" "lazy = yes")
EOF_CONF
tbd_start "$T_DIR/tb.conf"

"$TBCTL" -s "$SOCK" token post --wait 10 >/dev/null
is $? 0 "client_secret_post in a JSON body: a token"
stats=$(idp /stats)
like "$stats" '"content_type": *"application/json"' "sent as application/json"
like "$stats" '"auth": *"post"' "with client_id and client_secret in the body"
like "$stats" '"scope": *"read"' "the scope read from the JSON"
like "$stats" '"audience": *"billing".*"audience": *"ledger"' "the audience array as two values"
"$TBCTL" -s "$SOCK" token basic --wait 10 >/dev/null
is $? 0 "client_secret_basic with a JSON body: a token"
like "$(idp /stats)" '"auth": *"basic"' "the secret still in the Authorization header"
tbd_stop
