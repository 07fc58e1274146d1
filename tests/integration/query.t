#!/bin/bash
# Query parameters are read exactly: one value each, numbers all digits.
. "$(dirname "$0")/lib.sh"

plan 12
idp_start --lifetime 3600
write_conf "$T_DIR/tb.conf" <<EOF_CONF
$(cred q)
EOF_CONF
tbd_start "$T_DIR/tb.conf"
is "$(api_code '/v1/tokens/q?wait=10&min_valid=5')" 200 "one value each: 200"
is "$(api_code '/v1/tokens/q?min_valid=%35')" 200 "an escaped digit is a digit"

# Which of two values counted was up to the parser: the first, it was.
is "$(api_code '/v1/tokens/q?min_valid=1&min_valid=999999999')" 400 "a parameter given twice: 400"
is "$(api_code '/v1/tokens/q?min_valid=999999999&min_valid=1')" 400 "in either order"
like "$(api '/v1/tokens/q?min_valid=1&min_valid=2')" 'parameter \\?"min_valid\\?" is given more than once' \
	"the answer names it"
is "$(api_code '/v1/tokens/q?wait=1&min_valid=1&wait=1')" 400 "even with the same value, apart"
is "$(api_code '/v1/tokens/q/renew?wait=1&wait=2' -X POST)" 400 "on renew too"

# A NUL ended the value early: 5%00 was read as 5.
is "$(api_code '/v1/tokens/q?min_valid=5%00')" 400 "a NUL in a number: 400"
like "$(api '/v1/tokens/q?min_valid=5%0099')" 'min_valid' "the answer names the parameter"
is "$(api_code '/v1/tokens/q?wait=%001')" 400 "also at the start"
is "$(api_code '/v1/tokens/q?min_valid=5%20')" 400 "and any other non-digit"
is "$(api_code '/v1/tokens/q?min_valid=+5')" 400 "a plus is a space, not a sign"
tbd_stop
done_testing
