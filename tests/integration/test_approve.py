#!/usr/bin/python3
"""Integration: approvals end to end (DESIGN.md §8). A connection the rules decide `ask`
(network.unlisted = "ask") goes to the approver command of a real run — allow, deny, session
scope, and each way an approver fails (late, crashed, garbage), which is a deny; with no
approver, to a prompt on the controlling terminal while the pty relay is paused; with neither,
it is denied. Protected paths go to the approver at commit, from the end of a run and from
`agentbox commit`. Every answer is an `approval` event, every connect a `decision` event."""

import json
import os
import re
import select
import stat
import sys
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest, PtyRun  # noqa: E402
import proxytest  # noqa: E402
from proxytest import resolve_env  # noqa: E402

ENV = resolve_env({"asked.test": "127.0.0.1", "other.test": "127.0.0.1"})

ALLOW = '{"verdict":"allow","scope":"once","reason":"fine by the test"}'
ALLOW_SESSION = '{"verdict":"allow","scope":"session","reason":"for the whole run"}'
DENY = '{"verdict":"deny","reason":"not today"}'

MEMBERS = {
    "approval": {"op", "target", "rule", "source", "verdict", "scope", "by", "how", "reason",
                 "ms"},
    "decision": {"op", "target", "verdict", "rule", "source"},
}
# A commit's decision says what became of the change; a held one, why.
COMMIT_MEMBERS = {"outcome", "reason"}


class ApproveTest(BoxTest):
    def setUp(self):
        super().setUp()
        self.srv = proxytest.http_server(self)
        self.dir = proxytest.tmpdir(self)
        # unlisted = "ask"; the loopback address itself is allowed by name so that the address
        # check passes once the host is approved (it is what a real server's public address
        # would do without a rule).
        self.profile = self.box.write_profile("asknet", """version = 1
extends = ["default"]
[network]
mode = "proxy"
unlisted = "ask"
allow = ["127.0.0.1:%d"]
""" % self.srv.port)

    def approver(self, name, body):
        """A shell approver outside the sandbox that records each request it gets."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\ncat >> %s/requests\necho >> %s/requests\n%s\n"
                    % (self.dir, self.dir, body))
        os.chmod(path, 0o755)
        return path

    def requests(self):
        p = os.path.join(self.dir, "requests")
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [json.loads(line) for line in f if line.strip()]

    def curl(self, *hosts):
        cmd = []
        for h in hosts:
            cmd.append("curl -sS -o /dev/null -w '%%{http_code}\\n' http://%s:%d/" % (h, self.srv.port))
        return ["sh", "-c", "; ".join(cmd)]

    def run_box(self, cmd, args=(), extra_profile=None):
        profiles = [self.profile] + ([extra_profile] if extra_profile else [])
        return self.box.run(cmd, profiles=profiles, args=list(args), env=ENV)

    def log(self):
        with open(os.path.join(self.box.sessions()[-1], "log.jsonl")) as f:
            events = [json.loads(line) for line in f]
        # Every approval and decision has the members agentbox-log(5) documents, whoever
        # answered (approver, prompt, nobody, --force).
        # Lines appended after a signed session.end are signed each (agentbox-log(5)).
        envelope = {"v", "ts", "session", "seq", "event", "prev", "hash", "sig"}
        for e in events:
            if e["event"] in MEMBERS:
                commit = e["event"] == "decision" and e.get("op") == "commit"
                extra = COMMIT_MEMBERS if commit else set()
                self.assertEqual(set(e) - envelope - extra, MEMBERS[e["event"]], e)
        return events

    def of(self, events, kind):
        return [e for e in events if e["event"] == kind]


class ProxyApprover(ApproveTest):
    def test_approver_allows_a_connection_and_sees_the_request(self):
        a = self.approver("allow.sh", "echo '%s'" % ALLOW)
        res = self.run_box(self.curl("asked.test"), ["--approver", a])
        self.assertRc(res, 0)
        self.assertEqual(res.out.split(), ["200"], res)
        self.assertEqual(len(self.srv.hits), 1)
        req = self.requests()
        self.assertEqual(len(req), 1, req)
        self.assertEqual((req[0]["op"], req[0]["target"], req[0]["rule"]),
                         ("connect", "asked.test:%d" % self.srv.port, 'network.unlisted "ask"'))
        self.assertEqual(req[0]["session"], os.path.basename(self.box.sessions()[-1]))
        self.assertRegex(req[0]["source"], r"asknet\.toml:\d+")
        ev = self.log()
        names = [e["event"] for e in ev]
        # decision (ask) -> approval -> net.connect (allow), in that order.
        i, j, k = names.index("decision"), names.index("approval"), names.index("net.connect")
        self.assertLess(i, j, names)
        self.assertLess(j, k, names)
        d, a_, c = ev[i], ev[j], ev[k]
        self.assertEqual((d["op"], d["target"], d["verdict"], d["rule"]),
                         ("connect", "asked.test:%d" % self.srv.port, "ask",
                          'network.unlisted "ask"'))
        self.assertEqual((a_["verdict"], a_["scope"], a_["by"], a_["how"], a_["reason"]),
                         ("allow", "once", "approver", "answered", "fine by the test"))
        self.assertIsInstance(a_["ms"], int)
        self.assertEqual((c["verdict"], c["approval"]), ("allow", "asked"))

    def test_approver_deny_is_a_403_naming_the_approver(self):
        a = self.approver("deny.sh", "echo '%s'" % DENY)
        res = self.run_box(["curl", "-sS", "http://asked.test:%d/" % self.srv.port],
                           ["--approver", a])
        self.assertIn("denied by the approver: not today", res.out + res.err, res)
        self.assertEqual(self.srv.hits, [])
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["how"]) for x in ap], [("deny", "answered")])

    def assert_failed_approver_denies(self, body, how, timeout=None, inline=False):
        a = body if inline else self.approver("bad.sh", body)
        extra = None
        if timeout:
            extra = self.box.write_profile("quick", 'version = 1\n[approve]\ntimeout = "%s"\n'
                                           % timeout)
        t0 = time.monotonic()
        res = self.run_box(self.curl("asked.test"), ["--approver", a], extra_profile=extra)
        self.assertEqual(res.out.split(), ["403"], res)
        self.assertEqual(self.srv.hits, [])
        ap = self.of(self.log(), "approval")
        self.assertEqual(len(ap), 1, ap)
        self.assertEqual((ap[0]["verdict"], ap[0]["by"]), ("deny", "approver"))
        self.assertRegex(ap[0]["how"], how)
        return time.monotonic() - t0

    def test_approver_that_answers_late_is_a_deny(self):
        took = self.assert_failed_approver_denies("sleep 30; echo '%s'" % ALLOW, "^timeout$",
                                                  timeout="1s")
        self.assertLess(took, 20)

    def test_approver_that_crashes_is_a_deny(self):
        # The command itself is the shell that dies (a script would be its child, and the
        # shell would report exit 139).
        self.assert_failed_approver_denies("kill -SEGV $$", "^crashed$", inline=True)

    def test_approver_that_answers_garbage_is_a_deny(self):
        self.assert_failed_approver_denies("echo 'yes, sure'", "^malformed$")

    def test_approver_with_a_misspelt_member_is_a_deny(self):
        self.assert_failed_approver_denies(
            'echo \'{"verdict":"allow","scpoe":"session"}\'', "^malformed$")

    def test_approver_that_fails_is_a_deny(self):
        self.assert_failed_approver_denies("echo '%s'; exit 3" % ALLOW, "^exit 3$")

    def test_session_scope_is_remembered_per_host_and_port(self):
        a = self.approver("session.sh", "echo '%s'" % ALLOW_SESSION)
        res = self.run_box(self.curl("asked.test", "asked.test", "other.test"), ["--approver", a])
        self.assertRc(res, 0)
        self.assertEqual(res.out.split(), ["200", "200", "200"], res)
        # asked once for asked.test (then remembered), once for other.test
        self.assertEqual([r["target"].split(":")[0] for r in self.requests()],
                         ["asked.test", "other.test"])
        conn = self.of(self.log(), "net.connect")
        self.assertEqual([c["approval"] for c in conn], ["asked", "remembered", "asked"], conn)

    def test_once_scope_asks_again_for_the_next_connection(self):
        a = self.approver("once.sh", "echo '%s'" % ALLOW)
        res = self.run_box(self.curl("asked.test", "asked.test"), ["--approver", a])
        self.assertEqual(res.out.split(), ["200", "200"], res)
        self.assertEqual(len(self.requests()), 2)

    def test_session_deny_is_remembered_too(self):
        a = self.approver("never.sh",
                          'echo \'{"verdict":"deny","scope":"session","reason":"no"}\'')
        res = self.run_box(self.curl("asked.test", "asked.test"), ["--approver", a])
        self.assertEqual(res.out.split(), ["403", "403"], res)
        self.assertEqual(len(self.requests()), 1)
        self.assertEqual(self.srv.hits, [])

    def test_approver_from_the_profile(self):
        a = self.approver("allow.sh", "echo '%s'" % ALLOW)
        prof = self.box.write_profile("withapprover",
                                      'version = 1\n[approve]\ncommand = "%s"\n' % a)
        res = self.run_box(self.curl("asked.test"), extra_profile=prof)
        self.assertEqual(res.out.split(), ["200"], res)
        self.assertEqual(len(self.requests()), 1)

    def test_allowed_hosts_never_reach_the_approver(self):
        a = self.approver("deny.sh", "echo '%s'" % DENY)
        res = self.run_box(self.curl("asked.test"),
                           ["--approver", a, "--allow-host", "asked.test:%d" % self.srv.port])
        self.assertEqual(res.out.split(), ["200"], res)
        self.assertEqual(self.requests(), [])
        d = self.of(self.log(), "decision")
        self.assertEqual([x["verdict"] for x in d if x["target"].startswith("asked.test")],
                         ["allow"], d)

    def test_approval_does_not_open_private_addresses(self):
        # The approver answers for the name; the address check still applies to what the name
        # resolves to, so approving a name cannot reach the host's loopback services.
        prof = self.box.write_profile("noaddr", """version = 1
extends = ["default"]
[network]
mode = "proxy"
unlisted = "ask"
""")
        a = self.approver("allow.sh", "echo '%s'" % ALLOW)
        res = self.box.run(self.curl("asked.test"), profiles=[prof], args=["--approver", a],
                           env=ENV)
        self.assertEqual(res.out.split(), ["403"], res)
        self.assertEqual(self.srv.hits, [])
        d = [x for x in self.of(self.log(), "decision") if x["target"].startswith("127.0.0.1")]
        self.assertEqual([x["verdict"] for x in d], ["deny"], d)

    def test_without_approver_or_terminal_an_ask_is_a_deny(self):
        res = self.run_box(self.curl("asked.test"))
        self.assertEqual(res.out.split(), ["403"], res)
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["by"], x["how"]) for x in ap],
                         [("deny", "none", "no approver")], ap)

    def test_a_slow_approver_does_not_hold_other_connections(self):
        # The approver takes 3 s for asked.test; meanwhile an allowed host is fetched.
        a = self.approver("slow.sh", "sleep 3; echo '%s'" % ALLOW)
        cmd = ["sh", "-c",
               "curl -sS -o /dev/null -w 'asked %%{http_code}\\n' http://asked.test:%d/ & "
               "sleep 0.5; t0=$(date +%%s%%N); "
               "curl -sS -o /dev/null -w 'allowed %%{http_code}\\n' http://other.test:%d/; "
               "echo took $(( ($(date +%%s%%N) - t0) / 1000000 )); wait"
               % (self.srv.port, self.srv.port)]
        res = self.run_box(cmd, ["--approver", a, "--allow-host",
                                 "other.test:%d" % self.srv.port])
        self.assertRc(res, 0)
        self.assertIn("allowed 200", res.out)
        self.assertIn("asked 200", res.out)
        took = int(re.search(r"took (\d+)", res.out).group(1))
        self.assertLess(took, 2000, res.out)

    def test_a_flood_of_questions_runs_few_approvers_at_once(self):
        # Ten unlisted hosts at once: every one is answered, by at most 4 approvers at a time.
        names = ["h%d.test" % i for i in range(10)]
        env = resolve_env(dict((n, "127.0.0.1") for n in names))
        a = self.approver("count.sh", "mkdir %s/run.$$; ls %s | grep -c '^run' >> %s/conc; "
                          "sleep 0.5; rmdir %s/run.$$; echo '%s'"
                          % (self.dir, self.dir, self.dir, self.dir, ALLOW))
        cmd = ["sh", "-c", " ".join("curl -sS -o /dev/null -w '%%{http_code}\\n' "
                                    "http://%s:%d/ &" % (n, self.srv.port) for n in names)
               + " wait"]
        res = self.box.run(cmd, profiles=[self.profile], args=["--approver", a], env=env)
        self.assertRc(res, 0)
        self.assertEqual(res.out.split(), ["200"] * 10, res)
        with open(os.path.join(self.dir, "conc")) as f:
            conc = [int(x) for x in f.read().split()]
        self.assertEqual(len(conc), 10)
        self.assertLessEqual(max(conc), 4, conc)
        self.assertGreater(max(conc), 1, conc)  # they do run side by side

    def test_a_run_that_ends_cancels_its_approver(self):
        a = self.approver("forever.sh", "sleep 60; echo '%s'" % ALLOW)
        t0 = time.monotonic()
        res = self.run_box(["sh", "-c", "curl -sS http://asked.test:%d/ & sleep 1; exit 0"
                            % self.srv.port], ["--approver", a])
        self.assertRc(res, 0)
        self.assertLess(time.monotonic() - t0, 20)
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["how"]) for x in ap], [("deny", "cancelled")], ap)


class ProxyPrompt(ApproveTest):
    """No approver: the question is put on the controlling terminal (a pty here)."""

    def start(self, cmd):
        argv = self.box.argv(cmd, profiles=[self.profile])
        return PtyRun(argv, self.box.env(ENV), self.box.project)

    def ticking(self):
        # A command that keeps writing to the terminal while curl waits for the answer: while
        # the prompt is up none of it may show.
        return ["sh", "-c", "(while :; do echo tick; sleep 0.05; done) & "
                "curl -sS -o /dev/null -w 'code %%{http_code}\\n' http://asked.test:%d/; "
                "kill $!; echo done" % self.srv.port]

    def answer(self, pty, text):
        os.write(pty.master, text)

    def test_prompt_yes_allows_and_pauses_the_relay_meanwhile(self):
        pty = self.start(self.ticking())
        try:
            self.assertTrue(pty.expect(b"ne[v]er this run: "), pty.output)
            self.assertIn(b"asked.test:%d" % self.srv.port, pty.output)
            # The user's own terminal mode while asking (the relay's raw mode is off) ...
            self.assertEqual(pty.attrs_now()[3], pty.attrs_before[3])
            mark = len(pty.output)
            time.sleep(1.0)
            pty._drain(0.1)
            # ... and nothing from the command gets through.
            self.assertNotIn(b"tick", pty.output[mark:], pty.output[mark:])
            self.answer(pty, b"y\r")
            self.assertTrue(pty.expect(b"done"), pty.output)
            self.assertEqual(pty.wait(), 0, pty.output)
            after = pty.output[mark:]
            self.assertIn(b"code 200", after)
            self.assertIn(b"tick", after)  # the relay came back
            self.assertEqual(pty.attrs_now(), pty.attrs_before)
        finally:
            pty.close()
        self.assertEqual(len(self.srv.hits), 1)
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["scope"], x["by"], x["how"]) for x in ap],
                         [("allow", "once", "prompt", "answered")], ap)

    def test_prompt_no_denies(self):
        pty = self.start(self.ticking())
        try:
            self.assertTrue(pty.expect(b"ne[v]er this run: "), pty.output)
            self.answer(pty, b"n\r")
            self.assertTrue(pty.expect(b"done"), pty.output)
            pty.wait()
            self.assertIn(b"code 403", pty.output)
            self.assertEqual(pty.attrs_now(), pty.attrs_before)
        finally:
            pty.close()
        self.assertEqual(self.srv.hits, [])
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["by"]) for x in ap], [("deny", "prompt")], ap)

    def test_prompt_never_denies_for_the_rest_of_the_run(self):
        cmd = ["sh", "-c", "for i in 1 2 3; do curl -sS -o /dev/null -w 'code %%{http_code}\\n' "
               "http://asked.test:%d/; done; echo done" % self.srv.port]
        pty = self.start(cmd)
        try:
            self.assertTrue(pty.expect(b"ne[v]er this run: "), pty.output)
            self.answer(pty, b"v\r")
            self.assertTrue(pty.expect(b"done"), pty.output)
            pty.wait()
        finally:
            pty.close()
        self.assertEqual(pty.output.count(b"code 403"), 3, pty.output)
        self.assertEqual(pty.output.count(b"ne[v]er this run: "), 1, pty.output)
        self.assertEqual(self.srv.hits, [])

    def test_prompt_always_is_remembered_and_a_wrong_answer_asks_again(self):
        cmd = ["sh", "-c", "for i in 1 2; do curl -sS -o /dev/null -w 'code %%{http_code}\\n' "
               "http://asked.test:%d/; done; echo done" % self.srv.port]
        pty = self.start(cmd)
        try:
            self.assertTrue(pty.expect(b"ne[v]er this run: "), pty.output)
            self.answer(pty, b"maybe\r")
            self.assertTrue(pty.expect(b"please answer y, a, n or v"), pty.output)
            self.answer(pty, b"a\r")
            self.assertTrue(pty.expect(b"done"), pty.output)
            pty.wait()
        finally:
            pty.close()
        self.assertEqual(pty.output.count(b"code 200"), 2, pty.output)
        self.assertEqual(pty.output.count(b"ne[v]er this run: "), 1, pty.output)
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["scope"]) for x in ap], [("allow", "session")], ap)

    def test_a_question_the_command_prints_cannot_answer_the_prompt(self):
        # Output of the command is not input: a command that prints "y" does not approve.
        cmd = ["sh", "-c", "(sleep 0.5; echo y; echo y) & curl -sS -o /dev/null -w "
               "'code %%{http_code}\\n' http://asked.test:%d/; echo done" % self.srv.port]
        pty = self.start(cmd)
        try:
            self.assertTrue(pty.expect(b"ne[v]er this run: "), pty.output)
            time.sleep(1.5)
            self.assertNotIn(b"code", pty.output)
            self.answer(pty, b"n\r")
            self.assertTrue(pty.expect(b"done"), pty.output)
            pty.wait()
        finally:
            pty.close()
        self.assertIn(b"code 403", pty.output)


class CommitApprover(ApproveTest):
    WRITE = ["sh", "-c", "echo 'export X=1' > .envrc; echo hi > plain.txt"]

    def test_on_exit_commit_commits_what_the_approver_allows(self):
        a = self.approver("allow.sh", "echo '%s'" % ALLOW)
        res = self.box.run(self.WRITE, args=["--on-exit", "commit", "--approver", a])
        self.assertRc(res, 0)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, ".envrc")))
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "plain.txt")))
        self.assertEqual([(r["op"], r["target"]) for r in self.requests()], [("commit", ".envrc")])
        ev = self.log()
        ap = self.of(ev, "approval")
        self.assertEqual([(x["target"], x["verdict"], x["by"]) for x in ap],
                         [(".envrc", "allow", "approver")])
        d = self.of(ev, "decision")
        self.assertEqual([(x["op"], x["target"], x["verdict"]) for x in d],
                         [("commit", ".envrc", "ask")])
        self.assertIn("commit.protect", d[0]["rule"])

    def test_on_exit_commit_holds_what_the_approver_denies(self):
        a = self.approver("deny.sh", "echo '%s'" % DENY)
        res = self.box.run(self.WRITE, args=["--on-exit", "commit", "--approver", a])
        self.assertRc(res, 0)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, ".envrc")))
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "plain.txt")))

    def test_agentbox_commit_asks_the_approver(self):
        res = self.box.run(self.WRITE)
        self.assertRc(res, 0)
        a = self.approver("allow.sh", "echo '%s'" % ALLOW)
        r = self.host_run([AGENTBOX, "commit", "-C", self.box.project, "--approver", a],
                          env=self.box.env())
        self.assertEqual(r.rc, 0, r)
        with open(os.path.join(self.box.project, ".envrc")) as f:
            self.assertEqual(f.read(), "export X=1\n")
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["target"], x["verdict"], x["by"]) for x in ap],
                         [(".envrc", "allow", "approver")])

    def test_agentbox_commit_with_a_crashing_approver_holds_the_path(self):
        res = self.box.run(self.WRITE)
        self.assertRc(res, 0)
        r = self.host_run([AGENTBOX, "commit", "-C", self.box.project, "--approver", "kill -SEGV $$"],
                          env=self.box.env())
        self.assertEqual(r.rc, 1, r)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, ".envrc")))
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "plain.txt")))
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["verdict"], x["how"]) for x in ap], [("deny", "crashed")])

    def test_force_path_is_an_approval_with_every_member(self):
        res = self.box.run(self.WRITE)
        self.assertRc(res, 0)
        r = self.host_run([AGENTBOX, "commit", "-C", self.box.project, "--force", ".envrc"],
                          env=self.box.env())
        self.assertEqual(r.rc, 0, r)
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["target"], x["by"], x["how"]) for x in ap],
                         [(".envrc", "command line (--force PATH)", "answered")])

    def review(self, extra_args, answer):
        argv = self.box.argv(self.WRITE, args=["--on-exit", "ask"] + extra_args)
        # The review prompt reads whole lines: a terminal in its usual canonical mode (PtyRun
        # sets up a non-canonical one, where a read returns at once with nothing).
        argv = ["sh", "-c", 'stty icanon icrnl; exec "$@"', "sh"] + argv
        pty = PtyRun(argv, self.box.env(), self.box.project)
        try:
            self.assertTrue(pty.expect(b"pprove-and-commit all? "), pty.output)
            os.write(pty.master, answer)
            self.assertEqual(pty.wait(), 0, pty.output)
        finally:
            pty.close()
        return pty

    def test_approve_all_at_the_review_prompt_is_logged_as_by_prompt(self):
        self.review([], b"a\r")
        self.assertTrue(os.path.exists(os.path.join(self.box.project, ".envrc")))
        ap = self.of(self.log(), "approval")
        self.assertEqual([(x["target"], x["by"], x["verdict"]) for x in ap],
                         [(".envrc", "prompt", "allow")])

    def test_review_commit_takes_what_the_approver_allowed(self):
        a = self.approver("allow.sh", "echo '%s'" % ALLOW)
        pty = self.review(["--approver", a], b"c\r")
        self.assertIn(b"the approver allowed 1 path(s)", pty.output)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, ".envrc")))
        self.assertEqual([r["target"] for r in self.requests()], [".envrc"])

    def test_review_commit_without_approver_holds_the_protected_path(self):
        self.review([], b"c\r")
        self.assertFalse(os.path.exists(os.path.join(self.box.project, ".envrc")))
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "plain.txt")))


if __name__ == "__main__":
    abtest.main()
