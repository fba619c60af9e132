#!/bin/sh
# Every benchmark, one after the other; each rewrites its own section of bench/RESULTS.md
# (medians, ratios and the machine), and then README.md's figures (bench/readme.py):
#   startup        `agentbox run -- true` against bwrap, unshare and firejail   (startup.py)
#   diff, start,   `agentbox diff` against `git status`, `agentbox run -- true` in that
#   commit         100,000-file project, `agentbox commit` against `cp -a`
#                  (staging.py)
#   proxy          downloads and first bytes through the proxy against direct  (proxy.py)
#   diff-memory    peak RSS of `agentbox diff` on the costliest change sets  (diff_memory.py)
#   connect        loopback TCP connects inside `run --net none` against bwrap --unshare-net,
#                  unshare -rn and the host: the cost of the connect gate       (connect.py)
#
# Usage: bench/run.sh [PATH/TO/agentbox]
#   BENCH_RESULTS=FILE  write there instead of bench/RESULTS.md (README.md is left alone)
#   BENCH_QUICK=1       each benchmark in miniature: checks that they all run; the numbers
#                       mean nothing (tests/integration/test_bench.py)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
agentbox=$(realpath "${1:-$here/../build/agentbox}")
results=${BENCH_RESULTS:-$here/RESULTS.md}
startup="" staging="" proxy="" connect=""
if [ -n "${BENCH_QUICK:-}" ]; then
    startup="--rounds 3"
    staging="--rounds 2 --files 2000 --commit-files 200"
    proxy="--rounds 1 --size 8388608 --small 5 --downloads 50"
    connect="--rounds 1 --connects 100"
fi
# shellcheck disable=SC2086  # the option lists are lists of words on purpose
/usr/bin/python3 "$here/startup.py" "$agentbox" --results "$results" $startup
# shellcheck disable=SC2086
/usr/bin/python3 "$here/staging.py" "$agentbox" --results "$results" $staging
# shellcheck disable=SC2086
/usr/bin/python3 "$here/proxy.py" "$agentbox" --results "$results" $proxy
# shellcheck disable=SC2086
/usr/bin/python3 "$here/diff_memory.py" "$agentbox" --results "$results" ${BENCH_QUICK:+--quick}
# shellcheck disable=SC2086
/usr/bin/python3 "$here/connect.py" "$agentbox" --results "$results" $connect
# The README quotes bench/RESULTS.md: refreshed with it, and only with it.
if [ -z "${BENCH_RESULTS:-}" ]; then
    /usr/bin/python3 "$here/readme.py" --results "$results"
fi
