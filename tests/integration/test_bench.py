#!/usr/bin/env python3
"""`make bench` (bench/run.sh) runs every benchmark and rewrites each one's section of the
results file (issue #7). In miniature (BENCH_QUICK=1), into a copy of bench/RESULTS.md: the
test checks that each benchmark runs and reports medians and ratios, and that the other
sections of the file are kept; the numbers themselves mean nothing here.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

AGENTBOX = os.environ.get("AGENTBOX", "")
SOURCE_DIR = os.environ.get("AGENTBOX_SOURCE_DIR", "")
TOOLS = ("bwrap", "unshare", "firejail", "git", "curl")


@unittest.skipUnless(os.path.isdir(os.path.join(SOURCE_DIR, "bench")),
                     "no bench/ here (the unprivileged pass copies only the tests)")
class Bench(unittest.TestCase):
    def test_run_sh_runs_every_benchmark_and_rewrites_its_sections(self):
        missing = [t for t in TOOLS if shutil.which(t) is None]
        self.assertEqual([], missing, "deps/debian.txt lists them: run scripts/deps.sh")
        tmp = tempfile.mkdtemp(prefix="agentbox-bench-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        results = os.path.join(tmp, "RESULTS.md")
        # A section no benchmark writes must survive the rewrite.
        with open(os.path.join(SOURCE_DIR, "bench", "RESULTS.md")) as f:
            text = f.read()
        text += "\n<!-- other -->\n## other\n\nkept\n<!-- /other -->\n"
        with open(results, "w") as f:
            f.write(text)
        env = dict(os.environ, BENCH_QUICK="1", BENCH_RESULTS=results, BENCH_DIR=tmp)
        r = subprocess.run([os.path.join(SOURCE_DIR, "bench", "run.sh"), AGENTBOX], env=env,
                           capture_output=True, text=True, timeout=1200)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        with open(results) as f:
            out = f.read()
        self.assertIn("kept", out)
        for name, ratio_to in (("startup", "bwrap"), ("diff", "git status"), ("commit", "cp -a"),
                               ("proxy", "direct"), ("bigproject", "agentbox run, walk read"),
                               ("connect", "bwrap --unshare-net")):
            m = re.search(r"<!-- %s -->(.*?)<!-- /%s -->" % (name, name), out, re.S)
            self.assertIsNotNone(m, name)
            section = m.group(1)
            self.assertEqual(1, out.count("<!-- %s -->" % name), name)
            self.assertIn("ratio to " + ratio_to, section, name)
            # Rewritten now: a fresh stamp, with the machine.
            self.assertRegex(section, r"\d{4}-\d\d-\d\d \d\d:\d\d UTC on .*cores", name)
            self.assertNotEqual(m.group(0), re.search(r"<!-- %s -->.*?<!-- /%s -->" % (name, name),
                                                      text, re.S).group(0), name)
        # The README's figures follow the results they were made from (here a copy of both).
        readme = os.path.join(tmp, "README.md")
        shutil.copy(os.path.join(SOURCE_DIR, "README.md"), readme)
        readme_py = [sys.executable, os.path.join(SOURCE_DIR, "bench", "readme.py"),
                     "--results", results, "--readme", readme]
        self.assertNotEqual(0, subprocess.run(readme_py + ["--check"], capture_output=True).returncode)
        subprocess.run(readme_py, check=True)
        self.assertEqual(0, subprocess.run(readme_py + ["--check"]).returncode)
        with open(readme) as f:
            quoted = f.read()
        # A section with two tables (diff: wall and CPU time) gives rows of both, each named by
        # its caption, and never a header or separator line as a row.
        self.assertNotRegex(quoted, re.compile(r"^\| \w+ \| (command|-+) \|", re.M), "a header as a row")
        self.assertRegex(quoted, re.compile(r"^\| diff \| agentbox diff --name-status \(Wall time\) \|", re.M))
        self.assertRegex(quoted, re.compile(r"^\| diff \| agentbox diff --name-status \(CPU time", re.M))
        m = re.search(r"^\| startup \| agentbox \| ([\d.]+) ms \| ([\d.]+)x to bwrap \|$", quoted, re.M)
        self.assertIsNotNone(m)
        self.assertRegex(out, r"\| agentbox \| %s \| [\d.]+ \| %sx \|" % (re.escape(m.group(1)), re.escape(m.group(2))))


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
    import abtest  # noqa: E402
    abtest.main()
