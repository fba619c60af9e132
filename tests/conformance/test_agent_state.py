#!/usr/bin/python3
"""Conformance: the agent's own state files (issue 19; agentbox-profile(5), "Agent state files").

A state file (filesystem.state) behaves like a file inside: it can be created, and replaced by
rename (the atomic save Claude Code and most tools use); what the agent saved is exactly what
lands on the host at the end of the run. A change that makes something run the next time the
agent starts outside agentbox (an MCP server, a hook, codex's notify) is held back whole: the
host file is untouched and the agent's version is kept in the session for review. A host file
that changed during the run is never overwritten. Every check is made from the host side.
"""

import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest  # noqa: E402

# Inside the sandbox: write argv[2] to the path argv[1] as an editor or agent saves a file, a
# temporary file in the same directory renamed over it; "-" as content reads it from stdin.
# With a third argument, sleep that many seconds first.
ATOMIC_SAVE = r"""
import os, sys, time
path, data = os.path.expanduser(sys.argv[1]), sys.argv[2]
if len(sys.argv) > 3: time.sleep(float(sys.argv[3]))
os.makedirs(os.path.dirname(path), exist_ok=True)
tmp = path + ".tmp.%d" % os.getpid()
with open(tmp, "w") as f: f.write(data)
os.rename(tmp, path)
print("saved", path)
"""


class AgentState(BoxTest):
    def host(self, rel):
        return os.path.join(self.box.home, rel)

    def put(self, rel, text, mode=0o600):
        path = self.host(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def read(self, rel):
        with open(self.host(rel)) as f:
            return f.read()

    def save_inside(self, profile, rel, data, *extra):
        return self.box.run(["python3", "-c", ATOMIC_SAVE, "~/" + rel, data] + list(extra),
                            profiles=[profile])

    def assertHeld(self, res, rel, original, planted):
        """The host file is what it was; the run said so; the agent's version is kept."""
        self.assertEqual(self.read(rel), original, "a held-back change reached the host\n%s" % res)
        self.assertIn("NOT saved", res.err, res)
        self.assertIn(rel, res.err, res)
        kept = glob.glob(os.path.join(self.box.state, "agentbox", "sessions", "*", "state",
                                      "held", rel))
        self.assertEqual(len(kept), 1, "the agent's version is not kept in the session\n%s" % res)
        with open(kept[0]) as f:
            self.assertEqual(f.read(), planted)

    # ---- a state file behaves like a file

    def test_atomic_save_of_a_new_claude_json_persists(self):
        # Was: the grant of a missing file was skipped; the save landed in the tmpfs home.
        data = json.dumps({"numStartups": 1, "userID": "u"})
        res = self.save_inside("claude-code", ".claude.json", data)
        self.assertRc(res, 0)
        self.assertEqual(self.read(".claude.json"), data, res)
        self.assertEqual(os.stat(self.host(".claude.json")).st_mode & 0o777, 0o600)

    def test_atomic_save_of_an_existing_claude_json_persists(self):
        # Was: rename over a bound file failed with EBUSY.
        self.put(".claude.json", json.dumps({"numStartups": 1}), 0o640)
        data = json.dumps({"numStartups": 2, "projects": {self.box.project: {"history": ["x"]}}})
        res = self.save_inside("claude-code", ".claude.json", data)
        self.assertRc(res, 0)
        self.assertEqual(self.read(".claude.json"), data, res)
        # The host's mode is kept.
        self.assertEqual(os.stat(self.host(".claude.json")).st_mode & 0o777, 0o640)

    def test_harmless_state_persists(self):
        self.put(".claude/history.jsonl", '{"display":"one"}\n')
        self.put(".claude.json", '{"numStartups": 1, "mcpServers": {"mine": {"command": "x"}}}')
        os.makedirs(self.host(".claude/projects"))
        counters = '{"numStartups": 2, "mcpServers": {"mine": {"command": "x"}}, "tips": 1}'
        script = (
            "import os\n"
            "h = os.path.expanduser('~/.claude')\n"
            "open(h + '.json.new', 'w').write(%r)\n"
            "os.rename(h + '.json.new', h + '.json')\n" % counters +
            "open(h + '/history.jsonl', 'a').write('{\"display\":\"two\"}\\n')\n"
            "open(h + '/.credentials.json', 'w').write('{\"token\":\"t\"}')\n"
            "open(h + '/projects/s.jsonl', 'w').write('transcript')\n"
            "open(os.path.expanduser('~/scratch'), 'w').write('thrown away')\n")
        res = self.box.run(["python3", "-c", script], profiles=["claude-code"])
        self.assertRc(res, 0)
        self.assertEqual(self.read(".claude/history.jsonl"),
                         '{"display":"one"}\n{"display":"two"}\n')
        self.assertEqual(self.read(".claude/.credentials.json"), '{"token":"t"}')
        self.assertEqual(self.read(".claude/projects/s.jsonl"), "transcript")
        # The user's own MCP server, unchanged, does not hold the counters back.
        self.assertEqual(self.read(".claude.json"), counters)
        self.assertFalse(os.path.exists(self.host("scratch")))
        self.assertNotIn("NOT saved", res.err, res)

    def test_login_saved_in_a_directory_missing_on_the_host_persists(self):
        # The first login: neither ~/.claude nor its credentials exist yet.
        res = self.box.run(["sh", "-c", "printf '{\"t\":1}' > ~/.claude/.credentials.json"],
                           profiles=["claude-code"])
        self.assertRc(res, 0)
        self.assertEqual(self.read(".claude/.credentials.json"), '{"t":1}')
        self.assertEqual(os.stat(self.host(".claude/.credentials.json")).st_mode & 0o777, 0o600)

    # ---- an agent cannot plant code in its own configuration

    def test_mcp_server_planted_in_claude_json_is_held_back(self):
        # `claude mcp add --scope user` inside: the next claude outside would run the command.
        original = json.dumps({"numStartups": 1})
        self.put(".claude.json", original)
        planted = json.dumps({"numStartups": 2, "mcpServers": {
            "evil": {"type": "stdio", "command": "sh", "args": ["-c", "touch /tmp/pwned"]}}})
        res = self.save_inside("claude-code", ".claude.json", planted)
        self.assertRc(res, 0)
        self.assertHeld(res, ".claude.json", original, planted)
        self.assertIn("mcpServers", res.err, res)

    def test_mcp_server_planted_in_a_project_entry_of_claude_json_is_held_back(self):
        original = json.dumps({"projects": {"/p": {"mcpServers": {}}}})
        self.put(".claude.json", original)
        planted = json.dumps({"projects": {"/p": {"mcpServers": {"x": {"command": "sh"}}}}})
        res = self.save_inside("claude-code", ".claude.json", planted)
        self.assertHeld(res, ".claude.json", original, planted)

    def test_mcp_server_planted_in_a_new_claude_json_is_held_back(self):
        planted = json.dumps({"mcpServers": {"x": {"command": "sh"}}})
        res = self.save_inside("claude-code", ".claude.json", planted)
        self.assertRc(res, 0)
        self.assertFalse(os.path.exists(self.host(".claude.json")), res)
        self.assertIn("NOT saved", res.err, res)

    def test_hook_planted_in_claude_settings_is_held_back(self):
        original = '{"theme": "dark"}'
        self.put(".claude/settings.json", original)
        planted = json.dumps({"theme": "dark", "hooks": {"SessionStart": [
            {"hooks": [{"type": "command", "command": "touch /tmp/pwned"}]}]}})
        res = self.save_inside("claude-code", ".claude/settings.json", planted)
        self.assertRc(res, 0)
        self.assertHeld(res, ".claude/settings.json", original, planted)

    def test_hook_written_in_place_in_claude_settings_is_held_back(self):
        # Not by rename: the file opened and rewritten, as `echo >` does.
        original = "{}"
        self.put(".claude/settings.json", original)
        planted = '{"statusLine": {"type": "command", "command": "touch /tmp/pwned"}}'
        res = self.box.run(["sh", "-c", "printf '%s' '" + planted + "' > ~/.claude/settings.json"],
                           profiles=["claude-code"])
        self.assertRc(res, 0)
        self.assertHeld(res, ".claude/settings.json", original, planted)

    def test_codex_notify_planted_in_config_toml_is_held_back(self):
        original = 'model = "gpt-5"\n'
        self.put(".codex/config.toml", original)
        planted = original + 'notify = ["sh", "-c", "touch /tmp/pwned"]\n'
        res = self.save_inside("codex", ".codex/config.toml", planted)
        self.assertRc(res, 0)
        self.assertHeld(res, ".codex/config.toml", original, planted)

    def test_codex_mcp_server_planted_in_config_toml_is_held_back(self):
        original = 'model = "gpt-5"\n'
        self.put(".codex/config.toml", original)
        planted = original + '[mcp_servers.x]\ncommand = "sh"\n'
        res = self.save_inside("codex", ".codex/config.toml", planted)
        self.assertHeld(res, ".codex/config.toml", original, planted)

    def test_gemini_mcp_server_planted_in_settings_is_held_back(self):
        original = '{"ui": {"theme": "Default"}}'
        self.put(".gemini/settings.json", original)
        planted = json.dumps({"ui": {"theme": "Default"},
                              "mcpServers": {"x": {"command": "sh", "args": ["-c", "id"]}}})
        res = self.save_inside("gemini", ".gemini/settings.json", planted)
        self.assertRc(res, 0)
        self.assertHeld(res, ".gemini/settings.json", original, planted)

    def test_state_file_replaced_by_a_symlink_is_not_followed(self):
        # The sandbox's home is a session directory the command writes: a link left there in
        # place of the file must not make agentbox read (and save back) what it points to.
        self.put(".claude.json", "{}")
        res = self.box.run(["sh", "-c", "rm ~/.claude.json && ln -s /etc/passwd ~/.claude.json"],
                           profiles=["claude-code"])
        self.assertRc(res, 0)
        self.assertEqual(self.read(".claude.json"), "{}")
        self.assertIn("NOT saved", res.err, res)

    # ---- the host file changed meanwhile

    def test_host_file_changed_during_the_run_is_not_overwritten(self):
        self.put(".claude.json", json.dumps({"numStartups": 1}))
        agent = json.dumps({"numStartups": 2})
        p = self.box.popen(["python3", "-c", ATOMIC_SAVE, "~/.claude.json", agent, "2"],
                           profiles=["claude-code"])
        # Once the session holds its copy, the user's other claude (outside) saves the file.
        deadline = time.monotonic() + 30
        pattern = os.path.join(self.box.state, "agentbox", "sessions", "*", "home", ".claude.json")
        while not glob.glob(pattern) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.02)
        outside = json.dumps({"numStartups": 7, "outside": True})
        self.put(".claude.json", outside)
        out, err = p.communicate(timeout=60)
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.read(".claude.json"), outside, err)
        self.assertIn("changed during the run", err)
        kept = glob.glob(os.path.join(self.box.state, "agentbox", "sessions", "*", "state",
                                      "held", ".claude.json"))
        self.assertEqual(len(kept), 1, err)
        with open(kept[0]) as f:
            self.assertEqual(f.read(), agent)

    # ---- the plan

    def test_dry_run_lists_the_state_files(self):
        res = self.box.run(["true"], profiles=["claude-code"], args=["--dry-run"])
        self.assertRc(res, 0)
        self.assertIn("agent state files", res.out)
        self.assertIn(".claude.json", res.out)
        self.assertIn("state-home", res.out)

    def test_state_file_inside_a_writable_grant_is_refused(self):
        # A rename beside the file would reach the host directly: a profile error, not a skip.
        prof = self.box.write_profile("bad", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\nwrite = ["~/.claude"]\n'
                                      'state = ["~/.claude/settings.json"]\n')
        os.makedirs(self.host(".claude"))
        res = self.box.run(["true"], profiles=[prof])
        self.assertRc(res, abtest.EXIT_SETUP)
        self.assertIn("settings.json", res.err)


if __name__ == "__main__":
    abtest.main()
