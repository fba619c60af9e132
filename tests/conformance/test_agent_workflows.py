#!/usr/bin/python3
"""Conformance: what a real agent does next, once the sandbox holds (issue 19).

Network rules that do what they say, programs that listen on the sandbox's own loopback, and
git with the user's identity. Every server a case needs is started by the case on the host's
loopback; nothing here needs a network.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest  # noqa: E402
import proxytest  # noqa: E402
from proxytest import inside_script, resolve_env  # noqa: E402

# Listens on 127.0.0.1 (a fixed port and an ephemeral one), connects to both and talks.
LOOPBACK_SERVER = r"""
import socket, threading
def serve(srv):
    c, _ = srv.accept()
    c.sendall(b"pong:" + c.recv(100))
    c.close()
ports = []
for port in (8000, 0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port)); s.listen(1)
    except OSError as e:
        print("listen", port, "errno", e.errno); continue
    threading.Thread(target=serve, args=(s,), daemon=True).start()
    ports.append(s.getsockname()[1])
for port in ports:
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"ping")
    print("reply", c.recv(100).decode())
print("listened", len(ports))
"""


class AllowRules(BoxTest):
    def test_allow_host_with_net_none_switches_to_proxy(self):
        # `--allow-host` under a profile whose mode is "none" (default's) was a silent no-op:
        # the request failed on DNS. The allow rule now selects the proxy.
        srv = proxytest.http_server(self)
        env = resolve_env({"allowed.test": "127.0.0.1"})
        args = ["--allow-host", "allowed.test:%d" % srv.port,
                "--allow-host", "127.0.0.1:%d" % srv.port]
        res = self.box.run(["curl", "-sS", "--max-time", "20",
                            "http://allowed.test:%d/x" % srv.port], args=args, env=env)
        self.assertRc(res, 0)
        self.assertIn("hello from the loopback server", res.out, res)
        self.assertEqual(len(srv.hits), 1, "the allowed request did not reach the server")

    def test_dry_run_shows_the_mode_an_allow_rule_chose(self):
        res = self.box.run(["true"], args=["--dry-run", "--allow-host", "example.com"])
        self.assertRc(res, 0)
        self.assertRegex(res.out, r"\nnetwork +proxy", res)
        self.assertIn('chosen by the allow rule "example.com"', res.out, res)

    def test_net_none_with_allow_host_is_an_error(self):
        res = self.box.run(["true"], args=["--net", "none", "--allow-host", "example.com"])
        self.assertRc(res, abtest.EXIT_SETUP)  # run: usage errors exit 125
        self.assertIn("--net none with --allow-host example.com", res.err, res)

    def test_profile_mode_none_with_allow_is_an_error(self):
        path = self.box.write_profile("both", 'version = 1\nextends = ["default"]\n'
                                      '[network]\nmode = "none"\nallow = ["example.com"]\n')
        res = self.box.run(["true"], profiles=[path])
        self.assertRc(res, abtest.EXIT_SETUP)  # run: usage errors exit 125
        self.assertIn("allow rules work only through the proxy", res.err, res)

    def test_later_layer_mode_none_turns_network_off(self):
        # A profile that extends one with allow rules and says mode = "none" means it: the
        # network is off (and --dry-run says the inherited rules have no effect).
        path = self.box.write_profile("offline", 'version = 1\nextends = ["codex"]\n'
                                      '[network]\nmode = "none"\n')
        res = self.box.run(["true"], profiles=[path], args=["--dry-run"])
        self.assertRc(res, 0)
        self.assertRegex(res.out, r"\nnetwork +none", res)
        self.assertIn("the allow rules below have no effect", res.out, res)


class LoopbackListeners(BoxTest):
    def listen_inside(self, args, env=None):
        res = self.box.run(inside_script(self.box, "listen.py", LOOPBACK_SERVER), args=args,
                           env=env, timeout=60)
        self.assertRc(res, 0)
        self.assertNotIn("errno", res.out, "listening on the sandbox's loopback was refused\n%s"
                         % res)
        self.assertEqual(res.out.count("reply pong:ping"), 2, res)
        return res

    def test_server_listens_on_loopback_in_none_mode(self):
        self.listen_inside(["--net", "none"])

    def test_server_listens_on_loopback_in_proxy_mode(self):
        self.listen_inside(["--net", "proxy"])

    def test_loopback_listener_reaches_nothing_outside(self):
        # What the sandbox listens on is its own: a host server on the same port never sees a
        # connection, and the host cannot reach the sandbox's server.
        srv = proxytest.TcpServer(self, "echo")
        res = self.box.run(["python3", "-c", r"""
import socket
try:
    socket.create_connection(("127.0.0.1", %d), timeout=3); print("reached the host")
except OSError as e:
    print("refused", e.errno)
""" % srv.port], args=["--net", "proxy"])
        self.assertRc(res, 0)
        self.assertIn("refused", res.out, res)
        self.assertEqual(srv.accepted, 0, "a connection from inside reached the host")


class Git(BoxTest):
    def setUp(self):
        super().setUp()
        with open(os.path.join(self.box.home, ".gitconfig"), "w") as f:
            f.write("[user]\n\tname = Host Person\n\temail = host@example.test\n"
                    "[credential]\n\thelper = store\n")
        self.cred = abtest.token("gitcred")
        self.box.canaries["gitcred"] = self.cred
        with open(os.path.join(self.box.home, ".git-credentials"), "w") as f:
            f.write("https://user:%s@example.test\n" % self.cred)
        os.chmod(os.path.join(self.box.home, ".git-credentials"), 0o600)
        git = ["git", "-C", self.box.project]
        subprocess.run(git + ["init", "-q"], check=True, env=self.box.env())
        with open(os.path.join(self.box.project, "a.txt"), "w") as f:
            f.write("one\n")

    def test_git_commit_inside_has_identity(self):
        res = self.box.run(["sh", "-c", "git add a.txt && git commit -q -m first &&"
                            " git log -1 --format='%an <%ae>'; cat ~/.git-credentials"])
        self.assertIn("Host Person <host@example.test>", res.out, res)
        self.assertNotIn("Author identity unknown", res.err, res)
        # The commit is staged, not on the host: the host's repository has no commit yet.
        host = subprocess.run(["git", "-C", self.box.project, "rev-parse", "-q", "--verify",
                               "HEAD"], capture_output=True, env=self.box.env())
        self.assertNotEqual(host.returncode, 0, "the commit reached the host's repository")
        self.assertTrue(os.path.isdir(os.path.join(self.box.upper(), ".git")), res)


if __name__ == "__main__":
    abtest.main()
