#!/usr/bin/env python3
"""`make install` and `make uninstall` (issue #7), into a DESTDIR as a packager would:

- the tree: the binary, the built-in profiles, the three man pages, the three completion
  scripts, each where its consumer looks (man, bash-completion's loader, zsh's fpath, fish's
  vendor completions), and each identical to its source;
- the installed binary runs on its own (no build tree, no source tree) and prints the same
  completions it installed;
- `man -l` renders the installed page;
- each shell finds the installed completion through its own lookup;
- `make uninstall` removes every file again.

Needs the build tree (AGENTBOX_BUILD_DIR with its CMakeCache.txt) and write access to it: the
unprivileged pass, which runs on a copy of the binary only, skips.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get("AGENTBOX_SOURCE_DIR", "")
BUILD_DIR = os.environ.get("AGENTBOX_BUILD_DIR", "")
# Not /usr or /usr/local: should `make uninstall` ever forget DESTDIR, it must find nothing of
# the system's to remove.
PREFIX = "/opt/agentbox-install-test"
PAGES = {"man1/agentbox.1", "man5/agentbox-profile.5", "man5/agentbox-log.5"}
COMPLETIONS = {
    "share/bash-completion/completions/agentbox": "agentbox.bash",
    "share/zsh/vendor-completions/_agentbox": "_agentbox",
    "share/fish/vendor_completions.d/agentbox.fish": "agentbox.fish",
}
COMMANDS = ["run", "sessions", "diff", "commit", "discard", "undo", "export", "log",
            "explain", "profile", "doctor", "completions"]


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


@unittest.skipUnless(os.path.exists(os.path.join(BUILD_DIR, "CMakeCache.txt")),
                     "no build tree to install from")
@unittest.skipUnless(os.access(BUILD_DIR or "/nonexistent", os.W_OK), "the build tree is not writable")
class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="agentbox-install-")
        cls.dest = os.path.join(cls.tmp, "dest")
        cls.root = cls.dest + PREFIX
        # The test's install must not replace the manifest of a real one: `make uninstall`
        # would then remove the wrong files.
        cls.saved = {}
        for name in ("install_manifest.txt", "install_destdir"):
            path = os.path.join(BUILD_DIR, name)
            cls.saved[path] = read(path) if os.path.exists(path) else None
        cls.make_install = cls.make("install")
        cls.env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(cls.tmp, "home"),
                   "LANG": "C.UTF-8", "NO_COLOR": "1",
                   "XDG_STATE_HOME": os.path.join(cls.tmp, "state"),
                   "XDG_CONFIG_HOME": os.path.join(cls.tmp, "config")}
        os.makedirs(cls.env["HOME"])

    @classmethod
    def tearDownClass(cls):
        for path, text in cls.saved.items():
            if text is not None:
                with open(path, "w") as f:
                    f.write(text)
            elif os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make(cls, target):
        return subprocess.run(["make", "--no-print-directory", "-C", SOURCE_DIR, target,
                               "BUILD=" + BUILD_DIR, "PREFIX=" + PREFIX, "DESTDIR=" + cls.dest,
                               "JOBS=2"], capture_output=True, text=True, timeout=1800)

    def installed(self):
        files = set()
        for d, _, names in os.walk(self.dest):
            for n in names:
                files.add(os.path.relpath(os.path.join(d, n), self.root))
        return files

    def setUp(self):
        r = self.make_install
        self.assertEqual(r.returncode, 0, "make install failed:\n%s\n%s" % (r.stdout, r.stderr))

    def test_tree_has_binary_profiles_pages_and_completions_and_nothing_else(self):
        profiles = {"share/agentbox/profiles/" + p
                    for p in os.listdir(os.path.join(SOURCE_DIR, "profiles")) if p.endswith(".toml")}
        want = {"bin/agentbox"} | profiles | {"share/man/" + p for p in PAGES} | set(COMPLETIONS)
        self.assertEqual(want, self.installed())
        self.assertTrue(os.access(os.path.join(self.root, "bin/agentbox"), os.X_OK))
        for p in profiles:
            self.assertEqual(read(os.path.join(SOURCE_DIR, "profiles", os.path.basename(p))),
                             read(os.path.join(self.root, p)), p)
        for dst, src in COMPLETIONS.items():
            self.assertEqual(read(os.path.join(SOURCE_DIR, "completions", src)),
                             read(os.path.join(self.root, dst)), dst)

    def test_installed_binary_runs_alone(self):
        # A copy outside the build tree, so nothing can be found next to it by accident.
        exe = os.path.join(self.root, "bin", "agentbox")
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^agentbox \d+\.\d+\.\d+\n$")
        r = subprocess.run([exe, "profile", "list", "--names"], capture_output=True, text=True,
                           env=self.env, cwd=self.env["HOME"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLessEqual({"base", "default", "claude-code", "ci"}, set(r.stdout.split()))
        r = subprocess.run([exe, "completions", "bash"], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.stdout, read(os.path.join(self.root, "share/bash-completion/completions/agentbox")))

    @unittest.skipUnless(shutil.which("readelf"), "readelf is not installed")
    def test_installed_binary_has_a_read_only_got(self):
        # Full RELRO: symbols bound at load, then the GOT read-only, so that a memory bug in the
        # launcher cannot redirect a library call by overwriting it.
        exe = os.path.join(self.root, "bin", "agentbox")
        dyn = subprocess.run(["readelf", "-d", "-l", exe], capture_output=True, text=True).stdout
        self.assertIn("GNU_RELRO", dyn)
        self.assertRegex(dyn, r"\(FLAGS_1\)\s+Flags:.*\bNOW\b")

    @unittest.skipUnless(shutil.which("man"), "man is not installed")
    def test_man_renders_the_installed_pages(self):
        env = dict(self.env, MANWIDTH="100", MAN_KEEP_FORMATTING="0", MANPAGER="cat", PAGER="cat")
        r = subprocess.run(["man", "-l", os.path.join(self.root, "share/man/man1/agentbox.1")],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = re.sub(".\x08", "", r.stdout)  # bold and underline by overstriking
        self.assertTrue(text.startswith("agentbox(1)"), text[:200])
        for cmd in COMMANDS:
            self.assertTrue(re.search(r"agentbox\s+%s\b" % cmd, text), cmd)
        self.assertEqual("", r.stderr)  # no troff warnings
        # MANPATH lookup by name, as `man agentbox-profile` after a real install.
        r = subprocess.run(["man", "-M", os.path.join(self.root, "share/man"), "5", "agentbox-profile"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("extends", re.sub(".\x08", "", r.stdout))

    @unittest.skipUnless(os.path.exists("/usr/share/bash-completion/bash_completion"),
                         "bash-completion is not installed")
    def test_bash_completion_loader_finds_it(self):
        # bash-completion loads a command's completion on first use from
        # $XDG_DATA_DIRS/bash-completion/completions/NAME.
        env = dict(self.env, XDG_DATA_DIRS=os.path.join(self.root, "share"),
                   PATH=os.path.join(self.root, "bin") + ":" + self.env["PATH"])
        script = ("source /usr/share/bash-completion/bash_completion\n"
                  "__load_completion agentbox && complete -p agentbox")
        r = subprocess.run(["bash", "--norc", "-i", "-c", script], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"complete -F \S+ agentbox")

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_zsh_compinit_finds_it(self):
        script = ("fpath=(%s $fpath); autoload -U compinit; compinit -u -D; print -r -- $_comps[agentbox]"
                  % os.path.join(self.root, "share/zsh/vendor-completions"))
        r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.stdout.strip(), "_agentbox", r.stderr)

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish_finds_it(self):
        env = dict(self.env, PATH=os.path.join(self.root, "bin") + ":" + self.env["PATH"])
        script = ("set -p fish_complete_path %s; complete -C'agentbox '"
                  % os.path.join(self.root, "share/fish/vendor_completions.d"))
        r = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLessEqual(set(COMMANDS), {l.split("\t")[0] for l in r.stdout.splitlines()})

    @unittest.skipUnless(shutil.which("dpkg-deb") and shutil.which("cpack"), "no dpkg-deb or cpack")
    def test_deb_package_holds_the_same_tree_and_names_its_libraries(self):
        for old in glob.glob(os.path.join(BUILD_DIR, "agentbox_*.deb")):
            os.unlink(old)
        r = self.make("deb")
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        [deb] = glob.glob(os.path.join(BUILD_DIR, "agentbox_*.deb"))
        listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True)
        files = {line.split()[-1].lstrip(".").lstrip("/")[len("usr/"):]
                 for line in listing.stdout.splitlines() if not line.startswith("d")}
        self.assertEqual(self.installed(), files)  # what `make install PREFIX=/usr` installs
        depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                                 text=True, check=True).stdout
        # Linked (found by dpkg-shlibdeps) and loaded with dlopen (named by CMakeLists.txt).
        # libseccomp and libsodium are linked from their static archives where the build
        # found them (CMakeLists.txt, agentbox_lib_*): a dependency only when linked shared.
        root = os.path.join(self.tmp, "deb-root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        needed = subprocess.run(["readelf", "-d", os.path.join(root, "usr/bin/agentbox")],
                                capture_output=True, text=True, check=True).stdout
        for lib in ("libseccomp", "libsodium"):
            if lib + ".so" in needed:
                self.assertIn(lib, depends)
        for lib in ("libgit2", "libarchive"):
            self.assertIn(lib, depends)
        r = subprocess.run([os.path.join(root, "usr/bin/agentbox"), "--version"],
                           capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_uninstall_removes_every_file(self):
        # Last, on a second tree, so that the other cases keep theirs.
        other = self.__class__
        saved = other.dest, other.root
        try:
            other.dest = os.path.join(self.tmp, "dest2")
            other.root = other.dest + PREFIX
            r = other.make("install")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("bin/agentbox", self.installed())
            # The DESTDIR of the install is the one removed from, whatever this command says.
            r = subprocess.run(["make", "--no-print-directory", "-C", SOURCE_DIR, "uninstall",
                                "BUILD=" + BUILD_DIR], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(set(), self.installed())
            self.assertFalse(os.path.exists(os.path.join(other.root, "share", "agentbox")))
            r = other.make("uninstall")  # nothing left to remove: says so
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("nothing installed", r.stdout + r.stderr)
        finally:
            other.dest, other.root = saved


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
    import abtest  # noqa: E402  (its main prints the SUMMARY line tests/run_all.sh counts)
    abtest.main()
