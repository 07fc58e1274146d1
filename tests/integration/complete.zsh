#!/usr/bin/zsh -f
# complete.zsh FPATHDIR OUTDIR LINE...: what zsh's own completion system
# offers for each LINE, the cursor at its end, in an interactive zsh that
# has FPATHDIR first in $fpath and runs compinit.  The matches for the
# N-th line (from 1) go to OUTDIR/N, one a line, in the order they were
# added; exits 1 when a line's completion did not end within 10 s.
#
# Completion functions run only inside ZLE, so the zsh that completes runs
# on a pseudo-terminal (zpty) and TAB is typed into it.  Its compadd is
# wrapped to write every match it adds to the file; the calls that only
# collect matches (-O, -A, -D) add none and are passed on untouched.

zmodload zsh/zpty zsh/zselect || exit 1
fpathdir=$1 outdir=$2
shift 2

cat >$outdir/init.zsh <<EOF_INIT
PS1='> '
unsetopt auto_list auto_menu beep
fpath=(${(q)fpathdir} \$fpath)
autoload -Uz compinit && compinit -u -D
compadd() {
	setopt localoptions extendedglob
	local a
	local -a tb_matches
	for a in "\$@"; do
		[[ \$a == (-|--) ]] && break
		[[ \$a == -[^-]#[OAD]* ]] && { builtin compadd "\$@"; return; }
	done
	builtin compadd -O tb_matches "\$@"
	(( \$#tb_matches )) && print -rl -- \$tb_matches >>\$tb_out
	builtin compadd "\$@"
}
tb_n=0
tb-complete() {
	tb_out=${(q)outdir}/\$(( ++tb_n ))
	: >\$tb_out
	zle complete-word
	zle kill-whole-line
	: >\$tb_out.done
}
zle -N tb-complete
bindkey '^I' tb-complete
EOF_INIT

zpty tb zsh -f -i || exit 1
zpty -w tb "source ${(q)outdir}/init.zsh"
n=0
for line in "$@"; do
	(( n++ ))
	zpty -w -n tb "$line"$'\t'
	for _ in {1..200}; do
		[[ -e $outdir/$n.done ]] && break
		# Drain the terminal, so that the other zsh never blocks on it.
		zpty -rt tb junk 2>/dev/null
		zselect -t 5
	done
	if [[ ! -e $outdir/$n.done ]]; then
		zpty -d tb
		exit 1
	fi
done
zpty -d tb
exit 0
