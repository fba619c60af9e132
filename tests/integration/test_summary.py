#!/usr/bin/env python3
"""The summary `agentbox run` prints when the command ends (issue #7): what ran, how long, how
it ended, the staged changes with their count, and what the sandbox denied (system calls the
supervisor refused, connections the proxy refused), on stderr and as JSON on --summary-fd.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import probe  # noqa: E402


class Summary(abtest.BoxTest):
    def run_with_summary(self, cmd, args=()):
        """Runs CMD without -q; returns the result and the --summary-fd JSON."""
        rfd, wfd = os.pipe()
        argv = [a for a in self.box.argv(cmd, args=["--summary-fd", str(wfd), *args]) if a != "-q"]
        try:
            res = self.box.run(cmd, argv=argv, pass_fds=(wfd,))
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
        self.assertEqual({"syscalls": {}, "connections": {}}, js["denied"])

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


if __name__ == "__main__":
    abtest.main()
