#!/usr/bin/python3
"""Conformance: the real agents' whole loop inside agentbox (issue 19).

Claude Code, Codex and Gemini CLI, at the versions pinned in tests/agents/package-lock.json
(installed into $AGENTBOX_BUILD_DIR/agents by `make agents`, scripts/agents.sh), each run
non-interactively inside agentbox with its profile. Its model is fakeapi.py, served on the
host's loopback and reached through agentbox's proxy by a made-up name (the test resolver,
AGENTBOX_TEST_RESOLVE): Anthropic's Messages API, OpenAI's Responses API (a custom model
provider in the test's ~/.codex/config.toml) and the Gemini API, each streaming. The scripted
conversation makes the agent write a file, edit it and run `ls; git status --short`. The case
checks the tool results that came back to the model, that the file is staged and absent from
the host until `agentbox commit`, and that `agentbox log --verify` passes.

Without the installed agents every case is skipped, naming `make agents`.
"""

import base64
import hashlib
import http.server
import io
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tarfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest  # noqa: E402
import fakeapi  # noqa: E402
from proxytest import resolve_env  # noqa: E402

AGENTS = os.environ.get("AGENTBOX_AGENTS") or os.path.join(abtest.BUILD_DIR, "agents")
BIN = os.path.join(AGENTS, "node_modules", ".bin")
API_HOST = "api.fake.test"
# The agents' first prompt; the fake model ignores it and plays its script.
PROMPT = "Write notes.txt, edit it, then list the project."

# gemini: the built-in profile, plus the test's API address. Gemini CLI does not relaunch
# itself in a second Node process (it does so only to raise its heap limit): that halves its
# start-up.
GEMINI_TEST_PROFILE = """version = 1
extends = ["gemini"]
[env]
pass = ["GOOGLE_GEMINI_BASE_URL"]
set = { GEMINI_CLI_NO_RELAUNCH = "true" }
"""

def node_major():
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError):
        return 0


class RealAgent(BoxTest):
    AGENT = None          # the name of its binary in node_modules/.bin
    NODE_MAJOR = 18       # the oldest Node its pinned version accepts (its package's engines)

    def setUp(self):
        super().setUp()
        exe = os.path.join(BIN, self.AGENT)
        if not os.access(exe, os.X_OK):
            self.skipTest("%s is not installed in %s: run `make agents`" % (self.AGENT, AGENTS))
        if node_major() < self.NODE_MAJOR:
            self.skipTest("%s needs Node %d or later" % (self.AGENT, self.NODE_MAJOR))
        self.exe = exe
        # A git project with one commit, as an agent usually finds it.
        git = ["git", "-C", self.box.project]
        env = self.box.env({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
        subprocess.run(git + ["init", "-q"], check=True, env=env)
        subprocess.run(git + ["add", "README"], check=True, env=env)
        subprocess.run(git + ["commit", "-q", "-m", "start"], check=True, env=env)
        self.api = fakeapi.serve(self, self.box.project)
        self.base = "http://%s:%d" % (API_HOST, self.api.port)

    def home_file(self, rel, text):
        path = os.path.join(self.box.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_agent(self, cmd, profile, env, args=()):
        """CMD inside agentbox with PROFILE, the agents readable and the fake API allowed."""
        allow = ["--ro", AGENTS,
                 "--allow-host", "%s:%d" % (API_HOST, self.api.port),
                 "--allow-host", "127.0.0.1:%d" % self.api.port]
        env = dict(env, **resolve_env({API_HOST: "127.0.0.1"}))
        res = self.box.run(cmd, profiles=[profile], args=allow + list(args), env=env,
                           timeout=240)
        sys.stdout.write("  (%s: %.1f s, %d model requests)\n"
                         % (self.AGENT, res.seconds, len(self.api.requests)))
        return res

    def assertLoop(self, res):
        """The whole loop ran: three tool results, the file staged only, the log sound."""
        why = "%s\nfake API errors: %s\nrequests: %s" % (
            res, self.api.errors[:1], [r[:2] for r in self.api.requests])
        self.assertRc(res, 0)
        self.assertEqual(self.api.errors, [], why)
        self.assertIn("All done.", res.out, why)
        results = self.api.results
        self.assertEqual(sorted(results), [0, 1, 2], "not every tool result came back\n" + why)
        # Write and edit succeeded (each agent words it its own way), and the shell command
        # ran in the sandbox's view of the project: ls shows the file, git status sees it new.
        for i in (0, 1):
            self.assertIn(fakeapi.NOTE, results[i], why)
            self.assertNotRegex(results[i].lower(), r"error|denied|fail", why)
        self.assertRegex(results[2], r"(?m)^(\?\? )?%s$" % fakeapi.NOTE, why)
        self.assertIn("?? " + fakeapi.NOTE, results[2], why)
        # Staged, not on the host.
        host = os.path.join(self.box.project, fakeapi.NOTE)
        self.assertFalse(os.path.exists(host), "the agent's file reached the host unreviewed")
        with open(os.path.join(self.box.upper(), fakeapi.NOTE)) as f:
            self.assertEqual(f.read(), fakeapi.EDITED)
        log = self.host_run([AGENTBOX, "log", "-C", self.box.project, "--verify"])
        self.assertEqual(log.rc, 0, log)
        commit = self.host_run([AGENTBOX, "commit", "-C", self.box.project, fakeapi.NOTE],
                               stdin=subprocess.DEVNULL)
        self.assertEqual(commit.rc, 0, commit)
        with open(host) as f:
            self.assertEqual(f.read(), fakeapi.EDITED)


class ClaudeCode(RealAgent):
    AGENT = "claude"

    def test_claude_code_loop_writes_edits_and_runs_shell_staged(self):
        # Its state as a user who has run it once has it: ~/.claude and ~/.claude.json.
        os.makedirs(os.path.join(self.box.home, ".claude"))
        self.home_file(".claude.json", "{}\n")
        env = {"ANTHROPIC_BASE_URL": self.base, "ANTHROPIC_API_KEY": "sk-ant-fake"}
        res = self.run_agent([self.exe, "-p", PROMPT, "--model", "claude-sonnet-4-5",
                              "--allowedTools", "Write,Edit,Bash"], "claude-code", env)
        self.assertLoop(res)
        # Streaming: every turn of the loop asked for a stream.
        turns = [b for _m, p, b in self.api.requests if b and p.startswith("/v1/messages?")]
        self.assertTrue(turns and all(b.get("stream") for b in turns), turns[:1])


class Codex(RealAgent):
    AGENT = "codex"
    NODE_MAJOR = 16

    def write_config(self):
        # A custom model provider speaking the Responses API (streaming), keyed by a variable
        # the codex profile passes.
        self.home_file(".codex/config.toml", (
            'model = "fake-model"\nmodel_provider = "fake"\n'
            '[model_providers.fake]\nname = "fake"\nbase_url = "%s/v1"\n'
            'wire_api = "responses"\nenv_key = "OPENAI_API_KEY"\n') % self.base)

    def test_codex_exec_loop_writes_edits_and_runs_shell_staged(self):
        # agentbox is the sandbox: Codex's own (bubblewrap) cannot nest inside it, see the
        # codex profile and agentbox-profile(5), NESTED SANDBOXES.
        self.write_config()
        res = self.run_agent([self.exe, "exec", "--sandbox", "danger-full-access",
                              "--skip-git-repo-check", PROMPT], "codex",
                             {"OPENAI_API_KEY": "sk-fake"})
        self.assertLoop(res)
        turns = [b for _m, p, b in self.api.requests if b and p.endswith("/responses")]
        self.assertTrue(turns and all(b.get("stream") for b in turns), turns[:1])

    def test_codex_sandbox_command_runs_with_agentbox_as_its_sandbox(self):
        # `codex sandbox -- CMD` with Codex's sandbox handed to agentbox runs CMD; agentbox's
        # layers still hold around it (the planted ssh key stays unreadable).
        res = self.box.run([self.exe, "sandbox", "-c", 'sandbox_mode="danger-full-access"',
                            "--", "sh", "-c",
                            "echo ran-inside; cat ~/.ssh/id_rsa || echo key-denied"],
                           profiles=["codex"], args=["--ro", AGENTS])
        self.assertRc(res, 0)
        self.assertIn("ran-inside", res.out, res)
        self.assertIn("key-denied", res.out, res)

    def test_codex_own_sandbox_cannot_nest_and_says_so(self):
        # Codex's bubblewrap sandbox needs new user namespaces and mounts, which agentbox's
        # seccomp filter and Landlock refuse: it fails, loudly, rather than run unconfined.
        res = self.box.run([self.exe, "sandbox", "-c", 'sandbox_mode="workspace-write"',
                            "--", "sh", "-c", "echo ran-inside"],
                           profiles=["codex"], args=["--ro", AGENTS])
        self.assertNotEqual(res.rc, 0, res)
        self.assertNotIn("ran-inside", res.out, res)
        self.assertRegex(res.err, r"bwrap|namespace", res)


class GeminiCli(RealAgent):
    AGENT = "gemini"
    NODE_MAJOR = 20

    def test_gemini_cli_loop_writes_edits_and_runs_shell_staged(self):
        # The API key and base URL select the Gemini API; workspace trust off so that --yolo
        # holds for the fresh project; no usage statistics (their host is not allowed).
        self.home_file(".gemini/settings.json", json.dumps({
            "security": {"auth": {"selectedType": "gemini-api-key"},
                         "folderTrust": {"enabled": False}},
            "privacy": {"usageStatisticsEnabled": False}}))
        profile = self.gemini_profile()
        env = {"GOOGLE_GEMINI_BASE_URL": self.base, "GEMINI_API_KEY": "fake-key"}
        res = self.run_agent([self.exe, "-p", PROMPT, "--approval-mode", "yolo",
                              "-m", "gemini-2.5-flash"], profile, env)
        self.assertLoop(res)
        turns = [p for _m, p, _b in self.api.requests if ":streamGenerateContent" in p]
        self.assertGreaterEqual(len(turns), 4, self.api.requests)

    def gemini_profile(self):
        return self.box.write_profile("gemini-test", GEMINI_TEST_PROFILE)


def npm_registry(tc, name, files):
    """A one-package npm registry on the host's loopback: NAME's packument and its tarball
    (FILES: {path: text}). Returns the server (.port, .hits: the paths asked for)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in dict(files, **{"package.json": json.dumps(
                {"name": name, "version": "1.0.0", "main": "index.js"})}).items():
            data = text.encode()
            info = tarfile.TarInfo("package/" + path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    tgz = buf.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            srv.hits.append(self.path)
            base = "http://%s:%d" % (self.headers.get("Host").split(":")[0], srv.port)
            if self.path == "/" + name:
                body = json.dumps({"name": name, "dist-tags": {"latest": "1.0.0"}, "versions": {
                    "1.0.0": {"name": name, "version": "1.0.0", "dist": {
                        "tarball": "%s/%s/-/%s-1.0.0.tgz" % (base, name, name),
                        "shasum": hashlib.sha1(tgz).hexdigest(),
                        "integrity": "sha512-" + base64.b64encode(
                            hashlib.sha512(tgz).digest()).decode()}}}}).encode()
            elif self.path == "/%s/-/%s-1.0.0.tgz" % (name, name):
                body = tgz
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    srv.port, srv.hits = srv.server_address[1], []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tc.addCleanup(srv.server_close)
    tc.addCleanup(srv.shutdown)
    return srv


class NpmThroughProxy(BoxTest):
    def test_npm_install_through_the_proxy_from_a_loopback_registry(self):
        # What an agent does to add a dependency: npm install, allowed by one --allow-host
        # (which selects the proxy), the package staged like any other write.
        if not shutil.which("npm"):
            self.skipTest("npm is not installed (make agents installs it)")
        reg = npm_registry(self, "left-pad", {"index.js": "module.exports = 'padded';\n"})
        host = "registry.fake.test"
        res = self.box.run(["npm", "install", "--registry", "http://%s:%d/" % (host, reg.port),
                            "--cache", "/tmp/npm-cache", "--no-audit", "--no-fund",
                            "--no-update-notifier", "left-pad"],
                           args=["--allow-host", "%s:%d" % (host, reg.port),
                                 "--allow-host", "127.0.0.1:%d" % reg.port],
                           env=resolve_env({host: "127.0.0.1"}), timeout=180)
        self.assertRc(res, 0)
        self.assertIn("/left-pad/-/left-pad-1.0.0.tgz", reg.hits, res)
        installed = os.path.join("node_modules", "left-pad", "index.js")
        self.assertFalse(os.path.exists(os.path.join(self.box.project, installed)),
                         "the installed package reached the host unreviewed")
        with open(os.path.join(self.box.upper(), installed)) as f:
            self.assertEqual(f.read(), "module.exports = 'padded';\n")


if __name__ == "__main__":
    abtest.main()
