#!/usr/bin/env python3
"""Staging costs (issue #3), each one paired run with medians and ratios:

  diff    a 100,000-file git project, 100 files changed by a sandboxed command:
          `agentbox diff --name-status` against `git status --porcelain` on the same tree.
          agentbox reads only the session's upper directory; git stats the whole tree.
  start   `agentbox run -- true` in that project: the deny-glob walk, cached and not, and
          bwrap (which walks nothing) in the same project.
  commit  10,000 new files (100 MB) written by a sandboxed command: `agentbox commit` against
          `cp -a` of the same files on the same filesystem. Both start from clean page
          cache state (`sync` first), so the commit's own durability (syncfs, journal) is
          counted and the sandbox's writeback is not.

Usage: bench/staging.py AGENTBOX [--rounds N] [--files N] [--results bench/RESULTS.md]
"""
import argparse
import json
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


def make_project(work, env, files):
    """A git project of FILES files, 100 to a directory, committed (so .git holds as many
    objects), made once for the benchmarks that share it."""
    proj = os.path.join(work, "proj")
    if os.path.isdir(proj):
        return proj
    per_dir = 100
    for d in range(files // per_dir):
        dd = os.path.join(proj, "d%04d" % d)
        os.makedirs(dd)
        for i in range(per_dir):
            with open(os.path.join(dd, "f%03d.txt" % i), "w") as f:
                f.write("file %d %d\n" % (d, i))
    run(["git", "init", "-q", "."], env, proj)
    run(["git", "add", "-A"], env, proj)
    # No background `git gc --auto` packing the objects while the benchmarks run.
    run(["git", "config", "gc.auto", "0"], env, proj)
    run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"], env, proj)
    return proj


def bench_start(agentbox, work, env, rounds, files):
    """`agentbox run -- true` in the big project. The default profile hides @project/**/.env,
    so each run walks the project (its .git too) for them; the walk is cached by directory
    ctime (docs/design-notes.md 50). Runs with a cache directory that cannot keep a walk show
    it read whole; bwrap, which walks nothing, is the reference."""
    proj = make_project(work, env, files)
    # The walks read whole: a cache directory where no walk can be kept (removing the cache
    # before each run would measure this ext4's discards of the removed file instead).
    uncached = dict(env, XDG_CACHE_HOME=os.path.join(work, "nocache"))
    os.makedirs(os.path.join(uncached["XDG_CACHE_HOME"], "agentbox"))
    open(os.path.join(uncached["XDG_CACHE_HOME"], "agentbox", "walk"), "w").close()
    true = shutil.which("true")
    ab = [agentbox, "run", "-q", "--on-exit", "discard", "-C", proj, "--", true]
    rows = {"agentbox run, walk cached": [], "agentbox run, walk read": []}
    bwrap = shutil.which("bwrap")
    if bwrap:
        rows["bwrap"] = []
    # The cache remembers only directories changed more than two seconds before a walk.
    time.sleep(max(0.0, 2.5 - (time.time() - os.stat(os.path.join(proj, ".git")).st_ctime)))
    run(ab, env, proj)
    run(ab, uncached, proj)
    subprocess.run(["sync"])
    for _ in range(rounds):
        rows["agentbox run, walk cached"].append(timed(ab, env, proj))
        rows["agentbox run, walk read"].append(timed(ab, uncached, proj))
        if bwrap:
            rows["bwrap"].append(timed(
                [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
                 "--proc", "/proc", "--tmpfs", "/tmp", "--bind", proj, proj, true], env, proj))
    dirs = sum(1 for _ in os.walk(proj))
    text, med = table(rows, "agentbox run, walk read")
    return ("`agentbox run -p default -- true` in the %d-file git project (%d directories with "
            ".git); %d interleaved rounds; \"walk read\": a cache directory that cannot keep the "
            "walk.\n\n"
            % (files, dirs, rounds) + text +
            "\nwalk cached / walk read = **%.2fx**\n"
            % (med["agentbox run, walk cached"] / med["agentbox run, walk read"]))


def bench_diff(agentbox, work, env, rounds, files):
    proj = make_project(work, env, files)
    # 100 files changed inside the sandbox, spread over the tree.
    script = "for d in $(seq 0 %d 9999); do n=$(printf %%04d $d); [ -d d$n ] && echo x >> d$n/f000.txt; done; true" % (
        max(1, files // 100 // 100))
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


def read_meta(path):
    """A session's meta.json without the MAC line agentbox seals it with (session.hpp)."""
    with open(path) as f:
        return json.loads("".join(l for l in f if not l.startswith("#agentbox-mac ")))


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
    # The run's session: ids made in the same second do not sort by time, and the other
    # benchmarks leave sessions of their own.
    mine = [read_meta(os.path.join(sessions, s, "meta.json")) for s in os.listdir(sessions)]
    sid = max((m for m in mine if m["project"] == proj), key=lambda m: m["start_ns"])["id"]
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
    ap.add_argument("--only", choices=["diff", "start", "commit"])
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
        if args.only in (None, "start"):
            body = bench_start(agentbox, work, env, args.rounds * 3, args.files)
            print(body)
            results.write_section(args.results, "bigproject", body)
        if args.only in (None, "commit"):
            body = bench_commit(agentbox, work, env, max(3, args.rounds // 2), args.commit_files, 10240)
            print(body)
            results.write_section(args.results, "commit", body)
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", work])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
