#!/bin/sh
# Claude Code in agentbox: the project writable (every write staged for review), ~/.claude
# for its settings and login, the Anthropic API and nothing else on the network, and no other
# secret from your home or environment (profiles/claude-code.toml).
#
#   examples/agents/claude-code.sh [CLAUDE-ARGUMENTS...]
#
# Run it from your project. When Claude Code exits, its changes wait in a session: the script
# prints the diffstat and the commands to review, commit or discard them. Set AGENTBOX to use
# another binary, AGENTBOX_PROFILE to layer your own profile on top (a name or a .toml file).
set -u
agentbox=${AGENTBOX:-agentbox}
agent=claude
profiles="-p claude-code${AGENTBOX_PROFILE:+ -p $AGENTBOX_PROFILE}"

# Does the sandbox see the host's file at PATH? Allowed, and not by a tmpfs (an empty
# directory laid over the real one).
sees() {
    # shellcheck disable=SC2086  # $profiles is a list of words on purpose
    why=$("$agentbox" explain --json $profiles read "$1" 2>/dev/null) || return 1
    case $why in *'"rule":"filesystem.tmpfs'*) return 1 ;; esac
}

# Where the agent is installed must be visible inside the sandbox. The profile covers the
# native installer (~/.local/bin/claude -> ~/.local/share/claude); an npm install under your
# home (nvm, ~/.npm-global) is not, so ask the profile, and grant just that one prefix.
prefix=""
if bin=$(command -v "$agent") && [ "${bin#/}" != "$bin" ] && ! sees "$bin"; then
    real=$(realpath "$bin")
    # An npm bin link points into PREFIX/lib/node_modules/PACKAGE/...: grant PREFIX, which
    # holds node too. Otherwise the directory of the real file.
    prefix=$(dirname "$(dirname "$bin")")
    case $real in "$prefix"/*) ;; *) prefix=$(dirname "$real") ;; esac
fi

# keep: the session waits for you whatever happens; `ask` would prompt right here instead.
# shellcheck disable=SC2086
"$agentbox" run $profiles ${prefix:+--ro "$prefix"} --on-exit keep -- "$agent" "$@"
status=$?

# What it changed, if anything, and what to do next.
stat=$("$agentbox" diff --stat 2>/dev/null)
if [ -n "$stat" ]; then
    printf '%s\n' "$stat" >&2
    echo "review: $agentbox diff    apply: $agentbox commit    drop: $agentbox discard" >&2
fi
exit "$status"
