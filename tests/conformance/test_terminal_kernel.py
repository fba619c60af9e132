#!/usr/bin/python3
"""Conformance: the terminal and kernel surface (THREATS.md "Terminal and kernel surface").

Each case is named after the attack it tries. Probes are the C programs in probes/; they print
"<attempt>: ok" or "<attempt>: errno=N", and the cases check the verdict and, where the attack
would leave a trace, the host side. The test_probe_works_without_sandbox_* cases run the same
probes with nothing in the way and assert that the attack SUCCEEDS there, so a green result
above means the sandbox stopped it, not that the probe was broken.
"""

import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import IS_ROOT, SIGSYS, BoxTest, PtyRun, probe  # noqa: E402

SYSCALLS = probe("syscalls")


def injected_text():
    return "id # injected-%s\n" % os.urandom(4).hex()


class TerminalInjection(BoxTest):
    """The user's terminal must not receive input from inside (bubblewrap CVE-2017-5226)."""

    def inject(self, mode, tty_flag, text):
        pty = PtyRun(self.box.argv([probe("tiocsti"), mode, text], args=[tty_flag]),
                     self.box.env(), self.box.project)
        self.addCleanup(pty.close)
        rc = pty.wait(60)
        pending = pty.pending_input()
        output = pty.output.decode(errors="replace")
        self.box.assert_no_canary(output)
        return rc, pending, output

    def assertNothingInjected(self, mode, tty_flag, expect_eperm):
        text = injected_text()
        rc, pending, output = self.inject(mode, tty_flag, text)
        self.assertNotIn(rc, (125, 126, 127), "the probe did not run: %r" % output)
        self.assertRegex(output, r"%s: (ok|errno=)" % mode, "the probe reported nothing")
        self.assertEqual(pending, b"", "TIOCSTI (%s, %s) pushed %r into the user's terminal;"
                         " output: %r" % (mode, tty_flag, pending, output))
        self.assertNotRegex(output, r"%s: ok" % mode, "injection reported success")
        if expect_eperm:
            # With the host terminal handed straight to the command only seccomp stands in the
            # way; an ENOTTY/EIO here would mean the filter is missing and luck saved us.
            self.assertRegex(output, r"%s: errno=%d " % (mode, errno.EPERM),
                             "expected the seccomp filter to answer EPERM")

    def test_tiocsti_injection_into_user_terminal(self):
        # Default: stdin is a terminal, so agentbox relays a new pty; the command's terminal
        # is not the user's.
        self.assertNothingInjected("fd0", "--tty", expect_eperm=False)

    def test_tiocsti_injection_with_host_terminal_passed_through(self):
        self.assertNothingInjected("fd0", "--no-tty", expect_eperm=True)

    def test_tiocsti_injection_via_dev_tty(self):
        text = injected_text()
        for flag in ("--tty", "--no-tty"):
            rc, pending, output = self.inject("devtty", flag, text)
            self.assertNotIn(rc, (125, 126, 127), output)
            self.assertRegex(output, r"devtty: (ok|errno=)", "the probe reported nothing")
            self.assertEqual(pending, b"", "%s: /dev/tty injection reached the user's terminal"
                             " (%r); output %r" % (flag, pending, output))

    def test_ioctl_tiocsti_high_bits_bypass(self):
        # ioctl's request is 32 bits in the kernel: a filter that compares 64 bits misses this.
        self.assertNothingInjected("highbits", "--no-tty", expect_eperm=True)

    def test_tioclinux_injection(self):
        for mode in ("tioclinux", "tioclinux_highbits"):
            _, pending, output = self.inject(mode, "--no-tty", "x")
            self.assertEqual(pending, b"", output)
            self.assertRegex(output, r"%s: errno=%d " % (mode, errno.EPERM),
                             "TIOCLINUX must be refused by the filter (EPERM), whatever the tty")

    def test_probe_works_without_sandbox_tiocsti(self):
        for mode in ("fd0", "highbits"):
            text = injected_text()
            pty = PtyRun([probe("tiocsti"), mode, text], self.box.env(), self.box.project)
            self.addCleanup(pty.close)
            pty.wait(30)
            self.assertEqual(pty.pending_input(), text.encode(),
                             "the probe cannot inject on this host (dev.tty.legacy_tiocsti=0?):"
                             " the TIOCSTI cases prove nothing. output %r" % pty.output)


class ForeignAbi(BoxTest):
    def test_x32_abi_syscall(self):
        res = self.box.run([SYSCALLS, "x32"])
        self.assertIn("x32: calling", res.out, res)
        self.assertNotRegex(res.out, r"x32: (ok|errno)", "an x32 syscall returned\n%s" % res)
        self.assertEqual(res.rc, 128 + SIGSYS, "x32 syscalls must kill the process\n%s" % res)

    def test_i386_int80_syscall(self):
        host = self.host_run([SYSCALLS, "int80"])
        res = self.box.run([SYSCALLS, "int80"])
        self.assertIn("int80: calling", res.out, res)
        self.assertNotRegex(res.out, r"int80: (ok|errno)", "an i386 syscall returned\n%s" % res)
        if host.rc == -signal.SIGSEGV:
            # ia32 emulation is off on this kernel: int $0x80 faults before seccomp sees it.
            self.assertIn(res.rc, (128 + SIGSYS, 128 + signal.SIGSEGV), res)
        else:
            self.assertEqual(res.rc, 128 + SIGSYS, "i386 syscalls must kill the process\n%s" % res)


class Namespaces(BoxTest):
    def test_clone3_namespace_escape(self):
        # ENOSYS, not EPERM: libc then falls back to clone, whose flags the filter can see.
        self.assertDenied(self.box.run([SYSCALLS, "clone3_newuser"]), "clone3_newuser",
                          (errno.ENOSYS,))

    def test_clone_with_namespace_flags(self):
        self.assertDenied(self.box.run([SYSCALLS, "clone_newuser"]), "clone_newuser")

    def test_nested_user_namespace(self):
        res = self.box.run([SYSCALLS, "unshare_user"])
        self.assertDenied(res, "unshare_user")
        res = self.box.run(["sh", "-c", "unshare -U true && echo NESTED-OK || echo refused"])
        self.assertSandboxRan(res)
        self.assertNotIn("NESTED-OK", res.out, res)

    def test_unshare_mount_namespace(self):
        res = self.box.run([SYSCALLS, "unshare_mount", "unshare_net", "setns"])
        for name in ("unshare_mount", "unshare_net", "setns"):
            self.assertDenied(res, name)

    def test_probe_works_without_sandbox_namespaces(self):
        res = self.host_run([SYSCALLS, "clone3_newuser", "clone_newuser", "unshare_user"])
        for name in ("clone3_newuser", "clone_newuser", "unshare_user"):
            self.assertEqual(res.errno_of(name), 0, res)


class MountApi(BoxTest):
    """flatpak CVE-2021-41133: the new mount API was missing from the filter."""

    def test_new_mount_api_fsopen(self):
        res = self.box.run([SYSCALLS, "fsopen", "fspick", "mount_setattr=/usr"])
        for name in ("fsopen", "fspick", "mount_setattr"):
            self.assertDenied(res, name)

    def test_open_tree_move_mount(self):
        res = self.box.run([SYSCALLS, "open_tree=/usr", "move_mount"])
        self.assertDenied(res, "open_tree")
        self.assertDenied(res, "move_mount")

    def test_open_tree_attr_newer_than_libseccomp_is_filtered(self):
        # A call of the mount family the filter's libseccomp cannot name went through the
        # default filter unseen: now ENOSYS from the fence before libseccomp's program (EPERM
        # once libseccomp names it and its rule applies).
        host = self.host_run(self.unshare_argv([SYSCALLS, "open_tree_attr=/usr"]))
        if host.errno_of("open_tree_attr") == errno.ENOSYS:
            self.skipTest("this kernel has no open_tree_attr")
        res = self.box.run([SYSCALLS, "open_tree_attr=/usr"])
        self.assertDenied(res, "open_tree_attr", expected=(errno.ENOSYS, errno.EPERM))

    def test_mount_over_or_unmount_a_mask(self):
        # Unmounting a mask would uncover what it hides; mounting could hide the sandbox's own.
        res = self.box.run([SYSCALLS, "mount=/tmp", "umount=/proc", "pivot_root", "chroot"])
        for name in ("mount", "umount", "pivot_root", "chroot"):
            self.assertDenied(res, name)

    def test_probe_works_without_sandbox_mount_api(self):
        res = self.host_run(self.unshare_argv([SYSCALLS, "fsopen", "fspick", "mount=/tmp",
                                               "mount_setattr=/tmp", "move_mount"]))
        for name in ("fsopen", "fspick", "mount", "mount_setattr", "move_mount"):
            self.assertEqual(res.errno_of(name), 0, res)


class KernelInterfaces(BoxTest):
    def test_io_uring_setup(self):
        # io_uring performs I/O without syscalls the filter could see.
        self.assertDenied(self.box.run([SYSCALLS, "io_uring_setup"]), "io_uring_setup")

    def test_bpf_map_create(self):
        self.assertDenied(self.box.run([SYSCALLS, "bpf"]), "bpf")

    def test_perf_event_open(self):
        self.assertDenied(self.box.run([SYSCALLS, "perf_event_open"]), "perf_event_open")

    def test_userfaultfd(self):
        self.assertDenied(self.box.run([SYSCALLS, "userfaultfd"]), "userfaultfd")

    def test_keyctl_join_host_keyring(self):
        res = self.box.run([SYSCALLS, "keyctl", "add_key"])
        self.assertDenied(res, "keyctl")
        self.assertDenied(res, "add_key")

    def test_personality_disable_aslr(self):
        res = self.box.run([SYSCALLS, "personality_query", "personality"])
        self.assertEqual(res.errno_of("personality_query"), 0, "querying must stay allowed\n%s"
                         % res)
        self.assertDenied(res, "personality")

    def test_syslog_read_kernel_log(self):
        self.assertDenied(self.box.run([SYSCALLS, "syslog"]), "syslog")

    def test_probe_works_without_sandbox_kernel_interfaces(self):
        res = self.host_run(self.unshare_argv([SYSCALLS, "io_uring_setup", "keyctl",
                                               "personality", "perf_event_open"]))
        for name in ("io_uring_setup", "keyctl", "personality", "perf_event_open"):
            self.assertEqual(res.errno_of(name), 0, res)


class Ptrace(BoxTest):
    def test_ptrace_init(self):
        res = self.box.run([SYSCALLS, "ptrace=1", "process_vm_readv=1"])
        self.assertDenied(res, "ptrace")
        self.assertDenied(res, "process_vm_readv")

    def test_ptrace_sibling_outside(self):
        argv, marker = abtest.sleeper()
        host = subprocess.Popen(argv)
        self.addCleanup(lambda: (host.kill(), host.wait()))
        pid = host.pid
        res = self.box.run([SYSCALLS, "kill0=%d" % pid, "ptrace=%d" % pid,
                            "process_vm_readv=%d" % pid])
        # The host process must not even be visible: ESRCH, not EPERM, for a plain kill(0).
        self.assertDenied(res, "kill0", (errno.ESRCH,))
        self.assertDenied(res, "ptrace", (errno.EPERM, errno.ESRCH))
        self.assertDenied(res, "process_vm_readv", (errno.EPERM, errno.ESRCH))
        self.assertIsNone(host.poll(), "the host process died")
        with open("/proc/%d/status" % pid) as f:
            self.assertRegex(f.read(), r"TracerPid:\s+0\n")


def parse_status(out):
    procs = {}
    for line in out.splitlines():
        m = re.match(r"(\S+) (\w+):\s+(.*)$", line)
        if m:
            procs.setdefault(m.group(1), {})[m.group(2)] = m.group(3).split()
    return procs


class Privileges(BoxTest):
    CAPS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")

    def assertUnprivileged(self, res, labels):
        self.assertRc(res, 0)
        procs = parse_status(res.out)
        for label in labels:
            self.assertIn(label, procs, "no status of %s\n%s" % (label, res))
            st = procs[label]
            for cap in self.CAPS:
                self.assertEqual(int(st[cap][0], 16), 0, "%s of %s is %s\n%s" % (
                    cap, label, st[cap][0], res))
            self.assertEqual(st["NoNewPrivs"], ["1"], "%s: NoNewPrivs\n%s" % (label, res))
            self.assertEqual(st["Seccomp"], ["2"], "%s: no seccomp filter\n%s" % (label, res))
            uid = str(os.getuid())
            self.assertEqual(st["Uid"], [uid] * 4, "%s: uids changed\n%s" % (label, res))
        return procs

    def test_capabilities_all_zero_in_every_process(self):
        self.assertUnprivileged(self.box.run([probe("caps")]),
                                ("command", "grandchild", "exec"))

    def test_setuid_binary_gains_nothing(self):
        if not IS_ROOT:
            self.skipTest("creating a setuid-root file needs root")
        for owner in (0, 65534):
            dst = os.path.join(self.box.project, "suid-%d" % owner)
            shutil.copy(probe("caps"), dst)
            os.chown(dst, owner, owner)
            os.chmod(dst, 0o6755)
            res = self.box.run([dst, "--label", "suid"])
            self.assertUnprivileged(res, ("suid",))

    def test_file_capabilities_ignored(self):
        if not IS_ROOT:
            self.skipTest("setting file capabilities needs root")
        setcap = shutil.which("setcap", path=abtest.HOST_PATH)
        if not setcap:
            self.skipTest("setcap (libcap2-bin) is not installed")
        dst = os.path.join(self.box.project, "fcaps")
        shutil.copy(probe("caps"), dst)
        subprocess.run([setcap, "cap_sys_admin,cap_net_raw,cap_dac_override+eip", dst],
                       check=True)
        self.assertUnprivileged(self.box.run([dst, "--label", "fcaps"]), ("fcaps",))

    def test_pid1_is_not_dumpable(self):
        # A dumpable init would let the command (same uid) read its memory, environment
        # (the user's full environment) and open fds.
        script = ("for f in environ fd/ exe maps; do"
                  " if ls -L /proc/1/$f >/dev/null 2>&1 && cat /proc/1/$f >/dev/null 2>&1;"
                  " then echo \"pid1 $f readable\"; else echo \"pid1 $f denied\"; fi; done;"
                  " cat /proc/self/environ >/dev/null && echo self-environ-readable;"
                  " cat /proc/1/comm")
        res = self.box.run(["sh", "-c", script])
        self.assertRc(res, 0)
        self.assertIn("self-environ-readable", res.out, res)
        self.assertNotRegex(res.out, r"pid1 \S+ readable", res)
        self.assertNotEqual(res.out.splitlines()[-1].strip(), "sh",
                            "pid 1 is the command, not agentbox's init\n%s" % res)


class HostKnobs(BoxTest):
    def test_hostname_isolated(self):
        before = socket.gethostname()
        res = self.box.run(["sh", "-c", "hostname; hostname agentbox-evil 2>/dev/null;"
                            " echo x > /proc/sys/kernel/hostname 2>/dev/null; hostname"])
        self.assertRc(res, 0)
        self.assertEqual(socket.gethostname(), before, "the host's hostname was changed")
        self.assertNotEqual(res.out.splitlines()[0].strip(), before,
                            "the sandbox sees the host's hostname\n%s" % res)

    def test_sysrq_and_kernel_knobs_not_writable(self):
        knob = "/proc/sys/kernel/printk_ratelimit"
        with open(knob) as f:
            before = f.read()
        self.addCleanup(self._restore, knob, before)
        script = ("echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-written;"
                  " echo %d > %s 2>/dev/null && echo knob-written;"
                  " echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo dropcaches-written;"
                  " echo done") % (int(before) + 7, knob)
        res = self.box.run(["sh", "-c", script])
        self.assertRc(res, 0)
        self.assertNotIn("written", res.out, "a host kernel knob was writable\n%s" % res)
        with open(knob) as f:
            self.assertEqual(f.read(), before, "%s changed on the host" % knob)

    @staticmethod
    def _restore(knob, value):
        try:
            with open(knob) as f:
                if f.read() == value:
                    return
            with open(knob, "w") as f:
                f.write(value)
        except OSError:
            pass


if __name__ == "__main__":
    abtest.main()
