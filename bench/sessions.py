#!/usr/bin/env python3
"""`agentbox diff --name-status` with many sessions of other projects kept (issue 22), paired
against a baseline binary in the same rounds.

A command given no session id looks for the project's newest session. Before the project
index (src/stage/session.cpp) it read and verified every kept session's meta.json to find it;
the bench's fresh state directory (bench/staging.py) holds one session and hides that cost.
Here SESSIONS runs of `true` in another project are kept beside one run in the measured
project that changed CHANGED files; then AGENTBOX, BASELINE and `git status --porcelain` run
in alternation, ROUNDS times, each timed by wait4 (wall, and CPU as user + system).

The sessions are made by AGENTBOX, so they are indexed; a baseline binary reads the same
store as it always did. Run it under `chrt -f 10` for wall times that the machine's load
moves less.

Usage: bench/sessions.py AGENTBOX --baseline BIN [--sessions 700] [--rounds 100]
                         [--files 1000] [--changed 100] [--results bench/RESULTS.md --section NAME]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from staging import make_project, run  # noqa: E402


def spawn(argv, env, cwd):
    """(wall ms, CPU ms) of one run, which must succeed."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    err = p.stderr.read()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), err.decode(errors="replace")))
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--sessions", type=int, default=700)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--changed", type=int, default=100)
    ap.add_argument("--results")
    ap.add_argument("--section", default="sessions")
    args = ap.parse_args()
    agentbox, baseline = os.path.abspath(args.agentbox), os.path.abspath(args.baseline)
    work = tempfile.mkdtemp(prefix="agentbox-sessions-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8",
           "XDG_STATE_HOME": os.path.join(work, "state"),
           "XDG_CONFIG_HOME": os.path.join(work, "config"),
           "XDG_CACHE_HOME": os.path.join(work, "cache")}
    try:
        proj, other = make_project(work, env, args.files), os.path.join(work, "other")
        os.makedirs(other)
        true = shutil.which("true")
        for _ in range(args.sessions):
            run([agentbox, "run", "-q", "--on-exit", "keep", "-C", other, "--", true], env, other)
        script = "for f in %s; do echo x >> $f; done" % " ".join(
            "d%04d/f%03d.txt" % (i // 100, i % 100) for i in range(args.changed))
        run([agentbox, "run", "-q", "--on-exit", "keep", "-C", proj, "--", "sh", "-c", script],
              env, proj)
        diff = ["diff", "--name-status"]
        shown = run([agentbox] + diff, env, proj)
        if shown != run([baseline] + diff, env, proj) or len(shown.splitlines()) != args.changed:
            sys.exit("the binaries disagree, or the session holds other than %d changes:\n%s"
                     % (args.changed, shown.decode(errors="replace")))
        subprocess.run(["sync"])
        rows = {"agentbox diff --name-status": [agentbox] + diff,
                "baseline diff --name-status": [baseline] + diff,
                "git status --porcelain": ["git", "status", "--porcelain"]}
        wall = {k: [] for k in rows}
        cpu = {k: [] for k in rows}
        load0 = os.getloadavg()[0]
        for r in range(args.rounds):
            # Alternating which binary goes first: the one after the other finds its pages warm.
            order = list(rows) if r % 2 == 0 else [list(rows)[1], list(rows)[0], list(rows)[2]]
            for k in order:
                w, c = spawn(rows[k], env, proj)
                wall[k].append(w)
                cpu[k].append(c)
        load1 = os.getloadavg()[0]
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", work])
        shutil.rmtree(work, ignore_errors=True)

    a, b = "agentbox diff --name-status", "baseline diff --name-status"
    ratios = sorted(x / y for x, y in zip(cpu[a], cpu[b]))
    out = ("%d sessions of another project kept, and one of this project with %d changed files "
           "(%d-file git project); %d interleaved rounds; load average (1 min) %.1f at the start, "
           "%.1f at the end.\n\n| command | median wall ms | median CPU ms | CPU ratio to baseline |\n"
           "|---|---:|---:|---:|\n" % (args.sessions, args.changed, args.files, args.rounds, load0, load1))
    for k in rows:
        out += "| %s | %.2f | %.2f | %.3fx |\n" % (
            k, statistics.median(wall[k]), statistics.median(cpu[k]),
            statistics.median(cpu[k]) / statistics.median(cpu[b]))
    out += "\nPaired CPU ratio agentbox / baseline, median of the rounds: **%.3f**\n" % (
        statistics.median(ratios))
    print(out)
    if args.results:
        results.write_section(args.results, args.section, out)


if __name__ == "__main__":
    main()
