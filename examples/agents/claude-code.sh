#!/bin/sh
# Claude Code in agentbox: the project writable (every write staged for review), its state
# (~/.claude, ~/.claude.json: login and history saved back, new hooks and MCP servers held for
# review), the Anthropic API and nothing else on the network, and no other
# secret from your home or environment (profiles/claude-code.toml).
#
#   examples/agents/claude-code.sh [CLAUDE-ARGUMENTS...]
#
# Run it from your project; wrap.sh says what happens then.
exec "$(dirname "$0")/wrap.sh" claude-code claude "$@"
