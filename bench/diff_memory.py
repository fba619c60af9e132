#!/usr/bin/env python3
"""Peak memory of `agentbox diff` (issue 16 §7): the bound agentbox(1) states, measured on the
change sets that cost the most, each staged by a real sandboxed run:

  sparse-2g     one 2 GiB sparse text file (8 KiB of text, then holes: text as git decides):
                shown as large and streamed as binary patch data, never held whole
  text-limit    two sides of a text file just under the text-diff limits (8 MiB, 200,000
                short lines each, every line changed): the largest diff held in memory
  binary-64m    a 64 MiB binary file replacing another: hashed and deflated block by block
  many-files    20,000 small changed files: what grows with the number of paths

For each: peak RSS (ru_maxrss of the child, from wait4) of `agentbox diff` to a pipe (git
binary patches, the costliest form) and of `agentbox diff --stat`.

Usage: bench/diff_memory.py AGENTBOX [--results bench/RESULTS.md] [--quick]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def peak_rss_mib(argv, env, cwd):
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("failed: %s\n%s" % (" ".join(argv), err.decode(errors="replace")))
    return usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("agentbox")
    ap.add_argument("--results")
    ap.add_argument("--quick", action="store_true", help="small sizes: checks that it runs")
    a = ap.parse_args()
    a.agentbox = os.path.realpath(a.agentbox)
    q = a.quick
    cases = {
        "sparse-2g": "seq 2000 | head -c 8192 > f; truncate -s %s f" % ("64M" if q else "2047M"),
        "text-limit": "seq %d | sed 's/^/n/' > old" % (2000 if q else 199000),
        "binary-64m": "head -c %d /dev/urandom > b.bin" % ((1 if q else 64) << 20),
        "many-files": "for i in $(seq %d); do echo $i > f$i; done" % (200 if q else 20000),
    }
    rows = []
    for name, script in cases.items():
        work = tempfile.mkdtemp(prefix="ab-diffmem-")
        try:
            home, proj = os.path.join(work, "home"), os.path.join(work, "proj")
            os.makedirs(home)
            os.makedirs(proj)
            if name == "text-limit":  # the old side exists in the project
                n = 2000 if q else 199000
                with open(os.path.join(proj, "old"), "w") as f:
                    f.write("".join("x%d\n" % i for i in range(n)))
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
                   "XDG_STATE_HOME": os.path.join(home, ".state")}
            r = subprocess.run([a.agentbox, "run", "-q", "--on-exit", "keep", "-C", proj,
                                "--", "sh", "-c", script], env=env, cwd=proj,
                               capture_output=True)
            if r.returncode != 0:
                sys.exit("run failed (%s): %s" % (name, r.stderr.decode(errors="replace")))
            patch = peak_rss_mib([a.agentbox, "diff"], env, proj)
            stat = peak_rss_mib([a.agentbox, "diff", "--stat"], env, proj)
            rows.append((name, patch, stat))
        finally:
            subprocess.run(["chmod", "-R", "u+rwx", work])
            shutil.rmtree(work, ignore_errors=True)
    body = "| change set | diff peak RSS MiB | diff --stat peak RSS MiB |\n|---|---:|---:|\n"
    for name, patch, stat in rows:
        body += "| %s | %.1f | %.1f |\n" % (name, patch, stat)
    print(body)
    if a.results:
        results.write_section(a.results, "diff-memory", body)


if __name__ == "__main__":
    main()
