#!/bin/bash
# shellcheck disable=SC2046,SC2086 # lists of words are split on purpose
# The bash, zsh and fish completions offer what tokenctl itself takes, no
# more and no less: its commands, before a command every option, after each
# command exactly the options that command accepts, and credential names
# from the daemon for exactly the commands that take a NAME.
#
# Each completion is written in its shell's own idiom and keeps its own
# copy of these tables; what keeps the three in step is this test, which
# derives the tables from tokenctl as built: the commands and options from
# its --help, and which command accepts which option, and which takes a
# NAME, from what tokenctl says when given them.  That is less machinery
# than generating the three files from a description of the commands, and
# it checks against the program itself, which a description could drift
# from: a new command or option in tokenctl fails this test until every
# completion has it.
. "$(dirname "$0")/lib.sh"

for sh in zsh fish; do
	if ! command -v "$sh" >/dev/null; then
		echo "Bail out! $sh is missing (apt-get install $sh, or make deps)"
		exit 1
	fi
done
. "$(dirname "$0")/completion.sh"

# The completions may offer these before tokenctl has them (the commands
# and options the contract adds, written beside the completions); while this
# tokenctl does not know one it is left out of the comparison, and said so.
# Once tokenctl knows it, it is checked like any other.
AHEAD=""

NONE=$T_DIR/none.sock
help=$(tokenctl --help)
commands=$(printf '%s\n' "$help" | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p')
# "LONG SHORT METAVAR" for each option, SHORT and METAVAR "-" when none.
options=$(printf '%s\n' "$help" | sed -nE \
	'/^options/,/^$/s/^ +(-([a-zA-Z]), )?--([a-z][a-z-]*)( ([A-Z]+))?( .*|$)/\3|\2|\5/p' |
	while IFS='|' read -r long short meta; do
		printf '%s %s %s\n' "$long" "${short:--}" "${meta:--}"
	done)

like " $(echo "$commands" | tr '\n' ' ')" " token .* status " "tokenctl's help lists its commands"
like "$(echo "$options" | tr '\n' ' ')" "socket s PATH .*min-valid - S " \
	"and its options, with their short forms and values"

# probe WORDS...: what tokenctl says on stderr for these words, on a socket
# where no daemon listens.
probe() {
	tokenctl -s "$NONE" "$@" </dev/null 2>&1 >/dev/null
}

# takes_name CMD: CMD accepts a credential NAME.
takes_name() {
	case $(probe "$1" x) in
	*"unexpected argument 'x'"*) return 1 ;;
	esac
	return 0
}

# accepts "CMD [NAME]" LONG METAVAR: CMD accepts --LONG.  An option with a
# value is tried with values until tokenctl takes one (it checks the value
# before whether the option applies); prints a note when none is taken.
accepts() {
	local long=$2 meta=$3 v err
	local -a at
	read -ra at <<<"$1"
	for v in 1 TOKEN token; do
		if [ "$meta" = - ]; then
			err=$(probe "${at[@]}" "--$long")
		else
			err=$(probe "${at[@]}" "--$long" "$v")
		fi
		case $err in
		*"does not apply"*) return 1 ;;
		*"--$long"*) [ "$meta" != - ] && continue ;;
		esac
		return 0
	done
	echo "# tokenctl takes none of the values tried for --$long" >&2
	return 0
}

# Words of AHEAD this tokenctl does not know yet.
known=" $(echo "$commands" | tr '\n' ' ') $(echo "$options" | while read -r long _; do printf -- '--%s ' "$long"; done)"
unknown=
for w in $AHEAD; do
	case $known in
	*" $w "*) ;;
	*)
		unknown+=" $w "
		skip "$w: the completions offer it; this tokenctl does not know it yet"
		;;
	esac
done

# row LABEL [WORD...]: "LABEL: WORD WORD ...", less the words of $unknown.
row() {
	local w
	printf '%s:' "$1"
	shift
	for w in "$@"; do
		case $unknown in *" $w "*) continue ;; esac
		printf ' %s' "$w"
	done
	printf '\n'
}

# The lines to complete and the offers expected: the commands; before a
# command, every option; after each command ("tokenctl CMD x -" for a
# command with a NAME, else "tokenctl CMD -"), the options it accepts.
# Then for each command, on the daemon's socket, what comes after it.
labels=(commands -)
lines=("tokenctl " "tokenctl -")
expected=$(row commands $(echo "$commands" | comp_join))
expected+=$'\n'$(row - $(echo "$options" | while read -r long short meta; do
	echo "--$long"
	[ "$short" = - ] || echo "-$short"
done | comp_join))
name_lines=()
name_expected=
for cmd in $commands; do
	labels+=("$cmd")
	words=$cmd
	if takes_name "$cmd"; then
		words="$cmd x"
		lines+=("tokenctl $cmd x -")
		name_expected+=$(row "$cmd" alpha beta.2)$'\n'
	else
		lines+=("tokenctl $cmd -")
		name_expected+=$(row "$cmd")$'\n'
	fi
	name_lines+=("tokenctl -s $SOCK $cmd ")
	expected+=$'\n'$(row "$cmd" $(echo "$options" | while read -r long short meta; do
		accepts "$words" "$long" "$meta" || continue
		echo "--$long"
		[ "$short" = - ] || echo "-$short"
	done | comp_join))
done

# rows LABEL... : rows of the labels and the offers on stdin, a line each.
rows() {
	local offers
	for label in "$@"; do
		IFS= read -r offers
		# shellcheck disable=SC2086 # the offers are words
		row "$label" $offers
	done
}

tbd_start_lazy alpha beta.2
for sh in bash zsh fish; do
	got=$(complete_lines "$sh" "${lines[@]}" | rows "${labels[@]}")
	is "$got" "$expected" "$sh: the commands, and the options as tokenctl takes them"
	got=$(complete_lines "$sh" "${name_lines[@]}" | rows $commands)
	is "$got" "${name_expected%$'\n'}" "$sh: names from the daemon for the commands that take one"
done
tbd_stop

plan "$T_NUM"
done_testing
