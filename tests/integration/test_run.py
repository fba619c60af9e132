#!/usr/bin/python3
"""Integration: `agentbox run` as a user drives it (DESIGN.md §2): output streams, options,
project selection, sessions left behind. The security claims are in tests/conformance/."""

import unittest
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest  # noqa: E402


class RunOutput(BoxTest):
    def test_stdout_belongs_to_the_command(self):
        for quiet in (True, False):
            argv = self.box.argv(["echo", "hello"])
            if not quiet:
                argv.remove("-q")
            res = self.box.run(None, argv=argv)
            self.assertRc(res, 0)
            self.assertEqual(res.out, "hello\n", "agentbox wrote to the command's stdout\n%s" % res)

    def test_quiet_run_writes_nothing_to_stderr(self):
        res = self.box.run(["true"])
        self.assertRc(res, 0)
        self.assertEqual(res.err, "", res)

    def test_the_command_gets_every_cpu_the_caller_has(self):
        # Init is started away from the supervisor's CPU (launch.cpp, spread_child); the command
        # must not inherit that. Each run pins the caller to a different set, when there is one.
        cpus = sorted(os.sched_getaffinity(0))
        sets = [cpus] + ([[cpus[-1]], cpus[:-1]] if len(cpus) > 1 else [])
        for allowed in sets:
            argv = ["taskset", "-c", ",".join(map(str, allowed))] + self.box.argv(
                ["python3", "-c", "import os; print(sorted(os.sched_getaffinity(0)))"])
            for _ in range(3):
                res = self.box.run(None, argv=argv)
                self.assertRc(res, 0)
                self.assertEqual(res.out.strip(), str(allowed), res)

    def test_stderr_of_the_command_is_passed(self):
        res = self.box.run(["sh", "-c", "echo oops >&2; exit 5"])
        self.assertRc(res, 5)
        self.assertIn("oops", res.err)

    def test_summary_fd_is_json(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        try:
            res = self.box.run(["true"], args=["--summary-fd", str(w)], pass_fds=(w,))
        finally:
            os.close(w)
        self.assertRc(res, 0)
        data = os.read(r, 1 << 20)
        summary = json.loads(data)
        self.assertIsInstance(summary, dict, data)


class RunDryRun(BoxTest):
    def test_dry_run_prints_the_plan_and_runs_nothing(self):
        res = self.box.run(["touch", "created-by-dry-run"], args=["--dry-run"])
        self.assertRc(res, 0)
        self.assertIn(self.box.project, res.out + res.err, "the plan does not name the project")
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "created-by-dry-run")))
        for s in self.box.sessions():
            self.assertFalse(os.path.exists(os.path.join(s, "upper", "created-by-dry-run")))

    def test_dry_run_json(self):
        res = self.box.run(["true"], args=["--dry-run", "--json"])
        self.assertRc(res, 0)
        plan = json.loads(res.out)
        self.assertIsInstance(plan, dict)
        self.assertIn("mounts", json.dumps(plan), "the JSON plan lists no mounts")


    def test_prompt_exit_loses_no_output_written_to_a_file(self):
        # A run ends with _exit (main.cpp): what agentbox itself printed must be flushed first,
        # also when stdout is a file (fully buffered) and the output is larger than a buffer.
        out_path = os.path.join(self.box.outside, "plan.json")
        argv = self.box.argv(["true"], args=["--dry-run", "--json"])
        with open(out_path, "w") as out:
            p = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=self.box.env(None), cwd=self.box.project, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out_path) as f:
            text = f.read()
        self.assertGreater(len(text), 8192, "expected a plan larger than one stdio buffer")
        self.assertIsInstance(json.loads(text), dict)


class RunOptions(BoxTest):
    def test_env_flag(self):
        res = self.box.run(["sh", "-c", "echo \"$FOO/$FROM_HOST\""],
                           args=["--env", "FOO=bar", "--env", "FROM_HOST"],
                           env={"FROM_HOST": "hostvalue"})
        self.assertRc(res, 0)
        self.assertEqual(res.out, "bar/hostvalue\n", res)

    def test_ro_flag_is_readable_not_writable(self):
        d = os.path.join(self.box.outside, "shared")
        os.makedirs(d)
        with open(os.path.join(d, "data"), "w") as f:
            f.write("shared data\n")
        res = self.box.run(["sh", "-c", "cat %s/data; echo x > %s/new 2>/dev/null && echo WROTE;"
                            " true" % (d, d)], args=["--ro", d])
        self.assertRc(res, 0)
        self.assertIn("shared data", res.out)
        self.assertNotIn("WROTE", res.out)
        self.assertFalse(os.path.exists(os.path.join(d, "new")))

    def test_rw_flag_writes_through_to_the_host(self):
        d = os.path.join(self.box.outside, "out")
        os.makedirs(d)
        res = self.box.run(["sh", "-c", "echo result > %s/result" % d], args=["--rw", d])
        self.assertRc(res, 0)
        with open(os.path.join(d, "result")) as f:
            self.assertEqual(f.read(), "result\n")

    def test_hide_flag_masks_a_project_file(self):
        with open(os.path.join(self.box.project, "private.txt"), "w") as f:
            f.write("PRIVATE-CONTENT\n")
        res = self.box.run(["sh", "-c", "cat private.txt; echo end"],
                           args=["--hide", os.path.join(self.box.project, "private.txt")])
        self.assertRc(res, 0)
        self.assertIn("end", res.out, res)
        self.assertNotIn("PRIVATE-CONTENT", res.out, res)

    def test_log_flag_copies_the_decision_log(self):
        log = os.path.join(self.box.outside, "decisions.jsonl")
        res = self.box.run(["true"], args=["--log", log])
        self.assertRc(res, 0)
        with open(log) as f:
            events = [json.loads(line) for line in f if line.strip()]
        names = [e.get("event") for e in events]
        self.assertIn("session.start", names)
        self.assertIn("session.end", names)

    def test_timeout_flag(self):
        res = self.box.run(["sleep", "30"], args=["--timeout", "1s"], timeout=60)
        self.assertRc(res, abtest.EXIT_TIMEOUT)
        self.assertLess(res.seconds, 15)


class RunProject(BoxTest):
    def test_cwd_inside_project_is_kept(self):
        sub = os.path.join(self.box.project, "src", "pkg")
        os.makedirs(sub)
        res = self.box.run(["pwd"], cwd=sub)
        self.assertRc(res, 0)
        self.assertEqual(res.out.strip(), sub)

    def test_cwd_on_an_empty_tmpfs_starts_in_the_project(self):
        # From a host directory that the sandbox shows as part of an empty tmpfs (under /tmp,
        # or the home), `-C PROJECT` runs in the project rather than failing to chdir.
        notes = os.path.join(self.box.home, "notes")
        os.makedirs(notes, exist_ok=True)
        os.makedirs(self.box.outside, exist_ok=True)
        for cwd in (self.box.outside, notes):
            res = self.box.run(["pwd"], cwd=cwd)
            self.assertRc(res, 0)
            self.assertEqual(res.out.strip(), self.box.project)

    def test_project_defaults_to_git_top_level(self):
        os.makedirs(os.path.join(self.box.project, ".git"))
        sub = os.path.join(self.box.project, "sub")
        os.makedirs(sub)
        argv = [AGENTBOX, "run", "--on-exit", "keep", "-q", "--", "sh", "-c",
                "echo staged > from-sub.txt"]
        res = self.box.run(None, argv=argv, cwd=sub)
        self.assertRc(res, 0)
        self.assertFalse(os.path.exists(os.path.join(sub, "from-sub.txt")))
        self.assertTrue(os.path.exists(os.path.join(self.box.upper(), "sub", "from-sub.txt")),
                        "the write is not staged relative to the git top level")

    def test_home_as_project_is_refused_unless_explicit(self):
        argv = [AGENTBOX, "run", "--on-exit", "keep", "-q", "--", "true"]
        res = self.box.run(None, argv=argv, cwd=self.box.home)
        self.assertRc(res, abtest.EXIT_SETUP)
        res = self.box.run(None, argv=argv[:2] + ["-C", self.box.home] + argv[2:],
                           cwd=self.box.home)
        self.assertRc(res, 0)

    def test_staged_session_is_listed_and_diffable(self):
        res = self.box.run(["sh", "-c", "echo new > added.txt"])
        self.assertRc(res, 0)
        sessions = subprocess.run([AGENTBOX, "sessions", "--json"], capture_output=True,
                                  env=self.box.env(), cwd=self.box.project, timeout=60)
        self.assertEqual(sessions.returncode, 0, sessions.stderr)
        self.assertIn(self.box.project, sessions.stdout.decode())
        diff = subprocess.run([AGENTBOX, "diff", "--name-status"], capture_output=True,
                              env=self.box.env(), cwd=self.box.project, timeout=60)
        self.assertEqual(diff.returncode, 0, diff.stderr)
        self.assertIn("added.txt", diff.stdout.decode())
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "added.txt")))


class Backends(BoxTest):
    """--backend bwrap next to native: the same plan, staged by copy; bwrap is never looked up
    in a PATH the project could influence."""

    def setUp(self):
        super().setUp()
        if abtest.BACKEND:
            self.skipTest("these cases choose the backend themselves")

    def test_bwrap_plan_stages_by_copy(self):
        res = self.box.run(["true"], args=["--backend", "bwrap", "--dry-run", "--json"])
        self.assertRc(res, 0)
        plan = json.loads(res.out)
        self.assertEqual(plan["backend"], "bwrap")
        # bubblewrap 0.11+ lists --overlay in its help: then it stages as native does.
        self.assertEqual(plan["staging"], "overlay" if bwrap_has_overlay() else "copy")
        res = self.box.run(["true"], args=["--backend", "native", "--dry-run", "--json"])
        self.assertEqual(json.loads(res.out)["staging"], "overlay")

    def test_bwrap_dry_run_says_what_the_copy_costs(self):
        # The copy is made before every run: --dry-run counts it, as the copy would walk it.
        if bwrap_has_overlay():
            self.skipTest("this bubblewrap has --overlay: nothing is copied")
        os.makedirs(os.path.join(self.box.project, "sub", "deeper"))
        for rel, size in (("a.bin", 1000), ("sub/b.bin", 20000), ("sub/deeper/c.bin", 3)):
            with open(os.path.join(self.box.project, rel), "wb") as f:
                f.write(b"x" * size)
        os.symlink("a.bin", os.path.join(self.box.project, "link"))
        files = size = 0
        for root, _dirs, names in os.walk(self.box.project):
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    files += 1
                    size += os.lstat(p).st_size
        res = self.box.run(["true"], args=["--backend", "bwrap", "--dry-run", "--json"])
        self.assertRc(res, 0)
        notes = [n for n in json.loads(res.out)["notes"] if "staging by copy" in n]
        self.assertEqual(len(notes), 1, res.out)
        self.assertIn("now %d files of %d bytes" % (files, size), notes[0])
        # The text form says it too; the native plan (an overlay) copies nothing.
        res = self.box.run(["true"], args=["--backend", "bwrap", "--dry-run"])
        self.assertIn("%d files of %d bytes" % (files, size), res.out)
        res = self.box.run(["true"], args=["--backend", "native", "--dry-run"])
        self.assertNotIn("staging by copy", res.out)

    def test_fake_bwrap_in_the_project_path_is_never_run(self):
        fake = os.path.join(self.box.project, "bin")
        os.makedirs(fake)
        marker = os.path.join(self.box.outside, "fake-bwrap-ran")
        with open(os.path.join(fake, "bwrap"), "w") as f:
            f.write("#!/bin/sh\ntouch %s\nexec /usr/bin/bwrap \"$@\"\n" % marker)
        os.chmod(os.path.join(fake, "bwrap"), 0o755)
        env = {"PATH": fake + ":" + abtest.HOST_PATH}
        res = self.box.run(["sh", "-c", "echo inside"], args=["--backend", "bwrap"], env=env)
        self.assertRc(res, 0)
        self.assertEqual(res.out, "inside\n")
        doctor = self.host_run([AGENTBOX, "doctor"], env=self.box.env(env))
        self.assertNotIn(fake, doctor.out)
        self.assertFalse(os.path.exists(marker), "a bwrap found in PATH was run")

    def test_bwrap_run_stages_like_native(self):
        results = {}
        for backend in ("native", "bwrap"):
            with open(os.path.join(self.box.project, "f.txt"), "w") as f:
                f.write("old\n")
            res = self.box.run(["sh", "-c", "echo new > f.txt; echo add > n.txt; mkdir d; "
                                "echo x > d/x; chmod 700 d"], args=["--backend", backend])
            self.assertRc(res, 0)
            diff = self.host_run([AGENTBOX, "diff", "--name-status"])
            self.assertEqual(diff.rc, 0, diff)
            results[backend] = diff.out
            self.assertEqual(self.host_run([AGENTBOX, "discard"]).rc, 0)
        self.assertEqual(results["native"], results["bwrap"])
        self.assertIn("n.txt", results["bwrap"])


class CopyStagingLeavesOwnDirsOut(BoxTest):
    """bubblewrap's copy staging of a project that holds agentbox's own directories (the home
    as the project; XDG_STATE_HOME inside it): the copy, made inside the state directory, must
    not copy the store -- nor itself -- and what it leaves out is not a deletion to commit."""

    def own_dirs(self):
        return [os.path.join(d, "agentbox") for d in (self.box.state, self.box.config,
                                                      self.box.cache)]

    def tree(self, top):
        """Every path below TOP with its type and content: what a commit must not change."""
        out = {}
        for root, dirs, names in os.walk(top):
            for n in dirs + names:
                p = os.path.join(root, n)
                st = os.lstat(p)
                data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else b""
                out[os.path.relpath(p, top)] = (st.st_mode, data)
        return out

    def staged_paths(self, session):
        upper = os.path.join(session, "upper")
        return sorted(os.path.relpath(os.path.join(r, n), upper)
                      for r, ds, ns in os.walk(upper) for n in ds + ns)

    def run_write(self, project, env=None):
        """A write in PROJECT, staged by copy (bwrap), the copy looked at from the host while
        the command waits; returns the session directory."""
        for d in self.own_dirs():
            os.makedirs(os.path.join(d, "planted"), exist_ok=True)
            with open(os.path.join(d, "planted", "keep.txt"), "w") as f:
                f.write("agentbox's own\n")
        argv = [AGENTBOX, "run", "--on-exit", "keep", "-q", "-C", project, "--backend", "bwrap",
                "--", "sh", "-c", "echo staged > w.txt; read line"]
        p = subprocess.Popen(argv, env=self.box.env(env), cwd=project, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            snapshot = None
            deadline = time.monotonic() + 60
            while snapshot is None and p.poll() is None and time.monotonic() < deadline:
                for s in self.box.sessions():
                    if os.path.exists(os.path.join(s, "snapshot", "w.txt")):
                        snapshot = os.path.join(s, "snapshot")
                time.sleep(0.05)
            if snapshot is not None:
                # Each own directory is in the copy as an empty directory (the mask's mount
                # point), whatever it holds on the host.
                for d in self.own_dirs():
                    rel = os.path.relpath(os.path.realpath(d), os.path.realpath(project))
                    if rel.startswith(".."):
                        continue
                    self.assertEqual(os.listdir(os.path.join(snapshot, rel)), [],
                                     "the copy holds agentbox's own %s" % d)
            out, err = p.communicate(b"\n", timeout=120)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
        self.assertIsNotNone(snapshot, "the copy never held the command's write")
        return self.box.sessions()[-1]

    def check_commit(self, project, session, env=None):
        # Staged: the write alone, nothing of (or under) the own directories.
        self.assertEqual(self.staged_paths(session), ["w.txt"])
        diff = self.host_run([AGENTBOX, "diff", "--name-status", "-C", project],
                             env=self.box.env(env), cwd=project)
        self.assertEqual(diff.rc, 0, diff)
        self.assertEqual(diff.out.split(), ["A", "w.txt"], diff)
        before = {d: self.tree(d) for d in self.own_dirs()}
        for tree in before.values():
            self.assertIn(os.path.join("planted", "keep.txt"), tree)
        res = self.host_run([AGENTBOX, "commit", "-C", project], env=self.box.env(env),
                            cwd=project)
        self.assertEqual(res.rc, 0, res)
        with open(os.path.join(project, "w.txt")) as f:
            self.assertEqual(f.read(), "staged\n")
        # The commit changed nothing of agentbox's own but the committed session's record.
        sessions = os.path.join("sessions", os.path.basename(session))
        for d, tree in before.items():
            after = self.tree(d)
            for t in (tree, after):
                for k in [k for k in t if k == sessions or k.startswith(sessions + os.sep)
                          or k.startswith("session-index")]:
                    del t[k]
            self.assertEqual(after, tree, "the commit changed %s" % d)

    def test_bwrap_copy_of_home_as_project_leaves_the_session_store_out(self):
        home = self.box.home
        res = self.box.run(None, argv=[AGENTBOX, "run", "--on-exit", "keep", "-q", "-C", home,
                                       "--backend", "bwrap", "--", "true"], cwd=home)
        self.assertRc(res, 0)
        session = self.run_write(home)
        self.check_commit(home, session)

    def test_bwrap_copy_renaming_the_stores_parent_away_stages_no_deletion_of_it(self):
        # A mount point moves with its parent: `mv .local .l2` succeeds in the copy (under an
        # overlay it fails, EXDEV). Staged as .local's deletion, or as a file replacing it,
        # a commit would delete agentbox's state.
        home = self.box.home
        argv = [AGENTBOX, "run", "--on-exit", "keep", "-q", "-C", home, "--backend", "bwrap",
                "--", "sh", "-c", "mv .local .l2 && echo file > .local"]
        res = self.box.run(None, argv=argv, cwd=home)
        self.assertRc(res, 0)
        diff = self.host_run([AGENTBOX, "diff", "--name-status", "-C", home], cwd=home)
        self.assertEqual(diff.rc, 0, diff)
        self.assertFalse([line for line in diff.out.splitlines()
                          if line.split("\t")[-1].startswith(".local")], diff)
        store = self.own_dirs()[0]
        sessions = os.listdir(os.path.join(store, "sessions"))
        res = self.host_run([AGENTBOX, "commit", "--force", "-C", home], cwd=home)
        self.assertEqual(res.rc, 0, res)
        for s in sessions:
            self.assertTrue(os.path.isfile(os.path.join(store, "sessions", s, "meta.json")), res)
        self.assertTrue(os.path.isdir(os.path.join(home, ".local", "state", "agentbox")))

    def test_bwrap_copy_of_project_holding_xdg_state_home_leaves_it_out(self):
        # The state directory inside the project, named through a symlink outside it: what
        # decides is the directory, not the path.
        real = os.path.join(self.box.project, ".state")
        os.makedirs(real)
        link = os.path.join(self.box.outside, "state-link")
        os.symlink(real, link)
        self.box.state = link
        env = {"XDG_STATE_HOME": link}
        session = self.run_write(self.box.project, env)
        self.check_commit(self.box.project, session, env)

    def test_bwrap_dry_run_cost_leaves_own_dirs_out(self):
        if bwrap_has_overlay():
            self.skipTest("this bubblewrap has --overlay: nothing is copied")
        home = self.box.home
        for d in self.own_dirs():
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "big.bin"), "wb") as f:
                f.write(b"x" * 12345)
        own = {os.path.realpath(d) for d in self.own_dirs()}
        files = size = 0
        for root, dirs, names in os.walk(home):
            dirs[:] = [n for n in dirs if os.path.realpath(os.path.join(root, n)) not in own]
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    files += 1
                    size += os.lstat(p).st_size
        res = self.box.run(None, argv=[AGENTBOX, "run", "-q", "-C", home, "--backend", "bwrap",
                                       "--dry-run", "--json", "--", "true"], cwd=home)
        self.assertRc(res, 0)
        notes = [n for n in json.loads(res.out)["notes"] if "staging by copy" in n]
        self.assertEqual(len(notes), 1, notes)
        self.assertIn("now %d files of %d bytes" % (files, size), notes[0])


def bwrap_has_overlay():
    """What agentbox asks of /usr/bin/bwrap: --overlay-src and --overlay in its help."""
    try:
        out = subprocess.run(["/usr/bin/bwrap", "--help"], capture_output=True,
                             text=True).stdout
    except OSError:
        return False
    opts = {line.split()[0] for line in out.splitlines() if line.strip()}
    return "--overlay-src" in opts and "--overlay" in opts


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


class DelegatedCgroup(BoxTest):
    """Issue 19, unprivileged limits: the ci profile's memory and pids limits need a cgroup.
    Where there is none agentbox refuses (125), naming each limit once and the way to get one;
    inside a cgroup v2 subtree delegated to the user it uses that subtree."""

    def test_unprivileged_limits_are_refused_once_each_naming_the_fix(self):
        res = self.box.run(["true"], profiles=["ci"])
        if res.rc == 0:
            self.skipTest("this host gives agentbox a cgroup for the limits: %s" % res.err)
        self.assertRc(res, abtest.EXIT_SETUP)
        self.assertEqual(1, res.err.count("limits.memory"), res.err)
        self.assertEqual(1, res.err.count("limits.pids"), res.err)
        self.assertIn("Delegate=yes", res.err)

    def test_run_inside_a_cgroup_delegated_to_the_user(self):
        """The subtree a `systemd-run --user --scope -p Delegate=yes` would give, made by hand:
        a cgroup v2 directory owned by the user, agentbox started inside it."""
        import pwd
        import shutil
        if not abtest.IS_ROOT:
            self.skipTest("making a delegated cgroup needs root")
        mount = cgroup2_mount()
        if mount is None:
            self.skipTest("no cgroup v2 hierarchy")
        nobody = pwd.getpwnam("nobody")
        d = os.path.join(mount, "agentbox-test-%s" % os.urandom(4).hex())
        os.mkdir(d)

        def remove():
            for root, dirs, _ in os.walk(d, topdown=False):
                for x in dirs:
                    os.rmdir(os.path.join(root, x))
            os.rmdir(d)
        self.addCleanup(remove)
        for f in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            os.chown(os.path.join(d, f), nobody.pw_uid, nobody.pw_gid)
        home = os.path.join(self.box.root, "nobody-home")
        project = os.path.join(home, "proj")
        os.makedirs(project)
        shutil.chown(home, nobody.pw_uid, nobody.pw_gid)
        shutil.chown(project, nobody.pw_uid, nobody.pw_gid)
        env = "env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=%s LANG=C.UTF-8" % home

        def as_user(cmd):
            # The user's shell is moved in by root (moving needs write access to the cgroup
            # both have in common, the root here), as systemd does for a scope.
            script = 'echo $$; read go; cd %s && exec %s %s </dev/null' % (project, env, cmd)
            p = subprocess.Popen(["runuser", "-u", "nobody", "--", "sh", "-c", script],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            pid = p.stdout.readline().strip()
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(pid)
            out, err = p.communicate("go\n", timeout=120)
            return subprocess.CompletedProcess(cmd, p.returncode, out, err)
        with open(os.path.join(mount, "cgroup.controllers")) as f:
            available = f.read().split()
        res = as_user("%s run -q -p ci -- cat /proc/self/cgroup" % AGENTBOX)
        doctor = as_user("%s doctor --json" % AGENTBOX)
        self.assertEqual(0, doctor.returncode, doctor.stderr)
        row = {r["name"]: r for r in json.loads(doctor.stdout)}["cgroup v2 delegation"]
        if "memory" in available and "pids" in available:
            self.assertEqual(0, res.returncode, res.stderr)
            self.assertTrue(row["ok"], row)
            with open(os.path.join(d, "cgroup.subtree_control")) as f:
                self.assertLessEqual({"memory", "pids"}, set(f.read().split()))
            self.assertIn(os.path.basename(d) + "/agentbox-", res.stdout)
        else:
            # A hybrid host (memory and pids on cgroup v1): the subtree cannot have them, and
            # both the refusal and doctor say what would.
            self.assertEqual(abtest.EXIT_SETUP, res.returncode, res.stderr)
            self.assertEqual(1, res.stderr.count("limits.memory"), res.stderr)
            self.assertEqual(1, res.stderr.count("limits.pids"), res.stderr)
            self.assertIn("Delegate=yes", res.stderr)
            self.assertFalse(row["ok"], row)
            self.assertIn("Delegate=yes", row["fix"])


if __name__ == "__main__":
    abtest.main()
