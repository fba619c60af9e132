#!/usr/bin/python3
"""Commit and undo survive every kill (issue 17), tested as SQLite and git test crash safety:
`agentbox commit` and `agentbox undo` are killed at the Nth call of each syscall they make
that changes something or could (strace fault injection: inject=SYSCALL:signal=KILL:when=N),
with agentbox's state and the project on one filesystem and on two (the state on /dev/shm,
a tmpfs). After each kill the next agentbox command recovers; then the project must be
exactly as before or exactly as after, the operation must complete, no temporary of
agentbox's may remain anywhere, and undo and commit must go on working.

The Ns come from counting each command's calls first (strace -c); a syscall called more than
MAX_N times is sampled evenly, ends included. The run prints its counts: trials and failures.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest, tree_snapshot  # noqa: E402

STRACE = shutil.which("strace")
# Every syscall by which commit or undo changes the project or its own state: each call is a
# point where a kill leaves something half done. Those a command does not call are left out
# after counting.
CHANGING = ("rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "mkdir", "mkdirat",
            "mknodat", "linkat", "symlinkat", "fsync", "fdatasync", "syncfs", "copy_file_range")
# ... and those that prepare the next change (a file being created, written, its mode set):
# many calls, mostly at start-up, so fewer samples.
PREPARING = ("openat", "write", "fchmod", "fchmodat")
SYSCALLS = CHANGING + PREPARING
MAX_N = {"changing": 8, "preparing": 4}
ARGS = {"commit": ["commit", "--force"], "undo": ["undo"]}
TEMP = ".agentbox-tmp-"

# What the command does in the sandbox: every kind of change commit and undo handle.
SCRIPT = ("echo more >> README; rm -rf src; mkdir -p new/deep; echo n > new/deep/x; "
          "mv doc.txt renamed.txt; chmod 755 run.sh; ln -s README link; chmod 700 keep; "
          "echo k > keep/k2; rm keep/k1; ln -sfn renamed.txt hostlink")


def temps_below(root):
    """agentbox's temporaries: in the project and upper/ (TEMP...), and the state files it
    writes through a temporary (journal.tmp, commits/N.json.tmp...)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        found += [os.path.join(dirpath, n) for n in dirnames + filenames
                  if n.startswith(TEMP) or n in ("journal.tmp", "touched.json.tmp") or
                  (os.path.basename(dirpath) == "commits" and n.endswith(".tmp"))]
    return found


def read_counts(path, calls):
    """strace -c -U name,calls output at PATH: {syscall: count} for those of CALLS."""
    with open(path) as f:
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r"^\s*(\w+)\s+(\d+)\s*$", f.read(), re.M)
                if m.group(1) in calls}


def wait_for_sandboxes_gone(sessions):
    """Until no session's run.lock is held: the sandbox of a killed run holds it until it has
    died with its supervisor, which takes a moment (and `sessions` reads such a session as a
    run still under way)."""
    for name in os.listdir(sessions) if os.path.isdir(sessions) else []:
        lock = os.path.join(sessions, name, "run.lock")
        try:
            fd = os.open(lock, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            for _ in range(200):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.05)
        finally:
            os.close(fd)


def sample(call, count):
    most = MAX_N["changing" if call in CHANGING else "preparing"]
    if count <= most:
        return list(range(1, count + 1))
    return sorted({1 + round(i * (count - 1) / (most - 1)) for i in range(most)})


class Crash(BoxTest):
    trials = 0
    failures = 0

    @classmethod
    def tearDownClass(cls):
        print("crash trials: %d, failures: %d" % (cls.trials, cls.failures), flush=True)

    def setUp(self):
        super().setUp()
        p = self.box.project
        os.makedirs(os.path.join(p, "src", "sub"))
        os.makedirs(os.path.join(p, "keep"))
        for rel, data in (("src/a.c", "int a;\n"), ("src/sub/b.c", "int b;\n"),
                          ("README", "# project\n"), ("doc.txt", "doc\n"),
                          ("run.sh", "#!/bin/sh\n"), ("keep/k1", "k1\n")):
            with open(os.path.join(p, rel), "w") as f:
                f.write(data)
        # A symlink the command retargets, and a second name of run.sh, which the command
        # makes executable: a commit or undo killed anywhere must neither write through the
        # link nor change run.sh's other name, which no change names.
        os.symlink("README", os.path.join(p, "hostlink"))
        os.link(os.path.join(p, "run.sh"), os.path.join(p, "run-hard"))
        # Read-only on the host: only root may rename into or out of it without opening it
        # first (commit.cpp plan_opened), and its mode must be back after every kill.
        os.chmod(os.path.join(p, "keep"), 0o555)

    # ---- helpers

    def ab(self, *args, env=None, check=None, argv_prefix=()):
        p = subprocess.run(list(argv_prefix) + [AGENTBOX] + list(args), capture_output=True,
                           env=self.box.env(env), cwd=self.box.project, timeout=120)
        res = abtest.Result(args, p.returncode, p.stdout.decode(errors="replace"),
                            p.stderr.decode(errors="replace"), 0)
        if check is not None:
            self.assertEqual(res.rc, check, res)
        return res

    def snap(self):
        return tree_snapshot(self.box.project)

    def stage(self, state_env):
        res = self.box.run(["sh", "-c", SCRIPT], env=state_env)
        self.assertRc(res, 0)

    def copy_tree(self, src, dst):
        # cp -a keeps what overlayfs wrote: whiteouts, xattrs, modes. An existing directory is
        # emptied and refilled, never replaced: a session records its project's identity, and
        # refuses to write into another directory at the same path.
        if not os.path.isdir(dst) or os.path.islink(dst):
            if os.path.lexists(dst):
                os.unlink(dst)
            subprocess.run(["cp", "-a", src, dst], check=True)
            return
        subprocess.run(["chmod", "-R", "u+rwx", dst], stderr=subprocess.DEVNULL)
        for name in os.listdir(dst):
            path = os.path.join(dst, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        subprocess.run(["cp", "-a", os.path.join(src, "."), dst], check=True)

    def counts(self, args, env):
        """How often the command calls each syscall of SYSCALLS."""
        out = os.path.join(self.box.root, "strace-count")
        self.ab(*args, env=env,
                argv_prefix=[STRACE, "-f", "-c", "-U", "name,calls", "-o", out,
                             "-e", "trace=" + ",".join(SYSCALLS)])
        return read_counts(out, SYSCALLS)

    def run_counts(self, argv, calls):
        """How often the run ARGV (the supervisor alone: no -f) calls each of CALLS."""
        out = os.path.join(self.box.root, "strace-count")
        subprocess.run([STRACE, "-c", "-U", "name,calls", "-o", out,
                        "-e", "trace=" + ",".join(calls)] + argv, env=self.box.env(),
                       cwd=self.box.project, capture_output=True, timeout=120)
        return read_counts(out, calls)

    def run_killed_at(self, argv, call, n):
        """The run ARGV, its supervisor killed at its Nth CALL."""
        subprocess.run([STRACE, "-o", "/dev/null", "-e", "trace=" + call,
                        "-e", "inject=%s:signal=KILL:when=%d" % (call, n)] + argv,
                       env=self.box.env(), cwd=self.box.project, capture_output=True,
                       timeout=120)
        Crash.trials += 1

    def crash_trials(self, state):
        """Kill commit and undo at every sampled call of every syscall; STATE is the directory
        that holds agentbox's state (XDG_STATE_HOME)."""
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        env = {"XDG_STATE_HOME": state}
        p = self.box.project
        before = self.snap()
        self.stage(env)
        self.assertEqual(self.snap(), before)
        work = os.path.join(self.box.root, "templates")
        os.makedirs(work)
        # Template 1: staged, nothing committed.
        self.copy_tree(p, os.path.join(work, "p-staged"))
        self.copy_tree(state, os.path.join(work, "s-staged"))
        self.ab("commit", env=env, check=0)
        after = self.snap()
        self.assertNotEqual(after, before)
        self.assertEqual(after["run-hard"], before["run-hard"])
        self.assertEqual(after["hostlink"][1], b"renamed.txt")
        self.assertEqual(after["README"], before["README"][:1] + (b"# project\nmore\n",))
        # Template 2: committed, to be undone.
        self.copy_tree(p, os.path.join(work, "p-committed"))
        self.copy_tree(state, os.path.join(work, "s-committed"))

        # A restored copy has new ctimes, which read as host edits: the trials commit with
        # --force (conflict checks are tested on their own, below).
        def restore(which):
            self.copy_tree(os.path.join(work, "p-" + which), p)
            self.copy_tree(os.path.join(work, "s-" + which), state)

        restore("staged")
        commit_calls = self.counts(["commit", "--force"], env)
        restore("committed")
        undo_calls = self.counts(["undo"], env)
        self.assertIn("renameat2", commit_calls)

        failures = []

        def trial(cmd, call, n):
            restore("staged" if cmd == "commit" else "committed")
            Crash.trials += 1
            self.ab(*ARGS[cmd], env=env, argv_prefix=[
                STRACE, "-f", "-o", "/dev/null", "-e", "trace=" + call,
                "-e", "inject=%s:signal=KILL:when=%d" % (call, n)])
            where = "%s killed at %s #%d" % (cmd, call, n)
            # The next command recovers.
            res = self.ab("sessions", env=env)
            if res.rc != 0 or "broken" in res.out:
                return "%s: sessions failed: %s" % (where, res)
            now = self.snap()
            goal, other, finish = (after, before, "commit") if cmd == "commit" else \
                (before, after, "undo")
            if now == other:
                res = self.ab(*ARGS[finish], env=env)
                if res.rc != 0:
                    return "%s: %s after recovery failed: %s" % (where, finish, res)
                now = self.snap()
            if now != goal:
                diff = sorted(k for k in set(now) | set(goal) if now.get(k) != goal.get(k))
                return "%s: the project is neither before nor after: %s" % (where, diff)
            left = temps_below(p) + temps_below(state)
            if left:
                return "%s: temporaries left: %s" % (where, left)
            # Later commands work: back and forth once more.
            back, fwd = ("undo", "commit") if cmd == "commit" else ("commit", "undo")
            for step, want in ((back, other), (fwd, goal)):
                res = self.ab(*ARGS[step], env=env)
                if res.rc != 0 or self.snap() != want:
                    return "%s: a later %s failed: %s" % (where, step, res)
            if temps_below(p) + temps_below(state):
                return "%s: temporaries left after later commands" % where
            return None

        for cmd, calls in (("commit", commit_calls), ("undo", undo_calls)):
            for call in sorted(calls):
                for n in sample(call, calls[call]):
                    why = trial(cmd, call, n)
                    if why:
                        Crash.failures += 1
                        failures.append(why)
        self.assertEqual(failures, [], "\n".join(failures[:20]) +
                         "\n(%d failures)" % len(failures))

    # ---- the crash matrix

    def test_kill_commit_and_undo_at_every_syscall_one_filesystem(self):
        self.crash_trials(self.box.state)

    def test_kill_commit_and_undo_at_every_syscall_state_on_another_filesystem(self):
        self.crash_trials(self.dir_on_another_filesystem("abcrash-"))

    # ---- discard

    def test_kill_discard_at_every_syscall_leaves_all_or_nothing_staged(self):
        # discard emptied upper/ entry by entry: killed part way, it left part of the change
        # set staged as one of its own -- here src/, which the command replaced, emptied of
        # its new files, read as the deletion of all the project has there.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        env = {"XDG_STATE_HOME": self.box.state}
        before = self.snap()
        res = self.box.run(["sh", "-c", "rm -rf src; mkdir -p src/sub; echo n > src/sub/new; "
                            "echo more >> README; mkdir -p new/deep; echo n > new/deep/x"])
        self.assertRc(res, 0)
        work = os.path.join(self.box.root, "templates")
        os.makedirs(work)
        self.copy_tree(self.box.state, os.path.join(work, "s-staged"))
        # As the trials see it: restored from the template (cp -a rewrites directory times).
        self.copy_tree(os.path.join(work, "s-staged"), self.box.state)
        staged = self.ab("diff", "--name-status", check=0).out
        self.assertIn("src/sub/new", staged)
        calls = {c: k for c, k in self.counts(["discard"], env).items() if c in CHANGING}
        self.assertIn("unlinkat", calls)
        failures = []
        for call in sorted(calls):
            for n in range(1, calls[call] + 1):
                self.copy_tree(os.path.join(work, "s-staged"), self.box.state)
                Crash.trials += 1
                self.ab("discard", argv_prefix=[
                    STRACE, "-f", "-o", "/dev/null", "-e", "trace=" + call,
                    "-e", "inject=%s:signal=KILL:when=%d" % (call, n)])
                where = "discard killed at %s #%d" % (call, n)
                now = self.ab("diff", "--name-status")
                if now.rc != 0 or now.out not in (staged, ""):
                    failures.append("%s: staged now: %r" % (where, now.out or now.err))
                    continue
                # What is left is discarded by the next discard, or was already.
                self.ab("discard", check=0)
                if self.ab("diff", "--name-status", check=0).out:
                    failures.append("%s: a later discard left changes" % where)
                if self.snap() != before:
                    failures.append("%s: the project changed" % where)
                    break
        Crash.failures += len(failures)
        self.assertEqual(failures, [], "\n".join(failures))

    # ---- the end of a run

    def test_run_killed_while_removing_its_snapshot_stages_no_deletions(self):
        # Copy staging (bubblewrap without overlay) moves the command's work from the snapshot
        # into upper/, then removes the snapshot. A run killed part way through that removal
        # (Ctrl-C, an OOM kill, a CI timeout) left a half-removed snapshot that the next
        # command staged again: every project file already removed from it read as the
        # command's deletion, and a commit deleted files the command never touched.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        if abtest.BACKEND != "bwrap":
            self.skipTest("only copy staging (the bubblewrap backend here) has a snapshot")
        for i in range(12):
            with open(os.path.join(self.box.project, "f%02d" % i), "w") as f:
                f.write("%d\n" % i)
        before = self.snap()
        argv = self.box.argv(["sh", "-c", "echo more >> README; echo x >> f03; rm f05; "
                                          "rm -r src/sub; mkdir n; echo y > n/z"])
        # Every call that removes or moves part of the snapshot, or the times saved beside it.
        calls = self.run_counts(argv, ("unlink", "unlinkat", "rename", "renameat"))
        self.assertGreater(calls.get("unlinkat", 0), 12, "the run removed no snapshot")
        if abtest.session_staging(self.box.sessions()[-1]) != "copy":
            self.skipTest("this bubblewrap stages with overlayfs: no snapshot")
        staged = self.ab("diff", "--name-status", check=0).out.splitlines()
        self.assertEqual(len(staged), 7, staged)
        shutil.rmtree(os.path.join(self.box.state, "agentbox", "sessions"))
        failures = []
        for call, n in ((c, n) for c in sorted(calls) for n in range(1, calls[c] + 1)):
            self.run_killed_at(argv, call, n)
            # The next command stages what is left: the command's work, or nothing.
            sessions = self.box.sessions()
            if not sessions or not os.path.exists(os.path.join(sessions[-1], "meta.json")):
                continue  # killed before its session was recorded: nothing staged
            res = self.ab("diff", "--name-status", os.path.basename(sessions[-1]))
            names = res.out.splitlines()
            if res.rc != 0 or names not in ([], staged):
                failures.append("killed at %s #%d: staged %s" % (call, n, names or res.err))
            # Opened, the session has staged what its snapshot held, and removed it.
            left = [x for x in os.listdir(sessions[-1])
                    if x in ("snapshot.times", "snapshot.gone")]
            if left:
                failures.append("killed at %s #%d: %s left" % (call, n, left))
        Crash.failures += len(failures)
        self.assertEqual(failures, [], "\n".join(failures))
        self.assertEqual(self.snap(), before, "a run changed the project")
        # What the last run staged commits as it was reviewed, and deletes nothing else.
        self.ab("commit", os.path.basename(self.box.sessions()[-1]), check=0)
        self.assertEqual(set(self.snap()),
                         set(before) - {"f05", "src/sub", "src/sub/b.c"} | {"n", "n/z"})

    def test_run_killed_at_any_step_of_making_its_session_leaves_none_or_a_whole_one(self):
        # A run killed at its session's first rename (meta.json.tmp -> meta.json) left a
        # session directory without its meta.json: listed as "broken" by every later
        # `sessions`, never pruned, until removed by hand. Now each kill leaves either no
        # session at all or one with its meta.json, whatever the call.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        before = self.snap()
        argv = self.box.argv(["sh", "-c", "echo x > made-in-the-sandbox"])
        base = os.path.join(self.box.state, "agentbox", "sessions")
        # The supervisor's own calls (no -f): those that make the session and record it.
        calls = ("rename", "renameat", "renameat2", "mkdir", "mkdirat", "unlink", "fsync")
        counts = self.run_counts(argv, calls)
        self.assertIn("rename", counts)
        shutil.rmtree(base)
        self.assertEqual(self.ab("diff", "--name-status").rc, 2)
        failures = []
        for call, n in ((c, n) for c in sorted(counts) for n in range(1, counts[c] + 1)):
            self.run_killed_at(argv, call, n)
            where = "run killed at %s #%d" % (call, n)
            wait_for_sandboxes_gone(base)
            listing = self.ab("sessions")
            if listing.rc != 0 or "broken" in listing.out:
                failures.append("%s: sessions: %s" % (where, listing))
            # After that look, sessions/ holds whole sessions only: nothing half-made, and no
            # leftover of one under another name.
            names = sorted(os.listdir(base)) if os.path.isdir(base) else []
            for name in names:
                if not re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", name) or \
                        not os.path.exists(os.path.join(base, name, "meta.json")):
                    failures.append("%s: sessions/%s left: %s" % (
                        where, name, subprocess.run(["ls", "-laR", os.path.join(base, name)],
                                                    capture_output=True, text=True).stdout))
            # diff without an id shows the newest whole session, or says there is none.
            diff = self.ab("diff", "--name-status")
            if names and diff.rc != 0:
                failures.append("%s: diff: %s" % (where, diff))
            if not names and (diff.rc != 2 or "no session for the project" not in diff.err):
                failures.append("%s: diff with no session: %s" % (where, diff))
            if self.snap() != before:
                failures.append("%s: the project changed" % where)
                break
            # overlayfs leaves work/work mode 000, which only root could remove without this.
            subprocess.run(["chmod", "-R", "u+rwx", base], stderr=subprocess.DEVNULL)
            shutil.rmtree(base, ignore_errors=True)
        Crash.failures += len(failures)
        self.assertEqual(failures, [], "\n".join(failures))

    def test_run_killed_at_any_write_of_its_record_leaves_a_session_that_lists_and_verifies(self):
        # The end of a run writes its log (process.exit, session.end) and rewrites meta.json
        # (the status the review settles and the log's head, in one write since note 92).
        # Killed at any of those writes -- or any other write of the supervisor -- the
        # session must list (never "broken"), its meta.json must be whole, its log must
        # verify or read as cut short (never as truncated or rewritten), and what the
        # command staged must still be there to review.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        before = self.snap()
        base = os.path.join(self.box.state, "agentbox", "sessions")
        failures = []
        for cmd, staged in ((["true"], False), (["sh", "-c", "echo x > made-here"], True)):
            argv = self.box.argv(cmd)
            # meta.json is rewritten in place (pwrite64) when it fits in a sector, else
            # through meta.json.tmp (write, fsync, rename): the project's path decides.
            counts = self.run_counts(argv, ("write", "pwrite64", "rename", "fsync"))
            self.assertIn("write", counts)
            self.assertIn("rename", counts)
            shutil.rmtree(base)
            for call, n in ((c, n) for c in sorted(counts) for n in range(1, counts[c] + 1)):
                self.run_killed_at(argv, call, n)
                where = "%s killed at %s #%d" % (cmd[-1], call, n)
                wait_for_sandboxes_gone(base)
                listing = self.ab("sessions")
                if listing.rc != 0 or "broken" in listing.out:
                    failures.append("%s: sessions: %s" % (where, listing))
                for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
                    d = os.path.join(base, name)
                    with open(os.path.join(d, "meta.json"), "rb") as f:
                        text = f.read().decode(errors="replace")
                    try:
                        meta = json.loads(text.split("\n#agentbox-mac")[0])
                    except ValueError:
                        failures.append("%s: meta.json is not whole: %r" % (where, text))
                        continue
                    # Copy staging records "running" before its snapshot, before the log
                    # exists: a run killed while copying leaves no log at all.
                    log = os.path.join(d, "log.jsonl")
                    ran = False
                    if os.path.exists(log):
                        verify = self.ab("log", "--verify", name)
                        if verify.rc != 0 and ("cut short" not in verify.out or
                                               "truncated" in verify.out):
                            failures.append("%s: log --verify: %s" % (where, verify))
                        with open(log) as f:
                            ran = '"event":"process.exit"' in f.read()
                    diff = self.ab("diff", "--name-status", name)
                    if diff.rc != 0 or (staged and ran and "made-here" not in diff.out):
                        failures.append("%s: diff (status %s): %s" % (where, meta["status"],
                                                                       diff))
                if self.snap() != before:
                    failures.append("%s: the project changed" % where)
                    break
                subprocess.run(["chmod", "-R", "u+rwx", base], stderr=subprocess.DEVNULL)
                shutil.rmtree(base, ignore_errors=True)
    def test_a_half_made_session_is_removed_by_the_next_look_unless_young_without_a_lock_or_locked(self):
        # A session is made as sessions/.new-<id>, run.lock created and held first (note 82).
        # What a killed run left there is removed by the next look: at once when its run.lock
        # is free, after a minute (by its ctime) when it has none -- a run between its mkdir
        # and its lock looks the same -- and never while its lock is held, whatever its age.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        base = os.path.join(self.box.state, "agentbox", "sessions")
        argv = self.box.argv(["true"])
        # sessions/ exists: the kills below hit the run's own mkdirs first.
        self.assertRc(self.box.run(["true"]), 0)
        left = []
        counts = self.run_counts(argv, ("mkdir", "mkdirat"))
        for call, n in ((c, n) for c in sorted(counts) for n in range(1, counts[c] + 1)):
            self.run_killed_at(argv, call, n)
            wait_for_sandboxes_gone(base)
            left = [x for x in os.listdir(base) if x.startswith(".new-")]
            if left:
                break
        self.assertTrue(left, "no kill left a half-made session: %s" % counts)
        self.assertTrue(os.path.exists(os.path.join(base, left[0], "run.lock")))
        self.ab("sessions", check=0)
        self.assertEqual([x for x in os.listdir(base) if x.startswith(".new-")], [])

        # Fabricated: one without a lock (killed between its mkdir and its run.lock), and one
        # whose lock this test holds (a run being made).
        unlocked = os.path.join(base, ".new-20200101T000000Z-aaaaaa")
        locked = os.path.join(base, ".new-20200101T000000Z-bbbbbb")
        for d in (unlocked, locked):
            os.makedirs(os.path.join(d, "upper"))
            os.utime(d, (0, 0))  # an old mtime proves nothing: the rule reads the ctime
        lock = os.open(os.path.join(locked, "run.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            made = os.stat(unlocked).st_ctime
            for look in (["sessions"], ["diff", "--name-status"]):
                res = self.ab(*look)
                self.assertNotIn("broken", res.out, res)
                self.assertTrue(os.path.isdir(unlocked), look)
                self.assertTrue(os.path.isdir(locked), look)
            time.sleep(max(0.0, made + 61 - time.time()))
            res = self.ab("sessions", check=0)
            self.assertNotIn("broken", res.out, res)
            self.assertFalse(os.path.lexists(unlocked))
            self.assertTrue(os.path.isdir(os.path.join(locked, "upper")))
        finally:
            os.close(lock)
        self.ab("sessions", check=0)
        self.assertFalse(os.path.lexists(locked))

    def test_run_killed_while_saving_an_agent_state_file_leaves_it_whole_and_no_temporary(self):
        # The end of a run saves ~/.claude.json (filesystem.state) through a temporary renamed
        # over it. The temporary had a new random name each time: a run killed before the
        # rename left `.claude.json.agentbox-<random>` in the user's home for ever, one more
        # per kill. Now each kill leaves the host file old or new and whole, and the next run
        # with that state file leaves no temporary.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        host = os.path.join(self.box.home, ".claude.json")
        old, new = '{"numStartups": 1}', '{"numStartups": 2}'
        argv = self.box.argv(["sh", "-c", "printf '%s' '" + new + "' > ~/.claude.json"],
                             profiles=["claude-code"])

        def put_old():
            with open(host, "w") as f:
                f.write(old)

        def temps():
            return sorted(n for n in os.listdir(self.box.home) if ".agentbox" in n)

        put_old()
        calls = ("rename", "fsync", "ftruncate")
        counts = self.run_counts(argv, calls)
        with open(host) as f:
            self.assertEqual(f.read(), new)  # the save happens
        failures = []
        for call, n in ((c, n) for c in sorted(counts) for n in range(1, counts[c] + 1)):
            put_old()
            self.run_killed_at(argv, call, n)
            where = "run killed at %s #%d" % (call, n)
            with open(host) as f:
                now = f.read()
            if now not in (old, new):
                failures.append("%s: ~/.claude.json is %r" % (where, now))
            left = temps()
            # Never more than the one temporary of the file, whatever the kills before.
            if len(left) > 1:
                failures.append("%s: temporaries %s" % (where, left))
        # The next run with the state file leaves none.
        put_old()
        self.assertRc(self.box.run(["true"], profiles=["claude-code"]), 0)
        self.assertEqual(temps(), [])
        Crash.failures += len(failures)
        self.assertEqual(failures, [], "\n".join(failures))

    def test_runs_killed_while_writing_their_caches_leave_no_growing_trail_of_temporaries(self):
        # A run writes its host probe, its compiled seccomp filter and its glob walks to the
        # cache (the "probe" and "compile" phases of bench/startup.py --phases) through a
        # temporary renamed into place. The temporary had a new random name each time: every
        # run killed before its rename left one more file in the cache, for ever.
        if not STRACE:
            self.skipTest("strace is not installed (deps/debian.txt)")
        cache = os.path.join(self.box.cache, "agentbox")
        argv = self.box.argv(["true"])

        def files():
            return sorted(os.path.relpath(os.path.join(d, n), cache)
                          for d, _, names in os.walk(cache) for n in names)

        def cold():
            # Every cached answer gone, what kills left kept: each run writes them all again.
            for name in cached:
                if os.path.exists(os.path.join(cache, name)):
                    os.unlink(os.path.join(cache, name))

        renames = self.run_counts(argv, ("rename",))["rename"]
        cached = [n for n in files() if not n.endswith(".tmp")]
        self.assertTrue(cached, "the run cached nothing")
        rounds = []
        for _ in range(3):
            for n in range(1, renames + 1):
                cold()
                self.run_killed_at(argv, "rename", n)
            rounds.append([n for n in files() if n not in cached])
        # At most one temporary per cached file, the same ones round after round.
        self.assertEqual(rounds[0], rounds[-1], rounds)
        self.assertTrue(set(rounds[-1]) <= {n + ".tmp" for n in cached}, rounds[-1])
        # The next run that gets through takes them over, and its caches are read.
        cold()
        self.assertRc(self.box.run(["true"]), 0)
        self.assertEqual(files(), cached)
        self.assertRc(self.box.run(["true"]), 0)
        self.assertEqual(files(), cached)

    # ---- the other findings, through the binary

    def test_two_commits_of_one_session_at_once_commit_once(self):
        before = self.snap()
        self.stage(None)
        procs = [subprocess.Popen([AGENTBOX, "commit"], env=self.box.env(), cwd=self.box.project,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        for proc in procs:
            proc.communicate(timeout=120)
        after = self.snap()
        self.assertNotEqual(after, before)
        sessions = self.box.sessions()
        commits = os.listdir(os.path.join(sessions[-1], "commits"))
        self.assertEqual([c for c in commits if c.endswith(".json")], ["1.json"], commits)
        # So undo restores the project, and removes nothing that was there.
        self.ab("undo", check=0)
        self.assertEqual(self.snap(), before)

    def test_commits_of_two_sessions_into_one_project_at_once_do_not_overwrite(self):
        files = ["f%03d" % i for i in range(101)]
        for tag in ("one", "two"):
            res = self.box.run(["sh", "-c", "for f in %s; do echo %s > $f; done" % (
                " ".join(files), tag)])
            self.assertRc(res, 0)
        ids = [os.path.basename(s) for s in self.box.sessions()]
        self.assertEqual(len(ids), 2)
        barrier = threading.Barrier(2)
        results = {}

        def go(sid):
            barrier.wait()
            results[sid] = subprocess.run([AGENTBOX, "commit", sid], env=self.box.env(),
                                          cwd=self.box.project, capture_output=True, timeout=120)

        threads = [threading.Thread(target=go, args=(sid,)) for sid in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rcs = sorted(r.returncode for r in results.values())
        self.assertEqual(rcs, [0, 1], {k: (r.returncode, r.stderr) for k, r in results.items()})
        loser = [r for r in results.values() if r.returncode == 1][0]
        self.assertIn(b"conflict", loser.stderr)
        contents = {open(os.path.join(self.box.project, f)).read() for f in files}
        self.assertEqual(len(contents), 1, "the project mixes both sessions")

    def test_undo_with_a_host_file_in_a_committed_directory_changes_nothing(self):
        before = self.snap()
        self.stage(None)
        self.ab("commit", check=0)
        with open(os.path.join(self.box.project, "new", "hostfile"), "w") as f:
            f.write("the user's own\n")
        with_host = self.snap()
        res = self.ab("undo", check=1)
        self.assertIn("new/hostfile", res.err)
        self.assertEqual(self.snap(), with_host)
        self.ab("undo", "--force", check=1)
        self.assertEqual(self.snap(), with_host)
        # Nothing is stuck: every command still works.
        self.ab("sessions", check=0)
        self.ab("diff", check=0)
        os.unlink(os.path.join(self.box.project, "new", "hostfile"))
        self.ab("undo", check=0)
        self.assertEqual(self.snap(), before)

    def test_commit_undo_commit_of_a_renamed_file_is_no_conflict(self):
        self.stage(None)
        self.ab("commit", check=0)
        self.ab("undo", check=0)
        res = self.ab("commit")
        self.assertEqual(res.rc, 0, res)
        self.assertNotIn("conflict", res.err)

    def test_a_name_that_is_not_utf8_commits_and_undoes(self):
        before = self.snap()
        res = self.box.run(["sh", "-c", "echo bad > \"$(printf 'bad-\\377-name')\"; "
                                        "echo good > good.txt"])
        self.assertRc(res, 0)
        self.ab("commit", check=0)
        self.assertEqual(open(os.path.join(self.box.project.encode(), b"bad-\xff-name"),
                              "rb").read(), b"bad\n")
        self.ab("undo", check=0)
        self.assertEqual(self.snap(), before)

    def test_one_broken_session_does_not_break_the_listing(self):
        self.stage(None)
        self.stage(None)
        broken, good = self.box.sessions()
        with open(os.path.join(broken, "journal"), "w") as f:
            f.write("{not json")
        res = self.ab("sessions", check=0)
        self.assertIn(os.path.basename(good), res.out)
        line = [ln for ln in res.out.splitlines() if os.path.basename(broken) in ln]
        self.assertTrue(line and "broken" in line[0], res.out)
        self.assertIn("journal", res.out)  # the reason
        res = self.ab("sessions", "--json", check=0)
        self.assertIn('"reason"', res.out)


if __name__ == "__main__":
    abtest.main()
