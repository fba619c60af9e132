#!/bin/sh
# Install every Debian package agentbox needs (deps/debian.txt). Idempotent; needs root.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
pkgs=$(grep -v '^#' "$here/deps/debian.txt" | grep -v '^$' | tr '\n' ' ')
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
    exit 1
fi
if [ -z "$(ls /var/lib/apt/lists/*_Packages 2>/dev/null | head -n1)" ] || [ -n "${AGENTBOX_APT_UPDATE:-}" ]; then
    apt-get update -qq
fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}
