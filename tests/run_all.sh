#!/bin/bash
# Runs every test suite against one build, as root and then as an unprivileged user, and ends
# with one line: "N passed, N failed" (test cases; a suite that dies before reporting its cases
# counts as one failure).
#
#   tests/run_all.sh BUILD_DIR
#
# What runs: unit tests (ctest -L unit); the Windows cross-compile and the macOS portability
# check (ctest -L cross); each integration and conformance file as the invoking user (root);
# and the same Python files as the user agentbox-test (created if absent) on a private copy of
# the binary, probes and tests, because BUILD_DIR may sit under a directory that user cannot
# traverse. Cases that need root skip themselves there, and check that agentbox fails closed.
# The unit tests run first, alone; then the rest, several files at a time (RUN_ALL_JOBS,
# below); last, alone, the files whose cases time themselves.
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

# Every suite file is a job with its own log. Jobs run JOBS at a time (RUN_ALL_JOBS, default
# 3): the Python suites mostly wait (on sandboxes starting, timeouts, child processes: 20-40%
# of one core each, measured), so on the 2-core CI machine three side by side take a third of the
# wall time. Each job's log is printed whole when it ends, so that logs never interleave. Jobs
# that assert on wall-clock time under load (SERIAL_FILES) run afterwards, one at a time, alone.
# RUN_ALL_JOBS=1 runs everything one after the other.
JOBS=${RUN_ALL_JOBS:-3}
SERIAL_FILES=" test_approve test_otlp "
# The longest files first (as root, on a 2-core machine: test_crash 220 s, test_bench 140 s,
# test_completions and test_staging 105 s, ...), so that none of them starts last and keeps
# the run going while the other workers sit idle.
SLOW_FILES="test_crash test_bench test_completions test_staging test_review_display test_proxy
            test_network test_processes test_files test_dlp test_request_rules"
NAMES=()
CMDS=()
SERIAL_JOBS=()
POOL_ORDER=()   # "RANK INDEX" lines: the pool runs them by RANK, then in the order listed


add_job() {  # FILE|- NAME COMMAND...   (FILE: the suite file it runs, for its place in line)
    local file=$1 name=$2 rank=50 r=0 slow i=${#NAMES[@]}
    shift 2
    NAMES+=("$name")
    CMDS+=("$(printf '%q ' "$@")")
    if [ "$file" = - ]; then
        rank=0
    else
        # The file's name alone: integration.test_cli, .../test_cli.py -> test_cli.
        file=${file##*/}
        file=${file%.py}
        file=${file#*.}
        case "$SERIAL_FILES" in *" $file "*) SERIAL_JOBS+=("$i"); return ;; esac
        for slow in $SLOW_FILES; do
            r=$((r + 1))
            [ "$slow" = "$file" ] && rank=$r
        done
    fi
    POOL_ORDER+=("$rank $i")
}

# The ctest names of a label's tests (integration.test_cli ...).
ctest_files() {  # LABEL
    ctest --test-dir "$BUILD" -N -L "$1" | sed -n 's/^ *Test *#[0-9]*: \([^ ]*\)$/\1/p'
}

run_job() {  # INDEX
    local name=${NAMES[$1]} log="$LOGDIR/${NAMES[$1]}.log" start=$SECONDS status
    eval "${CMDS[$1]}" >"$log" 2>&1 </dev/null
    status=$?
    echo "$status $((SECONDS - start))" >"$LOGDIR/$name.status"
    {
        flock 9
        echo "==== $name: ${CMDS[$1]}"
        cat "$log"
        echo "==== $name: exit $status, $((SECONDS - start)) s"
    } 9>"$LOGDIR/.print.lock"
}

run_jobs() {  # MAX INDEX...
    local max=$1 i
    shift
    for i in "$@"; do
        while [ "$(jobs -pr | wc -l)" -ge "$max" ]; do wait -n; done
        run_job "$i" &
    done
    wait
}

# ---- as the invoking user (root on the test machines)
# The Windows backend cross-compiles, the macOS sources compile with Linux poisoned (one case
# each: cmake/cross_windows.cmake and cmake/macos/check.cmake print their SUMMARY). The macOS
# compile is the longest job and the one that needs the CPU: first, at nice 10, so that the
# suites beside it keep the CPU they use and the compile takes what is left (test_crash,
# ptrace-bound, ran past its ctest TIMEOUT on a loaded machine). It builds in BUILD, as
# test_install's `make install` does: the two never run at the same time (flock).
add_job - cross flock "$LOGDIR/build-tree.lock" nice -n 10 ctest --test-dir "$BUILD" -L cross -V
# ctest runs each file as one test; -V shows each file's cases and summary so they can be counted.
add_job - unit ctest --test-dir "$BUILD" -L unit -V
UNIT_JOB=$((${#NAMES[@]} - 1))
unset 'POOL_ORDER[-1]'
for t in $(ctest_files integration); do
    lock=()
    [ "$t" = integration.test_install ] && lock=(flock "$LOGDIR/build-tree.lock")
    add_job "$t" "integration-root-${t#*.}" "${lock[@]}" \
        ctest --test-dir "$BUILD" -R "^${t//./[.]}\$" -V
done
for t in $(ctest_files conformance); do
    add_job "$t" "conformance-root-${t#*.}" ctest --test-dir "$BUILD" -R "^${t//./[.]}\$" -V
done
# The conformance suite again on the bubblewrap backend (abtest.py adds --backend bwrap), and
# staging, which that backend does its own way (a copy of the project, docs/design-notes.md 34).
for t in $(ctest_files conformance) integration.test_staging integration.test_commit_rules; do
    suite=${t%%.*}
    add_job "$t" "$suite-root-bwrap-${t#*.}" env AGENTBOX_BACKEND=bwrap \
        ctest --test-dir "$BUILD" -R "^${t//./[.]}\$" -V
done

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
            add_job "$f" "$suite-unpriv-$(basename "$f" .py)${backend:+-$backend}" \
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

# Background jobs of a script ignore SIGINT: an interrupted run takes them down with it.
trap 'trap - INT TERM; kill -TERM 0 2>/dev/null; exit 130' INT TERM
run_jobs 1 "$UNIT_JOB"
run_jobs "$JOBS" $(printf '%s\n' "${POOL_ORDER[@]}" | sort -s -n -k1,1 | cut -d' ' -f2)
run_jobs 1 "${SERIAL_JOBS[@]}"

# The counts, in the order the jobs were listed; then the time each took, longest first.
# A job that left no status (killed) counts as failed.
for i in "${!NAMES[@]}"; do
    status=1 secs=?
    if [ -f "$LOGDIR/${NAMES[$i]}.status" ]; then
        read -r status secs <"$LOGDIR/${NAMES[$i]}.status"
    else
        echo "==== ${NAMES[$i]}: killed before it ended"
        touch "$LOGDIR/${NAMES[$i]}.log"
        cat "$LOGDIR/${NAMES[$i]}.log"
    fi
    count "$LOGDIR/${NAMES[$i]}.log" "$status"
    printf '%6s  %s\n' "$secs" "${NAMES[$i]}" >>"$LOGDIR/.times"
done
echo "==== the longest jobs (s):"
sort -rn "$LOGDIR/.times" | head -n 15
echo "skipped: $SKIPPED"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
