#!/bin/sh
# Codex CLI in agentbox: the project writable (every write staged for review), ~/.codex for
# its sign-in and sessions (a change to config.toml held for review), the OpenAI API and
# ChatGPT sign-in and nothing else on the network, and no other secret from your home or
# environment (profiles/codex.toml).
#
#   examples/agents/codex.sh [CODEX-ARGUMENTS...]
#
# Run it from your project; wrap.sh says what happens then.
exec "$(dirname "$0")/wrap.sh" codex codex "$@"
