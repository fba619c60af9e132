#!/usr/bin/python3
"""Conformance: agentbox trusts no byte the sandbox could have written (THREATS.md, "agentbox's
own state"; issue 16 §1 and §6).

A grant above agentbox's state directory cannot be used to move it and plant a forged session;
a forged or tampered session file is reported by `agentbox sessions` as broken and never
replayed; a decision log cut back to an earlier signed session.end does not verify. Every case
checks the host afterwards."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest  # noqa: E402

FORGED_ID = "20260101T000000Z-aaaaaa"

# What the attacker in issue 16 ran: move ~/.local/state away (the mask on agentbox's state
# directory moves with it), then plant a session whose journal "finishes" a commit of .bashrc
# into $HOME.
ATTACK = r"""
cd "$HOME/.local" || exit 9
mv state state.moved 2>/dev/null; echo "mv state=$?"
mv "$HOME/.local/state/agentbox" "$HOME/.local/state/ab.moved" 2>/dev/null; echo "mv agentbox=$?"
rmdir "$HOME/.local/state" 2>/dev/null; echo "rmdir state=$?"
D="$HOME/.local/state/agentbox/sessions/%(id)s"
mkdir -p "$D/upper" "$D/work" 2>/dev/null; echo "mkdir=$?"
printf '{"v":1,"id":"%(id)s","project":"%%s","argv":["sh"],"status":"staged","created":"2026-01-01T00:00:00Z","start_ns":1,"profiles":[]}\n' "$HOME" > "$D/meta.json" 2>/dev/null
printf '{"v":1,"kind":"commit","number":1,"state":"applying","ops":[{"op":"put","path":".bashrc","n":1}]}\n' > "$D/journal" 2>/dev/null
echo forged > "$D/upper/.bashrc" 2>/dev/null
exit 0
""" % {"id": FORGED_ID}

JOURNAL = ('{"v":1,"kind":"commit","number":1,"state":"applying","ops":'
           '[{"op":"put","path":"%s","n":1}]}\n')


class OwnState(BoxTest):
    def cmd(self, *args):
        return self.host_run([AGENTBOX] + list(args))

    def sessions_dir(self):
        return os.path.join(self.box.state, "agentbox", "sessions")

    def plant_bashrc(self):
        path = os.path.join(self.box.home, ".bashrc")
        with open(path, "w") as f:
            f.write("host\n")
        return path

    def assert_state_in_place(self):
        local = os.path.join(self.box.home, ".local")
        self.assertEqual(sorted(os.listdir(local)), ["state"],
                         "the sandbox moved something in ~/.local")
        self.assertNotIn(FORGED_ID, os.listdir(self.sessions_dir()))

    def attack_through_grant(self, grant):
        bashrc = self.plant_bashrc()
        # --allow-weaker: the base profile's denies this home lacks (~/.local/share/keyrings,
        # ~/.gnupg...) are rules a writable grant over them cannot hold (design note 85).
        res = self.box.run(["sh", "-c", ATTACK], args=["--rw", grant, "--allow-weaker"])
        self.assertSandboxRan(res)
        self.assertIn("mv state=1", res.out, res)  # EBUSY: a mount point cannot be moved
        self.assertNotIn("mv agentbox=0", res.out, res)
        self.assertNotIn("rmdir state=0", res.out, res)
        self.assertNotIn("mkdir=0", res.out, res)
        self.assert_state_in_place()
        # The user's next command finds nothing to finish.
        r = self.cmd("sessions")
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("interrupted commit", r.err)
        with open(bashrc) as f:
            self.assertEqual(f.read(), "host\n")

    def test_rw_grant_over_local_cannot_move_agentbox_state(self):
        self.attack_through_grant(os.path.join(self.box.home, ".local"))

    def test_rw_grant_over_local_state_cannot_replace_agentbox_dir(self):
        self.attack_through_grant(os.path.join(self.box.home, ".local", "state"))

    def test_rw_grant_over_home_cannot_move_agentbox_state(self):
        bashrc = self.plant_bashrc()
        script = ('cd "$HOME"; for d in .local .config .cache .local/state; do '
                  'mv "$d" "$d.moved" 2>/dev/null; echo "mv $d=$?"; done; '
                  'echo x > "$HOME/.config/agentbox/log-key" 2>/dev/null; echo "key=$?"')
        res = self.box.run(["sh", "-c", script], args=["--rw", self.box.home, "--allow-weaker"])
        self.assertSandboxRan(res)
        for d in (".local", ".config", ".cache", ".local/state"):
            self.assertIn("mv %s=1" % d, res.out, res)
        self.assertNotIn("key=0", res.out, res)
        self.assertFalse([n for n in os.listdir(self.box.home) if n.endswith(".moved")])
        with open(bashrc) as f:
            self.assertEqual(f.read(), "host\n")

    def test_dry_run_says_the_grant_is_narrowed(self):
        local = os.path.join(self.box.home, ".local")
        res = self.box.run(["true"], args=["--rw", local, "--dry-run", "--allow-weaker"])
        self.assertEqual(res.rc, 0, res)
        self.assertIn("contains agentbox's own directory", res.out)
        self.assertIn("narrowed", res.out)
        self.assertIn("bound over itself", res.out)

    def test_grant_inside_agentbox_state_is_refused_naming_both(self):
        inside = os.path.join(self.box.state, "agentbox", "sessions")
        os.makedirs(inside, exist_ok=True)
        for flag in ("--rw", "--ro"):
            res = self.box.run(["true"], args=[flag, inside])
            self.assertEqual(res.rc, 125, res)
            self.assertIn(inside, res.err)
            self.assertIn(os.path.join(self.box.state, "agentbox"), res.err)
            self.assertIn("agentbox's own directory", res.err)

    def forge_session(self, project):
        d = os.path.join(self.sessions_dir(), FORGED_ID)
        os.makedirs(os.path.join(d, "upper"))
        os.makedirs(os.path.join(d, "work"))
        meta = {"v": 1, "id": FORGED_ID, "project": project, "argv": ["sh"],
                "status": "staged", "created": "2026-01-01T00:00:00Z", "start_ns": 1,
                "profiles": []}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f)
        with open(os.path.join(d, "journal"), "w") as f:
            f.write(JOURNAL % ".bashrc")
        with open(os.path.join(d, "upper", ".bashrc"), "w") as f:
            f.write("forged\n")
        return d

    def test_forged_session_journal_is_not_replayed(self):
        # A session planted in the state directory (as a sandbox with a grant there could):
        # listed as broken, with the reason, and never finished.
        os.makedirs(self.sessions_dir(), exist_ok=True)
        bashrc = self.plant_bashrc()
        self.forge_session(self.box.home)
        r = self.cmd("sessions")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(FORGED_ID, r.out)
        self.assertIn("broken", r.out)
        self.assertIn("no MAC", r.out)
        self.assertNotIn("interrupted commit", r.err)
        r = self.cmd("sessions", "--json")
        entry = [s for s in json.loads(r.out) if s["id"] == FORGED_ID][0]
        self.assertEqual(entry["status"], "broken")
        self.assertIn("meta.json", entry["reason"])
        for argv in (["commit", FORGED_ID, "--force"], ["undo", FORGED_ID, "--force"],
                     ["diff", FORGED_ID]):
            r = self.cmd(*argv)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("broken", r.err, r)
        with open(bashrc) as f:
            self.assertEqual(f.read(), "host\n")

    def test_tampered_journal_of_a_real_session_is_not_replayed(self):
        res = self.box.run(["sh", "-c", "echo staged > README"])
        self.assertSandboxRan(res)
        session = self.box.sessions()[-1]
        sid = os.path.basename(session)
        with open(os.path.join(session, "journal"), "w") as f:
            f.write(JOURNAL % "README")
        r = self.cmd("sessions", "--json")
        self.assertEqual(r.rc, 0, r)
        entry = [s for s in json.loads(r.out) if s["id"] == sid][0]
        self.assertEqual(entry["status"], "broken")
        self.assertIn("journal", entry["reason"])
        r = self.cmd("commit", sid)
        self.assertNotEqual(r.rc, 0, r)
        with open(os.path.join(self.box.project, "README")) as f:
            self.assertEqual(f.read(), "project file\n")


class LogCompleteness(BoxTest):
    def test_log_truncated_after_signed_end_fails_verify(self):
        res = self.box.run(["sh", "-c", "mkdir -p .github/workflows && echo run: x > "
                            ".github/workflows/ci.yml"])
        self.assertSandboxRan(res)
        r = self.host_run([AGENTBOX, "commit", "--force", ".github/workflows/ci.yml"])
        self.assertEqual(r.rc, 0, r)
        r = self.host_run([AGENTBOX, "log", "--verify"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn("complete to the head the session recorded", r.out)
        log = os.path.join(self.box.sessions()[-1], "log.jsonl")
        with open(log, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        events = [json.loads(line)["event"] for line in lines]
        self.assertIn("commit", events)
        first_end = events.index("session.end")
        self.assertLess(first_end, len(lines) - 1)
        # Every line after the first signed end is signed too.
        for line in lines[first_end:]:
            self.assertIn("sig", json.loads(line))
        with open(log, "wb") as f:
            f.writelines(lines[:first_end + 1])
        r = self.host_run([AGENTBOX, "log", "--verify"])
        self.assertEqual(r.rc, 1, r)
        self.assertIn("truncated", r.out)
        self.assertIn("#%d \"session.end\"" % first_end, r.out)


if __name__ == "__main__":
    abtest.main()
