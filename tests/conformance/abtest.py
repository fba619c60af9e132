"""Shared fixture for agentbox's conformance and integration suites (stdlib only).

Every case gets its own throw-away world: a temp HOME with planted secrets (canaries), XDG
state/config/cache dirs under it (so sessions and configs never touch the real user's), a
project dir and an "outside" dir next to it. Each run is

    agentbox run --on-exit keep -q -C PROJECT --ro PROBES [-p PROFILE]... [ARGS] -- CMD

and every result is checked for canary content automatically: a secret that shows up in the
sandboxed command's stdout or stderr fails the case whatever else it asserts. Cases then check
the host side themselves (files unchanged, processes gone, servers never contacted).

Environment (set by ctest, or by tests/run_all.sh for the unprivileged pass):
  AGENTBOX             the binary under test
  AGENTBOX_BUILD_DIR   probes are in $AGENTBOX_BUILD_DIR/probes (or $AGENTBOX_PROBES)
  AGENTBOX_SOURCE_DIR  the source tree
  AGENTBOX_BACKEND     the backend every run uses (--backend; default: agentbox's own choice)
"""

import errno
import fcntl
import os
import re
import secrets
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unittest

AGENTBOX = os.environ.get("AGENTBOX", "")
SOURCE_DIR = os.environ.get("AGENTBOX_SOURCE_DIR", "")
BUILD_DIR = os.environ.get("AGENTBOX_BUILD_DIR", "")
PROBES = os.environ.get("AGENTBOX_PROBES") or os.path.join(BUILD_DIR, "probes")
IS_ROOT = os.geteuid() == 0
# The whole suite runs once per backend (tests/run_all.sh); "" leaves the choice to agentbox.
BACKEND = os.environ.get("AGENTBOX_BACKEND", "")
SIGSYS = signal.SIGSYS.value
HOST_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
# The secrets planted in every case's home, by kind, under HOME.
HOME_SECRETS = {"ssh": ".ssh/id_rsa", "aws": ".aws/credentials", "gh": ".config/gh/hosts.yml",
                "netrc": ".netrc"}

# Exit codes of `agentbox run` (DESIGN.md §2).
EXIT_TIMEOUT, EXIT_SETUP, EXIT_NOEXEC, EXIT_NOTFOUND = 124, 125, 126, 127


def probe(name):
    return os.path.join(PROBES, name)


def token(kind):
    return "CANARY-%s-%s" % (kind, secrets.token_hex(12))


class Result:
    def __init__(self, argv, rc, out, err, seconds):
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    def __str__(self):
        return "argv: %s\nexit: %s (%.1fs)\n--- stdout:\n%s\n--- stderr:\n%s" % (
            " ".join(self.argv), self.rc, self.seconds, self.out[-4000:], self.err[-4000:])

    def errno_of(self, name):
        """The errno a probe reported for attempt NAME, 0 for success, None if no result."""
        m = re.search(r"^%s: (?:errno=(\d+)|ok)" % re.escape(name), self.out, re.M)
        if not m:
            return None
        return int(m.group(1)) if m.group(1) else 0


def _rmtree_onerror(func, path, _exc):
    # Overlay's work dir leaves a mode-000 "work" directory; make it removable and retry.
    try:
        os.chmod(os.path.dirname(path), 0o700)
        os.chmod(path, 0o700)
    except OSError:
        pass
    try:
        func(path)
    except OSError:
        pass


def procs_matching(marker):
    """Host pids whose command line contains MARKER (this test process excluded)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def sleeper(seconds=1000):
    """argv of a long sleep that carries a unique marker: GNU sleep adds its arguments up, so
    the marker is a tiny number ("0.000" + random digits) that is easy to find in /proc."""
    marker = "0.000%09d" % secrets.randbelow(10 ** 9)
    return ["sleep", str(seconds), marker], marker


def wait_gone(marker, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = procs_matching(marker)
        if not left:
            return []
        time.sleep(0.1)
    return procs_matching(marker)


def kill_matching(marker):
    for pid in procs_matching(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def read_until(stream_fd, needle, timeout=20.0):
    """Read from a pipe fd until NEEDLE (bytes) shows up; returns everything read."""
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([stream_fd], [], [], left)
        if not r:
            break
        chunk = os.read(stream_fd, 65536)
        if not chunk:
            break
        buf += chunk
    return buf


# agentbox's own directories, which it creates on the host before a run (and hides from the
# sandbox); test_read_agentbox_state and test_plant_seccomp_filter_in_cache cover them.
OWN_DIRS = re.compile(r"(^|/)(\.config|\.cache|\.local/state)/agentbox(/|$)")


def session_staging(session_dir):
    """The staging a session records in its meta.json: "overlay", "copy", or None."""
    with open(os.path.join(session_dir, "meta.json"), "rb") as f:
        meta = f.read()
    for kind in ("overlay", "copy"):
        if b'"staging": "%s"' % kind.encode() in meta:
            return kind
    return None


def whiteout_problem(session_dir, rel):
    """Why upper/REL is not a whiteout of the form the session's staging says ("" when it is):
    a character device 0/0 under overlayfs, an empty file marked user.agentbox.whiteout under
    copy staging (no mknod: what macOS allows only to root)."""
    path = os.path.join(session_dir, "upper", rel)
    st = os.lstat(path)
    staging = session_staging(session_dir)
    if staging == "copy":
        if not stat.S_ISREG(st.st_mode) or st.st_size != 0:
            return "%s: mode %o, %d bytes (copy staging)" % (rel, st.st_mode, st.st_size)
        if "user.agentbox.whiteout" not in os.listxattr(path, follow_symlinks=False):
            return "%s: not marked user.agentbox.whiteout (copy staging)" % rel
        return ""
    if staging != "overlay":
        return "meta.json in %s records no staging" % session_dir
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != 0:
        return "%s: mode %o (overlay staging)" % (rel, st.st_mode)
    return ""


def tree_snapshot(path):
    """Names, modes and contents of everything under PATH, to prove the host was not touched
    (agentbox's own state, config and cache directories excepted)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if OWN_DIRS.search(os.path.relpath(p, path)):
                continue
            st = os.lstat(p)
            data = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            elif stat.S_ISLNK(st.st_mode):
                data = os.readlink(p).encode()
            snap[os.path.relpath(p, path)] = (st.st_mode, data)
    return snap


class Box:
    """One isolated world for one case. See the module docstring."""

    def __init__(self, tc):
        self.tc = tc
        self.root = tempfile.mkdtemp(prefix="abtest-")
        os.chmod(self.root, 0o755)
        self.home = os.path.join(self.root, "home")
        self.project = os.path.join(self.root, "project")
        self.outside = os.path.join(self.root, "outside")
        self.state = os.path.join(self.home, ".local", "state")
        self.config = os.path.join(self.home, ".config")
        self.cache = os.path.join(self.home, ".cache")
        for d in (self.home, self.project, self.outside, self.state, self.config, self.cache):
            os.makedirs(d, exist_ok=True)
        self.canaries = {}
        self._plant("ssh", ".ssh/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n")
        self._plant("aws", ".aws/credentials",
                    "[default]\naws_access_key_id = AKIA0000\naws_secret_access_key = %s\n")
        self._plant("gh", ".config/gh/hosts.yml", "github.com:\n    oauth_token: %s\n")
        self._plant("netrc", ".netrc", "machine example.com login me password %s\n")
        os.chmod(os.path.join(self.home, ".ssh"), 0o700)
        with open(os.path.join(self.project, "README"), "w") as f:
            f.write("project file\n")

    def _plant(self, kind, rel, template):
        value = token(kind)
        path = os.path.join(self.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(template % value)
        os.chmod(path, 0o600)
        self.canaries[kind] = value
        return path

    def secret_path(self, kind):
        return HOME_SECRETS[kind]

    def cleanup(self):
        # chmod -R works top-down, so it opens up mode-000 directories before entering them.
        subprocess.run(["chmod", "-R", "u+rwx", self.root], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, onerror=_rmtree_onerror)

    # ---- environment and argv
    def env(self, extra=None):
        env = {
            "PATH": HOST_PATH, "HOME": self.home, "LANG": "C.UTF-8", "TERM": "xterm",
            "XDG_STATE_HOME": self.state, "XDG_CONFIG_HOME": self.config,
            "XDG_CACHE_HOME": self.cache, "USER": os.environ.get("USER", "root"),
        }
        env.update(extra or {})
        return env

    def argv(self, cmd, profiles=(), args=(), probes=True, subcommand="run"):
        argv = [AGENTBOX, subcommand, "--on-exit", "keep", "-q", "-C", self.project]
        if BACKEND and subcommand == "run":
            argv += ["--backend", BACKEND]
        if probes:
            argv += ["--ro", PROBES]
        for p in profiles:
            argv += ["-p", p]
        return argv + list(args) + ["--"] + list(cmd)

    def write_profile(self, name, text):
        path = os.path.join(self.root, "profiles", name + ".toml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    # ---- running
    def run(self, cmd, profiles=(), args=(), input=None, stdin=None, timeout=120, env=None,
            pass_fds=(), cwd=None, probes=True, check_canaries=True, argv=None):
        argv = argv or self.argv(cmd, profiles, args, probes)
        t0 = time.monotonic()
        if stdin is None and input is None:
            stdin = subprocess.DEVNULL
        try:
            p = subprocess.run(argv, input=input, stdin=stdin, capture_output=True,
                               env=self.env(env), cwd=cwd or self.project, timeout=timeout,
                               pass_fds=pass_fds, start_new_session=True)
        except subprocess.TimeoutExpired as e:
            self.tc.fail("agentbox did not return within %ss: %s\nstdout: %r\nstderr: %r" % (
                timeout, " ".join(argv), e.stdout, e.stderr))
        res = Result(argv, p.returncode, p.stdout.decode(errors="replace"),
                     p.stderr.decode(errors="replace"), time.monotonic() - t0)
        if check_canaries:
            self.assert_no_canary(res.out + res.err, res)
        return res

    def popen(self, cmd, profiles=(), args=(), env=None, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(cmd, profiles, args), env=self.env(env),
                                cwd=self.project, start_new_session=True, **kw)

    def assert_no_canary(self, text, context=""):
        for kind, value in self.canaries.items():
            if value in text:
                self.tc.fail("secret %s (%s) leaked into the output\n%s" % (
                    kind, self.secret_path(kind) if kind in HOME_SECRETS else "planted by the test",
                    context))

    def sessions(self):
        base = os.path.join(self.state, "agentbox", "sessions")
        if not os.path.isdir(base):
            return []
        dirs = [os.path.join(base, d) for d in os.listdir(base)]
        return sorted((d for d in dirs if os.path.isdir(d)), key=os.path.getmtime)

    def upper(self):
        s = self.sessions()
        self.tc.assertTrue(s, "no session directory under %s" % self.state)
        return os.path.join(s[-1], "upper")


class PtyRun:
    """agentbox (or any argv) with a new pty as its controlling terminal and stdio, the way a
    user's shell would start it. The test keeps the slave open, so after the run it can read
    what was left in the terminal's input queue: that is where TIOCSTI injection lands."""

    def __init__(self, argv, env, cwd):
        self.master, self.slave = os.openpty()
        attrs = termios.tcgetattr(self.slave)
        # Non-canonical, no echo: injected bytes are readable at once and not echoed back.
        attrs[3] &= ~(termios.ICANON | termios.ECHO)
        attrs[6][termios.VMIN] = 0
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        self.attrs_before = termios.tcgetattr(self.slave)
        slave_name = os.ttyname(self.slave)

        def become_session_leader():
            os.setsid()
            fd = os.open(slave_name, os.O_RDWR)  # first tty opened by a leader: controlling tty
            os.close(fd)

        self.output = b""
        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave,
                                     stderr=self.slave, env=env, cwd=cwd,
                                     preexec_fn=become_session_leader)

    def wait(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._drain(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("did not exit within %ss; output %r" % (timeout, self.output))
        self._drain(0.2)
        return self.proc.returncode

    def expect(self, needle, timeout=20):
        """Wait until NEEDLE (bytes) has been output; returns whether it was."""
        deadline = time.monotonic() + timeout
        while needle not in self.output and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._drain(0.2)
                break
            self._drain(0.1)
        return needle in self.output

    def _drain(self, wait):
        while True:
            r, _, _ = select.select([self.master], [], [], wait)
            if not r:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk
            wait = 0

    def pending_input(self):
        """Bytes waiting in the terminal's input queue, as the user's shell would read them."""
        n = struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0\0\0\0"))[0]
        if n <= 0:
            return b""
        flags = fcntl.fcntl(self.slave, fcntl.F_GETFL)
        fcntl.fcntl(self.slave, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        try:
            return os.read(self.slave, n)
        except OSError as e:
            if e.errno == errno.EAGAIN:
                return b""
            raise

    def attrs_now(self):
        return termios.tcgetattr(self.slave)

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class BoxTest(unittest.TestCase):
    """Base class: self.box is a fresh Box per case."""

    def setUp(self):
        if not AGENTBOX or not os.access(AGENTBOX, os.X_OK):
            self.fail("AGENTBOX=%r is not an executable agentbox binary" % AGENTBOX)
        if not os.path.isdir(PROBES):
            self.fail("probes not built: %s" % PROBES)
        self.box = Box(self)
        self.addCleanup(self.box.cleanup)

    def skipOnBackend(self, backend, limit):
        """A documented difference between backends (README, agentbox(1)): skipped with the
        limit named, never silently passed."""
        if BACKEND == backend:
            self.skipTest("backend %s: %s" % (backend, limit))

    def dir_on_another_filesystem(self, prefix):
        """A new directory on /dev/shm (tmpfs), removed after the case, for state that must
        not share the project's filesystem (every move between them is a copy); the case is
        skipped, with the reason, when there is none."""
        shm = "/dev/shm"
        if not os.path.isdir(shm) or not os.access(shm, os.W_OK):
            self.skipTest("no writable /dev/shm for a second filesystem")
        path = tempfile.mkdtemp(prefix=prefix, dir=shm)
        self.addCleanup(shutil.rmtree, path, True)
        if os.stat(path).st_dev == os.stat(self.box.project).st_dev:
            self.skipTest("/dev/shm is on the project's filesystem")
        return path

    def assertRc(self, res, rc):
        self.assertEqual(res.rc, rc, "unexpected exit code\n%s" % res)

    def assertSandboxRan(self, res):
        """The command ran to completion (so a later 'blocked' verdict is not a setup failure)."""
        self.assertNotIn(res.rc, (EXIT_SETUP, EXIT_NOEXEC, EXIT_NOTFOUND),
                         "agentbox did not run the command\n%s" % res)

    def assertDenied(self, res, name, expected=(errno.EPERM,)):
        self.assertSandboxRan(res)
        got = res.errno_of(name)
        self.assertIsNotNone(got, "probe printed no result for %s\n%s" % (name, res))
        self.assertNotEqual(got, 0, "%s SUCCEEDED inside the sandbox\n%s" % (name, res))
        self.assertIn(got, expected, "%s failed with errno %d (%s), expected %s\n%s" % (
            name, got, os.strerror(got), [os.strerror(e) for e in expected], res))

    def unshare_argv(self, cmd):
        """CMD in the weakest "sandbox" there is: new user, mount and pid namespaces and a fresh
        /proc, nothing else. Used to show that a probe really performs its attack."""
        return ["unshare", "-Urmpf", "--mount-proc"] + list(cmd)

    def host_run(self, argv, env=None, cwd=None, timeout=60, **kw):
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, env=env or self.box.env(),
                           cwd=cwd or self.box.project, timeout=timeout, **kw)
        return Result(argv, p.returncode, p.stdout.decode(errors="replace"),
                      p.stderr.decode(errors="replace"), time.monotonic() - t0)


def main():
    """unittest.main with a final machine-readable line for tests/run_all.sh:
    'SUMMARY: N passed, N failed, N skipped'."""
    args, patterns = sys.argv[1:], []
    while "-k" in args:  # -k SUBSTRING selects cases by name, as in unittest.main
        i = args.index("-k")
        patterns.append(args[i + 1])
        del args[i:i + 2]
    loader = unittest.defaultTestLoader
    if patterns:
        loader = unittest.TestLoader()
        loader.testNamePatterns = ["*%s*" % p for p in patterns]
    module = sys.modules["__main__"]
    suite = (loader.loadTestsFromNames(args, module) if args
             else loader.loadTestsFromModule(module))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    # A case with failing subTests is one failed case: count distinct cases, not reports.
    failed_ids = {getattr(t, "test_case", t).id()
                  for t, _ in result.failures + result.errors}
    failed_ids |= {t.id() for t in result.unexpectedSuccesses}
    failed = len(failed_ids)
    skipped = len({t.id() for t, _ in result.skipped} - failed_ids)
    passed = result.testsRun - failed - skipped
    print("SUMMARY: %d passed, %d failed, %d skipped" % (passed, failed, skipped), flush=True)
    sys.exit(0 if failed == 0 else 1)
