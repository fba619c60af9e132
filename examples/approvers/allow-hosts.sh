#!/bin/sh
# An agentbox approver (agentbox(1) --approver, DESIGN.md §8): allows a network connection when
# its host is listed in a file, one host per line ('#' starts a comment), and denies everything
# else. The request arrives as one JSON object on stdin; the answer is one JSON object on
# stdout. Needs jq.
#
#   agentbox run --approver 'examples/approvers/allow-hosts.sh ~/.config/agentbox/hosts' ...
set -eu
hosts=${1:?usage: allow-hosts.sh HOSTS-FILE}

request=$(cat)
op=$(printf '%s' "$request" | jq -r '.op // ""')
# target is host:port for connect; the host is everything before the last colon.
host=$(printf '%s' "$request" | jq -r '.target // "" | sub(":[0-9]+$"; "") | ascii_downcase')

answer() {
    jq -cn --arg v "$1" --arg r "$2" '{verdict: $v, scope: "session", reason: $r}'
}

if [ "$op" != "connect" ]; then
    answer deny "allow-hosts.sh only answers connect requests"
    exit 0
fi
# Exact, whole-line matches only: grep -F -x, no patterns from the file.
if [ -r "$hosts" ] && sed 's/#.*//; s/[[:space:]]//g' "$hosts" | grep -F -x -q -- "$host"; then
    answer allow "$host is listed in $hosts"
else
    answer deny "$host is not listed in $hosts"
fi
