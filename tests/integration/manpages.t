#!/bin/bash
# The man pages: mandoc -T lint finds nothing above style level, and they
# are complete against the programs and the code as they are: every key
# the configuration parser knows (and so every key of the contract's table
# that is built) in tokenbroker.conf(5), every profile with an example, every option of
# --help in the page of its program, every exit status of tokenctl in
# tokenctl(1), and the signals in tokenbrokerd(8).
. "$(dirname "$0")/lib.sh"

plan 25
PAGES="man/tokenbrokerd.8 man/tokenctl.1 man/tokenbroker.conf.5"
CONTRACT=$PWD/../shared/interface.md

if ! command -v mandoc >/dev/null; then
	echo "Bail out! mandoc is missing (apt-get install mandoc)"
	exit 1
fi

for page in $PAGES; do
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	st=$?
	is "$st:$out" "0:" "mandoc -T lint -W warning $page reports nothing"
done

# Rendered text, without overstrike or hyphenation at line ends.
render() { mandoc -T ascii -O width=200 "$1" | col -bx; }
render man/tokenbrokerd.8 >"$T_DIR/tokenbrokerd.txt"
render man/tokenctl.1 >"$T_DIR/tokenctl.txt"
render man/tokenbroker.conf.5 >"$T_DIR/conf.txt"

# has_words FILE WORDS...: prints the words FILE lacks, standing alone.
has_words() {
	local file=$1 w lacking=
	shift
	for w in "$@"; do
		grep -qE -- "(^|[^A-Za-z0-9_.-])$(printf '%s' "$w" | sed 's/[.[\*^$]/\\&/g')([^A-Za-z0-9_-]|$)" \
			"$file" || lacking="$lacking $w"
	done
	printf '%s' "${lacking# }"
}

# A section of a rendered page: from its heading to the next one.
section() { awk -v h="$2" '/^[A-Z]/ { on = ($0 == h) } on' "$1"; }

# tokenbroker.conf(5) against the parser's key tables in daemon/conf-daemon.c
# and daemon/conf-cred.c.
daemon_keys=$(sed -n '/daemon_keys\[\] = {/,/^};/s/^[[:space:]]*{ "\([a-z_]*\)",.*/\1/p' daemon/conf-daemon.c)
cred_keys=$(sed -n 's/^[[:space:]]*CK(CK_[A-Z_]*, "\([a-z_.]*\)".*/\1/p' daemon/conf-cred.c |
	sed 's/\.$/.NAME/')
cmp_ok "$(echo "$daemon_keys" | wc -w)" -ge 8 "the [daemon] keys are found in daemon/conf-daemon.c"
cmp_ok "$(echo "$cred_keys" | wc -w)" -ge 40 "the credential keys are found in daemon/conf-cred.c"
is "$(has_words "$T_DIR/conf.txt" $daemon_keys)" "" \
	"tokenbroker.conf(5) names every [daemon] key of the parser"
is "$(has_words "$T_DIR/conf.txt" $cred_keys)" "" \
	"tokenbroker.conf(5) names every credential key of the parser"
section "$T_DIR/conf.txt" "THE DAEMON SECTION" >"$T_DIR/s"
is "$(has_words "$T_DIR/s" $daemon_keys)" "" "each [daemon] key is described in THE DAEMON SECTION"
proxy_keys=$(sed -n 's/^[[:space:]]*PK(PK_[A-Z_]*, "\([a-z_]*\)".*/\1/p' daemon/conf-proxy.c)
cmp_ok "$(echo "$proxy_keys" | wc -w)" -ge 15 "the proxy keys are found in daemon/conf-proxy.c"
section "$T_DIR/conf.txt" "PROXIES" >"$T_DIR/s"
is "$(has_words "$T_DIR/s" $proxy_keys)" "" "each proxy key is described in PROXIES"

# ... and against the contract, when it is beside the repository.
if [ -f "$CONTRACT" ]; then
	ckeys=$(awk '/^## 1\./ { on = 1 } /^## 2\./ { on = 0 } on' "$CONTRACT" |
		sed -n 's/^| *\(`[^|]*\)|.*/\1/p' | grep -o '`[^`]*`' | tr -d '`' |
		sed 's/^\*_file$/client_secret_file password_file/')
	dkeys=$(awk '/^\[daemon\]/ { on = 1; next } /^\[/ { on = 0 } on' "$CONTRACT" |
		sed -n 's/^\([a-z_]*\) *=.*/\1/p')
	cmp_ok "$(echo $ckeys $dkeys | wc -w)" -ge 40 "the contract's keys are found"
	# The contract runs ahead of the code: what the parser does not know
	# yet is listed, not documented as if it worked.
	built= unbuilt=
	for k in $ckeys $dkeys; do
		if printf '%s\n' $daemon_keys $cred_keys | grep -qxF -- "$k"; then
			built="$built $k"
		else
			unbuilt="$unbuilt $k"
		fi
	done
	[ -n "$unbuilt" ] && echo "# contract keys not built yet:$unbuilt"
	is "$(has_words "$T_DIR/conf.txt" $built)" "" \
		"tokenbroker.conf(5) names every key of the contract the parser knows"
else
	echo "ok $((T_NUM + 1)) # skip no $CONTRACT"
	echo "ok $((T_NUM + 2)) # skip no $CONTRACT"
	T_NUM=$((T_NUM + 2))
fi

# Profiles: each described, each but oauth2 with an example.
profiles=$(sed -nE 's/^[[:space:]]*\{ "([a-z0-9-]+)", (NULL|"[^"]*"), (NULL|"[^"]*"),.*/\1/p' daemon/profile.c)
cmp_ok "$(echo "$profiles" | wc -w)" -ge 4 "the profiles are found in daemon/profile.c"
section "$T_DIR/conf.txt" PROFILES >"$T_DIR/s"
is "$(has_words "$T_DIR/s" $profiles)" "" "every profile is described under PROFILES"
lacking=
for p in $profiles; do
	[ "$p" = oauth2 ] && continue
	grep -qE "^ +profile = $p\$" "$T_DIR/conf.txt" || lacking="$lacking $p"
done
is "${lacking# }" "" "every profile has an example"

# Options of --help in the page of the program.
options() { # the -x and --long options a --help text names
	grep -oE -- '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z-]*' | sed 's/^[^-]*//' | sort -u
}
opts=$("$TBD" --help | options)
like "$opts" "--check-config" "tokenbrokerd --help lists its options"
is "$(has_words "$T_DIR/tokenbrokerd.txt" $opts)" "" "tokenbrokerd(8) names every option of tokenbrokerd --help"
opts=$("$TBCTL" --help | options)
like "$opts" "--min-valid" "tokenctl --help lists its options"
is "$(has_words "$T_DIR/tokenctl.txt" $opts)" "" "tokenctl(1) names every option of tokenctl --help"
cmds=$("$TBCTL" --help | awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on' |
	sed -n 's/^  \([a-z][a-z]*\).*/\1/p')
is "$(has_words "$T_DIR/tokenctl.txt" $cmds)" "" "tokenctl(1) describes every command of tokenctl --help"
envs=$("$TBCTL" --help | awk '/^environment:/ { on = 1; next } /^$/ { on = 0 } on' |
	sed -n 's/^  \([A-Z_][A-Z_]*\).*/\1/p')
section "$T_DIR/tokenctl.txt" ENVIRONMENT >"$T_DIR/s"
is "$(has_words "$T_DIR/s" $envs)" "" "tokenctl(1) has every variable of tokenctl --help under ENVIRONMENT"

# Exit statuses and signals.
codes=$("$TBCTL" --help | awk '/^exit status:/ { on = 1; next } on' | sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p')
section "$T_DIR/tokenctl.txt" "EXIT STATUS" >"$T_DIR/s"
lacking=
for c in $codes; do
	grep -qE "^ +$c( |\$)" "$T_DIR/s" || lacking="$lacking $c"
done
is "$(echo $codes | wc -w)${lacking}" "$(echo $codes | wc -w)" \
	"tokenctl(1) lists every exit status of tokenctl --help under EXIT STATUS"
section "$T_DIR/tokenbrokerd.txt" "EXIT STATUS" >"$T_DIR/s"
lacking=
for c in 0 1 2 66 69; do
	grep -qE "^ +$c( |\$)" "$T_DIR/s" || lacking="$lacking $c"
done
is "${lacking# }" "" "tokenbrokerd(8) lists the exit statuses 0 1 2 66 69"
sigs=$("$TBD" --help | grep -oE 'SIG[A-Z]+' | sort -u)
section "$T_DIR/tokenbrokerd.txt" SIGNALS >"$T_DIR/s"
is "$(has_words "$T_DIR/s" SIGTERM SIGINT SIGHUP $sigs)" "" \
	"tokenbrokerd(8) describes SIGTERM, SIGINT, SIGHUP and the signals of --help under SIGNALS"

# Cross references between our pages point at pages that exist.
refs=$(cat $PAGES systemd/tokenbrokerd.service | grep -oE '(Xr|man:)[ ]?(tokenctl|tokenbrokerd|tokenbroker\.conf)[ (][158]' |
	sed -E 's/^(Xr ?|man:)//; s/[ (]/./' | sort -u)
lacking=
for r in $refs; do
	[ -f "man/$r" ] || lacking="$lacking $r"
done
is "${lacking# }" "" "every reference to a tokenbroker page names a page in man/"

done_testing
