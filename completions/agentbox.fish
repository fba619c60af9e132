# fish completion for agentbox(1)
# Installed as share/fish/vendor_completions.d/agentbox.fish; also printed by
# `agentbox completions fish`.

set -l commands run learn sessions diff commit discard undo export log explain profile doctor completions help

function __agentbox_profiles
    # Names come from the binary itself, so the search path and trust rules are its own.
    agentbox profile list --names 2>/dev/null
end

function __agentbox_sessions
    # Only words shaped like an id: a command shown in the listing may itself span lines.
    agentbox sessions 2>/dev/null | string match -r --groups-only '^([0-9]{8}T[0-9]{6}Z-[0-9a-f]+) '
end

# The agentbox command in use: the first word that is not an option. (Not "any word seen":
# in `agentbox run -- git diff`, diff belongs to git.)
function __agentbox_command
    for w in (commandline -opc)[2..-1]
        if not string match -q -- '-*' $w
            echo $w
            return 0
        end
    end
    return 1
end

function __agentbox_using
    contains -- (__agentbox_command) $argv
end

complete -c agentbox -f
complete -c agentbox -n "not __agentbox_command" -s h -l help -d 'Show help'
complete -c agentbox -n "not __agentbox_command" -l version -d 'Print the version'

complete -c agentbox -n "not __agentbox_command" -a run -d 'Run one command in a sandbox; writes are staged'
complete -c agentbox -n "not __agentbox_command" -a sessions -d 'List sessions'
complete -c agentbox -n "not __agentbox_command" -a diff -d 'Show the staged changes of a session'
complete -c agentbox -n "not __agentbox_command" -a commit -d 'Apply staged changes to the project'
complete -c agentbox -n "not __agentbox_command" -a discard -d 'Drop the staged changes of a session'
complete -c agentbox -n "not __agentbox_command" -a undo -d 'Restore what the last commit replaced'
complete -c agentbox -n "not __agentbox_command" -a export -d 'Write staged changes to an archive or patch'
complete -c agentbox -n "not __agentbox_command" -a log -d 'Read or verify the decision log'
complete -c agentbox -n "not __agentbox_command" -a explain -d 'Show how the profile decides one operation'
complete -c agentbox -n "not __agentbox_command" -a profile -d 'List, show, check, test, sign or verify profiles'
complete -c agentbox -n "not __agentbox_command" -a doctor -d 'Show what this system can enforce'
complete -c agentbox -n "not __agentbox_command" -a completions -d 'Print a shell completion script'
complete -c agentbox -n "not __agentbox_command" -a help -d 'Show help'
complete -c agentbox -n "not __agentbox_command" -a learn -d 'Run a command observed and write the profile it needs'

# learn
set -l l "__agentbox_using learn"
complete -c agentbox -n $l -s p -l profile -x -a '(__agentbox_profiles)' -d 'Base profile NAME or FILE'
complete -c agentbox -n $l -s o -l output -r -F -d 'Write the learned profile to FILE'
complete -c agentbox -n $l -l force -d 'Overwrite FILE'
complete -c agentbox -n $l -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n $l -l env -x -a '(set -xn)' -d 'Pass NAME or set NAME=VALUE'
complete -c agentbox -n $l -l timeout -x -d 'Wall-clock limit'
complete -c agentbox -n $l -l log -r -F -d 'Copy of the decision log'
complete -c agentbox -n $l -l backend -x -a 'auto native bwrap' -d 'Sandbox backend'
complete -c agentbox -n $l -l tty -d 'Relay a pseudo-terminal'
complete -c agentbox -n $l -l no-tty -d 'Never relay a pseudo-terminal'
complete -c agentbox -n $l -l allow-weaker -d 'Run even if some rules cannot be enforced'
complete -c agentbox -n $l -s q -l quiet -d 'No summary at the end'
complete -c agentbox -n $l -s v -l verbose -d 'Say more'

# run
set -l r "__agentbox_using run"
complete -c agentbox -n $r -s p -l profile -x -a '(__agentbox_profiles)' -d 'Profile NAME or FILE'
complete -c agentbox -n $r -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n $r -l ro -r -F -d 'Make PATH visible read-only'
complete -c agentbox -n $r -l rw -r -F -d 'Make PATH writable (staged)'
complete -c agentbox -n $r -l hide -r -F -d 'Make PATH invisible'
complete -c agentbox -n $r -l net -x -a 'none proxy host' -d 'Network mode'
complete -c agentbox -n $r -l allow-host -x -d 'Allow HOST[:PORT] through the proxy'
complete -c agentbox -n $r -l secret -x -d 'Keep NAME outside; swapped in for HOST only'
complete -c agentbox -n $r -l env -x -a '(set -xn)' -d 'Pass NAME or set NAME=VALUE'
complete -c agentbox -n $r -l timeout -x -d 'Wall-clock limit'
complete -c agentbox -n $r -l memory -x -d 'Memory limit'
complete -c agentbox -n $r -l pids -x -d 'Process count limit'
complete -c agentbox -n $r -l on-exit -x -a 'ask commit discard keep' -d 'What to do with staged changes'
complete -c agentbox -n $r -l approver -x -a '(__fish_complete_command)' -d 'Approval command'
complete -c agentbox -n $r -l log -r -F -d 'Copy of the decision log'
complete -c agentbox -n $r -l log-fd -x -d 'Copy of the decision log to file descriptor N'
complete -c agentbox -n $r -l otlp -x -d 'Export the decision log to an OpenTelemetry collector'
complete -c agentbox -n $r -l dry-run -d 'Print the plan and exit'
complete -c agentbox -n $r -l json -d 'With --dry-run: plan as JSON'
complete -c agentbox -n $r -l backend -x -a 'auto native bwrap seatbelt' -d 'Sandbox backend'
complete -c agentbox -n $r -l target -x -a 'macos windows' -d 'With --dry-run: the plan for another system'
complete -c agentbox -n $r -l tty -d 'Relay a pseudo-terminal'
complete -c agentbox -n $r -l no-tty -d 'Never relay a pseudo-terminal'
complete -c agentbox -n $r -l die-with-parent -d 'End the sandbox when the starting process dies (default)'
complete -c agentbox -n $r -l no-die-with-parent -d 'Let the sandbox outlive the starting process'
complete -c agentbox -n $r -l allow-weaker -d 'Run even if some rules cannot be enforced'
complete -c agentbox -n $r -s q -l quiet -d 'No summary at the end'
complete -c agentbox -n $r -s v -l verbose -d 'Say more'
complete -c agentbox -n $r -l summary-fd -x -d 'Summary as JSON to file descriptor N'
complete -c agentbox -n $r -a '(__fish_complete_subcommand --fcs-skip=2)'

# explain
set -l e "__agentbox_using explain"
complete -c agentbox -n $e -s p -l profile -x -a '(__agentbox_profiles)' -d 'Profile NAME or FILE'
complete -c agentbox -n $e -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n $e -l json -d 'Print the decision as JSON'
complete -c agentbox -n "$e; and not __fish_seen_subcommand_from read write exec connect commit env request" -a 'read write exec connect commit env request' -d 'Operation'
complete -c agentbox -n "$e; and __fish_seen_subcommand_from request" -a 'GET HEAD POST PUT PATCH DELETE OPTIONS' -d 'Method'

# profile
set -l p "__agentbox_using profile"
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a list -d 'List profiles'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a show -d 'Print a profile resolved, with sources'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a check -d 'Validate profile files'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a test -d 'Run the [[test]] tables of profile files'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from list" -l names -d 'Names only'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from list show" -l json -d 'Print JSON'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from show" -a '(__agentbox_profiles)'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a keygen -d 'Make a key pair for signing profiles'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a sign -d 'Sign profile files (FILE.minisig)'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check test keygen sign verify" -a verify -d 'Verify the signatures of profile files'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from check" -F
complete -c agentbox -n "$p; and __fish_seen_subcommand_from keygen sign" -s s -l secret-key -r -F -d 'Secret key file'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from keygen" -s p -l public-key -r -F -d 'Public key file to write'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from keygen" -s f -l force -d 'Overwrite existing key files'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from sign" -s t -l trusted-comment -x -d 'Signed comment'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from verify" -s P -l public-key -x -d 'Public key (RW...)'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from verify" -s p -l public-key-file -r -F -d 'Public key file'

complete -c agentbox -n "__agentbox_using doctor" -l json -d 'Print JSON'
complete -c agentbox -n "__agentbox_using completions" -a 'bash zsh fish'
complete -c agentbox -n "__agentbox_using help" -a "$commands"
complete -c agentbox -n "__agentbox_using sessions" -l json
complete -c agentbox -n "__agentbox_using sessions" -l prune
complete -c agentbox -n "__agentbox_using diff" -l stat
complete -c agentbox -n "__agentbox_using diff" -l name-status
complete -c agentbox -n "__agentbox_using diff" -l json
complete -c agentbox -n "__agentbox_using commit" -l force
complete -c agentbox -n "__agentbox_using commit" -s n -l dry-run
complete -c agentbox -n "__agentbox_using commit" -l approver -x -a '(__fish_complete_command)' -d 'Approval command'
complete -c agentbox -n "__agentbox_using diff" -l binary
complete -c agentbox -n "__agentbox_using diff" -l no-pager
complete -c agentbox -n "__agentbox_using diff" -l color -x -a 'auto always never' -d 'Colour the output'
complete -c agentbox -n "__agentbox_using commit discard undo export" -l json -d 'Print JSON'
complete -c agentbox -n "__agentbox_using undo export" -l force
complete -c agentbox -n "__agentbox_using diff commit discard undo export" -s s -l session -x -a '(__agentbox_sessions)' -d 'Session id or prefix'
complete -c agentbox -n "__agentbox_using diff commit discard undo export" -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n "__agentbox_using export" -s o -l output -r -F
complete -c agentbox -n "__agentbox_using export" -l format -x -a 'tar tar.gz tar.zst patch'
complete -c agentbox -n "__agentbox_using log" -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n "__agentbox_using log" -l json -d 'Print the raw JSON lines'
complete -c agentbox -n "__agentbox_using log" -l follow -d 'Keep printing until the session ends'
complete -c agentbox -n "__agentbox_using log" -l verify -d 'Check chain, sequence and signatures'
complete -c agentbox -n "__agentbox_using log" -l export -x -a otlp -d 'Send the log to an OpenTelemetry collector'
complete -c agentbox -n "__agentbox_using log" -l no-pager -d 'Never start a pager'
complete -c agentbox -n "__agentbox_using log" -l full -d 'Print lists in full'

# Positional arguments: a session id (diff and commit then take paths; log also takes the
# path of a log file).
complete -c agentbox -n "__agentbox_using diff commit discard undo export log" -a '(__agentbox_sessions)' -d 'Session'
complete -c agentbox -n "__agentbox_using diff commit log" -F

# Every command has -h/--help.
complete -c agentbox -n "__agentbox_command" -s h -l help -d 'Show help'
