#!/usr/bin/python3
"""What the reviewer sees (issue 16, §4 §5 §7 §10 §11): names the sandbox chose cannot drive
the terminal, content is shown as it is, the diff is bounded in memory, every deleted file is
listed, the patch applies with git (binary files too), loose modes are flagged and not written,
and names that are not UTF-8 work in every rendering. Every case runs the real binary and checks
the host's side."""

import base64
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest  # noqa: E402

# Code points a terminal acts on, or that reorder what the reader sees.
CSI = "\u009b"
NEL = "\u0085"
RLO = "\u202e"
LRI = "\u2066"
HOSTILE = ["csi" + CSI + "2J", "nel" + NEL + "x", "rlo" + RLO + "txt.sh", "lri" + LRI + "y"]


class ReviewDisplay(BoxTest):
    def ab(self, *args, check=None, env=None, stdout=subprocess.PIPE, prlimit=None):
        argv = [AGENTBOX] + list(args)
        if prlimit:
            argv = ["prlimit", "--as=%d" % prlimit, "--"] + argv
        p = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE,
                           env=self.box.env(env), cwd=self.box.project, timeout=600)
        if check is not None:
            self.assertEqual(p.returncode, check, "%s\nstderr: %s" % (
                argv, p.stderr.decode(errors="replace")))
        return p

    def on_terminal(self, *args):
        """agentbox with stdout on a pty (as a reviewer sees it), pager off, no colour."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([AGENTBOX] + list(args), stdout=slave, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, cwd=self.box.project,
                                 env=self.box.env({"AGENTBOX_PAGER": "cat", "NO_COLOR": "1"}))
            os.close(slave)
            slave = -1
            out = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the last writer closed the pty
                    break
                if not chunk:
                    break
                out += chunk
            err = p.stderr.read()
            self.assertEqual(p.wait(timeout=120), 0, err)
            return out
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)

    def staged(self, script):
        res = self.box.run(["sh", "-c", script])
        self.assertRc(res, 0)
        return res

    def assert_no_raw(self, data, where):
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
        for ch in (CSI, NEL, RLO, LRI):
            self.assertNotIn(ch.encode(), raw, "%s printed U+%04X raw" % (where, ord(ch)))
        self.assertNotIn(b"\x1b", raw, "%s printed ESC raw" % where)

    def hostile_names(self):
        """A file for each hostile name, plus a symlink to outside the project (held back at
        commit) under each name."""
        script = []
        for n in HOSTILE:
            script.append("printf x > '%s.f'" % n)
            script.append("ln -s /etc/passwd '%s.link'" % n)
        self.staged("; ".join(script))

    # ---- §5: the terminal sees the truth

    def test_log_escapes_bidi_override_in_file_name(self):
        self.hostile_names()
        self.ab("commit", "--dry-run")  # logs the decisions on every path
        out = self.ab("log", check=0).stdout
        self.assert_no_raw(out, "agentbox log")
        text = out.decode()
        self.assertIn("\\u202e", text)
        self.assertIn("\\u009b", text)
        # And --json on a terminal: still JSON, still no raw control.
        j = self.on_terminal("log", "--json")
        self.assert_no_raw(j, "agentbox log --json on a terminal")
        for line in j.decode().splitlines():
            if line.strip():
                json.loads(line)

    def test_commit_held_back_warning_escapes_control_and_bidi_names(self):
        self.hostile_names()
        p = self.ab("commit", check=1)
        self.assertIn(b"held back", p.stderr)
        self.assert_no_raw(p.stderr, "commit's held-back warning")
        self.assertIn(b"\\u2066", p.stderr)
        self.assertIn(b"\\u0085", p.stderr)
        dry = self.ab("commit", "--dry-run")
        self.assert_no_raw(dry.stderr, "commit --dry-run")

    def test_diff_shows_backslash_n_as_is(self):
        self.staged(r"""printf '%s\n' 'printf("hello\n");' "$(printf 'esc\033[2Jhere')" > c.c""")
        out = self.on_terminal("diff", "--no-pager")
        self.assertIn(b'+printf("hello\\n");', out)
        self.assertNotIn(b"hello\\\\n", out)
        self.assertIn(b"+esc\\x1b[2Jhere", out)
        self.assertNotIn(b"\x1b", out)
        # To a pipe: the bytes, exactly (what git apply needs).
        raw = self.ab("diff", check=0).stdout
        self.assertIn(b"+esc\x1b[2Jhere", raw)

    # ---- §7: diff streams, memory bounded

    def test_diff_of_2gib_sparse_file_under_768mib_limit(self):
        # 8 KiB of text, then holes: text as git decides (no NUL in the first 8000 bytes),
        # 2 GiB long; and a 20 MB text file, above the text-diff limits too.
        self.staged("seq 2000 | head -c 8192 > big.txt; truncate -s 2047M big.txt; "
                    "seq 3000000 > long.txt; printf 'small\\n' > small.txt")
        limit = 768 << 20
        p = self.ab("diff", check=0, prlimit=limit)
        self.assertIn(b"diff --git a/big.txt b/big.txt\nnew file mode 100644\nindex "
                      b"0000000000000000000000000000000000000000..", p.stdout)
        self.assertIn(b"GIT binary patch\nliteral %d\n" % (2047 << 20), p.stdout)
        self.assertIn(b"+small\n", p.stdout)
        long_size = os.path.getsize(os.path.join(self.box.upper(), "long.txt"))
        self.assertIn(b"GIT binary patch\nliteral %d\n" % long_size, p.stdout)
        out = self.on_terminal("diff", "--no-pager")
        self.assertIn(b"Large files /dev/null and b/big.txt differ: 0 -> %d bytes, "
                      b"new content XXH3-128 " % (2047 << 20), out)
        self.assertIn(b"Large files /dev/null and b/long.txt differ: 0 -> %d bytes, "
                      b"new content XXH3-128 " % long_size, out)
        st = self.ab("diff", "--stat", check=0, prlimit=limit).stdout
        self.assertIn(b"big.txt   | Bin 0 -> %d bytes" % (2047 << 20), st)
        self.assertIn(b"long.txt  | Bin 0 -> %d bytes" % long_size, st)

    # ---- §11: every deleted file listed; the patch applies

    def test_rm_rf_dir_lists_every_deleted_file(self):
        p = self.box.project
        os.makedirs(os.path.join(p, "src", "sub"))
        for rel in ("src/a.c", "src/sub/b.c", "src/sub/c.c"):
            with open(os.path.join(p, rel), "w") as f:
                f.write(rel + "\n")
        self.staged("rm -rf src")
        ns = self.ab("diff", "--name-status", check=0).stdout.decode()
        for rel in ("src/", "src/a.c", "src/sub/", "src/sub/b.c", "src/sub/c.c"):
            self.assertIn("D\t%s\n" % rel, ns)
        js = json.loads(self.ab("diff", "--json", check=0).stdout)
        self.assertEqual({e["path"] for e in js if e["kind"] == "deleted"},
                         {"src", "src/a.c", "src/sub", "src/sub/b.c", "src/sub/c.c"})

    def test_binary_diff_applies_with_git_apply(self):
        p = self.box.project
        data = bytes(range(256)) * 64
        with open(os.path.join(p, "old.bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(p, "gone.bin"), "wb") as f:
            f.write(b"\0gone")
        self.staged("printf 'x\\000y' > new.bin; printf 'more' >> old.bin; rm gone.bin; "
                    "echo text > t.txt")
        patch = self.ab("diff", check=0).stdout
        self.assertNotIn(b"Binary files", patch)
        work = tempfile.mkdtemp(prefix="abtest-apply-")
        self.addCleanup(shutil.rmtree, work, True)
        shutil.copytree(p, os.path.join(work, "p"), symlinks=True)
        res = subprocess.run(["git", "apply", "-"], input=patch, capture_output=True,
                             cwd=os.path.join(work, "p"),
                             env=dict(self.box.env(), GIT_CEILING_DIRECTORIES=work))
        self.assertEqual(res.returncode, 0, res.stderr.decode(errors="replace"))
        self.ab("commit", check=0)
        for rel in ("old.bin", "new.bin", "t.txt"):
            with open(os.path.join(work, "p", rel), "rb") as a, \
                    open(os.path.join(p, rel), "rb") as b:
                self.assertEqual(a.read(), b.read(), rel)
        self.assertFalse(os.path.exists(os.path.join(work, "p", "gone.bin")))
        self.assertFalse(os.path.exists(os.path.join(p, "gone.bin")))

    # ---- §4: the diff shows every mode commit writes

    def test_world_writable_mode_is_shown_and_flagged(self):
        p = self.box.project
        for rel in ("f", "g"):
            with open(os.path.join(p, rel), "w") as fh:
                fh.write(rel + "\n")
            os.chmod(os.path.join(p, rel), 0o644)
        os.makedirs(os.path.join(p, "d"))
        os.chmod(os.path.join(p, "d"), 0o755)
        self.staged("chmod 666 f; chmod 777 d; chmod o+w g; echo n > new; chmod 666 new; "
                    "mkdir nd; chmod 777 nd")
        ns = self.ab("diff", "--name-status", check=0).stdout.decode()
        self.assertIn("M\tf\t(staged mode 100666: group/world-writable; commit writes 100644)", ns)
        self.assertIn("M\tg\t(staged mode 100646: group/world-writable; commit writes 100644)", ns)
        self.assertIn("A\tnew\t(staged mode 100666", ns)
        js = {e["path"]: e for e in json.loads(self.ab("diff", "--json", check=0).stdout)}
        self.assertTrue(js["f"]["loose_mode"])
        self.assertEqual(js["f"]["staged_mode"], "100666")
        self.assertEqual(js["f"]["new_mode"], "100644")
        dry = self.ab("commit", "--dry-run").stderr.decode()
        self.assertIn("[staged group/world-writable 666; commit writes 644]", dry)
        self.ab("commit", check=0)
        mode = lambda rel: os.lstat(os.path.join(p, rel)).st_mode & 0o7777  # noqa: E731
        self.assertEqual(mode("f"), 0o644)
        self.assertEqual(mode("g"), 0o644)
        self.assertEqual(mode("d"), 0o755)
        umask = os.umask(0o22)
        os.umask(umask)
        self.assertEqual(mode("new"), 0o666 & ~umask)
        self.assertEqual(mode("nd"), 0o777 & ~umask)

    # ---- §10: a name that is not UTF-8

    def test_non_utf8_name_in_diff_and_json(self):
        self.staged("printf bad > \"$(printf 'bad-\\377-name')\"; echo good > good.txt")
        raw_name = b"bad-\xff-name"
        patch = self.ab("diff", check=0).stdout
        self.assertIn(b'diff --git "a/bad-\\377-name" "b/bad-\\377-name"', patch)
        self.assertIn(b"diff --git a/good.txt b/good.txt", patch)
        ns = self.ab("diff", "--name-status", check=0).stdout
        self.assertIn(b"A\tbad-\\xff-name\n", ns)
        self.assertIn(b"A\tgood.txt\n", ns)
        js = json.loads(self.ab("diff", "--json", check=0).stdout)
        bad = [e for e in js if "path_base64" in e]
        self.assertEqual(len(bad), 1, js)
        self.assertEqual(base64.b64decode(bad[0]["path_base64"]), raw_name)
        self.assertEqual(bad[0]["path"], "bad-\ufffd-name")
        self.assertIn("good.txt", [e["path"] for e in js])
        sessions = json.loads(self.ab("sessions", "--json", check=0).stdout)
        self.assertTrue(sessions)
        self.ab("commit", "--dry-run")
        for line in self.ab("log", "--json", check=0).stdout.decode().splitlines():
            json.loads(line)
        text = self.ab("log", check=0).stdout
        if b"bad-" in text:
            self.assertIn(b"bad-\\xff-name", text)

    def test_run_whose_arguments_are_not_utf8_is_recorded_and_commits(self):
        # The command line goes into meta.json: before, a byte that is not UTF-8 there made
        # the run fail to create its session (json type_error.316), so no such command ran.
        res = self.box.run(["touch", "arg-\udcfe-name"])  # surrogateescape: the byte 0xfe
        self.assertRc(res, 0)
        sessions = json.loads(self.ab("sessions", "--json", check=0).stdout)
        mine = [s for s in sessions if "argv_base64" in s]
        self.assertEqual(len(mine), 1, sessions)
        self.assertEqual([base64.b64decode(a) for a in mine[0]["argv_base64"]],
                         [b"touch", b"arg-\xfe-name"])
        self.ab("commit", check=0)
        self.assertTrue(os.path.exists(os.path.join(self.box.project.encode(), b"arg-\xfe-name")))


class GitPolish(BoxTest):
    """#19 "Polish users expect from git": colour in diff and --stat, --color, NO_COLOR; log
    through a pager unless --no-pager; a commit of many paths read as a count."""

    def ab(self, *args, env=None):
        p = subprocess.run([AGENTBOX] + list(args), capture_output=True,
                           env=self.box.env(env), cwd=self.box.project, timeout=300)
        return p

    def on_terminal(self, *args, env=None):
        """stdout on a pty; returns (exit status, what reached the terminal)."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([AGENTBOX] + list(args), stdout=slave, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, cwd=self.box.project,
                                 env=self.box.env(dict({"AGENTBOX_PAGER": "cat"}, **(env or {}))))
            os.close(slave)
            slave = -1
            out = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            p.stderr.read()
            return p.wait(timeout=120), out
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)

    def staged(self):
        res = self.box.run(["sh", "-c", "echo new > added.txt; echo changed >> README"])
        self.assertEqual(res.rc, 0, res)

    def test_diff_is_coloured_on_a_terminal_unless_no_color_or_never(self):
        self.staged()
        rc, out = self.on_terminal("diff")
        self.assertEqual(0, rc)
        self.assertIn(b"\x1b[32m+new", out)
        self.assertIn(b"\x1b[36m@@", out)
        self.assertIn(b"\x1b[1mdiff --git", out)
        for how in ({"env": {"NO_COLOR": "1"}}, {"args": ["--color=never"]}):
            with self.subTest(**how):
                rc, out = self.on_terminal("diff", *how.get("args", []), env=how.get("env"))
                self.assertEqual(0, rc)
                self.assertIn(b"+new", out)
                self.assertNotIn(b"\x1b[", out)

    def test_diff_color_always_colours_a_pipe_and_auto_does_not(self):
        self.staged()
        p = self.ab("diff", "--color=always")
        self.assertEqual(0, p.returncode, p.stderr)
        self.assertIn(b"\x1b[32m+new", p.stdout)
        p = self.ab("diff")
        self.assertNotIn(b"\x1b[", p.stdout)  # a pipe: the patch git apply takes
        p = self.ab("diff", "--color=sometimes")
        self.assertEqual(2, p.returncode)
        self.assertIn(b"auto, always, never", p.stderr)

    def test_diff_stat_graph_is_coloured(self):
        self.staged()
        rc, out = self.on_terminal("diff", "--stat")
        self.assertEqual(0, rc)
        self.assertIn(b"\x1b[32m+", out)
        rc, out = self.on_terminal("diff", "--stat", "--color=never")
        self.assertNotIn(b"\x1b[", out)
        self.assertNotIn(b"\x1b[", self.ab("diff", "--stat").stdout)

    def test_log_goes_through_the_pager_unless_no_pager(self):
        self.staged()
        marker = os.path.join(self.box.root, "pager-ran")
        pager = "sh -c 'touch %s; cat'" % marker
        rc, out = self.on_terminal("log", env={"AGENTBOX_PAGER": pager})
        self.assertEqual(0, rc)
        self.assertTrue(os.path.exists(marker), "log did not start the pager")
        os.unlink(marker)
        rc, out = self.on_terminal("log", "--no-pager", env={"AGENTBOX_PAGER": pager})
        self.assertEqual(0, rc)
        self.assertIn(b"session.start", out)
        self.assertFalse(os.path.exists(marker), "log --no-pager started the pager")

    def test_log_shows_a_commit_of_many_paths_as_a_count_and_all_of_them_on_request(self):
        res = self.box.run(["sh", "-c", "mkdir d; i=0; while [ $i -lt 300 ]; do : > d/f$i; "
                                        "i=$((i+1)); done"], timeout=300)
        self.assertEqual(0, res.rc, res)
        p = self.ab("commit")
        self.assertEqual(0, p.returncode, p.stderr)
        log = self.ab("log").stdout.decode()
        commit = [l for l in log.splitlines() if " commit " in l]
        self.assertEqual(1, len(commit), log[-2000:])
        self.assertIn("301 in all; --full lists them", commit[0])
        self.assertLess(len(commit[0]), 400)
        full = [l for l in self.ab("log", "--full").stdout.decode().splitlines() if " commit " in l]
        self.assertIn("d/f299", full[0])
        self.assertEqual(300, full[0].count("d/f"))


if __name__ == "__main__":
    abtest.main()
