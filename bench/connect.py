#!/usr/bin/env python3
"""The cost of a connect() inside the sandbox (issue #22; #18 §8 put every connect through the
supervisor, by seccomp user notification, so that a host socket is never reached unchecked).

One paired run: the same loop -- a listener on 127.0.0.1 inside, then N times a blocking TCP
connect to it, the accept and both closes -- under `agentbox run --net none`, `bwrap
--unshare-net` and `unshare -rn` (each a fresh network namespace with only loopback), and on the
host, interleaved round by round in a new random order. The loop times itself inside the
sandbox, so the sandbox's start is not counted: the figure is microseconds per connect.

Usage: bench/connect.py AGENTBOX [--rounds N] [--connects N] [--results bench/RESULTS.md]
"""
import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

# Run inside each sandbox: brings loopback up where the namespace left it down (unshare -rn),
# then times N connects. Single-threaded (the listener accepts after each connect) so that no
# thread hand-off inside Python blurs the figure.
LOOP = r"""
import fcntl, socket, struct, sys, time
n = int(sys.argv[1])
s = socket.socket()
# IFF_UP on lo: a new network namespace (unshare -rn) starts with it down.
flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), 0x8913, struct.pack("16sH", b"lo", 0)))[1]
if not flags & 1:
    fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH", b"lo", flags | 1))
s.bind(("127.0.0.1", 0))
s.listen(64)
addr = s.getsockname()
for _ in range(20):  # warm
    c = socket.socket(); c.connect(addr); a, _ = s.accept(); a.close(); c.close()
t0 = time.perf_counter_ns()
for _ in range(n):
    c = socket.socket()
    c.connect(addr)
    a, _ = s.accept()
    a.close()
    c.close()
print((time.perf_counter_ns() - t0) / n / 1000.0)
"""


def run_loop(argv, env, cwd, connects):
    """-> (wall us per connect, timed inside; CPU us per connect of the whole command: user +
    system of the sandbox's processes and of agentbox's supervisor, its start included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), p.stderr))
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e6 / connects
    return float(p.stdout.strip().splitlines()[-1]), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--connects", type=int, default=2000)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "RESULTS.md"))
    ap.add_argument("--baseline", help="an older agentbox binary, run in the same rounds")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="agentbox-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    script = os.path.join(proj, "loop.py")
    with open(script, "w") as f:
        f.write(LOOP)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8",
           "XDG_STATE_HOME": os.path.join(work, "state"),
           "XDG_CONFIG_HOME": os.path.join(work, "config"),
           "XDG_CACHE_HOME": os.path.join(work, "cache")}
    python = "/usr/bin/python3"
    inner = [python, script, str(args.connects)]
    cmds = {"agentbox --net none": [os.path.abspath(args.agentbox), "run", "-q", "--on-exit",
                                    "discard", "--net", "none", "-C", proj, "--"] + inner}
    if args.baseline:
        cmds["agentbox (baseline)"] = [os.path.abspath(args.baseline)] + cmds["agentbox --net none"][1:]
    bwrap = shutil.which("bwrap")
    if bwrap:
        cmds["bwrap --unshare-net"] = [bwrap, "--unshare-net", "--die-with-parent", "--ro-bind",
                                       "/", "/", "--dev", "/dev", "--proc", "/proc"] + inner
    unshare = shutil.which("unshare")
    if unshare:
        cmds["unshare -rn"] = [unshare, "-rn"] + inner
    cmds["host"] = inner
    try:
        wall = {k: [] for k in cmds}
        cpu = {k: [] for k in cmds}
        for argv in cmds.values():
            run_loop(argv, env, proj, args.connects)  # warm caches once
        load_before = os.getloadavg()[0]
        rng = random.Random(8)
        names = list(cmds)
        for _ in range(args.rounds):
            rng.shuffle(names)
            for k in names:
                w, c = run_loop(cmds[k], env, proj, args.connects)
                wall[k].append(w)
                cpu[k].append(c)
        ref = "bwrap --unshare-net" if bwrap else "host"
        lines = []
        for caption, samples in (("Wall time, timed inside", wall),
                                 ("CPU time (user + system) of the whole command, its start "
                                  "included, per connect", cpu)):
            med = {k: statistics.median(v) for k, v in samples.items()}
            lines += [caption + ":", "", "| command | median us per connect | p90 us | ratio to %s |" % ref,
                      "|---|---:|---:|---:|"]
            for k, v in samples.items():
                p90 = sorted(v)[max(0, int(len(v) * 0.9) - 1)]
                lines.append("| %s | %.1f | %.1f | %.2fx |" % (k, med[k], p90, med[k] / med[ref]))
            lines.append("")
        wmed = {k: statistics.median(v) for k, v in wall.items()}
        cmed = {k: statistics.median(v) for k, v in cpu.items()}
        lines += ["agentbox's connect gate: **%+.0f us** wall, **%+.0f us** CPU per connect over %s"
                  % (wmed["agentbox --net none"] - wmed[ref], cmed["agentbox --net none"] - cmed[ref], ref)]
        if args.baseline:
            lines += ["", "agentbox / agentbox (baseline): %.3f wall, %.3f CPU (paired medians)"
                      % (wmed["agentbox --net none"] / wmed["agentbox (baseline)"],
                         cmed["agentbox --net none"] / cmed["agentbox (baseline)"])]
        body = "\n".join([
            "%d blocking loopback TCP connects (connect, accept, both closes; a listener on "
            "127.0.0.1 inside, one thread) under `agentbox run --net none` (every connect() "
            "made by the supervisor, seccomp user notification: #18 §8), `bwrap --unshare-net`, "
            "`unshare -rn` and on the host; %d interleaved rounds, each in a new random order. "
            "Load average (1 min) %.1f at the start, %.1f at the end."
            % (args.connects, args.rounds, load_before, os.getloadavg()[0]), ""] + lines)
        print(body)
        results.write_section(args.results, "connect", body)
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", work])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
