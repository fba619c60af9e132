#!/usr/bin/env python3
"""`agentbox learn` (issue 23 §4): a command runs with what the base profile leaves unlisted
observed instead of denied, and agentbox writes the smallest profile extending the base under
which the same command runs without a denial. Learning must never weaken the base: its secret
denials hold, every write is staged, and nothing the command did lands in the project.

The program learned is a real Python project's test run: its package lives in the home
(~/.local/lib/learnpkg, a user-installed library) and reads its settings from
~/.config/learnapp, both invisible under the default profile.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
import proxytest  # noqa: E402

PACKAGE = '''\
import os
with open(os.path.expanduser("~/.config/learnapp/settings.ini")) as f:
    GREETING = f.read().strip()
'''

TESTS = '''\
import os, sys, unittest
sys.path.insert(0, os.path.expanduser("~/.local/lib/learnpkg"))
import learnpkg

class T(unittest.TestCase):
    def test_greeting(self):
        self.assertEqual("hello", learnpkg.GREETING)
        with open("result.txt", "w") as f:
            f.write(learnpkg.GREETING + "\\n")

if __name__ == "__main__":
    unittest.main()
'''


class Learn(abtest.BoxTest):
    def setUp(self):
        super().setUp()
        home = self.box.home
        pkg = os.path.join(home, ".local", "lib", "learnpkg", "learnpkg")
        os.makedirs(pkg)
        with open(os.path.join(pkg, "__init__.py"), "w") as f:
            f.write(PACKAGE)
        os.makedirs(os.path.join(home, ".config", "learnapp"))
        with open(os.path.join(home, ".config", "learnapp", "settings.ini"), "w") as f:
            f.write("hello\n")
        with open(os.path.join(self.box.project, "test_app.py"), "w") as f:
            f.write(TESTS)
        self.out = os.path.join(self.box.root, "learned.toml")
        self.cmd = ["python3", "-B", "-m", "unittest", "-q", "test_app"]

    def learn(self, cmd, args=(), env=None):
        argv = [abtest.AGENTBOX, "learn", "-q", "-C", self.box.project, "-o", self.out]
        if abtest.BACKEND:
            argv += ["--backend", abtest.BACKEND]
        return self.box.run(cmd, argv=argv + list(args) + ["--"] + list(cmd), env=env)

    def run_with_denials(self, cmd, profiles):
        """Runs CMD under PROFILES; returns the result and the summary's denial counts."""
        rfd, wfd = os.pipe()
        try:
            res = self.box.run(cmd, profiles=profiles, probes=False,
                               args=["--summary-fd", str(wfd)], pass_fds=(wfd,))
        finally:
            os.close(wfd)
        with os.fdopen(rfd) as f:
            return res, json.loads(f.read())["denied"]

    def learned(self):
        with open(self.out) as f:
            return f.read()

    def test_learned_profile_runs_the_test_suite_without_denials(self):
        # Under the default profile the package and its settings are invisible: the suite fails.
        res = self.box.run(self.cmd, probes=False)
        self.assertNotEqual(0, res.rc, res)
        self.assertIn("learnpkg", res.err)

        res = self.learn(self.cmd)
        self.assertRc(res, 0)
        text = self.learned()
        self.assertIn('extends = ["default"]', text)
        self.assertIn('"~/.local/lib/learnpkg",', text)
        self.assertIn('"~/.config/learnapp",', text)
        # Collapsed: the package's files are one line, not one per file.
        self.assertNotIn("__init__.py", text)
        self.assertRegex(text, r'"~/.config/learnapp",\s+# python3')

        check = self.host_run([abtest.AGENTBOX, "profile", "check", self.out])
        self.assertRc(check, 0)
        res, denied = self.run_with_denials(self.cmd, [self.out])
        self.assertRc(res, 0)
        self.assertEqual({"syscalls": {}, "connections": {}, "landlock": {}}, denied)

    def test_learning_keeps_the_base_profiles_secret_denials(self):
        # The command reaches for the ssh key and the cloud credentials: learning observes, but
        # the base profile's denials still hold, and neither path is learned.
        cmd = ["sh", "-c", "cat ~/.ssh/id_rsa ~/.aws/credentials; python3 -B -m unittest -q test_app"]
        res = self.learn(cmd)
        self.assertIn("No such file or directory", res.err)
        text = self.learned()
        self.box.assert_no_canary(text, "the learned profile")
        # The entries (not the comments, which quote the command): neither secret is granted.
        entries = "\n".join(l for l in text.splitlines()
                            if not l.lstrip().startswith("#") and not l.startswith("description"))
        for secret in (".ssh", ".aws", "id_rsa", "credentials"):
            self.assertNotIn(secret, entries)
        self.assertIn('"~/.config/learnapp",', entries)

    def test_learned_runs_writes_stay_staged(self):
        res = self.learn(self.cmd)
        self.assertRc(res, 0)
        # The test run wrote result.txt: staged in the session, not in the project.
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "result.txt")))
        self.assertTrue(os.path.exists(os.path.join(self.box.upper(), "result.txt")))

    def test_existing_output_is_refused_and_left_alone(self):
        with open(self.out, "w") as f:
            f.write("mine\n")
        res = self.learn(self.cmd)
        self.assertRc(res, 2)
        self.assertIn("--force", res.err)
        self.assertEqual("mine\n", self.learned())
        self.assertEqual([], self.box.sessions())  # nothing ran
        res = self.learn(self.cmd, args=["--force"])
        self.assertRc(res, 0)
        self.assertIn("~/.config/learnapp", self.learned())

    def loopback_base(self, extra=""):
        """A base profile that lets the proxy reach the test's loopback server."""
        return self.box.write_profile("loopback", (
            'version = 1\nname = "loopback"\nextends = ["default"]\n'
            '[network]\nallow_private = true\n' + extra))

    def test_hosts_the_command_reached_are_learned(self):
        srv = proxytest.http_server(self)
        base = self.loopback_base()
        name = "learned-host.test"
        cmd = ["curl", "-sf", "-o", "/dev/null", "http://%s:%d/" % (name, srv.port)]
        env = proxytest.resolve_env({name: "127.0.0.1"})
        res = self.learn(cmd, args=["-p", base], env=env)
        if res.rc == abtest.EXIT_SETUP:
            self.skipTest("no proxy network here: %s" % res.err)
        self.assertRc(res, 0)
        self.assertEqual(1, len(srv.hits))
        text = self.learned()
        self.assertIn('mode = "proxy"', text)
        self.assertIn('"%s:%d",' % (name, srv.port), text)
        # And the learned profile lets it through without asking.
        res = self.box.run(cmd, profiles=[self.out], probes=False, env=env)
        self.assertRc(res, 0)
        self.assertEqual(2, len(srv.hits))

    def test_a_host_the_base_denies_is_not_learned(self):
        srv = proxytest.http_server(self)
        name = "denied-host.test"
        base = self.loopback_base('deny = ["%s:%d"]\n' % (name, srv.port))
        cmd = ["curl", "-s", "-o", "/dev/null", "http://%s:%d/" % (name, srv.port)]
        res = self.learn(cmd, args=["-p", base], env=proxytest.resolve_env({name: "127.0.0.1"}))
        if res.rc == abtest.EXIT_SETUP:
            self.skipTest("no proxy network here: %s" % res.err)
        self.assertEqual([], srv.hits)
        self.assertTrue(os.path.exists(self.out), res)
        text = self.learned()
        self.assertNotIn('"%s' % name, text)  # no allow entry for it
        self.assertNotIn("[network]", text)


if __name__ == "__main__":
    abtest.main()
