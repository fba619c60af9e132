#!/bin/sh
# Gemini CLI in agentbox: the project writable (every write staged for review), ~/.gemini for
# its sign-in, chats and checkpoints (a change to settings.json or trustedFolders.json held
# for review), the Gemini API and Google sign-in and nothing else on the network, and no
# other secret from your home or environment (profiles/gemini.toml).
#
#   examples/agents/gemini.sh [GEMINI-ARGUMENTS...]
#
# Run it from your project; wrap.sh says what happens then.
exec "$(dirname "$0")/wrap.sh" gemini gemini "$@"
