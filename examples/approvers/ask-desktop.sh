#!/bin/sh
# An agentbox approver (agentbox(1) --approver, DESIGN.md §8) that asks the user in a desktop
# dialog (zenity, else kdialog). Without a desktop session or either program it denies, saying
# why: an approver that cannot ask must not allow. Needs jq.
#
#   agentbox run --approver examples/approvers/ask-desktop.sh ...
set -u
request=$(cat)
summary=$(printf '%s' "$request" |
    jq -r '"agentbox: allow \(.op) \(.target)?\nrule: \(.rule) (\(.source))\nsession: \(.session)"')

answer() {
    jq -cn --arg v "$1" --arg s "$2" --arg r "$3" '{verdict: $v, scope: $s, reason: $r}'
}

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    answer deny once "no desktop session to ask in"
    exit 0
fi
if command -v zenity >/dev/null 2>&1; then
    ask() { zenity --question --title=agentbox --no-markup --text="$summary" 2>/dev/null; }
elif command -v kdialog >/dev/null 2>&1; then
    ask() { kdialog --title agentbox --yesno "$summary" 2>/dev/null; }
else
    answer deny once "neither zenity nor kdialog is installed"
    exit 0
fi
if ask; then
    answer allow once "allowed in a desktop dialog"
else
    answer deny once "denied in a desktop dialog"
fi
