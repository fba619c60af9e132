#!/bin/sh
# An approval pipeline: commit a session's staged changes only when the change set passes a
# policy written in jq, else leave them staged, say which changes failed, and exit 1.
#
#   examples/review/approve.sh [SESSION]      (default: the newest session of this project)
#
# The policy, to adapt: every change is inside one of APPROVE_PATHS (space-separated project
# paths; default "src tests docs"), deletes nothing, adds no symlink and no setuid/setgid
# file, and writes no file larger than APPROVE_MAX_BYTES (default 1 MiB). Whatever passes is
# still committed by `agentbox commit`, which applies the profile's own rules on top: a
# protected path (.git/hooks, CI workflows...) is held back even when this policy allows it.
# Needs jq. Set AGENTBOX to use another binary.
set -u
agentbox=${AGENTBOX:-agentbox}
paths=${APPROVE_PATHS:-"src tests docs"}
max=${APPROVE_MAX_BYTES:-1048576}

# One change's verdict: the list of reasons it fails, empty when it passes.
policy='
  ($paths | split(" ") | map(select(. != ""))) as $dirs
  | [ .[] | {path, why: [
        (if (.path as $p | any($dirs[]; . as $d | $p == $d or ($p | startswith($d + "/"))))
         then empty
         else "outside " + $paths end),
        (if .kind == "deleted" then "deletes a file" else empty end),
        (if .link_target != null then "a symlink to " + .link_target else empty end),
        (if .setid then "setuid/setgid" else empty end),
        (if (.size // 0) > $max then "\(.size) bytes (over \($max))" else empty end),
        (if .refused != null then .refused else empty end)
      ]} | select(.why | length > 0) ]'

set -- ${1:+-s "$1"}
changes=$("$agentbox" diff --json "$@") || exit 2
if [ "$(printf '%s' "$changes" | jq length)" -eq 0 ]; then
    echo "approve: nothing to commit" >&2
    exit 0
fi
failed=$(printf '%s' "$changes" | jq --arg paths "$paths" --argjson max "$max" "$policy") || exit 2
if [ "$(printf '%s' "$failed" | jq length)" -ne 0 ]; then
    echo "approve: not committed; these changes fail the policy:" >&2
    printf '%s' "$failed" | jq -r '.[] | "  \(.path): \(.why | join(", "))"' >&2
    exit 1
fi
printf '%s' "$changes" | jq -r '"approve: \(length) change(s) pass the policy"' >&2
exec "$agentbox" commit "$@"
