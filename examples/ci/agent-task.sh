#!/bin/sh
# One unattended agent task, for CI. Runs COMMAND in agentbox with the `ci` profile (and any
# -p PROFILE given, layered on top), keeps its changes staged, and writes to OUTDIR:
#
#   summary.json   what ran, how long, how it ended (agentbox run --summary-fd)
#   changes.patch  the staged changes as a patch `git apply` accepts (agentbox export)
#   changes.json   the change set: path, kind, modes, size, hash of each (agentbox diff --json)
#   log.jsonl      the session's signed decision log (agentbox log --json), verified first
#   commit-dry-run.txt   what a commit would apply and hold back, and why (agentbox commit -n)
#
#   examples/ci/agent-task.sh [-p PROFILE]... OUTDIR -- COMMAND [ARGS...]
#
# Exit status: the task's own when it failed (125: agentbox could not start it); else 1 when
# a change touches a protected path (.github/workflows/**, .git/hooks/**, ... — the profile's
# [commit] protect list) or one no approval could ever commit; else 0. Nothing is committed:
# the job uploads OUTDIR, and a person (or examples/review/approve.sh) applies the patch.
# Needs jq. Set AGENTBOX to use another binary.
set -u
agentbox=${AGENTBOX:-agentbox}
profiles="-p ci"
while [ $# -gt 0 ]; do
    case $1 in
    -p) profiles="$profiles -p $2"; shift 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 3 ] || [ "$2" != -- ]; then
    echo "usage: $0 [-p PROFILE]... OUTDIR -- COMMAND [ARGS...]" >&2
    exit 2
fi
out=$1
shift 2
mkdir -p "$out" || exit 2

# The summary on fd 3 names the session; every later command names it too, so that a
# concurrent session of the same project can never be picked up by mistake.
# shellcheck disable=SC2086  # $profiles is a list of words on purpose
"$agentbox" run $profiles --on-exit keep --summary-fd 3 -- "$@" 3>"$out/summary.json"
status=$?
session=$(jq -r '.session // empty' "$out/summary.json" 2>/dev/null)
if [ -z "$session" ]; then
    echo "agent-task: no session (agentbox run exited $status)" >&2
    exit "$status"
fi

"$agentbox" diff --json -s "$session" > "$out/changes.json" || exit 2
"$agentbox" export -s "$session" --format patch -o "$out/changes.patch" --force || exit 2
# A log that does not verify is not evidence: fail the job rather than upload it as such.
"$agentbox" log --verify "$session" >&2 || { echo "agent-task: the log does not verify" >&2; exit 1; }
"$agentbox" log --json "$session" > "$out/log.jsonl" || exit 2

echo "agent-task: $(jq length "$out/changes.json") change(s) in session $session" >&2
if [ "$status" -ne 0 ]; then
    echo "agent-task: the task failed (exit $status); its changes are in $out" >&2
    exit "$status"
fi

# The gate: a dry-run commit holds back exactly what a real one would (protected paths, links
# out of the project, device files) and exits 1 if it holds anything back.
if ! "$agentbox" commit --dry-run -s "$session" 2>"$out/commit-dry-run.txt"; then
    echo "agent-task: changes that need a person's approval:" >&2
    # Files, links and deletions; a directory is held only for what it contains.
    jq -r '.[] | select(.new_mode // "" | startswith("040") | not) | .path' "$out/changes.json" |
    while IFS= read -r path; do
        # shellcheck disable=SC2086
        "$agentbox" explain $profiles commit "$path" >/dev/null 2>&1 || echo "  $path" >&2
    done
    exit 1
fi
exit 0
