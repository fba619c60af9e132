#!/usr/bin/python3
"""Integration: the shared libraries a start of agentbox loads (docs/design-notes.md item 23).

OpenSSL, libgit2, libarchive and zlib are opened on first use (sys/lazylib.hpp): linked, they
cost every start their loading and relocation (OpenSSL alone was half of `agentbox --version`'s
page faults), although only TLS interception, `diff`, `export` and the review call them. These
cases check the binary from the outside: its NEEDED entries, what the dynamic loader opens for
a run that intercepts nothing, and that a run which does need OpenSSL and cannot load it
fails before its command starts. libseccomp and libsodium, which a run does use, are linked in
from their static archives when the build found them (CMakeLists.txt): no shared copy is
loaded at all.
"""

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BUILD_DIR, EXIT_SETUP, BoxTest  # noqa: E402

# Loaded on first use, never at start (the sonames' stems).
LAZY = ("libssl", "libcrypto", "libgit2", "libarchive", "libz")


def lazy_names(text):
    return sorted({m for m in re.findall(r"\b(lib[a-z0-9]+)\.so", text) if m in LAZY})


# Linked in from static archives when the build found them (their CMake cache entries).
STATIC = {"libseccomp": "AGENTBOX_SECCOMP_ARCHIVE", "libsodium": "AGENTBOX_SODIUM_ARCHIVE"}


def static_in_build():
    """The STATIC libraries this build linked from an archive; None without a CMake cache."""
    cache = os.path.join(BUILD_DIR, "CMakeCache.txt") if BUILD_DIR else ""
    if not cache or not os.path.exists(cache):
        return None
    with open(cache) as f:
        text = f.read()
    return sorted(lib for lib, var in STATIC.items()
                  if re.search(r"^" + var + r":FILEPATH=.*\.a$", text, re.M))


def loaded_path(soname):
    """Where the dynamic loader finds `soname` for this machine (from this process's maps)."""
    ctypes.CDLL(soname)
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if os.path.basename(path).startswith(soname):
                return os.path.realpath(path)
    return None


class StartupLibraries(BoxTest):
    @unittest.skipUnless(shutil.which("readelf"), "readelf is not installed")
    def test_the_binary_does_not_link_a_library_it_loads_on_first_use(self):
        dyn = subprocess.run(["readelf", "-d", AGENTBOX], capture_output=True, text=True,
                             check=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
        self.assertTrue(needed, dyn)  # libc at least: the pattern still matches readelf's output
        self.assertEqual(lazy_names(" ".join(needed)), [], needed)

    def test_a_run_loads_no_shared_libseccomp_or_libsodium_when_linked_from_archives(self):
        # Each shared library cost every start ~0.3 ms of CPU here (bench/RESULTS.md,
        # startup-issue22). The loader's own account (LD_DEBUG=files) of every object it opens
        # for a full run, at start or by dlopen: neither may be among them.
        linked = static_in_build()
        if not linked:
            self.skipTest("this build links libseccomp and libsodium shared (no archives)")
        res = self.box.run(["true"], profiles=["default"], env={"LD_DEBUG": "files"},
                           probes=False)
        self.assertRc(res, 0)
        self.assertIn("file=", res.err, res)
        opened = re.findall(r"file=(\S+)\s+\[\d+\];\s+(?:needed by|dynamically loaded by) "
                            + re.escape(AGENTBOX), res.err)
        names = {m for m in re.findall(r"\b(lib[a-z0-9]+)\.so", " ".join(opened))}
        self.assertEqual(sorted(names & set(linked)), [], res)

    def test_a_run_that_intercepts_nothing_opens_no_tls_library(self):
        # LD_DEBUG=files: the dynamic loader names every object it opens, at start and by
        # dlopen, on stderr. A full run of the default profile, proxy on (an allowlisted host),
        # and a dry run: none may open OpenSSL (nor the stage libraries: nothing to diff).
        env = {"LD_DEBUG": "files"}
        for args, cmd in ((["--net", "proxy", "--allow-host", "example.com:443"], ["true"]),
                          (["--dry-run"], ["true"])):
            res = self.box.run(cmd, profiles=["default"], args=args, env=env, probes=False)
            self.assertRc(res, 0)
            self.assertIn("file=", res.err, res)  # LD_DEBUG is honoured here
            opened = re.findall(r"file=(\S+)\s+\[\d+\];\s+(?:needed by|dynamically loaded by) "
                                + re.escape(AGENTBOX), res.err)
            self.assertEqual(lazy_names(" ".join(opened)), [], res)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                         "needs root and unshare(1) to hide libssl in a mount namespace")
    def test_interception_without_a_loadable_libssl_fails_before_the_command_runs(self):
        soname = ctypes.util.find_library("ssl")
        path = soname and loaded_path(soname)
        if not path:
            self.skipTest("libssl is not found on this machine")
        # /dev/null bound over the library in a private mount namespace: dlopen finds the file
        # and cannot load it (as after a broken upgrade). Only interception needs it: a run
        # with a secret must fail with the library named, exit 125, the command never started;
        # the same run without the secret still works.
        argv = self.box.argv(["echo", "command ran"], profiles=["default"],
                             args=["--net", "proxy", "--allow-host", "api.test:443",
                                   "--secret", "AB_TEST_KEY@api.test"], probes=False)
        hide = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind /dev/null "$0" && exec "$@"', path]
        res = self.box.run(None, argv=hide + argv, env={"AB_TEST_KEY": "sk-test-123"})
        self.assertRc(res, EXIT_SETUP)
        self.assertNotIn("command ran", res.out, res)
        self.assertIn(soname, res.err, res)
        self.assertEqual(self.box.sessions(), [], "a session was made before the failure")
        plain = [a for a in argv if a not in ("--secret", "AB_TEST_KEY@api.test")]
        res = self.box.run(None, argv=hide + plain)
        self.assertRc(res, 0)
        self.assertIn("command ran", res.out, res)


if __name__ == "__main__":
    abtest.main()
