#!/bin/sh
# agentbox's quick start: run a stand-in agent (examples/sample-project/agent.py) on a copy of
# the sample project, with a fake home holding fake secrets, and show what it could and could
# not do. Usage: examples/quickstart.sh [PATH/TO/agentbox]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
agentbox=$(realpath "${1:-$here/../build/agentbox}")
work=$(mktemp -d /tmp/agentbox-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A throwaway user environment, so the example never touches your real home or sessions.
export HOME="$work/home" XDG_STATE_HOME="$work/home/.local/state"
export XDG_CONFIG_HOME="$work/home/.config" XDG_CACHE_HOME="$work/home/.cache"
mkdir -p "$HOME/.ssh" "$HOME/.aws"
echo "-----BEGIN FAKE KEY----- quickstart $$" > "$HOME/.ssh/id_rsa"
printf '[default]\naws_secret_access_key = fake\n' > "$HOME/.aws/credentials"
export GITHUB_TOKEN="ghp_fake_quickstart_token"
cp -r "$here/sample-project" "$work/project"
cd "$work/project"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

step "agentbox doctor"
"$agentbox" doctor || true

step "agentbox explain read ~/.ssh/id_rsa"
"$agentbox" explain read "$HOME/.ssh/id_rsa" || true

step "agentbox explain connect api.github.com"
"$agentbox" explain connect api.github.com || true

step "agentbox explain commit .git/hooks/pre-commit"
"$agentbox" explain commit .git/hooks/pre-commit || true

step "agentbox run --dry-run -- python3 agent.py"
"$agentbox" run --dry-run -- python3 agent.py

step "agentbox run -- python3 agent.py"
"$agentbox" run --on-exit keep -- python3 agent.py

step "back on the host: the project is untouched until you commit"
echo "README.md on the host:" >&2
cat README.md
test ! -e notes.txt && echo "notes.txt does not exist on the host" >&2

step "agentbox diff --stat"
"$agentbox" diff --stat

step "agentbox diff"
"$agentbox" diff --no-pager

step "agentbox commit    (the git hook needs an explicit approval: held back, exit 1)"
"$agentbox" commit || echo "agentbox commit exited $?" >&2

step "back on the host: the edits are in, the hook is not"
cat README.md
test ! -e .git/hooks/pre-commit && echo ".git/hooks/pre-commit does not exist on the host" >&2

step "agentbox undo    (the commit is taken back; its changes are staged again)"
"$agentbox" undo
"$agentbox" sessions
