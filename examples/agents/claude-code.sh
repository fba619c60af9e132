#!/bin/sh
# Claude Code in agentbox: the project writable (every write staged for review), ~/.claude
# for its settings and login, the Anthropic API and nothing else on the network, and no other
# secret from your home or environment (profiles/claude-code.toml).
#
#   examples/agents/claude-code.sh [CLAUDE-ARGUMENTS...]
#
# Run it from your project; wrap.sh says what happens then.
exec "$(dirname "$0")/wrap.sh" claude-code claude "$@"
