#!/usr/bin/env python3
"""Startup cost of a sandbox: agentbox vs bubblewrap, unshare, firejail and bare `true`.

One paired run: the commands are interleaved round by round, so a noisy neighbour slows them
all alike; we report medians and ratios, never single timings. Usage:
    bench/startup.py AGENTBOX [--rounds N] [--results bench/RESULTS.md] [--baseline OLD_AGENTBOX]
    bench/startup.py AGENTBOX --phases [--baseline OLD_AGENTBOX] [--rounds N]

--baseline adds an older build of agentbox to the same rounds (a paired A/B of a change).
--phases runs only agentbox (and the baseline), with AGENTBOX_PHASES set: the binary then
prints named points of its run on CLOCK_MONOTONIC (src/util/phases.hpp), and the table gives
the median time between consecutive points -- where the start and the end of a run go.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def supervisor_peak_rss(argv_prefix, env):
    """agentbox's own peak RSS (VmHWM, KiB) while it supervises a short sleep.

    ru_maxrss cannot be used: exec keeps the high-water mark of the forked Python parent.
    VmHWM is the supervisor's own address space after exec, and setup (profile, plan, seccomp,
    clone) has peaked by the time it is read."""
    p = subprocess.Popen(argv_prefix + ["sleep", "0.6"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    kib = 0
    try:
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])
    finally:
        p.wait()
    return kib


def spawn_time(argv, env, pass_fds=()):
    """Wall time of one run."""
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, pass_fds=pass_fds)
    _, status, _usage = os.wait4(p.pid, 0)
    t1 = time.perf_counter_ns()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        err = p.stderr.read().decode(errors="replace")
        raise SystemExit(f"{argv[0]} failed ({p.returncode}): {err.strip()}")
    p.stderr.close()
    return (t1 - t0) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    ap.add_argument("--baseline", help="an older agentbox binary, run in the same rounds")
    ap.add_argument("--phases", action="store_true", help="where agentbox's time goes")
    args = ap.parse_args()
    # Absolute before the chdir into the benchmark project below.
    args.agentbox = os.path.abspath(args.agentbox)
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    args.results = os.path.abspath(args.results)

    work = tempfile.mkdtemp(prefix="agentbox-bench-")
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    with open(os.path.join(proj, "README"), "w") as f:
        f.write("bench\n")
    # The sandboxed command starts in the current directory, which must be visible inside.
    os.chdir(proj)
    env = dict(os.environ, HOME=os.path.join(work, "home"),
               XDG_STATE_HOME=os.path.join(work, "state"),
               XDG_CACHE_HOME=os.path.join(work, "cache"),
               XDG_CONFIG_HOME=os.path.join(work, "config"))
    os.makedirs(env["HOME"])
    true = shutil.which("true")

    agentbox = [os.path.abspath(args.agentbox), "run", "-q", "--on-exit", "discard",
                "-C", proj, "-p", "default", "--", true]
    baseline = [args.baseline] + agentbox[1:] if args.baseline else None
    if args.phases:
        phases(args, {"agentbox": agentbox, "baseline": baseline}, env, work)
        return
    # A seccomp program for bwrap: agentbox's own default filter, exported by the bench helper
    # built next to the binary (build/bench/seccomp_export), so both load the same filter.
    seccomp_file = os.path.join(work, "seccomp.bpf")
    exporter = os.path.join(os.path.dirname(os.path.abspath(args.agentbox)), "bench",
                            "seccomp_export")
    subprocess.run([exporter, seccomp_file], check=True)
    cmds = {"agentbox": (agentbox, None), "true": ([true], None)}
    if baseline:
        cmds["agentbox (baseline)"] = (baseline, None)
    bwrap = shutil.which("bwrap")
    if bwrap:
        base = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--bind", proj, proj]
        if os.path.exists(seccomp_file):
            cmds["bwrap"] = (base + ["--seccomp", "9", true], seccomp_file)
        else:
            cmds["bwrap (no seccomp)"] = (base + [true], None)
    unshare = shutil.which("unshare")
    if unshare:
        cmds["unshare"] = ([unshare, "-Urmpfin", "--mount-proc", true], None)
    firejail = shutil.which("firejail")
    if firejail and os.geteuid() == 0:
        cmds["firejail"] = ([firejail, "--quiet", "--noprofile", "--net=none", true], None)

    # Whatever the disk still owes from earlier work (the last benchmark's removed temporary
    # tree, on a filesystem mounted -o discard) is flushed first: a journal commit busy with it
    # delays each run's session files and overlay work directory, agentbox's and no other
    # command's, for minutes (1.15x -> 1.47x against bwrap measured back to back).
    os.sync()
    load_before = os.getloadavg()[0]
    samples = {k: [] for k in cmds}
    for name, (argv, fdfile) in cmds.items():  # warm caches once
        run_one(argv, env, fdfile)
    # A new order every round (seeded, so a rerun repeats it): a sandbox's teardown goes on in
    # the kernel after it exits (the network namespace is freed by a worker), and in a fixed
    # order whatever follows firejail would always pay for firejail's.
    rng = random.Random(8)
    names = list(cmds)
    for _ in range(args.rounds):
        rng.shuffle(names)
        for name in names:
            argv, fdfile = cmds[name]
            samples[name].append(run_one(argv, env, fdfile))
    peak_kib = supervisor_peak_rss(agentbox[:-1], env)

    med = {k: statistics.median(v) for k, v in samples.items()}
    ref = next((k for k in med if k.startswith("bwrap")), None)
    lines = ["| command | median ms | p90 ms | ratio to bwrap |", "|---|---:|---:|---:|"]
    for k, v in med.items():
        p90 = statistics.quantiles(samples[k], n=10)[-1]
        ratio = f"{v / med[ref]:.2f}x" if ref else "-"
        lines.append(f"| {k} | {v:.2f} | {p90:.2f} | {ratio} |")
    lines += ["", f"agentbox supervisor peak RSS (VmHWM): {peak_kib / 1024:.1f} MiB"]
    if baseline:
        lines += ["", "agentbox / agentbox (baseline): "
                  f"{med['agentbox'] / med['agentbox (baseline)']:.3f} (paired medians)"]
    detail = ("`agentbox run -p default -- true` (full default profile: user, mount, pid, net, "
              "ipc, uts, cgroup namespaces, overlay-staged project, seccomp, Landlock, "
              "capabilities dropped) against `" + " ".join(cmds[ref][0][:-1]).replace(work, "$W")
              + " true`" if ref else "bwrap not installed")
    # Every run waits on the disk (session files, the overlay's directories) and on CPUs shared
    # with other work: both are noted, since they move the absolute numbers, not the method.
    load = (f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
            f"the end; the session store is on {state_fs(work)}.")
    body = "\n".join([detail, "", f"{args.rounds} interleaved rounds, each in a new random "
                      f"order. {load}", ""] + lines)
    results.write_section(args.results, "startup", body)
    print(body)
    shutil.rmtree(work, ignore_errors=True)


# The points the binary marks, in order (src/util/phases.hpp callers), and what lies between
# each and the one before it. "spawn" is the bench's own clock before the fork; "exit" after
# wait4 returned.
PHASES = [
    ("main", "fork, exec, dynamic loading, static init"),
    ("parsed", "CLI parse"),
    ("profile", "project, context, profile load and layers"),
    ("probe", "secrets and the run's CA (when it has any), host probe (cached)"),
    ("compile", "plan compile (profile -> Plan: paths, mounts, rules, the deny-glob walk)"),
    ("plan", "staging choice, backend check"),
    ("session", "session directories, run lock"),
    ("started", "launch: seccomp filter (cached by its inputs: no rule set on a hit), proxy "
                "options, cgroups, channels, clone of the sandbox"),
    ("filter", "v1 cgroups and the release, when needed (the sandbox is built meanwhile)"),
    ("ready", "Io::ready: meta.json, log key, decision log"),
    ("go", "the command's go"),
    ("exec", "the command's last steps and exec (seen by the supervisor)"),
    ("ended", "the command runs and exits; init reports the end"),
    ("staged", "open up work directory, flush"),
    ("review", "review, process.exit event"),
    ("end", "status, signed end of the log, summary"),
    ("exit", "agentbox's exit (_Exit after the flush), as wait4 sees it"),
]

# The sandbox's side (native backend), read by its processes into memory shared with the
# supervisor (src/sandbox/linux/child.hpp, ChildPoint): each from the point before it.
SANDBOX_PHASES = [
    ("sandbox:maps", "started", "init: process group, its id maps (the release, with v1 "
                                "cgroups)"),
    ("sandbox:base", "sandbox:maps", "init: ids, tied to the supervisor, cgroup namespace, the "
                                     "scratch root"),
    ("sandbox:mounts", "sandbox:base", "init: the Plan's mounts (overlay, binds, masks)"),
    ("sandbox:pivot", "sandbox:mounts", "init: pivot, the host tree detached, / read-only"),
    ("sandbox:built", "sandbox:pivot", "init: lo, proxy listener, hostname, working directory"),
    ("sandbox:command", "sandbox:built", "init: not dumpable, signalfd, the command's clone"),
    ("sandbox:waiting", "sandbox:command", "command: session, stdio, fds, rlimits"),
    ("sandbox:went", "sandbox:waiting", "command: waiting for its go"),
    ("sandbox:exec", "sandbox:went", "command: Landlock, capabilities, no_new_privs, seccomp"),
    ("sandbox:resumed", "sandbox:exec", "command: execve (PATH search); init: resumes, drops "
                                        "its capabilities"),
    ("exec", "sandbox:resumed", "init closes the report pipe; the supervisor wakes to its EOF"),
    ("sandbox:reaped", "exec", "the command runs and exits; init reaps it and kills and reaps "
                               "what is left"),
    ("ended", "sandbox:reaped", "init's final record; the supervisor wakes to it"),
]


def phase_run(argv, env):
    """-> {point: ms after the spawn} of one run with AGENTBOX_PHASES set."""
    env = dict(env, AGENTBOX_PHASES="1")
    t0 = time.perf_counter_ns()  # CLOCK_MONOTONIC, the binary's clock
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, _ = os.wait4(p.pid, 0)
    t1 = time.perf_counter_ns()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} failed: {err.strip()}")
    points = {"exit": (t1 - t0) / 1e6}
    for line in err.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "agentbox-phase":
            points[f[1]] = (int(f[2]) - t0) / 1e6
    return points


def phases(args, binaries, env, work):
    binaries = {k: v for k, v in binaries.items() if v}
    os.sync()
    load_before = os.getloadavg()[0]
    runs = {k: [] for k in binaries}
    for k, argv in binaries.items():
        phase_run(argv, env)  # warm caches once
    rng = random.Random(8)
    names = list(binaries)
    for _ in range(args.rounds):
        rng.shuffle(names)
        for k in names:
            runs[k].append(phase_run(binaries[k], env))

    def deltas(samples):
        """-> {point: median ms since the run's point before it}. A binary without some marks
        (older, or built before a point was added) gets their time in its next point's row."""
        out = {}
        order = [pt for pt, _ in PHASES]
        for i, pt in enumerate(order):
            d = []
            for r in samples:
                if pt not in r:
                    continue
                prev = next((p for p in reversed(order[:i]) if p in r), None)
                d.append(r[pt] - (r[prev] if prev else 0.0))
            if d:
                out[pt] = statistics.median(d)
        return out

    cols = {k: deltas(v) for k, v in runs.items()}
    total = {k: statistics.median(r["exit"] for r in v) for k, v in runs.items()}
    head = "| phase (ends at) | what | " + " | ".join(f"{k} ms" for k in cols) + " | share |"
    lines = [head, "|---|---|" + "---:|" * (len(cols) + 1)]
    for pt, what in PHASES:
        if pt not in cols["agentbox"]:
            continue
        # "-": a binary without the mark (a build from before src/util/phases.hpp)
        vals = " | ".join(f"{cols[k][pt]:.2f}" if pt in cols[k] else "-" for k in cols)
        lines.append(f"| {pt} | {what} | {vals} | {100 * cols['agentbox'][pt] / total['agentbox']:.0f}% |")
    lines.append("| **total** (median wall) | | " + " | ".join(f"**{total[k]:.2f}**" for k in cols) + " | |")
    sandbox = sandbox_table(runs)
    load = (f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
            f"end; the session store is on {state_fs(work)}.")
    body = "\n".join([
        "`agentbox run -q --on-exit discard -p default -- true` with AGENTBOX_PHASES set: the "
        "median time between consecutive points the binary marks (src/util/phases.hpp), from "
        "the bench's spawn to wait4's return. Medians of differences, so the rows need not add "
        "up to the total exactly.", "",
        f"{args.rounds} interleaved rounds, each in a new random order. {load}", ""] + lines
        + sandbox)
    results.write_section(args.results, "startup-phases", body)
    print(body)
    shutil.rmtree(work, ignore_errors=True)


def sandbox_table(runs):
    """The sandbox's side of the same runs, from the clone (`started`): who waits for whom."""
    cols = [k for k, v in runs.items() if any("sandbox:built" in r for r in v)]
    if not cols:
        return []
    lines = ["", "The sandbox's side of the same runs (native backend: its processes read the "
             "clock into memory shared with the supervisor), each row from the point before it; "
             "`go` is the supervisor's, for comparison, from `started`.", "",
             "| point | what | " + " | ".join(f"{k} ms" for k in cols) + " |",
             "|---|---|" + "---:|" * len(cols)]
    rows = SANDBOX_PHASES + [("go", "started", "(supervisor) filter, ready, go: from the clone")]
    for pt, prev, what in rows:
        vals = []
        for k in cols:
            d = [r[pt] - r[prev] for r in runs[k] if pt in r and prev in r]
            vals.append(f"{statistics.median(d):.2f}" if d else "-")
        lines.append(f"| {pt} | {what} | " + " | ".join(vals) + " |")
    return lines


def state_fs(path):
    """The filesystem type and mount options of the mount holding `path`, from /proc/mounts."""
    best = ("", "unknown", "")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                _, mnt, fstype, opts = line.split()[:4]
                mnt = mnt.replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                    best = (mnt, fstype, opts)
    except OSError:
        pass
    return f"{best[1]} ({best[2]})" if best[2] else best[1]


def run_one(argv, env, fdfile):
    if fdfile is None:
        return spawn_time(argv, env)
    fd = os.open(fdfile, os.O_RDONLY)
    try:
        os.dup2(fd, 9, inheritable=True)
        return spawn_time(argv, env, pass_fds=(9,))
    finally:
        os.close(9)
        os.close(fd)


if __name__ == "__main__":
    main()
