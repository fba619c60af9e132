#!/bin/sh
# Run the libFuzzer targets of a fuzz build for a while each.
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DAGENTBOX_FUZZ=ON -DAGENTBOX_WERROR=OFF \
#       -DCMAKE_BUILD_TYPE=Debug
#   cmake --build build-fuzz --target fuzzers     (or one: --target fuzz_profile)
#   tests/fuzz/run.sh build-fuzz 60
#
# Each target tests/fuzz/fuzz_NAME.cpp runs on a scratch copy of tests/fuzz/corpus/NAME (the
# checked-in seeds stay as they are). Crash inputs are written to BUILD_DIR/fuzz-artifacts/.
# First, each input of tests/fuzz/repro/NAME (what once crashed or hung the target) runs once,
# under the same 10 s timeout: kept out of the seeds, where a large one (a 40 KiB config that
# took minutes) made every mutation larger (fuzz_stage_config: 624 runs in 20 s, 7,833 without).
# Exits non-zero when any target finds a crash, leak or sanitizer report.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [SECONDS]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)

artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/agentbox-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM

# Each target is one process on one core for SECONDS: they run side by side, one per core
# (FUZZ_JOBS, default the number of cores), so that five targets take two rounds' wall time on
# two cores, not five, and each still gets a whole core for its SECONDS. A target's output is
# printed whole when it ends.
jobs=${FUZZ_JOBS:-$(nproc)}

fuzz_one() {  # TARGET BIN
    target=$1 bin=$2 name=${1#fuzz_}
    corpus="$scratch/$name"
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "== $target for ${seconds}s"
    if [ -d "$here/repro/$name" ] &&
       ! ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
         UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}" \
         "$bin" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts/$target-" \
                "$here/repro/$name"/*; then
        echo "$0: $target failed on an input of $here/repro/$name" >&2
        return 1
    fi
    if ! ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
         UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}" \
         "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
                -artifact_prefix="$artifacts/$target-" -print_final_stats=1 "$corpus"; then
        echo "$0: $target failed; reproduce with: $bin $artifacts/$target-<file>" >&2
        return 1
    fi
}

ran=0
status=0
pids=""
failed=""

# CI keeps only the tail of the output: a target that failed early would scroll away behind
# the others' statistics. Its report (the sanitizer's or libFuzzer's, from the first error
# line to the input as Base64, when libFuzzer printed it; progress lines left out) is printed
# again at the very end.
finish() {  # PID TARGET
    if ! wait "$1"; then
        status=1
        failed="$failed $2"
    fi
    cat "$scratch/$2.log"
}
for src in "$here"/fuzz_*.cpp; do
    [ -e "$src" ] || continue
    target=$(basename "$src" .cpp)
    bin="$build/tests/$target"
    if [ ! -x "$bin" ]; then
        echo "$0: $bin is not built (cmake --build $build --target $target)" >&2
        status=1
        continue
    fi
    # Wait for a free core: the oldest running target ends first (all run for SECONDS).
    set -- $pids
    if [ "$#" -ge "$jobs" ]; then
        finish "${1%%:*}" "${1#*:}"
        shift
    fi
    fuzz_one "$target" "$bin" > "$scratch/$target.log" 2>&1 &
    pids="$* $!:$target"
    ran=$((ran + 1))
done
for job in $pids; do
    finish "${job%%:*}" "${job#*:}"
done
for target in $failed; do
    echo "==== $target FAILED; its report again:"
    grep -v '^#[0-9]' "$scratch/$target.log" | tail -n 80
done

if [ "$ran" -eq 0 ]; then
    echo "$0: no fuzz targets ran" >&2
    exit 1
fi
exit "$status"
