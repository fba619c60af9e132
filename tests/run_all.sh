#!/bin/bash
# Runs every test suite against one build, as root and then as an unprivileged user, and ends
# with one line: "N passed, N failed" (test cases; a suite that dies before reporting its cases
# counts as one failure).
#
#   tests/run_all.sh BUILD_DIR
#
# Order: unit tests (ctest -L unit); the Windows cross-compile and the macOS portability check (ctest -L cross); integration and conformance as the invoking user (root);
# then the same Python files as the user agentbox-test (created if absent) on a private copy of
# the binary, probes and tests, because BUILD_DIR may sit under a directory that user cannot
# traverse. Cases that need root skip themselves there, and check that agentbox fails closed.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
UNPRIV_USER=agentbox-test
LOGDIR=$(mktemp -d /tmp/agentbox-tests-XXXXXX)
PASSED=0
FAILED=0
SKIPPED=0

# Adds a log's counts to the totals. Python suites print "SUMMARY: N passed, N failed, N skipped"
# (tests/conformance/abtest.py); doctest prints "test cases: N | N passed | N failed | N skipped".
# A suite that failed without a summary line counts as one failure.
count() {  # LOG STATUS
    local log=$1 status=$2 p f s
    read -r p f s _found < <("$PY" - "$log" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
p = f = s = 0
found = False
for m in re.finditer(r"SUMMARY: (\d+) passed, (\d+) failed, (\d+) skipped", text):
    found = True
    p, f, s = p + int(m[1]), f + int(m[2]), s + int(m[3])
for m in re.finditer(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed \|\s*(\d+) skipped",
                     text):
    found = True
    p, f, s = p + int(m[2]), f + int(m[3]), s + int(m[4])
print(p, f, s, 1 if found else 0)
EOF
    )
    PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        FAILED=$((FAILED + 1))
        echo "run_all: $log: failed without reporting a failed case" >&2
    fi
}

run_step() {  # NAME COMMAND...
    local name=$1 log="$LOGDIR/$1.log" status
    shift
    echo "==== $name: $*"
    "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    count "$log" "$status"
}

# ---- as the invoking user (root on the test machines)
# ctest runs each file as one test; -V shows each file's cases and summary so they can be counted.
run_step unit ctest --test-dir "$BUILD" -L unit -V
# The Windows backend cross-compiles, the macOS sources compile with Linux poisoned (one case
# each: cmake/cross_windows.cmake and cmake/macos/check.cmake print their SUMMARY).
run_step cross ctest --test-dir "$BUILD" -L cross -V
run_step integration-root ctest --test-dir "$BUILD" -L integration -V
run_step conformance-root ctest --test-dir "$BUILD" -L conformance -V
# The conformance suite again on the bubblewrap backend (abtest.py adds --backend bwrap), and
# staging, which that backend does its own way (a copy of the project, docs/design-notes.md 34).
run_step conformance-root-bwrap env AGENTBOX_BACKEND=bwrap \
    ctest --test-dir "$BUILD" -L conformance -V
run_step integration-root-bwrap-staging env AGENTBOX_BACKEND=bwrap \
    ctest --test-dir "$BUILD" -R '^integration[.]test_(staging|commit_rules)$' -V

# ---- as an unprivileged user
if [ "$(id -u)" -eq 0 ]; then
    if ! id "$UNPRIV_USER" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/bash "$UNPRIV_USER" || exit 1
    fi
    UHOME=$(getent passwd "$UNPRIV_USER" | cut -d: -f6)
    COPY=$(mktemp -d /tmp/agentbox-unpriv-XXXXXX)
    trap 'rm -rf "$COPY" "$LOGDIR"' EXIT
    mkdir -p "$COPY/bin" "$COPY/tests"
    cp "$BUILD/agentbox" "$COPY/bin/agentbox"
    cp -r "$BUILD/probes" "$COPY/probes"
    cp -r "$SRC/tests/conformance" "$SRC/tests/integration" "$COPY/tests/"
    [ -d "$SRC/profiles" ] && cp -r "$SRC/profiles" "$COPY/profiles"
    cp -r "$SRC/completions" "$COPY/completions"
    cp -r "$SRC/examples" "$COPY/examples"   # test_examples.py runs them
    chown -R "$UNPRIV_USER:" "$COPY"
    chmod 755 "$COPY"
    # The real agents (scripts/agents.sh), read-only: readable by everyone already.
    [ -d "$BUILD/agents/node_modules" ] && cp -r "$BUILD/agents" "$COPY/agents"
    # Integration once, staging and conformance once per backend ("" = agentbox's own choice).
    for f in "$COPY"/tests/integration/test_*.py "$COPY"/tests/conformance/test_*.py; do
        [ -e "$f" ] || continue
        suite=$(basename "$(dirname "$f")")
        backends=("")
        [ "$suite" = conformance ] && backends=("" bwrap)
        case "$(basename "$f")" in test_staging.py|test_commit_rules.py) backends=("" bwrap) ;; esac
        for backend in "${backends[@]}"; do
            # runuser starts no login session; the environment is built from scratch so that
            # none of root's variables leak into the unprivileged run.
            run_step "$suite-unpriv-$(basename "$f" .py)${backend:+-$backend}" \
                runuser -u "$UNPRIV_USER" -- env -i \
                PATH=/usr/local/bin:/usr/bin:/bin HOME="$UHOME" USER="$UNPRIV_USER" \
                LANG=C.UTF-8 AGENTBOX_BACKEND="$backend" \
                AGENTBOX="$COPY/bin/agentbox" AGENTBOX_BUILD_DIR="$COPY" \
                AGENTBOX_SOURCE_DIR="$COPY" PYTHONDONTWRITEBYTECODE=1 \
                "$PY" "$f"
        done
    done
else
    echo "==== unprivileged pass skipped: not root (cannot create or switch to $UNPRIV_USER)"
    trap 'rm -rf "$LOGDIR"' EXIT
fi

echo "skipped: $SKIPPED"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
