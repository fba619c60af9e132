#!/usr/bin/env python3
"""The command line of agentbox (DESIGN.md §2): commands, flags, messages and exit codes.

Runs the real binary (env AGENTBOX) with private XDG directories, so the user's own
profiles, trust list and sessions are neither used nor touched.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys
import unittest

AGENTBOX = os.environ.get("AGENTBOX", "agentbox")
if os.sep in AGENTBOX:
    AGENTBOX = os.path.abspath(AGENTBOX)  # the tests run it from other directories
SOURCE_DIR = os.environ.get(
    "AGENTBOX_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

COMMANDS = ["run", "sessions", "diff", "commit", "discard", "undo", "export", "log",
            "explain", "profile", "doctor", "completions", "help"]
RUN_FLAGS = ["--profile", "--project", "--ro", "--rw", "--hide", "--net", "--allow-host", "--env",
             "--timeout", "--memory", "--pids", "--on-exit", "--approver", "--log", "--log-fd",
             "--dry-run",
             "--json", "--target", "--backend", "--tty", "--no-tty", "--allow-weaker", "--quiet", "--verbose",
             "--summary-fd"]


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="agentbox-cli-test-")
        self.home = os.path.join(self.tmp, "home")
        self.project = os.path.join(self.tmp, "project")
        os.makedirs(os.path.join(self.home, ".ssh"))
        os.makedirs(os.path.join(self.project, ".git"))
        self.env = dict(os.environ)
        self.env.update({
            "HOME": self.home,
            "XDG_STATE_HOME": os.path.join(self.tmp, "state"),
            "XDG_CONFIG_HOME": os.path.join(self.tmp, "config"),
            "NO_COLOR": "1",
        })

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def agentbox(self, *args, cwd=None, stdin=subprocess.DEVNULL, timeout=120, pass_fds=()):
        return subprocess.run([AGENTBOX, *args], cwd=cwd or self.project, env=self.env,
                              stdin=stdin, capture_output=True, text=True, timeout=timeout,
                              pass_fds=pass_fds)

    # ---- version and help

    def test_version_prints_name_and_version(self):
        r = self.agentbox("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "agentbox 0.1.0")

    def test_version_and_help_to_a_full_disk_fail_naming_the_write(self):
        # Every command now ends by flushing stdout and _Exit (no exit(), which flushed it
        # again and dropped the error): a version or help that could not be written is a
        # failure, as any other command's output is.
        for args in (["--version"], ["--help"], ["diff", "--help"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run([AGENTBOX, *args], cwd=self.project, env=self.env,
                                   stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE,
                                   text=True, timeout=60)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn("write to standard output failed", r.stderr, args)

    def test_version_without_a_command_answers_as_before_without_the_command_table(self):
        # `--version` without a command builds no command (cli/app.cpp); what it prints and
        # how it exits are CLI11's as before, beside a help flag or an unknown option too.
        for args in (["--version"], ["--version", "--help"], ["--version", "--frobnicate"]):
            r = self.agentbox(*args)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "agentbox 0.1.0"), (args, r.stderr))

    def test_help_lists_every_command(self):
        for args in (["help"], ["--help"], ["-h"]):
            r = self.agentbox(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            for cmd in COMMANDS:
                self.assertRegex(r.stdout, r"(?m)^\s+%s\s" % re.escape(cmd), (args, cmd))

    def test_help_run_lists_every_run_option(self):
        for args in (["help", "run"], ["run", "--help"], ["run", "-h"]):
            r = self.agentbox(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            for flag in RUN_FLAGS:
                self.assertIn(flag, r.stdout, (args, flag))

    def test_every_command_accepts_help(self):
        for cmd in COMMANDS:
            r = self.agentbox(cmd, "--help")
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            self.assertIn("Usage", r.stdout, cmd)

    def test_no_command_prints_usage_and_fails(self):
        r = self.agentbox()
        self.assertEqual(r.returncode, 2)
        self.assertIn("run", r.stderr)

    # ---- usage errors name what was wrong

    def test_unknown_flag_is_named_exit_2(self):
        r = self.agentbox("doctor", "--frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--frobnicate", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_unknown_run_flag_is_named_exit_125(self):
        r = self.agentbox("run", "--frobnicate", "true")
        self.assertEqual(r.returncode, 125)
        self.assertIn("--frobnicate", r.stderr)

    def test_misspelt_run_flag_suggests_the_nearest(self):
        r = self.agentbox("run", "--memroy", "1GiB", "--", "true")
        self.assertEqual(r.returncode, 125)
        self.assertIn('did you mean "--memory"', r.stderr)

    def test_run_flag_value_errors_name_the_flag_exit_125(self):
        cases = [("--timeout", "5 parsecs"), ("--memory", "lots"), ("--pids", "-3"),
                 ("--net", "wifi"), ("--on-exit", "explode"), ("--env", "1BAD=x"),
                 ("--backend", "docker")]
        for flag, value in cases:
            r = self.agentbox("run", "--dry-run", flag, value, "--", "true")
            self.assertEqual(r.returncode, 125, (flag, r.stderr))
            self.assertIn(flag, r.stderr, flag)

    def test_run_without_command_is_a_usage_error(self):
        r = self.agentbox("run", "--dry-run")
        self.assertEqual(r.returncode, 125)
        self.assertIn("no command", r.stderr)

    def test_unknown_command_suggests_the_nearest(self):
        r = self.agentbox("explian")
        self.assertEqual(r.returncode, 2)
        self.assertIn("explain", r.stderr)

    def test_short_profile_name_suggests_the_one_it_begins(self):
        # #19: `-p claude` said only "not found"; claude-code was meant.
        r = self.agentbox("run", "-p", "claude", "--dry-run", "--", "true")
        self.assertEqual(r.returncode, 125)
        self.assertIn('did you mean "claude-code"', r.stderr)

    def test_misspelt_option_of_a_command_suggests_its_nearest_option(self):
        # #19: `diff --stats` said "The following arguments were not expected".
        for argv, near in ((["diff", "--stats"], "--stat"), (["commit", "--dry-rnu"], "--dry-run"),
                           (["log", "--no-pagr"], "--no-pager"),
                           (["profile", "list", "--name"], "--names")):
            with self.subTest(argv=argv):
                r = self.agentbox(*argv)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn('unknown option "%s" (did you mean "%s"?)' % (argv[-1], near), r.stderr)

    # ---- explain

    def test_explain_denies_reading_an_ssh_key_naming_the_rule(self):
        r = self.agentbox("explain", "read", "~/.ssh/id_rsa")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("filesystem.deny", r.stdout)
        self.assertIn("base", r.stdout)

    def test_explain_allows_reading_system_files(self):
        r = self.agentbox("explain", "read", "/usr/bin/env")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_explain_asks_before_committing_a_git_hook(self):
        r = self.agentbox("explain", "commit", ".git/hooks/pre-commit")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("protect", r.stdout)

    def test_explain_json_parses(self):
        r = self.agentbox("explain", "--json", "read", "~/.ssh/id_rsa")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIsInstance(json.loads(r.stdout), dict)

    def test_explain_unknown_operation_suggests_the_nearest(self):
        r = self.agentbox("explain", "raed", "/etc/passwd")
        self.assertEqual(r.returncode, 2)
        self.assertIn("raed", r.stderr)
        self.assertIn("did you mean 'read'", r.stderr)

    def test_explain_works_from_the_home_directory(self):
        r = self.agentbox("explain", "read", "~/.ssh/id_rsa", cwd=self.home)
        self.assertEqual(r.returncode, 1, r.stderr)

    # ---- profile

    def test_profile_list_names_and_json(self):
        r = self.agentbox("profile", "list", "--names")
        self.assertEqual(r.returncode, 0, r.stderr)
        names = r.stdout.split()
        for name in ("base", "default", "readonly", "python", "claude-code", "codex", "gemini",
                     "ci"):
            self.assertIn(name, names)
        r = self.agentbox("profile", "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = json.loads(r.stdout)
        self.assertIn("default", [p["name"] for p in listed])
        r = self.agentbox("profile", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("DESCRIPTION", r.stdout)

    def test_profile_show_names_the_source_of_each_value(self):
        r = self.agentbox("profile", "show", "default")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[filesystem]", r.stdout)
        # Every value line carries "# FILE:LINE:COL".
        value_lines = [l for l in r.stdout.splitlines() if re.match(r'^\s*("|\w+ = )', l)
                       and not l.rstrip().endswith("[") and not l.startswith("version = ")]
        self.assertTrue(value_lines)
        for line in value_lines:
            self.assertRegex(line, r"# \S+:\d+:\d+", line)
        r = self.agentbox("profile", "show", "--json", "default")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("filesystem", json.loads(r.stdout))

    def test_profile_show_unknown_profile_is_exit_2(self):
        r = self.agentbox("profile", "show", "no-such-profile")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-profile", r.stderr)

    def test_profile_check_reports_file_line_col(self):
        good = os.path.join(self.tmp, "good.toml")
        bad = os.path.join(self.tmp, "bad.toml")
        with open(good, "w") as f:
            f.write('version = 1\nname = "good"\nextends = ["default"]\n')
        with open(bad, "w") as f:
            f.write('version = 1\n\n[filesystem]\nraed = ["/usr"]\n')
        r = self.agentbox("profile", "check", good)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(good + ": ok", r.stdout)
        r = self.agentbox("profile", "check", good, bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn(good + ": ok", r.stdout)
        self.assertRegex(r.stderr, r"agentbox: %s:4:\d+: " % re.escape(bad))

    def test_profile_test_catches_a_profile_that_breaks_its_promise(self):
        """Issue 23 §2: a profile's [[test]] tables run through policy::decide; a layer that
        quietly passes a token fails the test that says tokens are withheld."""
        tests = ('[[test]]\nop = "env"\ntarget = "GITHUB_TOKEN"\nexpect = "deny"\n'
                 'note = "tokens stay out"\n\n'
                 '[[test]]\nop = "connect"\ntarget = "example.com"\nexpect = "deny"\n')
        kept = os.path.join(self.tmp, "kept.toml")
        broken = os.path.join(self.tmp, "broken.toml")
        with open(kept, "w") as f:
            f.write('version = 1\nextends = ["default"]\n\n' + tests)
        with open(broken, "w") as f:
            f.write('version = 1\nextends = ["default"]\n[env]\npass = ["GITHUB_TOKEN"]\n'
                    '[network]\nmode = "proxy"\nallow = ["example.com"]\n\n' + tests)
        r = self.agentbox("profile", "test", kept)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual("2 passed, 0 failed", r.stdout.strip().splitlines()[-1])
        r = self.agentbox("profile", "test", kept, broken)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual("2 passed, 2 failed", r.stdout.strip().splitlines()[-1])
        self.assertRegex(r.stdout, r"%s:\d+:\d+: FAIL env GITHUB_TOKEN: expected deny, "
                                   r"got allow .*tokens stay out" % re.escape(broken))
        # The tables are part of the schema: check accepts them, and a malformed one is a
        # profile error (2) naming file:line:col, for check, test and run alike.
        self.assertEqual(0, self.agentbox("profile", "check", kept).returncode)
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('version = 1\n\n[[test]]\nop = "raed"\ntarget = "/x"\nexpect = "deny"\n')
        for args in (["profile", "test", bad], ["profile", "check", bad]):
            r = self.agentbox(*args)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertRegex(r.stderr, r"%s:4:\d+: test op must be one of" % re.escape(bad))

    def test_builtin_profiles_keep_their_promises(self):
        profiles = os.path.join(os.environ.get("AGENTBOX_SOURCE_DIR", "."), "profiles")
        files = sorted(os.path.join(profiles, f) for f in os.listdir(profiles)
                       if f.endswith(".toml"))
        for f in files:
            with open(f) as fh:
                self.assertIn("[[test]]", fh.read(), f + " states no promise")
        r = self.agentbox("profile", "test", *files)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"^\d+ passed, 0 failed$")

    def test_profile_check_refuses_what_run_refuses(self):
        # A profile that parsed was "ok" for check and then refused by run: an unknown syscall
        # name (found only when the filter was compiled) and a pids limit the cgroup refuses
        # with a raw EINVAL. Each is now an error of check too, naming file:line:col, and run
        # agrees with check on every one.
        cases = {
            "syscall.toml": ('version = 1\nextends = ["default"]\n[process]\n'
                             'allow_syscalls = ["not_a_syscall"]\n', r": unknown syscall .*not_a_syscall.*:4:\d+"),
            "pids.toml": ('version = 1\nextends = ["default"]\n[limits]\n'
                          'pids = 9223372036854775807\n', r":4:\d+: limits.pids must be at most"),
            "files.toml": ('version = 1\nextends = ["default"]\n[limits]\n'
                           'open_files = 2000000000\n', r":4:\d+: limits.open_files must be at most"),
        }
        for name, (text, message) in cases.items():
            with self.subTest(name):
                path = os.path.join(self.tmp, name)
                with open(path, "w") as f:
                    f.write(text)
                r = self.agentbox("profile", "check", path)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertNotIn(": ok", r.stdout)
                self.assertRegex(r.stderr, re.escape(path) + message)
                r = self.agentbox("run", "-p", path, "--", "true")
                self.assertNotEqual(r.returncode, 0, "run accepted what check refused")

    def test_run_with_broken_profile_exits_125_naming_the_file(self):
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('version = 1\n[network]\nmode = "sometimes"\n')
        r = self.agentbox("run", "--dry-run", "-p", bad, "--", "true")
        self.assertEqual(r.returncode, 125)
        self.assertRegex(r.stderr, r"%s:3:\d+:" % re.escape(bad))

    # ---- run --dry-run

    def assert_plan_or_refusal(self, r):
        if r.returncode == 125:
            self.assertIn("cannot enforce", r.stderr)
        else:
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_dry_run_prints_a_plan(self):
        r = self.agentbox("run", "--dry-run", "--", "ls", "-la")
        self.assert_plan_or_refusal(r)
        self.assertIn(self.project, r.stdout)
        self.assertIn("ls", r.stdout)

    def test_dry_run_json_parses_and_carries_the_flags(self):
        extra = os.path.join(self.tmp, "extra")
        os.mkdir(extra)
        r = self.agentbox("run", "--dry-run", "--json", "--ro", extra, "--env", "FOO=bar",
                          "--", "ls", "-la")
        self.assert_plan_or_refusal(r)
        plan = json.loads(r.stdout)
        self.assertIsInstance(plan, dict)
        self.assertIn(extra, r.stdout)
        self.assertIn("FOO", r.stdout)

    def test_dry_run_target_macos_prints_a_seatbelt_profile(self):
        with open(os.path.join(self.project, ".env"), "w") as f:
            f.write("KEY=1\n")
        r = self.agentbox("run", "--dry-run", "--target", "macos", "--", "make", "test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("(version 1)\n"), r.stdout[:200])
        self.assertIn("(deny default)", r.stdout)
        # Seatbelt matches real paths: /tmp, /var and /etc are symlinks into /private on macOS
        project = re.sub(r"^/(tmp|var|etc)(/|$)", r"/private/\1\2", self.project)
        self.assertIn('(allow file-read* (subpath "%s"))' % project, r.stdout)
        self.assertIn('(allow file-read* (subpath "/private/etc"))', r.stdout)
        # the masked .env is denied after every grant on the host, and in the copy last
        deny = r.stdout.index('(deny file-read* file-write* process-exec (literal "%s/.env")'
                              % project)
        # after it, only the session's own directories are granted
        for rule in re.findall(r"^\(allow .*?\)\n", r.stdout[deny:], re.S | re.M):
            self.assertIn("(param ", rule)
            self.assertNotRegex(rule, r'\((subpath|literal) "')
        copy = r.stdout.index('(literal (string-append (param "AGENTBOX_COPY") "/.env"))')
        self.assertGreater(copy, r.stdout.rindex("(allow "))
        self.assertNotIn("network-outbound", r.stdout)  # the default profile has no network

    def test_dry_run_target_macos_runs_proxy_mode_as_the_launch_does(self):
        # The macOS backend runs the proxy on a loopback port of the host (seatbelt_run.cpp):
        # its check() accepts proxy mode, and so does the dry run (one function decides both).
        r = self.agentbox("run", "--dry-run", "--target", "macos", "--net", "proxy",
                          "--allow-host", "example.com", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn('network.mode "proxy"', r.stderr)
        self.assertIn(";; network proxy: only agentbox's proxy", r.stdout)
        # the Linux in-namespace port is no port on a Mac: the launch adds the proxy's own,
        # and the dry run, which has none, opens nothing
        self.assertNotIn("localhost:3128", r.stdout)
        self.assertNotIn("(allow network", r.stdout)

    def test_dry_run_target_macos_refuses_a_memory_limit_it_cannot_enforce(self):
        r = self.agentbox("run", "--dry-run", "--target", "macos", "--memory", "1G", "--", "true")
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("limits.memory", r.stderr)
        r = self.agentbox("run", "--dry-run", "--target", "macos", "--memory", "1G",
                          "--allow-weaker", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not enforcing limits.memory", r.stderr)

    def test_dry_run_target_macos_refuses_a_stage_size_limit_not_drops_it(self):
        prof = os.path.join(self.tmp, "small.toml")
        with open(prof, "w") as f:
            f.write('version = 1\nextends = ["default"]\n[limits]\nstage_size = "1MiB"\n')
        r = self.agentbox("run", "--dry-run", "--target", "macos", "-p", prof, "--", "true")
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("limits.stage_size (%s:4" % prof, r.stderr)

    def tree(self):
        out = []
        for d, dirs, files in os.walk(self.tmp):
            for n in dirs + files:
                p = os.path.join(d, n)
                out.append((p, os.lstat(p).st_mtime_ns))
        return sorted(out)

    def test_run_backend_seatbelt_on_linux_is_a_setup_error_that_changes_nothing(self):
        # The backend is accepted (a dry run checks its plan), but only macOS has sandbox-exec:
        # refused before a session, a cache or a secret is made.
        self.env["XDG_CACHE_HOME"] = os.path.join(self.tmp, "cache")
        with open(os.path.join(self.project, "f.txt"), "w") as f:
            f.write("x\n")
        before = self.tree()
        for args in (["--backend", "seatbelt"], ["--backend", "seatbelt", "--allow-weaker"],
                     ["--backend", "seatbelt", "--net", "proxy", "--allow-host", "example.com"]):
            r = self.agentbox("run", *args, "--", "sh", "-c", "echo ran > f.txt")
            self.assertEqual(r.returncode, 125, r.stderr)
            self.assertIn('backend "seatbelt" runs on macOS only', r.stderr)
            self.assertIn("--dry-run", r.stderr)
            self.assertEqual(r.stdout, "")
        self.assertEqual(self.tree(), before)
        with open(os.path.join(self.project, "f.txt")) as f:
            self.assertEqual(f.read(), "x\n")

    def test_dry_run_backend_seatbelt_refuses_what_target_macos_refuses(self):
        # The same Seatbelt::check() decides both, here as on a Mac.
        r = self.agentbox("run", "--dry-run", "--backend", "seatbelt", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"backend +seatbelt ")
        self.assertIn("(staging: copy)", r.stdout)  # no overlay without a mount namespace
        def refusals(r):
            return sorted(l for l in r.stderr.splitlines() if "enforc" in l)

        for flags, rule in ((["--memory", "1G"], "limits.memory"),
                            (["--pids", "10"], "limits.pids"),
                            (["--net", "proxy", "--allow-host", "example.com"], None)):
            with self.subTest(flags=flags):
                a = self.agentbox("run", "--dry-run", "--backend", "seatbelt", *flags, "--", "true")
                b = self.agentbox("run", "--dry-run", "--target", "macos", *flags, "--", "true")
                self.assertEqual(a.returncode, b.returncode, a.stderr + b.stderr)
                self.assertEqual(refusals(a), refusals(b))
                if rule is None:  # the proxy: refused until the backend runs it (either way)
                    continue
                self.assertEqual(a.returncode, 125, a.stderr)
                self.assertIn("cannot enforce " + rule, a.stderr)
                r = self.agentbox("run", "--dry-run", "--backend", "seatbelt", *flags,
                                  "--allow-weaker", "--", "true")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("not enforcing " + rule, r.stderr)

    def test_dry_run_backend_seatbelt_is_not_refused_for_linux_mechanisms_it_does_not_use(self):
        # A host without seccomp user notification: compile refuses the native backend's check
        # of connect() to host unix sockets. Seatbelt uses no seccomp; its check() is the whole
        # list (a Mac's facts lack seccomp, Landlock and cgroups, which would otherwise refuse
        # every run there).
        self.env["AGENTBOX_TEST_NO_USER_NOTIF"] = "1"
        r = self.agentbox("run", "--dry-run", "--backend", "native", "--", "true")
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("cannot enforce unix sockets of the host", r.stderr)
        for how in (["--backend", "seatbelt"], ["--target", "macos"]):
            r = self.agentbox("run", "--dry-run", *how, "--", "true")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("unix sockets of the host", r.stderr)

    def test_dry_run_target_windows_prints_the_appcontainer_plan(self):
        r = self.agentbox("run", "--dry-run", "--target", "windows", "--", "make", "test")
        # base sets limits.file_size, which a job object cannot enforce
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("limits.file_size", r.stderr)
        self.assertIn("AppContainer  agentbox.", r.stdout)
        self.assertRegex(r.stdout, r"allow 0x001301ff read,write,delete,execute +<copy> ")
        self.assertIn("none (no network)", r.stdout)

    def test_target_needs_dry_run_and_a_known_system(self):
        for args in (["--target", "macos"], ["--dry-run", "--target", "linux"],
                     ["--dry-run", "--json", "--target", "windows"]):
            r = self.agentbox("run", *args, "--", "true")
            self.assertEqual(r.returncode, 125, (args, r.stderr))

    def test_command_words_after_the_command_are_not_agentbox_options(self):
        r = self.agentbox("run", "--dry-run", "--json", "echo", "--dry-run", "--", "-x")
        self.assert_plan_or_refusal(r)
        plan = json.loads(r.stdout)
        self.assertEqual(plan.get("argv"), ["echo", "--dry-run", "--", "-x"])

    def test_run_refuses_the_home_directory_as_project(self):
        r = self.agentbox("run", "--dry-run", "--", "true", cwd=self.home)
        self.assertEqual(r.returncode, 125)
        self.assertIn("-C " + os.path.realpath(self.home), r.stderr)
        # A git work tree at the home directory is refused too: it is still the whole home.
        os.makedirs(os.path.join(self.home, ".git"))
        os.makedirs(os.path.join(self.home, "notes"))
        r = self.agentbox("run", "--dry-run", "--", "true", cwd=os.path.join(self.home, "notes"))
        self.assertEqual(r.returncode, 125)
        self.assertIn("-C", r.stderr)
        r = self.agentbox("run", "--dry-run", "-C", self.home, "--", "true", cwd=self.home)
        self.assert_plan_or_refusal(r)

    def test_run_refuses_root_as_project(self):
        r = self.agentbox("run", "--dry-run", "--", "true", cwd="/")
        self.assertEqual(r.returncode, 125)
        self.assertIn("-C /", r.stderr)

    # ---- doctor and completions

    def test_doctor_runs(self):
        r = self.agentbox("doctor")
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertTrue(r.stdout.strip())
        r = self.agentbox("doctor", "--json")
        self.assertIn(r.returncode, (0, 1), r.stderr)
        features = json.loads(r.stdout)
        self.assertTrue(all("name" in f and "ok" in f for f in features))

    def test_completions_are_the_shipped_files(self):
        for shell, name in (("bash", "agentbox.bash"), ("zsh", "_agentbox"), ("fish", "agentbox.fish")):
            r = self.agentbox("completions", shell)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(SOURCE_DIR, "completions", name)) as f:
                self.assertEqual(r.stdout, f.read(), shell)
        r = self.agentbox("completions", "tcsh")
        self.assertEqual(r.returncode, 2)
        self.assertIn("tcsh", r.stderr)

    def check_syntax(self, shell, flag):
        path = shutil.which(shell)
        if path is None:
            self.skipTest("%s is not installed" % shell)
        r = self.agentbox("completions", shell)
        script = os.path.join(self.tmp, "completion." + shell)
        with open(script, "w") as f:
            f.write(r.stdout)
        c = subprocess.run([path, flag, script], capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stderr)

    def test_bash_completion_is_valid_bash(self):
        self.check_syntax("bash", "-n")

    def test_zsh_completion_is_valid_zsh(self):
        self.check_syntax("zsh", "-n")

    def test_fish_completion_is_valid_fish(self):
        self.check_syntax("fish", "-n")

    def test_bash_completion_offers_commands_and_profiles(self):
        r = self.agentbox("completions", "bash")
        bindir = os.path.dirname(os.path.abspath(AGENTBOX))
        script = r.stdout + '''
COMP_WORDS=(agentbox ex); COMP_CWORD=1; _agentbox; echo "${COMPREPLY[@]}"
COMP_WORDS=(agentbox run -p def); COMP_CWORD=3; _agentbox; echo "${COMPREPLY[@]}"
'''
        env = dict(self.env, PATH=bindir + os.pathsep + self.env.get("PATH", ""))
        c = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                           env=env, cwd=self.project)
        lines = c.stdout.splitlines()
        self.assertEqual(len(lines), 2, c.stderr)
        self.assertIn("explain", lines[0].split())
        self.assertIn("export", lines[0].split())
        self.assertIn("default", lines[1].split())

    # ---- a real run: exit status passes through, the session is kept

    def test_run_passes_the_exit_status_and_keeps_the_session(self):
        if self.agentbox("doctor").returncode != 0:
            self.skipTest("this host lacks a feature the native backend requires")
        r = self.agentbox("run", "--allow-weaker", "--", "sh", "-c", "exit 7")
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn("status 7", r.stderr)
        sessions = os.path.join(self.tmp, "state", "agentbox", "sessions")
        ids = os.listdir(sessions)
        self.assertEqual(len(ids), 1)
        self.assertIn(ids[0], r.stderr)
        with open(os.path.join(sessions, ids[0], "meta.json")) as f:
            text = f.read()
        # The last line is agentbox's MAC (agentbox(1), FILES); the JSON comes before it.
        body, mac = text.rsplit("#agentbox-mac v1 ", 1)
        self.assertRegex(mac, r"^[0-9a-f]{64}\n$")
        meta = json.loads(body)
        self.assertEqual(meta["argv"], ["sh", "-c", "exit 7"])
        self.assertEqual(meta["status"], "empty")  # it wrote nothing
        self.assertEqual(os.stat(os.path.join(sessions, ids[0])).st_mode & 0o777, 0o700)

        r = self.agentbox("run", "-q", "--allow-weaker", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_summary_fd_gets_json(self):
        if self.agentbox("doctor").returncode != 0:
            self.skipTest("this host lacks a feature the native backend requires")
        rfd, wfd = os.pipe()
        try:
            r = self.agentbox("run", "-q", "--allow-weaker", "--summary-fd", str(wfd), "--",
                              "sh", "-c", "exit 3", pass_fds=(wfd,))
        finally:
            os.close(wfd)
        with os.fdopen(rfd) as f:
            summary = json.loads(f.read())
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(summary["exit_code"], 3)
        self.assertTrue(summary["started"])

    def test_missing_command_exits_127(self):
        if self.agentbox("doctor").returncode != 0:
            self.skipTest("this host lacks a feature the native backend requires")
        r = self.agentbox("run", "-q", "--allow-weaker", "--", "no-such-command-agentbox")
        self.assertEqual(r.returncode, 127, r.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
    import abtest  # noqa: E402  (its main prints the SUMMARY line tests/run_all.sh counts)
    abtest.main()
