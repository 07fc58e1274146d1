# fish completion for tokenctl(1): commands, the options each command
# takes, option values, and the names of the credentials the caller may
# fetch (for the commands that take one), from `tokenctl status --json`
# asked of the socket given with -s or --socket earlier on the line, else
# the one tokenctl picks itself ($TOKENBROKER_SOCKET or its default).
#
# The bash and zsh completions beside this file hold the same tables;
# tests/integration/completion-sync.t checks all three against tokenctl.

# Options that take a value (tokenctl reads it from the next word, or after
# "=" in the same word, or after -s in the same word).
set -g __tokenctl_value_opts -s --socket --min-valid --wait --env --timeout \
    --scope --audience --resource --format --username

# __tokenctl_parse: reads the words before the cursor as tokenctl would and
# sets __tokenctl_cmd, __tokenctl_name, __tokenctl_action (git-credential's
# get/store/erase), __tokenctl_sock, __tokenctl_exec (the index of exec's
# command among the words, or empty), __tokenctl_dashdash and
# __tokenctl_prog (the tokenctl being completed, to ask for names).
function __tokenctl_parse
    set -l words (commandline -opc)
    set -g __tokenctl_prog $words[1]
    set -g __tokenctl_cmd ''
    set -g __tokenctl_name ''
    set -g __tokenctl_action ''
    set -g __tokenctl_sock ''
    set -g __tokenctl_exec ''
    set -g __tokenctl_dashdash ''
    set -l i 2
    while test $i -le (count $words)
        set -l w $words[$i]
        if test -n "$__tokenctl_exec"
            # The command's own arguments.
        else if test -z "$__tokenctl_dashdash"; and test "$w" = --
            set -g __tokenctl_dashdash 1
        else if test -z "$__tokenctl_dashdash"; and string match -q -- '-?*' $w
            if string match -q -- '-s?*' $w
                set -g __tokenctl_sock (string sub -s 3 -- $w)
            else if string match -q -- '--socket=*' $w
                set -g __tokenctl_sock (string replace -- '--socket=' '' $w)
            else if contains -- $w $__tokenctl_value_opts
                set i (math $i + 1)
                if contains -- $w -s --socket; and test $i -le (count $words)
                    set -g __tokenctl_sock $words[$i]
                end
            end
        else if test -z "$__tokenctl_cmd"
            set -g __tokenctl_cmd $w
        else if test -z "$__tokenctl_name"; and test "$__tokenctl_cmd" != help
            set -g __tokenctl_name $w
        else if test "$__tokenctl_cmd" = exec
            set -g __tokenctl_exec $i
        else if test "$__tokenctl_cmd" = git-credential; and test -z "$__tokenctl_action"
            set -g __tokenctl_action $w
        end
        set i (math $i + 1)
    end
end

# No command yet, and the word is not an option.
function __tokenctl_needs_command
    __tokenctl_parse
    test -z "$__tokenctl_cmd"
end

# __tokenctl_takes OPTION: the command on the line (any, when none is given
# yet) takes OPTION; never within exec's command or after "--".
function __tokenctl_takes
    __tokenctl_parse
    test -z "$__tokenctl_exec"; and test -z "$__tokenctl_dashdash"; or return 1
    switch $argv[1]
        case socket timeout verbose help version
            return 0
    end
    switch "$__tokenctl_cmd"
        case token
            contains -- $argv[1] json min-valid wait scope audience resource format
        case header
            contains -- $argv[1] json min-valid wait scope audience resource
        case renew
            contains -- $argv[1] json scope audience resource
        case status proxies
            contains -- $argv[1] json
        case exec
            contains -- $argv[1] env min-valid wait scope audience resource
        case git-credential
            contains -- $argv[1] username min-valid wait scope audience resource
        case ''
            return 0
        case '*'
            return 1
    end
end

# The credential NAME is the word being completed.
function __tokenctl_needs_name
    __tokenctl_parse
    test -z "$__tokenctl_name"; or return 1
    contains -- "$__tokenctl_cmd" token header status renew exec git-credential
end

function __tokenctl_needs_action
    __tokenctl_parse
    test "$__tokenctl_cmd" = git-credential; and test -n "$__tokenctl_name"
    and test -z "$__tokenctl_action"
end

# After exec NAME: the command to run (a word not starting with "-", or
# anything after "--"), then that command's own arguments.
function __tokenctl_in_exec
    __tokenctl_parse
    test "$__tokenctl_cmd" = exec; and test -n "$__tokenctl_name"; or return 1
    test -n "$__tokenctl_exec"; or test -n "$__tokenctl_dashdash"; and return 0
    not string match -q -- '-*' (commandline -ct)
end

# What fish would complete for the command after exec NAME, as if it stood
# alone on the line.
function __tokenctl_exec_complete
    set -l words (commandline -opc)
    if test -n "$__tokenctl_exec"
        complete -C -- (string join ' ' -- (string escape -- $words[$__tokenctl_exec..-1]) (commandline -ct))
    else
        complete -C -- (commandline -ct)
    end
end

# The credential names in the daemon's answer; the names are
# [A-Za-z0-9._-]{1,64}, so they never hold a quote or an escape.
function __tokenctl_names
    set -l prog $__tokenctl_prog
    set -l args --timeout 2 --json status
    if test -n "$__tokenctl_sock"
        set args --socket $__tokenctl_sock $args
    end
    command $prog $args 2>/dev/null | string match -ar '"name": *"[A-Za-z0-9._-]*"' |
        string replace -r '^"name": *"(.*)"$' '$1'
end

complete -c tokenctl -f

complete -c tokenctl -n __tokenctl_needs_command -a token -d 'print the token of a credential'
complete -c tokenctl -n __tokenctl_needs_command -a header -d 'print an Authorization header line'
complete -c tokenctl -n __tokenctl_needs_command -a status -d 'show the state of the credentials'
complete -c tokenctl -n __tokenctl_needs_command -a renew -d 'renew a token now'
complete -c tokenctl -n __tokenctl_needs_command -a exec -d 'run a command with the token in its environment'
complete -c tokenctl -n __tokenctl_needs_command -a proxies -d 'show the proxies'
complete -c tokenctl -n __tokenctl_needs_command -a git-credential -d 'be git\'s credential helper'
complete -c tokenctl -n __tokenctl_needs_command -a help -d 'show the help text'

complete -c tokenctl -n __tokenctl_needs_name -a '(__tokenctl_names)' -d credential
complete -c tokenctl -n __tokenctl_needs_action -a 'get store erase' -d 'git credential operation'
complete -c tokenctl -n __tokenctl_in_exec -a '(__tokenctl_exec_complete)'

complete -c tokenctl -n '__tokenctl_takes socket' -s s -l socket -r -F -d "the daemon's socket"
complete -c tokenctl -n '__tokenctl_takes json' -l json -d "print the daemon's JSON answer"
complete -c tokenctl -n '__tokenctl_takes min-valid' -l min-valid -x -d 'seconds the token must stay valid'
complete -c tokenctl -n '__tokenctl_takes wait' -l wait -x -d 'seconds to wait for a renewal in flight'
complete -c tokenctl -n '__tokenctl_takes env' -l env -x -a TOKEN -d 'variable for the token'
complete -c tokenctl -n '__tokenctl_takes scope' -l scope -x -d 'a variant for these scopes'
complete -c tokenctl -n '__tokenctl_takes audience' -l audience -x -d 'a variant for this audience'
complete -c tokenctl -n '__tokenctl_takes resource' -l resource -x -d 'a variant for this resource'
complete -c tokenctl -n '__tokenctl_takes format' -l format -x -a 'token exec-credential' -d 'output format'
complete -c tokenctl -n '__tokenctl_takes username' -l username -x -d 'the username git is given'
complete -c tokenctl -n '__tokenctl_takes timeout' -l timeout -x -d 'seconds to wait for the daemon'
complete -c tokenctl -n '__tokenctl_takes verbose' -l verbose -d 'say what is sent and received'
complete -c tokenctl -n '__tokenctl_takes help' -s h -l help -d 'show the help text'
complete -c tokenctl -n '__tokenctl_takes version' -l version -d 'show the version'
