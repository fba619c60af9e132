# bash completion for agentbox(1)
# Installed as share/bash-completion/completions/agentbox; also printed by
# `agentbox completions bash`.

_agentbox_profiles() {
    # Names come from the binary itself, so the search path and trust rules are its own.
    agentbox profile list --names 2>/dev/null
}

_agentbox_sessions() {
    # Session ids, newest last, from the binary (it knows the state directory). Only words
    # shaped like an id: a command shown in the listing may itself span lines.
    agentbox sessions 2>/dev/null | sed -n 's/^\([0-9]\{8\}T[0-9]\{6\}Z-[0-9a-f]\{1,\}\) .*/\1/p'
}

_agentbox() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="run learn sessions diff commit discard undo export log explain profile doctor completions help"

    # The command word is the first word that is not an option.
    local i cmd="" cmd_index=0
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then
            cmd=${words[i]}
            cmd_index=$i
            break
        fi
    done

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands -h --help --version" -- "$cur"))
        return
    fi

    case $cmd in
    run)
        # Once the sandboxed command has started (its first word, or after `--`), complete
        # as bash would complete that command on its own.
        local j=$((cmd_index + 1))
        while ((j < cword)); do
            case ${words[j]} in
            --) _agentbox_command_from $((j + 1)); return ;;
            -p | --profile | -C | --project | --ro | --rw | --hide | --net | --allow-host | \
                --secret | --env | --timeout | --memory | --pids | --on-exit | --approver | --log | \
                --log-fd | --backend | --target | --summary-fd) ((j += 2)) ;;
            -*) ((j++)) ;;
            *) _agentbox_command_from "$j"; return ;;
            esac
        done
        case $prev in
        -p | --profile)
            COMPREPLY=($(compgen -W "$(_agentbox_profiles)" -- "$cur"))
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -f -X '!*.toml' -- "$cur"))
            return ;;
        -C | --project)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --ro | --rw | --hide | --log)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --net) COMPREPLY=($(compgen -W "none proxy host" -- "$cur")); return ;;
        --on-exit) COMPREPLY=($(compgen -W "ask commit discard keep" -- "$cur")); return ;;
        --backend) COMPREPLY=($(compgen -W "auto native bwrap seatbelt" -- "$cur")); return ;;
        --target) COMPREPLY=($(compgen -W "macos windows" -- "$cur")); return ;;
        --env)
            COMPREPLY=($(compgen -e -- "$cur")); return ;;
        --allow-host | --secret | --timeout | --memory | --pids | --approver | --summary-fd | --log-fd | --otlp)
            return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-p --profile -C --project --ro --rw --hide --net
                --allow-host --secret --env --timeout --memory --pids --on-exit --approver --log --log-fd --otlp
                --dry-run --json --target --backend --tty --no-tty --die-with-parent --no-die-with-parent --allow-weaker -q --quiet -v
                --verbose --summary-fd -h --help --" -- "$cur"))
        else
            COMPREPLY=($(compgen -c -- "$cur"))
        fi
        ;;
    explain)
        case $prev in
        -p | --profile)
            COMPREPLY=($(compgen -W "$(_agentbox_profiles)" -- "$cur")); return ;;
        -C | --project)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-p --profile -C --project --json -h --help" -- "$cur"))
            return
        fi
        # Positional words after the command: OP, then TARGET.
        local n=0
        for ((i = cmd_index + 1; i < cword; i++)); do
            case ${words[i]} in
            -p | --profile | -C | --project) ((i++)) ;;
            -*) ;;
            *) ((n++)) ;;
            esac
        done
        if ((n == 0)); then
            COMPREPLY=($(compgen -W "read write exec connect commit env request" -- "$cur"))
        elif ((n == 1)) && [[ $prev == request ]]; then
            COMPREPLY=($(compgen -W "GET HEAD POST PUT PATCH DELETE OPTIONS" -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        ;;
    profile)
        local sub=""
        for ((i = cmd_index + 1; i < cword; i++)); do
            case ${words[i]} in
            list | show | check | test | keygen | sign | verify) sub=${words[i]}; break ;;
            esac
        done
        case $sub in
        "") COMPREPLY=($(compgen -W "list show check test keygen sign verify -C --project -h --help" -- "$cur")) ;;
        list) COMPREPLY=($(compgen -W "--json --names -h --help" -- "$cur")) ;;
        show)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--json -h --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_agentbox_profiles)" -- "$cur"))
                COMPREPLY+=($(compgen -f -X '!*.toml' -- "$cur"))
            fi ;;
        check | test)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-h --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi ;;
        keygen | sign | verify)
            case $prev in
            -s | --secret-key | -p | --public-key | --public-key-file)
                COMPREPLY=($(compgen -f -- "$cur")); return ;;
            -P | -t | --trusted-comment) return ;;
            esac
            if [[ $cur == -* ]]; then
                case $sub in
                keygen) COMPREPLY=($(compgen -W "-s --secret-key -p --public-key -f --force -h --help" -- "$cur")) ;;
                sign) COMPREPLY=($(compgen -W "-s --secret-key -t --trusted-comment -h --help" -- "$cur")) ;;
                verify) COMPREPLY=($(compgen -W "-P --public-key -p --public-key-file -h --help" -- "$cur")) ;;
                esac
            elif [[ $sub != keygen ]]; then
                COMPREPLY=($(compgen -f -- "$cur"))
            fi ;;
        esac
        ;;
    learn)
        local j=$((cmd_index + 1))
        while ((j < cword)); do
            case ${words[j]} in
            --) _agentbox_command_from $((j + 1)); return ;;
            -p | --profile | -o | --output | -C | --project | --env | --timeout | --log | --backend) ((j += 2)) ;;
            -*) ((j++)) ;;
            *) _agentbox_command_from "$j"; return ;;
            esac
        done
        case $prev in
        -p | --profile)
            COMPREPLY=($(compgen -W "$(_agentbox_profiles)" -- "$cur"))
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -f -X '!*.toml' -- "$cur"))
            return ;;
        -C | --project) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -o | --output | --log) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --backend) COMPREPLY=($(compgen -W "auto native bwrap" -- "$cur")); return ;;
        --env) COMPREPLY=($(compgen -e -- "$cur")); return ;;
        --timeout) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-p --profile -o --output --force -C --project --env --timeout
                --log --backend --tty --no-tty --allow-weaker -q --quiet -v --verbose -h --help --" -- "$cur"))
        else
            COMPREPLY=($(compgen -c -- "$cur"))
        fi
        ;;
    doctor) COMPREPLY=($(compgen -W "--json -h --help" -- "$cur")) ;;
    completions) COMPREPLY=($(compgen -W "bash zsh fish -h --help" -- "$cur")) ;;
    help) COMPREPLY=($(compgen -W "$commands -h --help" -- "$cur")) ;;
    sessions) COMPREPLY=($(compgen -W "--json --prune -h --help" -- "$cur")) ;;
    diff | commit | discard | undo | export)
        case $prev in
        -s | --session) COMPREPLY=($(compgen -W "$(_agentbox_sessions)" -- "$cur")); return ;;
        -C | --project) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -o | --output) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "tar tar.gz tar.zst patch" -- "$cur")); return ;;
        --approver) COMPREPLY=($(compgen -c -- "$cur")); return ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        esac
        local flags="-s --session -C --project -h --help"
        case $cmd in
        diff) flags+=" --stat --name-status --json --binary --no-pager --color" ;;
        commit) flags+=" --force -n --dry-run --approver --json" ;;
        discard) flags+=" --json" ;;
        undo) flags+=" --force --json" ;;
        export) flags+=" -o --output --format --force --json" ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_agentbox_sessions)" -- "$cur"))
            [[ $cmd == diff || $cmd == commit ]] && COMPREPLY+=($(compgen -f -- "$cur"))
        fi ;;
    log)
        case $prev in
        -C | --project) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --export) COMPREPLY=($(compgen -W "otlp" -- "$cur")); return ;;
        otlp) [[ ${words[cword - 2]} == --export ]] && return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-C --project --json --follow --verify --export --no-pager --full -h --help" -- "$cur"))
        else
            # A session id, or the path of a log file.
            COMPREPLY=($(compgen -W "$(_agentbox_sessions)" -- "$cur"))
            COMPREPLY+=($(compgen -f -- "$cur"))
        fi ;;
    esac
}

# Completes the sandboxed command as bash would complete it on its own.
_agentbox_command_from() {
    local start=$1
    if declare -F _command_offset >/dev/null 2>&1; then
        _command_offset "$start"
    elif ((COMP_CWORD == start)); then
        COMPREPLY=($(compgen -c -- "${COMP_WORDS[COMP_CWORD]}"))
    else
        COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
    fi
}

complete -F _agentbox agentbox
