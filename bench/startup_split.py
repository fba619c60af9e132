#!/usr/bin/env python3
"""Where a run's time goes, agentbox against bubblewrap, split at the points both share.

bench/startup.py --phases times agentbox from the inside; bwrap marks nothing. This script
times both from the kernel's side, in the same interleaved rounds, at the points every
sandbox launcher has: its exec, the clone of the sandbox's first process, the command's
execve, the command's exit and the launcher's exit (perf's sched_process_fork/exec/exit and
the execve tracepoint, system-wide). With --counts, a second pass of the same rounds also
records every system call and user page fault (much slower: read its counts, not its times)
and prints them per segment. Needs perf and root. Usage:
    bench/startup_split.py AGENTBOX [--rounds N] [--counts]
"""
import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

LIGHT = ["sched:sched_process_exec", "sched:sched_process_exit", "sched:sched_process_fork",
         "syscalls:sys_enter_execve"]
HEAVY = ["sched:sched_process_exec", "sched:sched_process_exit", "sched:sched_process_fork",
         "raw_syscalls:sys_enter", "exceptions:page_fault_user"]
SEGMENTS = [("spawn", "exec", "the launcher's fork and execve (by the bench)"),
            ("exec", "clone", "the launcher's own start and work before the sandbox's clone"),
            ("clone", "execve", "the sandbox's build, up to the command's execve"),
            ("execve", "exited", "the command (`true`) loads, runs and exits"),
            ("exited", "end", "after the command: the launcher's end and exit")]
EVENT = re.compile(r"^\s*(.+?)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+([\w:]+):\s*(.*)$")


def driver(work, agentbox, bwrap, true, seccomp, rounds):
    """A Python program that runs both launchers alternately (perf records it)."""
    path = os.path.join(work, "driver.py")
    with open(path, "w") as f:
        f.write(f"""import os, subprocess
env = dict(os.environ, HOME={work!r} + "/home", XDG_STATE_HOME={work!r} + "/state",
           XDG_CACHE_HOME={work!r} + "/cache", XDG_CONFIG_HOME={work!r} + "/config")
def run(argv, fd):
    if fd:
        f = os.open({seccomp!r}, os.O_RDONLY)
        os.dup2(f, 9)
        os.close(f)
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, pass_fds=(9,) if fd else ())
    if fd:
        os.close(9)
for _ in range({rounds} + 1):
    run({agentbox!r}, False)
    run({bwrap!r}, True)
""")
    return path


def record(events, work, drv, out):
    subprocess.run(["perf", "record", "-q", "-a", "-o", out, "-e", ",".join(events), "--",
                    sys.executable, drv], check=True, cwd=os.path.join(work, "proj"))
    text = subprocess.run(["perf", "script", "-i", out], check=True, capture_output=True,
                          text=True, errors="replace").stdout
    os.unlink(out)
    return text


def split(text, true, launchers):
    """Per launcher, a list of runs: each a dict of segment -> (ms, syscalls, faults)."""
    events = collections.defaultdict(list)
    children = collections.defaultdict(list)
    forked_at = {}
    for line in text.splitlines():
        m = EVENT.match(line)
        if not m:
            continue
        _comm, pid, ts, name, args = m.groups()
        pid, ts = int(pid), float(ts) * 1000
        events[pid].append((ts, name, args))
        if name == "sched:sched_process_fork":
            child = int(re.search(r"child_pid=(\d+)", args).group(1))
            children[pid].append((ts, child))
            forked_at[child] = ts

    def tree(pid):
        out = [pid]
        for _, c in children[pid]:
            out += tree(c)
        return out

    def first(pid, name, needle=""):
        return next((e[0] for e in events[pid] if e[1] == name and needle in e[2]), None)

    runs = collections.defaultdict(list)
    for pid, evs in list(events.items()):
        launched = [e for e in evs if e[1] == "sched:sched_process_exec"]
        if not launched or pid not in forked_at:
            continue
        kind = next((k for k, path in launchers.items()
                     if launched[0][2].startswith("filename=" + path + " ")), None)
        if kind is None:
            continue
        procs = tree(pid)
        cmd = next((p for p in procs if first(p, "sched:sched_process_exec", "filename=" + true)),
                   None)
        if cmd is None:
            continue
        execve = [e[0] for e in events[cmd] if e[1] == "syscalls:sys_enter_execve" or
                  (e[1] == "raw_syscalls:sys_enter" and e[2].startswith("NR 59 "))]
        ends = [first(p, "sched:sched_process_exit") for p in procs]
        if not execve or None in ends:
            continue
        points = {"spawn": forked_at[pid], "exec": launched[0][0],
                  "clone": min(t for p in procs for t, _ in children[p]),
                  "execve": execve[-1], "exited": first(cmd, "sched:sched_process_exit"),
                  "end": first(pid, "sched:sched_process_exit")}
        run = {}
        for a, b, _what in SEGMENTS:
            lo, hi = points[a], points[b]
            calls = sum(1 for p in procs for e in events[p]
                        if e[1] == "raw_syscalls:sys_enter" and lo <= e[0] < hi)
            faults = sum(1 for p in procs for e in events[p]
                         if e[1] == "exceptions:page_fault_user" and lo <= e[0] < hi)
            run[a] = (hi - lo, calls, faults)
        run["total"] = (points["end"] - points["spawn"], 0, 0)
        runs[kind].append((points["spawn"], run))
    # The first round of each warms the caches: dropped.
    return {k: [r for _, r in sorted(v)[1:]] for k, v in runs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--counts", action="store_true",
                    help="a second pass with every system call and page fault")
    args = ap.parse_args()
    agentbox_bin = os.path.abspath(args.agentbox)
    work = tempfile.mkdtemp(prefix="agentbox-split-")
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    os.makedirs(os.path.join(work, "home"))
    with open(os.path.join(proj, "README"), "w") as f:
        f.write("bench\n")
    true = shutil.which("true")
    seccomp = os.path.join(work, "seccomp.bpf")
    exporter = os.path.join(os.path.dirname(agentbox_bin), "bench", "seccomp_export")
    subprocess.run([exporter, seccomp], check=True)
    # The same two command lines as bench/startup.py.
    agentbox = [agentbox_bin, "run", "-q", "--on-exit", "discard", "-C", proj, "-p", "default",
                "--", true]
    bwrap = [shutil.which("bwrap"), "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
             "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--bind", proj, proj,
             "--seccomp", "9", true]
    drv = driver(work, agentbox, bwrap, true, seccomp, args.rounds)
    os.sync()
    load = os.getloadavg()[0]
    launchers = {"agentbox": agentbox_bin, "bwrap": bwrap[0]}
    timed = split(record(LIGHT, work, drv, os.path.join(work, "light.data")), true, launchers)
    counted = (split(record(HEAVY, work, drv, os.path.join(work, "heavy.data")), true, launchers)
               if args.counts else None)
    load_end = os.getloadavg()[0]
    shutil.rmtree(work)

    def med(runs, seg, i):
        return statistics.median(r[seg][i] for r in runs)

    print(f"{args.rounds} interleaved rounds of each (the first dropped); load average (1 min) "
          f"{load:.1f} at the start, {load_end:.1f} at the end. Medians; the rows need not add "
          "up to the total exactly.\n")
    head = "| segment (from -> to) | what | agentbox ms | bwrap ms | difference ms |"
    rule = "|---|---|---:|---:|---:|"
    if counted:
        head += " agentbox syscalls / faults | bwrap syscalls / faults |"
        rule += "---:|---:|"
    print(head)
    print(rule)
    for a, b, what in SEGMENTS + [("total", "", "spawn to the launcher's exit")]:
        ab, bw = med(timed["agentbox"], a, 0), med(timed["bwrap"], a, 0)
        name = f"{a} -> {b}" if b else "**total**"
        row = f"| {name} | {what} | {ab:.2f} | {bw:.2f} | {ab - bw:+.2f} |"
        if counted and a != "total":
            row += (f" {med(counted['agentbox'], a, 1):.0f} / {med(counted['agentbox'], a, 2):.0f}"
                    f" | {med(counted['bwrap'], a, 1):.0f} / {med(counted['bwrap'], a, 2):.0f} |")
        elif counted:
            row += " | |"
        print(row)


if __name__ == "__main__":
    main()
