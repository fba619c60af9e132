#!/usr/bin/env python3
"""The documentation keeps up with the binary (issue #7: "finds every flag in --help, the man
page and tab completion"):

- every flag that `agentbox COMMAND --help` lists is in agentbox(1), and so is every command;
- every event type the source emits is described in agentbox-log(5);
- every file under examples/ that README.md names exists;
- every `DESIGN.md §N` that a comment cites is a section of docs/DESIGN.md, and so is the
  subsection it quotes (`DESIGN.md §4 "bwrap"`).

Completions are checked against the same --help by test_completions.py.
"""
import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_completions import AGENTBOX, help_flags, help_subcommands, help_text  # noqa: E402

SOURCE_DIR = os.environ.get("AGENTBOX_SOURCE_DIR", "")


def read(*parts):
    with open(os.path.join(SOURCE_DIR, *parts)) as f:
        return f.read()


def mentions(text, word):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


@unittest.skipUnless(os.path.isdir(os.path.join(SOURCE_DIR, "man")),
                     "no man/ here (the unprivileged pass copies only the tests)")
class Docs(unittest.TestCase):
    def setUp(self):
        self.env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "NO_COLOR": "1"}

    def test_every_command_and_flag_of_help_is_in_agentbox_1(self):
        page = read("man", "agentbox.1.scd")
        top = help_text(self.env)
        keys = [()] + [(c,) for c in help_subcommands(top)]
        keys += [("profile", s) for s in help_subcommands(help_text(self.env, "profile"))]
        for k in keys:
            with self.subTest(command=" ".join(k) or "(top level)"):
                if k:  # its entry under COMMANDS: "*diff* [_SESSION_]...", "*profile list*..."
                    self.assertTrue(re.search(r"(?m)^\*%s[* ]" % re.escape(" ".join(k)), page),
                                    "no entry for %s" % " ".join(k))
                missing = [f for f in sorted(help_flags(help_text(self.env, *k))) if not mentions(page, f)]
                self.assertEqual([], missing)

    def test_every_event_the_source_emits_is_in_agentbox_log_5(self):
        page = read("man", "agentbox-log.5.scd")
        emitted = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src", "**", "*.cpp"), recursive=True):
            with open(path) as f:
                code = f.read()
            # audit::Event("commit"), Event{"exec", ...}, ProxyEvent ev{"net.connect", ...}
            emitted |= set(re.findall(r'\bEvent(?: \w+)?[({]"([a-z][a-z_.]*)"', code))
        self.assertLessEqual({"session.start", "process.exit", "session.end", "syscall.denied"},
                             emitted, "the pattern no longer finds the events")
        self.assertEqual([], sorted(e for e in emitted if "*%s*" % e not in page))

    def test_readme_quotes_the_benchmark_results(self):
        r = subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "bench", "readme.py"), "--check"],
                           capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)

    def test_examples_named_in_the_readme_exist(self):
        readme = read("README.md")
        named = set(re.findall(r"\b(examples/[\w./-]*\w)", readme))
        self.assertTrue(named)
        self.assertEqual([], sorted(p for p in named if not os.path.exists(os.path.join(SOURCE_DIR, p))))

    def test_every_design_section_cited_in_the_source_exists(self):
        design = read("docs", "DESIGN.md")
        sections = dict(re.findall(r"(?m)^## (\d+)\. (.*)$", design))
        self.assertIn("10", sections, "the pattern no longer finds the sections")
        cited = []
        for top in ("src", "tests", "examples", "docs"):
            for path in glob.glob(os.path.join(SOURCE_DIR, top, "**", "*"), recursive=True):
                if not os.path.isfile(path) or path.endswith("DESIGN.md"):
                    continue
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        for m in re.finditer(r'DESIGN\.md §(\d+)(?: (?:step \d+|"([^"]+)"))?', line):
                            cited.append(("%s:%d" % (os.path.relpath(path, SOURCE_DIR), n),
                                          m.group(1), m.group(2)))
        self.assertTrue(cited, "the pattern no longer finds the citations")
        bad = []
        for where, num, sub in cited:
            if num not in sections:
                bad.append("%s: §%s is not a section of docs/DESIGN.md" % (where, num))
                continue
            body = design.split("## %s. " % num, 1)[1].split("\n## ", 1)[0]
            if sub and not re.search(r"(?im)^#+ .*\b%s\b|^%s" % (re.escape(sub), re.escape(sub)), body):
                bad.append('%s: §%s has no part "%s"' % (where, num, sub))
        self.assertEqual([], bad)

    def test_synopsis_names_every_flag_of_each_session_command(self):
        # #19: the SYNOPSIS had lost diff --no-pager, undo --force, log -C.
        page = read("man", "agentbox.1.scd")
        synopsis = page.split("# SYNOPSIS", 1)[1].split("\n# ", 1)[0]
        for cmd in ("diff", "commit", "discard", "undo", "export", "log", "sessions", "doctor"):
            with self.subTest(command=cmd):
                lines = [l for l in synopsis.splitlines() if re.match(r"\*agentbox %s\*" % cmd, l)]
                self.assertTrue(lines, "no SYNOPSIS line for %s" % cmd)
                # -s/--session and -C/--project of the session commands are said once, below.
                flags = help_flags(help_text(self.env, cmd)) - {"-h", "--help", "-s", "--session",
                                                                "--project"}
                if cmd != "log":
                    flags -= {"-C"}
                self.assertEqual([], sorted(f for f in flags if not mentions(lines[0], f)))
        for flag in ("--names", "--json"):
            self.assertTrue(mentions(synopsis.split("*agentbox profile*", 1)[1].split("\n")[0], flag))

    def test_every_session_status_is_described(self):
        page = read("man", "agentbox.1.scd")
        listing = page.split("*sessions* [", 1)[1].split("\n*diff*", 1)[0]
        status_words = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src", "**", "*.cpp"), recursive=True):
            with open(path) as f:
                status_words |= set(re.findall(r'set_status\("([a-z-]+)"', f.read()))
                f.seek(0)
                status_words |= set(re.findall(r'status = "([a-z-]+)"', f.read()))
        self.assertIn("cut-short", status_words, "the pattern no longer finds the statuses")
        self.assertEqual([], sorted(w for w in status_words if "*%s*" % w not in listing))

    def test_files_names_every_file_of_a_session_directory(self):
        page = read("man", "agentbox.1.scd")
        files = page.split("# FILES", 1)[1].split("\n# ", 1)[0]
        with open(os.path.join(SOURCE_DIR, "src", "stage", "session.cpp")) as f:
            named = set(re.findall(r'dir_ \+ "/([a-z.]+)"', f.read()))
        self.assertIn("run.lock", named, "the pattern no longer finds the files")
        self.assertEqual([], sorted(n for n in named
                                    if "*%s*" % n not in files and "*%s/*" % n not in files))


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
    import abtest  # noqa: E402
    abtest.main()
