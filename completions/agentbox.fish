# fish completion for agentbox(1)
# Installed as share/fish/vendor_completions.d/agentbox.fish; also printed by
# `agentbox completions fish`.

set -l commands run sessions diff commit discard undo export log explain profile doctor completions help

function __agentbox_profiles
    # Names come from the binary itself, so the search path and trust rules are its own.
    agentbox profile list --names 2>/dev/null
end

complete -c agentbox -f
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'Show help'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version'

complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a run -d 'Run one command in a sandbox; writes are staged'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a sessions -d 'List sessions'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a diff -d 'Show the staged changes of a session'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a commit -d 'Apply staged changes to the project'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a discard -d 'Drop the staged changes of a session'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a undo -d 'Restore what the last commit replaced'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a export -d 'Write staged changes to an archive or patch'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a log -d 'Read or verify the decision log'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a explain -d 'Show how the profile decides one operation'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a profile -d 'List, show or check profiles'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a doctor -d 'Show what this system can enforce'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a completions -d 'Print a shell completion script'
complete -c agentbox -n "not __fish_seen_subcommand_from $commands" -a help -d 'Show help'

# run
set -l r "__fish_seen_subcommand_from run"
complete -c agentbox -n $r -s p -l profile -x -a '(__agentbox_profiles)' -d 'Profile NAME or FILE'
complete -c agentbox -n $r -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n $r -l ro -r -F -d 'Make PATH visible read-only'
complete -c agentbox -n $r -l rw -r -F -d 'Make PATH writable (staged)'
complete -c agentbox -n $r -l hide -r -F -d 'Make PATH invisible'
complete -c agentbox -n $r -l net -x -a 'none proxy host' -d 'Network mode'
complete -c agentbox -n $r -l allow-host -x -d 'Allow HOST[:PORT] through the proxy'
complete -c agentbox -n $r -l env -x -a '(set -xn)' -d 'Pass NAME or set NAME=VALUE'
complete -c agentbox -n $r -l timeout -x -d 'Wall-clock limit'
complete -c agentbox -n $r -l memory -x -d 'Memory limit'
complete -c agentbox -n $r -l pids -x -d 'Process count limit'
complete -c agentbox -n $r -l on-exit -x -a 'ask commit discard keep' -d 'What to do with staged changes'
complete -c agentbox -n $r -l approver -x -a '(__fish_complete_command)' -d 'Approval command'
complete -c agentbox -n $r -l log -r -F -d 'Copy of the decision log'
complete -c agentbox -n $r -l log-fd -x -d 'Copy of the decision log to file descriptor N'
complete -c agentbox -n $r -l dry-run -d 'Print the plan and exit'
complete -c agentbox -n $r -l json -d 'With --dry-run: plan as JSON'
complete -c agentbox -n $r -l backend -x -a 'auto native bwrap' -d 'Sandbox backend'
complete -c agentbox -n $r -l target -x -a 'macos windows' -d 'With --dry-run: the plan for another system'
complete -c agentbox -n $r -l tty -d 'Relay a pseudo-terminal'
complete -c agentbox -n $r -l no-tty -d 'Never relay a pseudo-terminal'
complete -c agentbox -n $r -l allow-weaker -d 'Run even if some rules cannot be enforced'
complete -c agentbox -n $r -s q -l quiet -d 'No summary at the end'
complete -c agentbox -n $r -s v -l verbose -d 'Say more'
complete -c agentbox -n $r -l summary-fd -x -d 'Summary as JSON to file descriptor N'
complete -c agentbox -n $r -a '(__fish_complete_subcommand --fcs-skip=2)'

# explain
set -l e "__fish_seen_subcommand_from explain"
complete -c agentbox -n $e -s p -l profile -x -a '(__agentbox_profiles)' -d 'Profile NAME or FILE'
complete -c agentbox -n $e -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n $e -l json -d 'Print the decision as JSON'
complete -c agentbox -n $e -a 'read write exec connect commit env' -d 'Operation'

# profile
set -l p "__fish_seen_subcommand_from profile"
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check" -a list -d 'List profiles'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check" -a show -d 'Print a profile resolved, with sources'
complete -c agentbox -n "$p; and not __fish_seen_subcommand_from list show check" -a check -d 'Validate profile files'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from list" -l names -d 'Names only'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from list show" -l json -d 'Print JSON'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from show" -a '(__agentbox_profiles)'
complete -c agentbox -n "$p; and __fish_seen_subcommand_from check" -F

complete -c agentbox -n "__fish_seen_subcommand_from doctor" -l json -d 'Print JSON'
complete -c agentbox -n "__fish_seen_subcommand_from completions" -a 'bash zsh fish'
complete -c agentbox -n "__fish_seen_subcommand_from help" -a "$commands"
complete -c agentbox -n "__fish_seen_subcommand_from sessions" -l json
complete -c agentbox -n "__fish_seen_subcommand_from sessions" -l prune
complete -c agentbox -n "__fish_seen_subcommand_from diff" -l stat
complete -c agentbox -n "__fish_seen_subcommand_from diff" -l name-status
complete -c agentbox -n "__fish_seen_subcommand_from diff" -l json
complete -c agentbox -n "__fish_seen_subcommand_from commit" -l force
complete -c agentbox -n "__fish_seen_subcommand_from commit" -s n -l dry-run
complete -c agentbox -n "__fish_seen_subcommand_from diff" -l binary
complete -c agentbox -n "__fish_seen_subcommand_from diff" -l no-pager
complete -c agentbox -n "__fish_seen_subcommand_from undo export" -l force
complete -c agentbox -n "__fish_seen_subcommand_from diff commit discard undo export" -s s -l session -x -a '(agentbox sessions 2>/dev/null | cut -d" " -f1)' -d 'Session id or prefix'
complete -c agentbox -n "__fish_seen_subcommand_from diff commit discard undo export" -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory' 
complete -c agentbox -n "__fish_seen_subcommand_from export" -s o -l output -r -F
complete -c agentbox -n "__fish_seen_subcommand_from export" -l format -x -a 'tar tar.gz tar.zst patch'
complete -c agentbox -n "__fish_seen_subcommand_from log" -s C -l project -x -a '(__fish_complete_directories)' -d 'Project directory'
complete -c agentbox -n "__fish_seen_subcommand_from log" -l json -d 'Print the raw JSON lines'
complete -c agentbox -n "__fish_seen_subcommand_from log" -l follow -d 'Keep printing until the session ends'
complete -c agentbox -n "__fish_seen_subcommand_from log" -l verify -d 'Check chain, sequence and signatures'
