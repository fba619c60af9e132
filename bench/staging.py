#!/usr/bin/env python3
"""Staging costs (issue #3), each one paired run with medians and ratios:

  diff    a 100,000-file git project, 100 files changed by a sandboxed command:
          `agentbox diff --name-status` against `git status --porcelain` on the same tree.
          agentbox reads only the session's upper directory; git stats the whole tree.
  commit  10,000 new files (100 MB) written by a sandboxed command: `agentbox commit` against
          `cp -a` of the same files on the same filesystem. Both start from clean page
          cache state (`sync` first), so the commit's own durability (syncfs, journal) is
          counted and the sandbox's writeback is not.

Usage: bench/staging.py AGENTBOX [--rounds N] [--files N] [--results bench/RESULTS.md]
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


def timed(argv, env, cwd, cpu=None):
    """Wall milliseconds of one run; its CPU time (user + system, children included) is
    appended to CPU when given. On a shared machine the wall time of a short command is mostly
    waiting for a core; the CPU time is what the command itself costs."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    err = p.stderr.read()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), err.decode(errors="replace")))
    if cpu is not None:
        cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
    return t * 1000


def run(argv, env, cwd):
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), p.stderr.decode(errors="replace")))
    return p.stdout


def table(rows, base):
    out = "| command | median ms | p90 ms | ratio to %s |\n|---|---:|---:|---:|\n" % base
    med = {k: statistics.median(v) for k, v in rows.items()}
    for k, v in rows.items():
        p90 = sorted(v)[max(0, int(len(v) * 0.9) - 1)]
        out += "| %s | %.2f | %.2f | %.3fx |\n" % (k, med[k], p90, med[k] / med[base])
    return out, med


def bench_diff(agentbox, work, env, rounds, files):
    proj = os.path.join(work, "proj")
    per_dir = 100
    for d in range(files // per_dir):
        dd = os.path.join(proj, "d%04d" % d)
        os.makedirs(dd)
        for i in range(per_dir):
            with open(os.path.join(dd, "f%03d.txt" % i), "w") as f:
                f.write("file %d %d\n" % (d, i))
    run(["git", "init", "-q", "."], env, proj)
    run(["git", "add", "-A"], env, proj)
    run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"], env, proj)
    # 100 files changed inside the sandbox, spread over the tree.
    script = "for d in $(seq 0 %d 9999); do n=$(printf %%04d $d); [ -d d$n ] && echo x >> d$n/f000.txt; done; true" % (
        max(1, files // per_dir // 100))
    run([agentbox, "run", "-q", "--on-exit", "keep", "-C", proj, "--", "sh", "-c", script], env, proj)
    changed = len(run([agentbox, "diff", "--name-status"], env, proj).splitlines())
    run(["git", "status", "--porcelain"], env, proj)  # warm the index
    rows = {"agentbox diff --name-status": [], "git status --porcelain": []}
    cpu = {k: [] for k in rows}
    for _ in range(rounds):
        for k, argv in (("agentbox diff --name-status", [agentbox, "diff", "--name-status"]),
                        ("git status --porcelain", ["git", "status", "--porcelain"])):
            rows[k].append(timed(argv, env, proj, cpu[k]))
    text, med = table(rows, "git status --porcelain")
    cpu_text, cpu_med = table(cpu, "git status --porcelain")
    wall = med["agentbox diff --name-status"] / med["git status --porcelain"]
    used = cpu_med["agentbox diff --name-status"] / cpu_med["git status --porcelain"]
    load = " ".join("%.2f" % x for x in os.getloadavg())
    body = ("%d-file git project, %d files changed by a sandboxed command; %d interleaved rounds. "
            "Load average at the end: %s.\n\nWall time:\n\n" % (files, changed, rounds, load) + text +
            "\nCPU time (user + system):\n\n" + cpu_text +
            "\nagentbox diff / git status = **1/%.0f** wall, **1/%.0f** CPU (target: at most 1/50)\n"
            % (1 / wall, 1 / used))
    return body


def bench_commit(agentbox, work, env, rounds, nfiles, size):
    proj = os.path.join(work, "cproj")
    os.makedirs(proj)
    with open(os.path.join(proj, "README"), "w") as f:
        f.write("commit bench\n")
    gen = ("import os\nos.makedirs('gen', exist_ok=True)\nb=os.urandom(%d)\n"
           "for i in range(%d):\n    d='gen/%%02d' %% (i %% 100)\n    os.makedirs(d, exist_ok=True)\n"
           "    open('%%s/f%%05d' %% (d, i),'wb').write(b)\n" % (size, nfiles))
    run([agentbox, "run", "-q", "--on-exit", "keep", "-C", proj, "--", "python3", "-c", gen], env, proj)
    sessions = os.path.join(env["XDG_STATE_HOME"], "agentbox", "sessions")
    sid = sorted(os.listdir(sessions))[-1]
    upper = os.path.join(sessions, sid, "upper")
    rows = {"agentbox commit": [], "cp -a": []}
    for r in range(rounds):
        dest = os.path.join(work, "cp%d" % r)
        subprocess.run(["sync"])
        rows["cp -a"].append(timed(["cp", "-a", os.path.join(upper, "gen"), dest], env, work))
        shutil.rmtree(dest)
        subprocess.run(["sync"])
        rows["agentbox commit"].append(timed([agentbox, "commit", "-C", proj], env, proj))
        if r + 1 < rounds:
            run([agentbox, "undo", "-C", proj], env, proj)
    text, med = table(rows, "cp -a")
    body = ("%d new files of %d bytes (%.0f MB) written by a sandboxed command, committed by "
            "rename from the session into the project on the same filesystem; %d rounds "
            "(undo between rounds stages them again).\n\n" % (nfiles, size, nfiles * size / 1e6, rounds)
            + text + "\nagentbox commit / cp -a = **%.2fx** (target: at most 1.0x)\n"
            % (med["agentbox commit"] / med["cp -a"]))
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--files", type=int, default=100000)
    ap.add_argument("--commit-files", type=int, default=10000)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "RESULTS.md"))
    ap.add_argument("--only", choices=["diff", "commit"])
    args = ap.parse_args()
    agentbox = os.path.abspath(args.agentbox)
    # On the disk, not a tmpfs: the same filesystem a project and the state directory share.
    work = tempfile.mkdtemp(prefix="agentbox-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8",
           "XDG_STATE_HOME": os.path.join(work, "state"), "XDG_CONFIG_HOME": os.path.join(work, "config"),
           "XDG_CACHE_HOME": os.path.join(work, "cache")}
    try:
        if args.only in (None, "diff"):
            body = bench_diff(agentbox, work, env, args.rounds, args.files)
            print(body)
            results.write_section(args.results, "diff", body)
        if args.only in (None, "commit"):
            body = bench_commit(agentbox, work, env, max(3, args.rounds // 2), args.commit_files, 10240)
            print(body)
            results.write_section(args.results, "commit", body)
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", work])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
