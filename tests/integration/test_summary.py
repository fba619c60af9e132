#!/usr/bin/env python3
"""The summary `agentbox run` prints when the command ends (issue #7): what ran, how long, how
it ended, the staged changes with their count, and what the sandbox denied (system calls the
supervisor refused, connections the proxy refused), on stderr and as JSON on --summary-fd.
"""
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import probe  # noqa: E402


class Summary(abtest.BoxTest):
    def run_with_summary(self, cmd, args=(), env=None):
        """Runs CMD without -q; returns the result and the --summary-fd JSON."""
        rfd, wfd = os.pipe()
        argv = [a for a in self.box.argv(cmd, args=["--summary-fd", str(wfd), *args]) if a != "-q"]
        try:
            res = self.box.run(cmd, argv=argv, pass_fds=(wfd,), env=env)
        finally:
            os.close(wfd)
        with os.fdopen(rfd) as f:
            return res, json.loads(f.read())

    def test_what_ran_how_long_how_it_ended_and_the_changes(self):
        res, js = self.run_with_summary(["sh", "-c", "echo a > a; echo b > b; exit 3"])
        self.assertRc(res, 3)
        self.assertRegex(res.err, r'"sh" exited with status 3 after \d+\.\ds \(agentbox exits 3\)')
        self.assertRegex(res.err, r"2 change\(s\) staged in session %s" % re.escape(js["session"]))
        self.assertNotIn("denied", res.err)  # nothing was
        self.assertEqual(3, js["exit_code"])
        self.assertGreater(js["wall_seconds"], 0)
        self.assertEqual({"syscalls": {}, "connections": {}, "landlock": {}}, js["denied"])

    def test_denied_system_calls_are_counted(self):
        res, js = self.run_with_summary([probe("syscalls"), "mount", "mount", "bpf"])
        self.assertSandboxRan(res)
        self.assertDenied(res, "mount")
        self.assertEqual({"mount": 2, "bpf": 1}, js["denied"]["syscalls"])
        self.assertIn("denied 3 system call(s) (mount 2x, bpf)", res.err)
        self.assertIn("agentbox log %s has each one" % js["session"], res.err)

    def test_refused_connections_are_counted(self):
        # The proxy refuses a host no rule allows before resolving it: no DNS needed.
        script = ('curl -s -o /dev/null -w "%{http_code}\\n" -x "$HTTP_PROXY" http://blocked.example/;'
                  'curl -s -o /dev/null -w "%{http_code}\\n" -x "$HTTP_PROXY" http://blocked.example/x')
        res, js = self.run_with_summary(["sh", "-c", script], args=["--net", "proxy"])
        if res.rc == abtest.EXIT_SETUP:
            self.skipTest("no proxy network here: %s" % res.err)
        self.assertEqual(["403", "403"], res.out.split())
        self.assertEqual({"blocked.example:80": 2}, js["denied"]["connections"])
        self.assertIn("denied 2 connection(s) (blocked.example:80 2x)", res.err)

    def test_quiet_prints_nothing_but_the_json_still_counts(self):
        rfd, wfd = os.pipe()
        try:
            res = self.box.run([probe("syscalls"), "mount"], args=["--summary-fd", str(wfd)],
                               pass_fds=(wfd,))
        finally:
            os.close(wfd)
        with os.fdopen(rfd) as f:
            js = json.loads(f.read())
        self.assertSandboxRan(res)
        self.assertEqual("", res.err)
        self.assertEqual({"mount": 1}, js["denied"]["syscalls"])

    def test_summary_fd_whose_reader_is_gone_keeps_the_commands_status(self):
        # The summary is written after the command ran: a reader that went away (EPIPE) used
        # to turn the run's exit into 125, as if the sandbox had failed to start. The command's
        # own status stands; the failed write is a warning.
        rfd, wfd = os.pipe()
        os.close(rfd)
        try:
            res = self.box.run(["sh", "-c", "echo x > staged; exit 3"],
                               args=["--summary-fd", str(wfd)], pass_fds=(wfd,))
        finally:
            os.close(wfd)
        self.assertRc(res, 3)
        self.assertIn("summary", res.err)

    # ---- #19 "Say why, at the moment it matters"

    def test_summary_names_a_withheld_variable_but_never_its_value(self):
        res, js = self.run_with_summary(
            ["true"], args=["-v"], env={"DEMO_API_KEY": "sk-value-never-shown", "DEMO_PLAIN": "x"})
        self.assertRc(res, 0)
        self.assertNotIn("sk-value-never-shown", res.err)
        # -v at the start, and the summary at the end: the name, and how to pass it.
        self.assertGreaterEqual(res.err.count('"DEMO_API_KEY"'), 2, res.err)
        self.assertIn("--env NAME", res.err)
        self.assertNotIn("DEMO_PLAIN", res.err)  # no rule names it: not news
        self.assertEqual([{"name": "DEMO_API_KEY", "rule": 'env.deny "*_KEY"'}], js["withheld_env"])

    def test_variable_passed_with_env_is_not_reported_withheld(self):
        res, js = self.run_with_summary(["true"], args=["--env", "DEMO_API_KEY"],
                                        env={"DEMO_API_KEY": "v"})
        self.assertRc(res, 0)
        self.assertEqual([], js["withheld_env"])
        self.assertNotIn("withheld", res.err)

    def test_command_hidden_by_the_profile_is_said_to_exist_with_the_grant(self):
        # ~/.npm-global/bin/claude: on the host, but the default profile's home is empty.
        bindir = os.path.join(self.box.home, ".npm-global", "bin")
        os.makedirs(bindir)
        tool = os.path.join(bindir, "claude")
        with open(tool, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(tool, 0o755)
        res = self.box.run([tool])
        self.assertRc(res, abtest.EXIT_NOTFOUND)
        self.assertIn("exists on the host", res.err)
        self.assertIn("--ro '~/.npm-global'", res.err.replace('"', "'"))
        # The same command by name, found on the host's PATH.
        res = self.box.run(["claude"], env={"PATH": bindir + ":" + abtest.HOST_PATH})
        self.assertRc(res, abtest.EXIT_NOTFOUND)
        self.assertIn("exists on the host", res.err)
        # Granted as told, it runs.
        res = self.box.run([tool], args=["--ro", os.path.join(self.box.home, ".npm-global")])
        self.assertRc(res, 0)
        self.assertEqual("hi\n", res.out)

    def test_command_missing_everywhere_gets_no_hint(self):
        res = self.box.run(["no-such-command-agentbox"])
        self.assertRc(res, abtest.EXIT_NOTFOUND)
        self.assertNotIn("exists on the host", res.err)

    # ---- #19 "Scripts get structured answers": --summary-fd says what became of the changes

    def test_summary_fd_counts_changes_and_says_what_became_of_them(self):
        for on_exit, outcome, left in (("keep", "kept", 2), ("discard", "discarded", 0),
                                       ("commit", "committed", 0)):
            with self.subTest(on_exit=on_exit):
                res, js = self.run_with_summary(
                    ["sh", "-c", "echo a > a-%s; echo b > b-%s" % (on_exit, on_exit)],
                    args=["--on-exit", on_exit])
                self.assertRc(res, 0)
                self.assertEqual(2, js["changes"])
                self.assertIsInstance(js["changes"], int)
                self.assertEqual(outcome, js["outcome"])
                self.assertEqual(left, js["left_staged"])
                self.assertEqual(2 if outcome == "committed" else 0, js["committed"])
                self.assertFalse(js["interrupted"])
        res, js = self.run_with_summary(["true"])
        self.assertEqual((0, "empty"), (js["changes"], js["outcome"]))

    def test_summary_fd_commit_that_holds_back_a_protected_path_says_held(self):
        res, js = self.run_with_summary(
            ["sh", "-c", "mkdir -p .github/workflows; echo x > .github/workflows/ci.yml; echo a > a"],
            args=["--on-exit", "commit"])
        self.assertRc(res, 0)
        self.assertEqual("partial", js["outcome"])
        self.assertEqual(1, js["committed"])
        self.assertGreaterEqual(js["left_staged"], 1)
        self.assertIn("review with: agentbox diff", res.err)


class ReviewPrompt(abtest.BoxTest):
    def test_ctrl_c_at_the_review_prompt_says_the_changes_are_kept_and_how_to_act(self):
        argv = [abtest.AGENTBOX, "run", "--on-exit", "ask", "-C", self.box.project]
        if abtest.BACKEND:
            argv += ["--backend", abtest.BACKEND]
        argv += ["--", "sh", "-c", "echo x > new.txt"]
        run = abtest.PtyRun(argv, self.box.env({"NO_COLOR": "1"}), self.box.project)
        try:
            self.assertTrue(run.expect(b"[c]ommit allowed"), run.output)
            os.write(run.master, b"\x03")
            rc = run.wait()
        finally:
            run.close()
        out = run.output.decode(errors="replace")
        self.assertEqual(130, rc, out)
        self.assertIn("interrupted at the review prompt", out)
        self.assertIn("1 change(s) staged in session", out)
        self.assertIn("review with: agentbox diff", out)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "new.txt")))
        sid = re.search(r"staged in session ([\w-]+)", out).group(1)
        listed = subprocess.run([abtest.AGENTBOX, "sessions"], capture_output=True, text=True,
                                env=self.box.env(), cwd=self.box.project)
        self.assertRegex(listed.stdout, re.escape(sid) + r"\s+staged\s+1\b")


class ScriptAnswers(abtest.BoxTest):
    """#19: commit, undo, discard and export answer scripts in JSON on standard output, and
    export -o - writes every format there."""

    def ab(self, *args):
        p = subprocess.run([abtest.AGENTBOX, *args], capture_output=True, env=self.box.env(),
                           cwd=self.box.project, timeout=120)
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")

    def staged(self, script):
        res = self.box.run(["sh", "-c", script])
        self.assertRc(res, 0)
        return os.path.basename(self.box.sessions()[-1])

    def test_commit_json_names_what_was_committed_what_was_held_and_why(self):
        sid = self.staged("mkdir -p .github/workflows; echo x > .github/workflows/ci.yml; echo a > a")
        rc, out, err = self.ab("commit", "--json", sid)
        self.assertEqual(1, rc, err)
        js = json.loads(out)
        self.assertEqual(sid, js["session"])
        self.assertEqual("partial", js["outcome"])
        self.assertIn("a", js["committed"])
        self.assertEqual(["ask"], [h["verdict"] for h in js["held"]
                                   if h["path"] == ".github/workflows/ci.yml"])
        held = {h["path"]: h for h in js["held"]}
        self.assertIn("protect", held[".github/workflows/ci.yml"]["why"])
        # The new directories it needs stay staged with it, and say so.
        self.assertEqual(".github/workflows", held[".github/workflows"]["held_by"])
        self.assertNotIn("held_by", held[".github/workflows/ci.yml"])
        self.assertEqual([], js["conflicts"])
        self.assertIsInstance(js["commit"], int)
        self.assertGreaterEqual(js["left_staged"], 1)

    def test_commit_json_reports_conflicts_and_commits_nothing(self):
        sid = self.staged("echo staged > README")
        time.sleep(0.02)
        with open(os.path.join(self.box.project, "README"), "w") as f:
            f.write("host edit\n")
        rc, out, err = self.ab("commit", "--json", sid)
        self.assertEqual(1, rc, err)
        js = json.loads(out)
        self.assertEqual("conflict", js["outcome"])
        self.assertEqual(["README"], [c["path"] for c in js["conflicts"]])
        self.assertEqual([], js["committed"])
        with open(os.path.join(self.box.project, "README")) as f:
            self.assertEqual("host edit\n", f.read())

    def test_commit_of_a_path_with_no_change_exits_3_and_commits_nothing(self):
        sid = self.staged("echo a > a")
        os.makedirs(os.path.join(self.box.project, "src"))
        rc, out, err = self.ab("commit", sid, "src/")
        self.assertEqual(3, rc, err)
        self.assertIn("nothing committed", err)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "a")))
        rc, out, err = self.ab("commit", "--json", sid, "src/")
        self.assertEqual(3, rc, err)
        self.assertEqual("nothing-matched", json.loads(out)["outcome"])
        # The path that did change still commits.
        rc, out, err = self.ab("commit", sid, "a")
        self.assertEqual(0, rc, err)

    def test_undo_and_discard_json_name_the_session_and_the_paths(self):
        sid = self.staged("echo a > a")
        rc, out, err = self.ab("commit", sid)
        self.assertEqual(0, rc, err)
        rc, out, err = self.ab("undo", "--json", sid)
        self.assertEqual(0, rc, err)
        js = json.loads(out)
        self.assertEqual((sid, "undone", ["a"], []),
                         (js["session"], js["outcome"], js["restored"], js["conflicts"]))
        rc, out, err = self.ab("discard", "--json", sid)
        self.assertEqual(0, rc, err)
        js = json.loads(out)
        self.assertEqual((sid, "discarded", 1, ["a"]),
                         (js["session"], js["outcome"], js["count"], js["discarded"]))

    def test_export_to_standard_output_writes_every_format_and_no_file_named_dash(self):
        sid = self.staged("echo a > a")
        for fmt, opener in (("tar", "r:"), ("tar.gz", "r:gz"), ("tar.zst", None), ("patch", None)):
            with self.subTest(fmt=fmt):
                rc, out, err = self.ab("export", sid, "-o", "-", "--format", fmt)
                self.assertEqual(0, rc, err)
                self.assertFalse(os.path.lexists(os.path.join(self.box.project, "-")),
                                 "export wrote a file named '-'")
                if opener:
                    with tarfile.open(fileobj=io.BytesIO(out), mode=opener) as t:
                        self.assertIn("files/a", t.getnames())
                elif fmt == "tar.zst":
                    self.assertEqual(b"\x28\xb5\x2f\xfd", out[:4])  # zstd magic
                else:
                    self.assertIn(b"+++ b/a", out)
        # Without --format, standard output gets the patch.
        rc, out, err = self.ab("export", sid, "-o", "-")
        self.assertEqual(0, rc, err)
        self.assertIn(b"+++ b/a", out)

    def test_export_json_names_the_file_and_the_count(self):
        sid = self.staged("echo a > a")
        dest = os.path.join(self.box.outside, "x.tar.gz")
        rc, out, err = self.ab("export", sid, "-o", dest, "--json")
        self.assertEqual(0, rc, err)
        js = json.loads(out)
        self.assertEqual((sid, dest, "tar.gz", 1),
                         (js["session"], js["output"], js["format"], js["count"]))
        rc, out, err = self.ab("export", sid, "-o", "-", "--json")
        self.assertEqual(2, rc, err)


def landlock_abi():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(VERSION)


def audit_enabled(value=None):
    """Kernel audit's "enabled" (AUDIT_GET), after setting it to VALUE (AUDIT_SET) if given:
    what the test needs to see Landlock's records, put back afterwards. Root only."""
    import socket
    import struct
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)  # NETLINK_AUDIT
    try:
        if value is not None:
            body = struct.pack("=8I", 1, value, 0, 0, 0, 0, 0, 0)  # mask: AUDIT_STATUS_ENABLED
            s.send(struct.pack("=IHHII", 16 + len(body), 1001, 1 | 4, 1, 0) + body)
            s.recv(8192)  # the ack
        s.send(struct.pack("=IHHII", 16, 1000, 1, 2, 0))
        while True:
            d = s.recv(8192)
            if struct.unpack("=H", d[4:6])[0] == 1000:
                return struct.unpack("=I", d[20:24])[0]
    finally:
        s.close()


class LandlockDenials(abtest.BoxTest):
    """Issue 19: every Landlock denial agentbox can observe is logged and counted like the
    seccomp ones. As root with kernel audit enabled (ABI 7) it reads the kernel's records;
    elsewhere it cannot, and doctor says so and why."""

    def bind_in_rw_dir(self):
        """A unix socket bound in a --rw directory: the mounts allow the write, Landlock does
        not (make_sock only in the sandbox's own places), so the refusal is Landlock's."""
        rw = os.path.join(self.box.outside, "rw")
        os.makedirs(rw)
        script = ("import socket,sys\n"
                  "s=socket.socket(socket.AF_UNIX)\n"
                  "try:\n    s.bind(sys.argv[1]); print('bound')\n"
                  "except OSError as e:\n    print('refused', e.errno)\n")
        return Summary.run_with_summary(self, ["python3", "-c", script, os.path.join(rw, "s.sock")],
                                        args=["--rw", rw])

    def test_socket_planted_in_writable_dir_is_logged_and_counted(self):
        if not abtest.IS_ROOT:
            self.skipTest("reading the kernel's audit records needs root (doctor test below)")
        if landlock_abi() < 7:
            self.skipTest("Landlock reports denials to audit from ABI 7 (Linux 6.15)")
        before = audit_enabled()
        self.addCleanup(audit_enabled, before)
        if before == 0:
            audit_enabled(1)
        res, js = self.bind_in_rw_dir()
        self.assertRc(res, 0)
        self.assertIn("refused 13", res.out, res)
        counted = js["denied"]["landlock"]
        self.assertEqual(1, len(counted), js)
        (what, times), = counted.items()
        self.assertEqual(1, times)
        # A creation is reported on the directory it would be made in.
        self.assertTrue(what.startswith("fs.make_sock ") and what.endswith("/outside/rw"), what)
        self.assertRegex(res.err, r"denied 1 access\(es\) by Landlock \(.*fs\.make_sock")
        with open(os.path.join(self.box.sessions()[-1], "log.jsonl")) as f:
            logged = [json.loads(l) for l in f if '"landlock.denied"' in l]
        self.assertEqual(1, len(logged), logged)
        e = logged[0]
        self.assertEqual("fs.make_sock", e["blockers"])
        self.assertTrue(e["path"].endswith("/outside/rw"), e)
        self.assertEqual("bind", e.get("syscall"), e)
        self.assertEqual(13, e.get("errno"), e)

    def test_denials_of_another_sandbox_are_not_counted(self):
        """Two runs at once: each counts its own denial, never the other's."""
        if not abtest.IS_ROOT or landlock_abi() < 7:
            self.skipTest("needs root and Landlock ABI 7")
        before = audit_enabled()
        self.addCleanup(audit_enabled, before)
        if before == 0:
            audit_enabled(1)
        import subprocess
        rw = os.path.join(self.box.outside, "other")
        os.makedirs(rw)
        # The other sandbox keeps making denials for the whole of our run.
        loop = ("import socket,time\n"
                "for i in range(60):\n"
                "    try: socket.socket(socket.AF_UNIX).bind('%s/x%%d' %% i)\n"
                "    except OSError: pass\n"
                "    time.sleep(0.05)\n" % rw)
        other = subprocess.Popen(self.box.argv(["python3", "-c", loop], args=["--rw", rw],
                                               probes=False),
                                 env=self.box.env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        self.addCleanup(other.wait)
        self.addCleanup(other.kill)
        res, js = self.bind_in_rw_dir()
        self.assertRc(res, 0)
        self.assertEqual(1, sum(js["denied"]["landlock"].values()), js)

    def test_doctor_says_whether_landlock_denials_are_logged(self):
        res = self.host_run([abtest.AGENTBOX, "doctor", "--json"])
        rows = {f["name"]: f for f in json.loads(res.out)}
        row = rows.get("Landlock denials logged")
        self.assertIsNotNone(row, res.out)
        if not abtest.IS_ROOT:
            self.assertFalse(row["ok"])
            self.assertIn("CAP_AUDIT_READ", row["detail"])
            self.assertIn("root", row["fix"])
        elif landlock_abi() >= 7:
            self.assertEqual(audit_enabled() != 0, row["ok"], row)
            if not row["ok"]:
                self.assertIn("auditctl -e 1", row["fix"])


if __name__ == "__main__":
    abtest.main()
