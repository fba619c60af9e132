#!/bin/sh
# Install the real agent CLIs that tests/conformance/test_real_agents.py runs inside agentbox:
# the exact versions in tests/agents/package-lock.json, from the npm registry, into
# BUILD_DIR/agents (never globally). Idempotent: does nothing when that lock is installed.
#
#   scripts/agents.sh BUILD_DIR
#
# npm comes with the nodejs package (deps/debian.txt) on NodeSource's builds; Debian splits it
# into its own package, installed here when missing. Install scripts are not run, but for
# Claude Code's, which only copies the native binary of its platform package (already
# installed, from the registry) over its placeholder: nothing is fetched from elsewhere.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
dest="$1/agents"
lock="$here/tests/agents/package-lock.json"
stamp="$dest/installed-lock.json"

if [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "agents: npm not found (run 'make deps' as root, or install npm)" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
fi
mkdir -p "$dest"
cp "$here/tests/agents/package.json" "$lock" "$dest/"
# The registry is whatever npm is configured with; --ignore-scripts: see above.
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
(cd "$dest/node_modules/@anthropic-ai/claude-code" && node install.cjs)
cp "$lock" "$stamp"
# Readable by the unprivileged test user, whatever the umask.
chmod -R a+rX "$dest"
echo "agents: installed $(cd "$dest" && for b in claude codex gemini; do
    printf '%s ' "$b=$(node -p "require('./package-lock.json').packages['node_modules/' +
        {claude: '@anthropic-ai/claude-code', codex: '@openai/codex',
         gemini: '@google/gemini-cli'}['$b']].version")"; done)into $dest"
