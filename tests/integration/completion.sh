# Helpers for the completion tests (completion*.t), sourced after lib.sh:
# each completes a command line in the real shell, with the file from
# contrib/ where that shell looks for an installed completion, and the
# build's tokenctl first on $PATH (the completions run it to ask the daemon
# for names).  Not a test itself (run-tests runs *.t only).

COMP_BASH=$PWD/contrib/tokenctl.bash-completion
mkdir "$T_DIR/fish" "$T_DIR/zsh"
cp contrib/tokenctl.fish "$T_DIR/fish/tokenctl.fish"
cp contrib/tokenctl.zsh-completion "$T_DIR/zsh/_tokenctl"
COMP_ZSH_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/complete.zsh
PATH=$(cd "$TB_BUILD" && pwd):$PATH
export PATH

# Words on stdin, one a line: sorted, without repeats, on one line.
comp_join() {
	LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'
	echo
}

# complete_line WORDS...: what the bash completion offers for the last
# word, as comp_join prints it.  Plain bash, without the bash-completion
# package.
complete_line() {
	bash --norc --noprofile -c '
		. "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		_tokenctl
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$COMP_BASH" "$@" | comp_join
}

# fcomplete LINE: what fish offers for LINE, the cursor at its end; the
# words without their descriptions, as comp_join prints them.  fish's
# stderr goes to $T_DIR/fish.err.
fcomplete() {
	fish --no-config -c '
		set fish_complete_path $argv[1] $__fish_data_dir/completions
		complete -C -- $argv[2]' "$T_DIR/fish" "$1" 2>>"$T_DIR/fish.err" |
		cut -f1 | comp_join
}

# zcomplete LINE...: completes each LINE in one zsh, the cursor at its
# end; fails when zsh did not finish.  zgot N is then what was offered for
# the N-th line, as comp_join prints it.  zsh's stderr goes to
# $T_DIR/zsh.err.
zcomplete() {
	COMP_ZOUT=$(mktemp -d "$T_DIR/zout.XXXXXX")
	zsh -f "$COMP_ZSH_HARNESS" "$T_DIR/zsh" "$COMP_ZOUT" "$@" 2>>"$T_DIR/zsh.err"
}
zgot() {
	comp_join <"$COMP_ZOUT/$1"
}

# complete_lines SHELL LINE...: what SHELL (bash, fish or zsh) offers for
# each LINE, the cursor at its end, one line each as comp_join prints it.
complete_lines() {
	local sh=$1 line n=0
	local -a words
	shift
	case $sh in
	bash)
		for line in "$@"; do
			read -ra words <<<"$line"
			[ "${line% }" != "$line" ] && words+=("")
			complete_line "${words[@]}"
		done
		;;
	fish)
		for line in "$@"; do fcomplete "$line"; done
		;;
	zsh)
		zcomplete "$@" || echo "# zsh did not finish completing"
		for line in "$@"; do
			n=$((n + 1))
			zgot "$n"
		done
		;;
	esac
}
