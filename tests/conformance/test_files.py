#!/usr/bin/python3
"""Conformance: files (THREATS.md "Files").

Secrets are planted in a temp HOME (see abtest.Box); every run's stdout and stderr is checked
for their content. Cases that grant part of HOME do so through a profile that also plants a
harmless visible file, and assert that file IS read: so a green result means the deny rule
masked the secret, not that the grant silently failed.
"""

import errno
import hashlib
import os
import re
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import IS_ROOT, BoxTest, probe, read_until, token, tree_snapshot  # noqa: E402

HOME_READABLE = """version = 1
name = "home-readable"
description = "default, plus the home directory read-only (its secrets still denied)"
extends = ["default"]

[filesystem]
read = ["~"]
"""


class Secrets(BoxTest):
    def home_readable(self):
        """A profile granting ~ read-only, and a file in ~ that it must then show."""
        visible = token("visible").replace("CANARY", "VISIBLE")
        with open(os.path.join(self.box.home, "visible.txt"), "w") as f:
            f.write(visible + "\n")
        return self.box.write_profile("home-readable", HOME_READABLE), visible

    def read_secret(self, kind):
        rel = self.box.secret_path(kind)
        host_path = os.path.join(self.box.home, rel)
        script = ('cat ~/%s; cat %s; ls -la ~/%s %s; cat ~/visible.txt; echo end'
                  % (rel, host_path, os.path.dirname(rel) or ".", os.path.dirname(host_path)))
        # The default profile: HOME is an empty tmpfs.
        res = self.box.run(["sh", "-c", script])
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        # HOME granted read-only: the deny rules of the base profile must mask the secret.
        prof, visible = self.home_readable()
        res = self.box.run(["sh", "-c", script], profiles=[prof])
        self.assertSandboxRan(res)
        self.assertIn(visible, res.out, "the home-readable profile did not expose ~ at all, so"
                      " this case would prove nothing\n%s" % res)
        # Host side: the secret is intact (a mask must never truncate the real file).
        with open(host_path) as f:
            self.assertIn(self.box.canaries[kind], f.read())

    def test_read_ssh_key(self):
        self.read_secret("ssh")

    def test_read_aws_credentials(self):
        self.read_secret("aws")

    def test_read_gh_token(self):
        self.read_secret("gh")

    def test_read_netrc(self):
        self.read_secret("netrc")

    def test_probe_works_without_sandbox_read_ssh_key(self):
        res = self.host_run(self.unshare_argv(["cat", os.path.join(self.box.home, ".ssh/id_rsa")]))
        self.assertIn(self.box.canaries["ssh"], res.out, res)

    def test_plant_seccomp_filter_in_cache(self):
        # A profile that grants a whole cache directory must still not expose agentbox's own
        # cache there: a filter planted in it would be loaded, unchecked, by the next run.
        cache = self.box.cache
        planted = os.path.join(cache, "agentbox", "seccomp", "planted")
        script = ("echo ok > %s/granted; mkdir -p %s/agentbox/seccomp;"
                  " echo x > %s; echo rc=$?; echo end") % (cache, cache, planted)
        res = self.box.run(["sh", "-c", script], args=["--rw", cache])
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        self.assertTrue(os.path.exists(os.path.join(cache, "granted")),
                        "the --rw grant did not work: this case would prove nothing\n%s" % res)
        self.assertFalse(os.path.exists(planted), "a file was planted in agentbox's cache\n%s"
                         % res)

    def test_read_agentbox_state(self):
        # A first run leaves a session whose metadata records its argv; a profile in the config
        # dir carries another canary.
        state_canary = token("state")
        self.box.canaries["state"] = state_canary
        first = self.box.run(["true", state_canary], check_canaries=False)
        self.assertEqual(first.rc, 0, first)
        self.assertTrue(self.box.sessions(), "the first run left no session")
        session_files = "".join(open(os.path.join(d, f), errors="replace").read()
                                for d in self.box.sessions() for f in os.listdir(d)
                                if os.path.isfile(os.path.join(d, f)))
        self.assertIn(state_canary, session_files, "the session does not record argv: this"
                      " case would prove nothing")
        config_canary = token("config")
        self.box.canaries["config"] = config_canary
        cfg = os.path.join(self.box.config, "agentbox", "profiles")
        os.makedirs(cfg, exist_ok=True)
        with open(os.path.join(cfg, "mine.toml"), "w") as f:
            f.write("# %s\nversion = 1\nname = \"mine\"\n" % config_canary)
        state = os.path.join(self.box.state, "agentbox")
        script = ("ls -laR %s %s/agentbox; cat %s/sessions/*/* %s/agentbox/profiles/*;"
                  " grep -rs CANARY- ~ /tmp; echo end") % (state, self.box.config, state,
                                                          self.box.config)
        prof, visible = self.home_readable()
        for profiles in ([], [prof]):
            res = self.box.run(["sh", "-c", script], profiles=profiles)
            self.assertSandboxRan(res)
            self.assertIn("end", res.out, res)

    def test_environment_secrets_filtered(self):
        secrets_env = {name: token(name) for name in
                       ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY",
                        "OPENAI_API_KEY", "NPM_TOKEN", "AWS_ACCESS_KEY_ID")}
        self.box.canaries.update(secrets_env)
        script = ("env; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null;"
                  " echo end")
        res = self.box.run(["sh", "-c", script], env=secrets_env)
        self.assertRc(res, 0)
        self.assertRegex(res.out, r"(?m)^PATH=", "PATH must be passed\n%s" % res)
        for name in secrets_env:
            self.assertNotRegex(res.out, r"(?m)^%s=" % name, res)
        # Host side: values are never logged, only names (DESIGN.md §7).
        for d in self.box.sessions():
            for dirpath, _, files in os.walk(d):
                if os.path.basename(dirpath) in ("upper", "work"):
                    continue
                for fn in files:
                    with open(os.path.join(dirpath, fn), "rb") as f:
                        data = f.read()
                    for name, value in secrets_env.items():
                        self.assertNotIn(value.encode(), data, "%s's value is in %s" % (
                            name, os.path.join(dirpath, fn)))


class HostProc(BoxTest):
    SCRIPT = ("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null;"
              " echo procs=$(ls -d /proc/[0-9]* | wc -l); echo pid1=$(cat /proc/1/comm)")

    def host_sleeper(self):
        argv, marker = abtest.sleeper()
        p = subprocess.Popen(argv)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        return p, marker

    def test_read_env_file_added_after_the_project_walk_was_cached(self):
        # The default profile hides @project/**/.env; a big project's walk for it is cached by
        # directory ctime. A .env that appears later, in a directory the cache knew or in a new
        # one, must still be hidden.
        p = self.box.project
        for i in range(80):
            os.makedirs(os.path.join(p, "pkg", "d%02d" % i))
        time.sleep(2.2)  # older than the two seconds a directory must be to be remembered
        first = self.box.run(["true"])
        self.assertEqual(first.rc, 0, first)
        walks = os.path.join(self.box.cache, "agentbox", "walk")
        self.assertTrue(os.path.isdir(walks) and os.listdir(walks),
                        "the run cached no walk: this case would prove nothing")
        value = token("dotenv")
        self.box.canaries["dotenv"] = value
        for rel in ("pkg/d37/.env", "pkg/new/.env"):
            os.makedirs(os.path.dirname(os.path.join(p, rel)), exist_ok=True)
            with open(os.path.join(p, rel), "w") as f:
                f.write("TOKEN=%s\n" % value)
        res = self.box.run(["sh", "-c", "cat pkg/d37/.env pkg/new/.env; ls pkg/d37; echo end"])
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)

    def test_read_host_proc(self):
        p, marker = self.host_sleeper()
        res = self.box.run(["sh", "-c", self.SCRIPT + "; ls /proc/%d" % p.pid])
        self.assertSandboxRan(res)
        self.assertNotIn(marker, res.out, "a host process is visible in /proc\n%s" % res)
        procs = int(re.search(r"^procs=(\d+)$", res.out, re.M).group(1))
        self.assertLess(procs, 20, "too many processes visible: host /proc?\n%s" % res)
        pid1 = re.search(r"^pid1=(.*)$", res.out, re.M).group(1)
        self.assertIn("agentbox", pid1, "/proc/1 is not agentbox's init\n%s" % res)

    def test_probe_works_without_sandbox_host_proc(self):
        p, marker = self.host_sleeper()
        res = self.host_run(["sh", "-c", self.SCRIPT])
        self.assertIn(marker, res.out, res)


class Writes(BoxTest):
    def test_write_outside_granted_paths(self):
        name = "abtest-write-%s" % os.urandom(6).hex()
        targets = ["/usr/" + name, "/etc/" + name, "/tmp/" + name, "/var/tmp/" + name,
                   "/" + name, "/dev/shm/" + name, os.path.join(self.box.root, name),
                   os.path.join(self.box.home, name), os.path.join(self.box.outside, name)]
        for t in targets:
            self.addCleanup(lambda t=t: os.path.exists(t) and os.unlink(t))
        home_before = tree_snapshot(self.box.home)
        script = "; ".join("echo x > %s 2>/dev/null && echo wrote %s" % (t, t) for t in targets)
        res = self.box.run(["sh", "-c", script + "; echo x > ~/%s; echo end" % name])
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        for t in targets:
            self.assertFalse(os.path.lexists(t), "the sandbox created %s on the host\n%s" % (t, res))
        # /usr and /etc are the host's own, bound read-only: even the sandbox's view must not
        # change (the others may be private tmpfs copies, checked on the host above).
        for wrote in re.findall(r"wrote (\S+)", res.out):
            self.assertFalse(wrote.startswith(("/usr/", "/etc/")),
                             "a write to %s succeeded inside the sandbox\n%s" % (wrote, res))
        after = {k: v for k, v in tree_snapshot(self.box.home).items()
                 if not k.startswith((".local/state", ".cache"))}
        before = {k: v for k, v in home_before.items()
                  if not k.startswith((".local/state", ".cache"))}
        self.assertEqual(after, before, "the host HOME changed")

    def test_write_project_is_staged(self):
        proj = self.box.project
        for n, text in (("a.txt", "original\n"), ("c.txt", "to delete\n")):
            with open(os.path.join(proj, n), "w") as f:
                f.write(text)
        before = tree_snapshot(proj)
        res = self.box.run(["sh", "-c", "echo changed > a.txt; echo new > b.txt; rm c.txt;"
                            " mkdir d; echo deep > d/e.txt; cat a.txt b.txt"])
        self.assertRc(res, 0)
        self.assertEqual(res.out, "changed\nnew\n", res)
        self.assertEqual(tree_snapshot(proj), before, "the project changed on the host before"
                         " any commit")
        upper = self.box.upper()
        with open(os.path.join(upper, "a.txt")) as f:
            self.assertEqual(f.read(), "changed\n")
        with open(os.path.join(upper, "b.txt")) as f:
            self.assertEqual(f.read(), "new\n")
        with open(os.path.join(upper, "d", "e.txt")) as f:
            self.assertEqual(f.read(), "deep\n")
        # The form the session's staging says: a 0/0 device, or copy staging's marked file.
        problem = abtest.whiteout_problem(os.path.dirname(upper), "c.txt")
        self.assertEqual(problem, "", "c.txt's deletion is not a whiteout: %s" % problem)

    def test_reopen_launcher_via_proc_self_exe(self):
        with open(abtest.AGENTBOX, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        st = os.stat(abtest.AGENTBOX)
        res = self.box.run([probe("procexe"), "1"])
        self.assertRc(res, 0)
        self.assertNotRegex(res.out, r"(open_wronly|reopen_wronly): ok",
                            "a writable handle on pid 1's binary\n%s" % res)
        self.assertRegex(res.out, r"open_wronly: errno=", res)
        with open(abtest.AGENTBOX, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)
        self.assertEqual(os.stat(abtest.AGENTBOX).st_mtime_ns, st.st_mtime_ns)


class Descriptors(BoxTest):
    def test_inherited_fd_leak(self):
        secret = os.open(os.path.join(self.box.home, ".ssh/id_rsa"), os.O_RDONLY)
        home_dir = os.open(self.box.home, os.O_RDONLY | os.O_DIRECTORY)
        root_dir = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
        fds = (secret, home_dir, root_dir)
        for fd in fds:
            self.addCleanup(os.close, fd)
        script = ("%s; cat /proc/self/fd/%d; cat <&%d; ls -la /proc/self/fd/%d/.ssh;"
                  " cat /proc/self/fd/%d/.ssh/id_rsa; ls /proc/self/fd/%d/%s; echo end") % (
                      probe("fds"), secret, secret, home_dir, home_dir, root_dir,
                      self.box.home.lstrip("/"))
        res = self.box.run(["sh", "-c", script], pass_fds=fds)
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        listed = re.findall(r"^fd (\d+) -> (.*)$", res.out, re.M)
        self.assertTrue(listed, res)
        extra = [(fd, target) for fd, target in listed if int(fd) > 2]
        self.assertEqual(extra, [], "descriptors leaked into the sandbox\n%s" % res)

    def test_cwd_outside_sandbox(self):
        # agentbox started from a directory the profile does not grant (runc CVE-2024-21626:
        # a cwd left pointing at the host's tree).
        script = ("readlink /proc/self/cwd; pwd; ls -la; cat .ssh/id_rsa; cat ../home/.ssh/id_rsa;"
                  " ls -la ..; echo end")
        res = self.box.run(["sh", "-c", script], cwd=self.box.home)
        if res.rc == abtest.EXIT_SETUP:
            self.assertTrue(res.err.strip(), "refused without saying why\n%s" % res)
            return
        self.assertRc(res, 0)
        self.assertIn("end", res.out, res)
        cwd = res.out.splitlines()[0]
        self.assertFalse(cwd.startswith("(unreachable)"), "the command's cwd is outside its"
                         " root\n%s" % res)


class PlantedSymlinks(BoxTest):
    """runc CVE-2021-30465: a path the launcher mounts on is a symlink the sandbox planted in a
    previous run. Mounts and masks must never follow it out."""

    def setUp(self):
        super().setUp()
        self.victim = os.path.join(self.box.outside, "victim")
        os.makedirs(self.victim)
        with open(os.path.join(self.victim, "keep"), "w") as f:
            f.write("host data\n")

    def test_symlink_planted_at_mask_target(self):
        rw = os.path.join(self.box.outside, "rw")
        os.makedirs(rw)
        os.symlink(self.victim, os.path.join(rw, "cache"))
        os.symlink(os.path.join(self.box.home, ".netrc"), os.path.join(self.box.project, ".env"))
        os.makedirs(os.path.join(self.box.project, ".git"))
        os.symlink(self.victim, os.path.join(self.box.project, ".git", "hooks"))
        prof = self.box.write_profile("planted", """version = 1
name = "planted"
extends = ["default"]
[filesystem]
read = ["~"]
write = ["%(rw)s"]
deny = ["@project/.env", "@project/.git/hooks", "%(rw)s/cache/secret"]
tmpfs = ["%(rw)s/cache/sub"]
""" % {"rw": rw})
        victim_before = tree_snapshot(self.box.outside)
        home_before = tree_snapshot(self.box.home)
        res = self.box.run(["sh", "-c", "cat .env; ls -la .git/hooks/ %s/cache/; cat %s/cache/keep;"
                            " echo end" % (rw, rw)], profiles=[prof])
        self.assertRefusedNamingOrRan(res, (rw, self.box.project))
        self.assertEqual(tree_snapshot(self.box.outside), victim_before,
                         "a mount or mask followed a planted symlink and changed the host\n%s"
                         % res)
        strip = lambda s: {k: v for k, v in s.items() if not k.startswith((".local", ".cache"))}
        self.assertEqual(strip(tree_snapshot(self.box.home)), strip(home_before), res)

    def test_symlink_planted_at_bind_source(self):
        # The project (the attacker's) turns a path the profile grants into a link to ~/.ssh.
        os.symlink(os.path.join(self.box.home, ".ssh"), os.path.join(self.box.project, "docs"))
        prof = self.box.write_profile("docs", """version = 1
name = "docs"
extends = ["default"]
[filesystem]
read = ["@project/docs"]
""")
        res = self.box.run(["sh", "-c", "ls -la docs/; cat docs/id_rsa; echo end"],
                           profiles=[prof])
        docs = os.path.join(self.box.project, "docs")
        self.assertRefusedNamingOrRan(res, (docs,))
        res = self.box.run(["sh", "-c", "cat docs/id_rsa; echo end"], args=["--ro", docs])
        self.assertRefusedNamingOrRan(res, (docs,))

    def assertRefusedNamingOrRan(self, res, paths):
        """Either agentbox refused (125) naming the planted path, or the command ran."""
        if res.rc == abtest.EXIT_SETUP:
            self.assertTrue(any(p in res.err for p in paths),
                            "refused, but not because of the planted symlink\n%s" % res)
        else:
            self.assertRc(res, 0)
            self.assertIn("end", res.out, res)


class UnixSockets(BoxTest):
    def listener(self, address):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(address)
        s.listen(8)
        s.setblocking(False)
        if isinstance(address, str):
            self.addCleanup(lambda: os.path.exists(address) and os.unlink(address))
        return s

    def assertNeverContacted(self, s, what):
        try:
            conn, _ = s.accept()
        except BlockingIOError:
            return
        data = conn.recv(100)
        conn.close()
        self.fail("the host's %s was reached from inside (got %r)" % (what, data))

    def test_host_unix_socket_docker(self):
        name = "agentbox-test-%s" % os.urandom(6).hex()
        abstract = self.listener("\0" + name)
        agent_path = os.path.join(self.box.outside, "agent.sock")
        agent = self.listener(agent_path)
        attempts = ["abstract,%s,MARK" % name, "unix,%s,MARK" % agent_path]
        run_sock = None
        run_dir = "/run" if IS_ROOT else "/run/user/%d" % os.getuid()
        if os.access(run_dir, os.W_OK):
            run_path = os.path.join(run_dir, name + ".sock")  # where docker.sock would be
            run_sock = self.listener(run_path)
            attempts.append("unix,%s,MARK" % run_path)
        res = self.box.run([probe("net")] + attempts, env={"SSH_AUTH_SOCK": agent_path})
        self.assertRc(res, 0)
        self.assertNotRegex(res.out, r"(abstract|unix): ok", res)
        self.assertEqual(len(re.findall(r"(abstract|unix): errno=", res.out)), len(attempts), res)
        self.assertNeverContacted(abstract, "abstract unix socket @" + name)
        self.assertNeverContacted(agent, "ssh-agent socket")
        if run_sock:
            self.assertNeverContacted(run_sock, "socket in " + run_dir)

    def test_serve_host_clients_from_socket_in_writable_dir(self):
        """Issue 18 #8: a socket the command binds in a --rw directory would serve host
        clients; Landlock keeps socket creation to the sandbox's own places."""
        rw = os.path.join(self.box.outside, "rw")
        os.makedirs(rw)
        path = os.path.join(rw, "serve.sock")
        script = ("import socket,sys\n"
                  "for p in sys.argv[1:]:\n"
                  "    s=socket.socket(socket.AF_UNIX)\n"
                  "    try:\n        s.bind(p); print('bound', p)\n"
                  "    except OSError as e:\n        print('refused', p, e.errno)\n")
        own = os.path.join(self.box.home, "own.sock")  # on the sandbox's empty home tmpfs
        res = self.box.run(["python3", "-c", script, path, own], args=["--rw", rw], probes=False)
        self.assertRc(res, 0)
        self.assertIn("bound " + own, res.out, "no socket at all can be made\n%s" % res)
        self.assertNotIn("bound " + path, res.out, res)
        self.assertFalse(os.path.exists(path), res)

    def test_probe_works_without_sandbox_unix_socket(self):
        name = "agentbox-test-%s" % os.urandom(6).hex()
        abstract = self.listener("\0" + name)
        res = self.host_run([probe("net"), "abstract,%s,MARK" % name])
        self.assertRegex(res.out, "abstract: ok", res)
        conn, _ = abstract.accept()
        conn.close()


class DotfileHome(BoxTest):
    """Issue 18: a home managed by a dotfile tool (stow, chezmoi, yadm...): ~/.ssh and
    ~/.config are symlinks into ~/dotfiles. Rules must hold on what the kernel resolves, and
    `agentbox explain` must give the answer the run gives."""

    def setUp(self):
        super().setUp()
        home = self.box.home
        self.dotfiles = os.path.join(home, "dotfiles")
        os.makedirs(self.dotfiles)
        for name in ("ssh", "config"):
            os.rename(os.path.join(home, "." + name), os.path.join(self.dotfiles, name))
            os.symlink(os.path.join("dotfiles", name), os.path.join(home, "." + name))
        # agentbox's own XDG dirs stay real directories: the Box points XDG_* at them.
        os.makedirs(self.box.config, exist_ok=True)
        self.visible = token("visible").replace("CANARY", "VISIBLE")
        with open(os.path.join(self.dotfiles, "README"), "w") as f:
            f.write(self.visible + "\n")
        self.key = os.path.join(self.dotfiles, "ssh", "id_rsa")

    def profile(self, name, body):
        return self.box.write_profile(name, 'version = 1\nname = "%s"\nextends = ["default"]\n'
                                      "[filesystem]\n%s\n" % (name, body))

    def explain(self, op, target, profiles=()):
        argv = [abtest.AGENTBOX, "explain", "-C", self.box.project]
        for p in profiles:
            argv += ["-p", p]
        p = subprocess.run(argv + [op, target], capture_output=True, env=self.box.env(),
                           cwd=self.box.project, timeout=60)
        self.assertIn(p.returncode, (0, 1, 3), "explain failed: %r" % (p.stderr,))
        return p.returncode, p.stdout.decode(errors="replace")

    def run_sh(self, script, profiles=()):
        return self.box.run(["sh", "-c", script], profiles=profiles, probes=False)

    def test_deny_follows_symlink_read_key_through_dotfiles(self):
        prof = self.profile("dotfiles", 'read = ["~/dotfiles"]')
        res = self.run_sh("cat %s; cat %s/README; echo end" % (self.key, self.dotfiles), [prof])
        self.assertSandboxRan(res)
        self.assertIn(self.visible, res.out, "the grant of ~/dotfiles did not work\n%s" % res)
        rc, out = self.explain("read", self.key, [prof])
        self.assertEqual(rc, 1, "explain allows what the deny of ~/.ssh covers\n" + out)

    def test_masked_symlink_does_not_break_the_run(self):
        # ~ read-only: the base profile's denies of ~/.ssh and ~/.config/gh are symlinks, or
        # below one; masking them must neither fail the run (ELOOP) nor expose them.
        prof = self.profile("home", 'read = ["~"]')
        res = self.run_sh("cat ~/.ssh/id_rsa %s ~/.config/gh/hosts.yml; cat ~/dotfiles/README;"
                          " echo end" % self.key, [prof])
        self.assertRc(res, 0)
        self.assertIn(self.visible, res.out, res)
        with open(self.key) as f:
            self.assertIn(self.box.canaries["ssh"], f.read())

    def test_grant_through_symlink_in_the_middle_writes_ssh_config(self):
        ssh = os.path.join(self.dotfiles, "ssh")
        os.makedirs(os.path.join(ssh, "config.d"))
        work = os.path.join(self.box.home, "work")
        os.makedirs(work)
        os.symlink("../.ssh", os.path.join(work, "ssh-link"))
        target = os.path.join(work, "ssh-link", "config.d")
        prof = self.profile("middle", 'write = ["%s"]' % target)
        evil = os.path.join(target, "evil.conf")
        res = self.run_sh("echo 'Host *' > %s; cat %s/id_rsa; echo end" % (evil, target), [prof])
        self.assertNotEqual(res.rc, abtest.EXIT_SETUP, res)
        self.assertFalse(os.path.exists(os.path.join(ssh, "config.d", "evil.conf")),
                         "the command wrote into ~/.ssh through a grant\n%s" % res)
        rc, out = self.explain("write", evil, [prof])
        self.assertEqual(rc, 1, out)

    def test_write_grant_symlink_inside_write_grant(self):
        victim = os.path.join(self.box.outside, "victim")
        os.makedirs(victim)
        rw = os.path.join(self.box.outside, "rw")
        os.makedirs(rw)
        os.symlink(victim, os.path.join(rw, "evil"))
        prof = self.profile("nested", 'write = ["%s", "%s/evil"]' % (rw, rw))
        res = self.run_sh("echo x > %s/evil/planted; echo ok > %s/mine; echo end" % (rw, rw),
                          [prof])
        self.assertRc(res, 0)
        self.assertIn("end", res.out)
        self.assertEqual(os.listdir(victim), [], "a write grant followed a planted link\n%s" % res)
        with open(os.path.join(rw, "mine")) as f:
            self.assertEqual(f.read(), "ok\n")

    def test_explain_agrees_with_run_in_a_dotfile_home(self):
        """Every verdict `explain` gives for these paths is what the run does."""
        ssh = os.path.join(self.dotfiles, "ssh")
        os.makedirs(os.path.join(ssh, "config.d"))
        work = os.path.join(self.box.home, "work")
        os.makedirs(work)
        os.symlink("../.ssh", os.path.join(work, "ssh-link"))
        os.makedirs(os.path.join(self.dotfiles, "config", "nvim"))
        with open(os.path.join(self.dotfiles, "config", "nvim", "init.lua"), "w") as f:
            f.write("-- nvim\n")
        prof = self.profile("agree", 'read = ["~/dotfiles", "~/.config/nvim"]\n'
                            'write = ["%s/ssh-link/config.d", "~/work"]' % work)
        home = self.box.home
        reads = [self.key, os.path.join(home, ".ssh/id_rsa"), self.dotfiles + "/README",
                 os.path.join(home, ".config/nvim/init.lua"),
                 os.path.join(home, ".config/gh/hosts.yml"),
                 os.path.join(self.dotfiles, "config/gh/hosts.yml")]
        writes = [os.path.join(work, "ssh-link/config.d/evil.conf"),
                  os.path.join(work, "plain.txt"), os.path.join(self.dotfiles, "new.txt")]
        script = ["for f in %s; do if cat \"$f\" >/dev/null 2>&1; then echo \"R1 $f\"; else"
                  " echo \"R0 $f\"; fi; done" % " ".join(reads),
                  "for f in %s; do if (echo x > \"$f\") 2>/dev/null; then echo \"W1 $f\"; else"
                  " echo \"W0 $f\"; fi; done" % " ".join(writes)]
        res = self.run_sh("; ".join(script), [prof])
        self.assertRc(res, 0)
        got = dict((line[3:], line[:2]) for line in res.out.splitlines() if line[:1] in "RW")
        for op, paths, tag in (("read", reads, "R"), ("write", writes, "W")):
            for p in paths:
                rc, out = self.explain(op, p, [prof])
                self.assertEqual(got.get(p), tag + ("1" if rc == 0 else "0"),
                                 "explain %s %s says %s, the run did otherwise\n%s\n%s"
                                 % (op, p, out.split()[0], out, res))


class OtherWritableRoots(BoxTest):
    """Issue 18 #6: a second writable root is written directly, not staged; its persistence
    paths must not be writable."""

    def test_write_git_hooks_and_config_of_another_writable_repo(self):
        repo = os.path.join(self.box.outside, "other-repo")
        os.makedirs(os.path.join(repo, ".git", "hooks"))
        with open(os.path.join(repo, ".git", "config"), "w") as f:
            f.write("[core]\n")
        before = tree_snapshot(os.path.join(repo, ".git"))
        script = ("echo evil > {r}/.git/hooks/pre-commit; echo '[core] fsmonitor=evil' >> "
                  "{r}/.git/config; mv {r}/.git {r}/.git-old && mkdir {r}/.git && echo evil >"
                  " {r}/.git/config; echo work > {r}/file.txt; echo end").format(r=repo)
        res = self.box.run(["sh", "-c", script], args=["--rw", repo], probes=False)
        self.assertSandboxRan(res)
        self.assertIn("end", res.out)
        self.assertEqual(tree_snapshot(os.path.join(repo, ".git")), before,
                         "the command changed .git of another writable root\n%s" % res)
        self.assertFalse(os.path.exists(os.path.join(repo, ".git-old")), res)
        with open(os.path.join(repo, "file.txt")) as f:
            self.assertEqual(f.read(), "work\n", "the writable root itself is not writable")

    def test_rename_parent_of_denied_file_in_writable_root_to_plant_it(self):
        # A mask is a mount point, which rename(2) refuses; its parents are not. Moving the
        # parent (or the grandparent) away takes the mask with it, and what the command then
        # makes at the denied path lands on the host, where the host's tools read it.
        work = os.path.join(self.box.outside, "work")
        key = os.path.join(work, "app", "config", "deploy.key")
        os.makedirs(os.path.dirname(key))
        value = token("deploykey")
        self.box.canaries["deploykey"] = value
        with open(key, "w") as f:
            f.write(value + "\n")
        prof = self.box.write_profile("deploykey", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\nwrite = ["%s"]\ndeny = ["%s"]\n' % (work, key))
        before = tree_snapshot(work)
        script = ("cd {w}; for d in app/config app; do mv $d $d.moved; echo \"mv $d=$?\"; "
                  "mkdir -p app/config; echo planted > app/config/deploy.key; "
                  "echo \"plant $d=$?\"; done; cat app/config.moved/deploy.key "
                  "app.moved/config/deploy.key; echo work > other.txt; echo end").format(w=work)
        res = self.box.run(["sh", "-c", script], profiles=[prof], probes=False)
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        with open(os.path.join(work, "other.txt")) as f:
            self.assertEqual(f.read(), "work\n", "the writable root itself is not writable")
        os.unlink(os.path.join(work, "other.txt"))
        self.assertEqual(tree_snapshot(work), before,
                         "the command moved a denied file's directory and planted its own\n%s"
                         % res)

    def test_rename_parent_of_read_only_path_in_writable_root_to_replace_it(self):
        # The same move with a read-only carve-out: the command's own directory then stands
        # on the host where the profile said read-only.
        work = os.path.join(self.box.outside, "work")
        settings = os.path.join(work, "shared", "config", "settings")
        os.makedirs(os.path.dirname(settings))
        with open(settings, "w") as f:
            f.write("host\n")
        prof = self.box.write_profile("carve", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\nwrite = ["%s"]\nread = ["%s"]\n'
                                      % (work, os.path.dirname(settings)))
        before = tree_snapshot(work)
        script = ("cd %s; mv shared shared.moved; echo \"mv=$?\"; mkdir -p shared/config; "
                  "echo planted > shared/config/settings; echo end" % work)
        res = self.box.run(["sh", "-c", script], profiles=[prof], probes=False)
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        self.assertEqual(tree_snapshot(work), before,
                         "the command replaced a read-only path of a writable root\n%s" % res)

    def test_rename_parent_of_project_in_writable_root_to_write_it_unstaged(self):
        # A workspace granted writable around the project (--rw ~/src, project ~/src/org/app):
        # moving org away took the project's overlay with it, and what the command then made
        # at the project's path went to the host unstaged, a git hook among it.
        ws = os.path.join(self.box.outside, "src")
        project = os.path.join(ws, "org", "app")
        os.makedirs(os.path.join(project, ".git", "hooks"))
        with open(os.path.join(project, "README"), "w") as f:
            f.write("host\n")
        self.box.project = project
        before = tree_snapshot(ws)
        script = ("cd %s; mv org org.moved; echo \"mv=$?\"; mkdir -p org/app/.git/hooks; "
                  "echo evil > org/app/.git/hooks/pre-commit; echo end" % ws)
        res = self.box.run(["sh", "-c", script], args=["--rw", ws], probes=False)
        self.assertSandboxRan(res)
        self.assertIn("end", res.out, res)
        self.assertEqual(tree_snapshot(ws), before,
                         "the command moved the project and wrote at its path unstaged\n%s" % res)

    def test_create_denied_path_absent_at_start_in_writable_root(self):
        # Nothing can be mounted over a path that does not exist (without creating it on the
        # host), so under a writable bind the command could make the denied path itself: a
        # ~/.ssh/config of its own under write = ["~"]. Such a run is refused (125) as a rule
        # it cannot enforce, unless --allow-weaker.
        work = os.path.join(self.box.outside, "work")
        os.makedirs(work)
        denied = os.path.join(work, ".ssh")
        prof = self.box.write_profile("absent", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\nwrite = ["%s"]\ndeny = ["%s"]\n'
                                      % (work, denied))
        script = "mkdir -p %s && echo planted > %s/config; echo end" % (denied, denied)
        res = self.box.run(["sh", "-c", script], profiles=[prof], probes=False)
        self.assertFalse(os.path.exists(denied),
                         "the command created a denied path on the host\n%s" % res)
        self.assertEqual(res.rc, abtest.EXIT_SETUP, res)
        self.assertIn('cannot enforce filesystem.deny "%s"' % denied, res.err, res)
        # The user's way out: the path made first, then masked like any other.
        os.mkdir(denied)
        res = self.box.run(["sh", "-c", script], profiles=[prof], probes=False)
        self.assertSandboxRan(res)
        self.assertEqual(os.listdir(denied), [], res)

    def test_replace_symlink_to_denied_dir_in_writable_root(self):
        # A dotfiles home: ~/.ssh -> dotfiles/ssh. The mask is at the link's target (no mount
        # goes through a link); the link itself lies in the writable root, where the command
        # can replace it with a directory of its own, which the host's ssh then reads.
        work = os.path.join(self.box.outside, "work")
        os.makedirs(os.path.join(work, "dotfiles", "ssh"))
        os.symlink("dotfiles/ssh", os.path.join(work, ".ssh"))
        prof = self.box.write_profile("linked", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\nwrite = ["%s"]\ndeny = ["%s/.ssh"]\n'
                                      % (work, work))
        script = ("cd %s && rm .ssh && mkdir .ssh && echo planted > .ssh/config; echo end"
                  % work)
        res = self.box.run(["sh", "-c", script], profiles=[prof], probes=False)
        self.assertTrue(os.path.islink(os.path.join(work, ".ssh")),
                        "the command replaced the link to a denied directory\n%s" % res)
        self.assertEqual(res.rc, abtest.EXIT_SETUP, res)
        self.assertIn('cannot enforce filesystem.deny "%s/.ssh"' % work, res.err, res)


class DeniedPathAppearsLater(BoxTest):
    """Issue 18 #3: a literal deny (the default profile's @project/.env) of a path that does
    not exist when the plan is made; the host writes it into the project during the run."""

    def run_while_host_writes(self, path, text, after, profiles=(), before=":", project=None,
                              host_first=lambda: None):
        """Runs the shell command AFTER in the sandbox once the host has written TEXT at PATH
        (in the project, or PROJECT) during the run, BEFORE ahead of that (and HOST_FIRST on
        the host ahead of its write). Returns (stdout, stdout + stderr) as text."""
        argv = self.box.argv(["sh", "-c", before + "; echo ready; i=0; while [ ! -e go ] && "
                              "[ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; " + after +
                              "; echo end"], profiles)
        if project:
            argv[argv.index("-C") + 1] = project
        p = subprocess.Popen(argv, env=self.box.env(), cwd=self.box.project,
                             start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        out = read_until(p.stdout.fileno(), b"ready")
        self.assertIn(b"ready", out, p.stderr.read1() if p.poll() is not None else b"")
        host_first()
        with open(path, "w") as f:
            f.write(text)
        # The go file reaches the command through the overlay's live lower layer (native) or
        # not at all (bwrap's copy): then the command's loop ends after 5 s.
        go = os.path.join(os.path.dirname(path), "go")
        open(go, "w").close()
        self.addCleanup(lambda: os.path.exists(go) and os.unlink(go))
        try:
            rest, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            rest, err = p.communicate()
        stdout = (out + rest).decode(errors="replace")
        text = stdout + err.decode(errors="replace")
        self.box.assert_no_canary(text, text)
        return stdout, text

    def test_read_env_file_the_host_writes_during_the_run(self):
        value = token("dotenv")
        self.box.canaries["dotenv"] = value
        env = os.path.join(self.box.project, ".env")
        self.run_while_host_writes(env, "TOKEN=%s\n" % value, "cat .env")
        with open(env) as f:
            self.assertIn(value, f.read(), "the host's .env was changed")
        # Nothing of agentbox's placeholder is left staged.
        diff = self.host_run([abtest.AGENTBOX, "diff", "--name-status"])
        self.assertNotIn(".env", diff.out, diff)

    def assert_host_env_stays_hidden(self, before, project=None):
        """The command runs BEFORE, which makes and removes .env its own way; then the host
        writes its .env and the command reads it: it must find none, and nothing is staged."""
        project = project or self.box.project
        value = token("dotenv")
        self.box.canaries["dotenv"] = value
        env = os.path.join(project, ".env")
        self.addCleanup(lambda: os.path.exists(env) and os.unlink(env))
        out, text = self.run_while_host_writes(env, "TOKEN=%s\n" % value, "cat .env; ls -a",
                                               before=before, project=project)
        self.assertIn("end", text)
        self.assertNotIn(".env", out, text)
        if project == self.box.project:
            diff = self.host_run([abtest.AGENTBOX, "diff", "--name-status"])
            self.assertEqual(diff.out.strip(), "", diff)

    # The whiteout that hides the absent path must be out of the command's reach: one in the
    # upper layer went when the command wrote the path, and its removal then left none, as no
    # lower layer held the name (note 86). bwrap stages a copy taken at the start.
    def test_read_env_file_the_host_writes_after_the_command_made_and_removed_one(self):
        self.assert_host_env_stays_hidden("echo x > .env && rm .env")

    def test_read_env_file_the_host_writes_after_the_command_made_and_removed_a_directory(self):
        self.assert_host_env_stays_hidden("mkdir .env && rmdir .env")

    def test_read_env_file_the_host_writes_after_the_command_linked_and_unlinked_one(self):
        self.assert_host_env_stays_hidden("echo x > f && ln f .env && rm .env f")

    def test_read_env_file_the_host_writes_after_the_command_moved_a_file_there_and_away(self):
        self.assert_host_env_stays_hidden("echo x > f && mv f .env && mv .env f && rm f")

    def test_read_env_file_the_host_writes_in_the_home_as_project_holding_the_store(self):
        # The session store is inside the project: a masks' layer in the session directory
        # would be a lower layer inside another, which overlayfs refuses (ELOOP; T's 9e540aa).
        if abtest.BACKEND == "bwrap":
            # Its copy of the home copies the store into itself until the path is too long
            # (main's as well): a defect of its own, reported.
            self.skipTest("bwrap's snapshot of a project holding the session store recurses")
        self.assert_host_env_stays_hidden("echo x > .env && rm .env", project=self.box.home)

    def test_nested_denied_path_the_host_writes_after_the_command_moved_its_directory(self):
        # The directory that holds the whiteout's name, renamed away and back (a copy and a
        # removal: overlayfs refuses to rename a merged directory without redirect_dir).
        value = token("nested")
        self.box.canaries["nested"] = value
        os.makedirs(os.path.join(self.box.project, "config", "prod"))
        prof = self.box.write_profile("nested", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\ndeny = ["@project/config/prod/key.pem"]\n')
        key = os.path.join(self.box.project, "config", "prod", "key.pem")
        out, text = self.run_while_host_writes(
            key, value + "\n", "cat config/prod/key.pem; ls -a config/prod", profiles=[prof],
            before="mv config c2 && echo x > c2/prod/key.pem && rm c2/prod/key.pem && "
                   "mv c2 config")
        self.assertIn("end", text)
        self.assertNotIn("key.pem", out, text)

    def test_project_files_keep_their_inode_numbers_under_the_masks_layer(self):
        # The masks' layer is a tmpfs: an overlay spanning filesystems numbers inodes per
        # layer unless xino is on, and gave files an st_dev of their own (git's stat cache
        # and `find -xdev` see those). The project's files as on the host, with a .env hidden.
        if abtest.BACKEND == "bwrap":
            self.skipTest("bwrap stages a copy: its inode numbers are the copy's")
        os.makedirs(os.path.join(self.box.project, "sub"))
        with open(os.path.join(self.box.project, "sub", "a.txt"), "w") as f:
            f.write("a\n")
        host = os.stat(os.path.join(self.box.project, "sub", "a.txt"))
        same_fs = os.stat(self.box.project).st_dev == os.stat(self.box.state).st_dev
        res = self.box.run(["sh", "-c", "stat -c '%d %i' sub sub/a.txt; ls -a"])
        self.assertSandboxRan(res)
        self.assertNotIn(".env", res.out, res)
        (dir_dev, dir_ino), (file_dev, file_ino) = (l.split() for l in res.out.splitlines()[:2])
        self.assertEqual(int(file_ino), host.st_ino, res)
        if same_fs:
            self.assertEqual(file_dev, dir_dev, res)
            self.assertEqual(int(dir_ino), os.stat(os.path.join(self.box.project, "sub")).st_ino,
                             res)

    def test_absent_denied_path_is_no_unreadable_phantom_for_git_add(self):
        # The first fix masked an empty stand-in there: `ls` listed an unreadable .env,
        # `git status` showed it and `git add -A` failed on it in every project.
        self.host_run(["git", "init", "-q", self.box.project])
        with open(os.path.join(self.box.project, "a.txt"), "w") as f:
            f.write("a\n")
        res = self.box.run(["sh", "-c", "ls -a; git status --porcelain; git add -A && "
                            "echo added; git status --porcelain"])
        self.assertSandboxRan(res)
        self.assertNotIn(".env", res.out, res)
        self.assertIn("added", res.out, res)
        self.assertIn("A  a.txt", res.out, res)

    def test_nested_denied_path_the_host_writes_during_the_run(self):
        # A literal deny two levels down: the directories on the way exist, the file not.
        value = token("nested")
        self.box.canaries["nested"] = value
        os.makedirs(os.path.join(self.box.project, "config", "prod"))
        prof = self.box.write_profile("nested", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\ndeny = ["@project/config/prod/key.pem"]\n')
        key = os.path.join(self.box.project, "config", "prod", "key.pem")
        out, text = self.run_while_host_writes(
            key, value + "\n", "cat config/prod/key.pem; ls -a config/prod", profiles=[prof])
        self.assertIn("end", text)
        self.assertNotIn("key.pem", out, text)
        diff = self.host_run([abtest.AGENTBOX, "diff", "--name-status"])
        self.assertEqual(diff.out.strip(), "", diff)

    def test_denied_path_in_a_read_only_directory_the_host_opens_up_during_the_run(self):
        # The directories on the way to the whiteout, with the project's modes, are in the
        # masks' layer: one made in the upper layer (mode 0555) was staged as a mode change
        # once the host's own directory had changed mode (0755) during the run.
        value = token("readonly")
        self.box.canaries["readonly"] = value
        prod = os.path.join(self.box.project, "config", "prod")
        os.makedirs(prod)
        os.chmod(prod, 0o555)
        self.addCleanup(os.chmod, prod, 0o755)
        prof = self.box.write_profile("nested", 'version = 1\nextends = ["default"]\n'
                                      '[filesystem]\ndeny = ["@project/config/prod/key.pem"]\n')
        out, text = self.run_while_host_writes(
            os.path.join(prod, "key.pem"), value + "\n",
            "cat config/prod/key.pem; ls -a config/prod; stat -c mode=%a config/prod",
            profiles=[prof], host_first=lambda: os.chmod(prod, 0o755))
        self.assertIn("end", text)
        self.assertNotIn("key.pem", out, text)
        self.assertIn("mode=555", out, text)
        diff = self.host_run([abtest.AGENTBOX, "diff", "--name-status"])
        self.assertEqual(diff.out.strip(), "", diff)


if __name__ == "__main__":
    abtest.main()
