#!/bin/sh
# Runs an agent in agentbox with its built-in profile; claude-code.sh, codex.sh and gemini.sh
# call it.
#
#   examples/agents/wrap.sh PROFILE AGENT [AGENT-ARGUMENTS...]
#
# Run it from your project. When the agent exits, its changes wait in a session: the script
# prints the diffstat and the commands to review, commit or discard them. Set AGENTBOX to use
# another binary, AGENTBOX_PROFILE to layer your own profile on top (a name or a .toml file).
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 PROFILE AGENT [AGENT-ARGUMENTS...]" >&2
    exit 2
fi
agentbox=${AGENTBOX:-agentbox}
profiles="-p $1${AGENTBOX_PROFILE:+ -p $AGENTBOX_PROFILE}"
agent=$2
shift 2

# Does the sandbox see the host's file at PATH? Allowed, and not by a tmpfs (an empty
# directory laid over the real one).
sees() {
    # shellcheck disable=SC2086  # $profiles is a list of words on purpose
    why=$("$agentbox" explain --json $profiles read "$1" 2>/dev/null) || return 1
    case $why in *'"rule":"filesystem.tmpfs'*) return 1 ;; esac
}

# Where the agent is installed must be visible inside the sandbox. Each profile covers its
# agent's usual install (claude-code: the native installer, ~/.local/bin/claude ->
# ~/.local/share/claude; codex: /usr/local, /opt); an npm install under your home (nvm,
# ~/.npm-global) is not, so ask the profile, and grant just that one prefix.
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
