#!/usr/bin/python3
"""Conformance: processes and resources (THREATS.md "Processes and resources").

Bombs have a ceiling (probes/bomb.c), so a missing limit fails the case instead of taking the
machine down. Survivors are found from the host by a unique marker in their argv.
"""

import fcntl
import hashlib
import os
import re
import signal
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import IS_ROOT, BoxTest, PtyRun, probe, read_until, sleeper, wait_gone  # noqa: E402

BOMB = probe("bomb")


class Bombs(BoxTest):
    def limited(self, flag, value, cmd, what):
        res = self.box.run(cmd, args=[flag, value], timeout=180)
        if res.rc == abtest.EXIT_SETUP:
            # Without root, this hybrid host offers no mechanism for memory/pids: agentbox must
            # then refuse, naming the limit, rather than run without it.
            self.assertFalse(IS_ROOT, "as root the cgroup v1 %s controller is available, yet"
                             " agentbox refused\n%s" % (what, res))
            self.assertIn(what, res.err.lower(), "the refusal does not name the limit\n%s" % res)
            return None
        return res

    def test_fork_bomb_contained(self):
        res = self.limited("--pids", "64", [BOMB, "fork", "1000"], "pids")
        if res is None:
            return
        self.assertRc(res, 0)
        made = int(re.search(r"fork: made=(\d+)", res.out).group(1))
        self.assertLess(made, 64, "the pids limit did not stop the bomb\n%s" % res)
        self.assertEqual(wait_gone("%s\0fork" % BOMB, 10), [], "bomb processes survived")

    def test_memory_bomb(self):
        res = self.limited("--memory", "64MiB", [BOMB, "mem", "512"], "memory")
        if res is None:
            return
        touched = [int(n) for n in re.findall(r"mem: touched=(\d+)", res.out)]
        self.assertNotIn("mem: done", res.out, "512 MiB allocated under a 64 MiB limit\n%s" % res)
        self.assertLessEqual(max(touched or [0]), 64, res)
        self.assertNotEqual(res.rc, 0, res)
        self.assertIn(res.rc, (1, 128 + signal.SIGKILL), "expected the OOM kill (137)\n%s" % res)

    def test_memory_limit_without_mechanism_fails_closed(self):
        if IS_ROOT:
            self.skipTest("as root the cgroup v1 memory controller enforces --memory")
        res = self.box.run(["true"], args=["--memory", "64MiB"])
        if res.rc == 0:
            self.skipTest("this host delegates a cgroup to this user: the limit is enforceable")
        self.assertRc(res, abtest.EXIT_SETUP)
        self.assertIn("memory", res.err.lower(), res)
        weaker = self.box.run(["true"], args=["--memory", "64MiB", "--allow-weaker"])
        self.assertRc(weaker, 0)

    def test_fd_bomb(self):
        res = self.box.run(["sh", "-c", "ulimit -n; exec %s fd 2000000" % BOMB])
        self.assertRc(res, 0)
        m = re.search(r"fd: opened=(\d+) errno=(\d+)", res.out)
        self.assertIsNotNone(m, res)
        self.assertEqual(int(m.group(2)), 24, "expected EMFILE from RLIMIT_NOFILE\n%s" % res)
        self.assertLess(int(m.group(1)), 1 << 20, res)


class Lifetime(BoxTest):
    def test_daemonized_process_dies_with_sandbox(self):
        argv, marker = sleeper()
        self.addCleanup(abtest.kill_matching, marker)
        daemon = " ".join(argv)
        res = self.box.run(["sh", "-c", "(setsid %s </dev/null >/dev/null 2>&1 &);"
                            " setsid -f %s </dev/null >/dev/null 2>&1; echo started" %
                            (daemon, daemon)], timeout=60)
        self.assertRc(res, 0)
        self.assertIn("started", res.out)
        self.assertEqual(wait_gone(marker, 5), [], "a daemonized process outlived the sandbox")

    def test_ctrl_c_reaches_command(self):
        p = self.box.popen(["sh", "-c", "trap 'echo TRAPPED; exit 42' INT; echo ready;"
                            " while :; do sleep 0.1; done"])
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        out = read_until(p.stdout.fileno(), b"ready")
        self.assertIn(b"ready", out, p.stderr.read1() if p.poll() is not None else b"")
        os.kill(p.pid, signal.SIGINT)
        rest, err = p.communicate(timeout=30)
        self.assertIn(b"TRAPPED", out + rest, err)
        self.assertEqual(p.returncode, 42, err)

    def test_sigint_reaches_command_handler(self):
        # Ctrl-C on a terminal signals the whole foreground process group, not just agentbox
        # (with its output piped, agentbox has no pty and the terminal is not in raw mode).
        # Under bwrap the monitor process was in that group, died of SIGINT and took the
        # sandbox with it: exit 130, the handler never ran.
        p = self.box.popen(["sh", "-c", "trap 'echo TRAPPED; exit 42' INT; echo ready;"
                            " while :; do sleep 0.1; done"])
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        out = read_until(p.stdout.fileno(), b"ready")
        self.assertIn(b"ready", out, p.stderr.read1() if p.poll() is not None else b"")
        os.killpg(p.pid, signal.SIGINT)  # popen made agentbox a process group leader
        rest, err = p.communicate(timeout=30)
        self.assertIn(b"TRAPPED", out + rest, err)
        self.assertEqual(p.returncode, 42, err)

    def test_second_ctrl_c_ends_sandbox(self):
        argv, marker = sleeper()
        self.addCleanup(abtest.kill_matching, marker)
        p = self.box.popen(["sh", "-c", "trap 'echo GOT' INT; %s & echo ready;"
                            " while :; do sleep 0.1; done" % " ".join(argv)])
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        out = read_until(p.stdout.fileno(), b"ready")
        self.assertIn(b"ready", out)
        os.kill(p.pid, signal.SIGINT)
        out += read_until(p.stdout.fileno(), b"GOT", 10)
        self.assertIn(b"GOT", out, "the first SIGINT did not reach the command")
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "the first SIGINT ended the sandbox")
        os.kill(p.pid, signal.SIGINT)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.fail("a second SIGINT did not end the sandbox")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(wait_gone(marker, 5), [], "sandbox processes survived")

    def test_launcher_sigkill_kills_sandbox_keeps_staged_work(self):
        argv, marker = sleeper()
        self.addCleanup(abtest.kill_matching, marker)
        p = self.box.popen(["sh", "-c", "echo staged > work.txt; echo ready; exec %s"
                            % " ".join(argv)])
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        out = read_until(p.stdout.fileno(), b"ready")
        self.assertIn(b"ready", out)
        time.sleep(0.3)
        self.assertTrue(abtest.procs_matching(marker), "the sandboxed sleep is not running")
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        self.assertEqual(wait_gone(marker, 10), [], "the sandbox outlived its launcher")
        if abtest.BACKEND == "bwrap":
            # The copy strategy's work is still in the session's snapshot; the next command
            # that opens the session stages it into upper/.
            self.assertRc(self.host_run([abtest.AGENTBOX, "sessions"]), 0)
        with open(os.path.join(self.box.upper(), "work.txt")) as f:
            self.assertEqual(f.read(), "staged\n")
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "work.txt")))


    def test_starter_sigkill_kills_sandbox_keeps_staged_work(self):
        """Issue 18 #7: the process that started agentbox (a harness, a CI step) is SIGKILLed;
        agentbox and the sandbox must not run on unreviewed, and the staged work stays."""
        argv, marker = sleeper()
        self.addCleanup(abtest.kill_matching, marker)
        inner = self.box.argv(["sh", "-c", "echo staged > work.txt; echo ready; exec %s"
                               % " ".join(argv)])
        # The starter: a shell that runs agentbox as its child and waits for it.
        starter = subprocess.Popen(["sh", "-c", '"$@" & wait', "starter"] + inner,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.box.env(),
                                   cwd=self.box.project, start_new_session=True)
        self.addCleanup(lambda: starter.poll() is None and (starter.kill(), starter.wait()))
        out = read_until(starter.stdout.fileno(), b"ready")
        self.assertIn(b"ready", out)
        time.sleep(0.3)
        self.assertTrue(abtest.procs_matching(marker), "the sandboxed sleep is not running")
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        self.assertEqual(wait_gone(marker, 10), [], "the sandbox outlived the process that"
                         " started agentbox")
        if abtest.BACKEND == "bwrap":
            self.assertRc(self.host_run([abtest.AGENTBOX, "sessions"]), 0)
        with open(os.path.join(self.box.upper(), "work.txt")) as f:
            self.assertEqual(f.read(), "staged\n")
        self.assertFalse(os.path.exists(os.path.join(self.box.project, "work.txt")))

class ExitCodes(BoxTest):
    def test_exit_codes(self):
        notexec = os.path.join(self.box.project, "notexec")
        with open(notexec, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        os.chmod(notexec, 0o644)
        cases = [
            ("success", ["true"], [], 0),
            ("own status", ["sh", "-c", "exit 3"], [], 3),
            ("killed by SIGTERM", ["sh", "-c", "kill -TERM $$"], [], 128 + signal.SIGTERM),
            ("killed by SIGKILL", ["sh", "-c", "kill -KILL $$"], [], 128 + signal.SIGKILL),
            ("wall-clock limit", ["sleep", "60"], ["--timeout", "2s"], abtest.EXIT_TIMEOUT),
            ("unknown profile", ["true"], ["-p", "no-such-profile-xyz"], abtest.EXIT_SETUP),
            ("unknown flag", ["true"], ["--no-such-flag"], abtest.EXIT_SETUP),
            ("not executable", ["./notexec"], [], abtest.EXIT_NOEXEC),
            ("a directory", ["/usr"], [], abtest.EXIT_NOEXEC),
            ("not found", ["no-such-command-xyz"], [], abtest.EXIT_NOTFOUND),
            ("no such path", ["/nonexistent/cmd"], [], abtest.EXIT_NOTFOUND),
        ]
        for what, cmd, args, rc in cases:
            with self.subTest(what):
                res = self.box.run(cmd, args=args, timeout=60)
                self.assertRc(res, rc)
                if what == "wall-clock limit":
                    self.assertLess(res.seconds, 20, res)
        with self.subTest("bad profile file"):
            bad = self.box.write_profile("bad", "version = 1\n[filesystem]\nreed = []\n")
            res = self.box.run(["true"], profiles=[bad])
            self.assertRc(res, abtest.EXIT_SETUP)
            self.assertIn("bad.toml:3", res.err, "the error does not name file:line\n%s" % res)

    def test_timeout_kills_every_process(self):
        argv, marker = sleeper()
        self.addCleanup(abtest.kill_matching, marker)
        res = self.box.run(["sh", "-c", "%s & %s" % (" ".join(argv), " ".join(argv))],
                           args=["--timeout", "2s"], timeout=60)
        self.assertRc(res, abtest.EXIT_TIMEOUT)
        self.assertEqual(wait_gone(marker, 5), [], "processes survived the timeout")


class Streams(BoxTest):
    def test_gigabytes_through_slow_reader(self):
        total = 1 << 30
        p = self.box.popen(["head", "-c", str(total), "/dev/zero"])
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        peak_kib = 0
        got = 0
        time.sleep(2)  # let the pipe fill: the writer must block, not buffer in agentbox
        fd = p.stdout.fileno()
        next_pause = 64 << 20
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            got += len(chunk)
            if got >= next_pause:
                next_pause += 64 << 20
                peak_kib = max(peak_kib, self.rss_kib(p.pid))
                time.sleep(0.1)
        p.wait(timeout=60)
        err = p.stderr.read()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(got, total)
        self.assertLess(peak_kib, 64 * 1024, "agentbox's RSS grew to %d KiB" % peak_kib)

    @staticmethod
    def rss_kib(pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
                return int(m.group(1)) if m else 0
        except OSError:
            return 0

    def test_stdin_closed(self):
        argv = self.box.argv(["sh", "-c", "%s; cat; echo cat=$?" % probe("fds")])
        p = subprocess.run(argv, capture_output=True, env=self.box.env(), cwd=self.box.project,
                           timeout=60, preexec_fn=lambda: os.close(0))
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, p.stderr)
        fds = dict(re.findall(r"^fd (\d+) -> (.*)$", out, re.M))
        self.assertTrue(set(fds) <= {"0", "1", "2"}, "unexpected descriptors: %s" % fds)
        if "0" in fds:
            self.assertEqual(fds["0"], "/dev/null", "fd 0 reused for something else: %s" % fds)
        self.assertRegex(out, r"cat=\d+", out)

    def test_stdin_pipe(self):
        data = os.urandom(3 << 20)
        res = self.box.run(["sha256sum"], input=data)
        self.assertRc(res, 0)
        self.assertEqual(res.out.split()[0], hashlib.sha256(data).hexdigest())
        res = self.box.run(["wc", "-c"], input=b"")
        self.assertRc(res, 0)
        self.assertEqual(res.out.strip(), "0")

    def start_pty(self, cmd, args=()):
        pty = PtyRun(self.box.argv(cmd, args=args), self.box.env(), self.box.project)
        self.addCleanup(pty.close)
        return pty

    def test_stdin_terminal(self):
        # `tty` names the slave only when it comes from the sandbox's own devpts; a pty from
        # the host's /dev/ptmx has no name inside ("not a tty"), which breaks real programs.
        script = ("test -t 0 && echo STDIN-TTY; test -t 1 && echo STDOUT-TTY; stty size;"
                  " echo name=$(tty); echo via-dev-tty > /dev/tty;"
                  " echo ready; read line; echo \"got:$line\"")
        pty = self.start_pty(["sh", "-c", script])
        fcntl.ioctl(pty.master, termios.TIOCSWINSZ, b"\x21\x00\x65\x00\x00\x00\x00\x00")
        self.assertTrue(pty.expect(b"ready"), pty.output)
        os.write(pty.master, b"hello\n")
        rc = pty.wait(30)
        out = pty.output.decode(errors="replace")
        self.assertEqual(rc, 0, out)
        for want in ("STDIN-TTY", "STDOUT-TTY", "got:hello", "name=/dev/pts/0", "via-dev-tty"):
            self.assertIn(want, out)
        self.assertIn("33 101", out, "window size not relayed")
        self.assertEqual(pty.attrs_now(), pty.attrs_before, "terminal settings not restored")

    def test_terminal_restored_on_every_exit_path(self):
        for what, cmd, args, rc in (
                ("killed", ["sh", "-c", "kill -KILL $$"], [], 137),
                ("timeout", ["sleep", "60"], ["--timeout", "1s"], abtest.EXIT_TIMEOUT),
                ("not found", ["no-such-command-xyz"], [], abtest.EXIT_NOTFOUND)):
            with self.subTest(what):
                pty = self.start_pty(cmd, args)
                self.assertEqual(pty.wait(60), rc, pty.output)
                self.assertEqual(pty.attrs_now(), pty.attrs_before,
                                 "terminal settings not restored (%s)" % what)


if __name__ == "__main__":
    abtest.main()
