#!/bin/sh
# Every benchmark, one after the other; each rewrites its own section of bench/RESULTS.md.
# Usage: bench/run.sh [PATH/TO/agentbox]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
agentbox=$(realpath "${1:-$here/../build/agentbox}")
/usr/bin/python3 "$here/startup.py" "$agentbox"
/usr/bin/python3 "$here/proxy.py" "$agentbox"
