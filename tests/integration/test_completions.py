#!/usr/bin/env python3
"""Tab completion, driven through the real shells (issue #7): bash (interactive, with and
without the bash-completion package), zsh (an interactive zsh on a pseudo-terminal, pressing
Tab) and fish (`complete -C`).

What each shell must complete: the commands, every flag that `agentbox COMMAND --help` lists
(the help is the reference, so a flag added to the binary without a completion fails here),
profile names (from the binary, so a user profile shows up), session ids, and the values of
enumerated options.

The scripts are the ones the binary prints (`agentbox completions SHELL`), which are the
shipped files (test_cli.py checks that), and they find `agentbox` on PATH as they would after
`make install`.
"""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

AGENTBOX = os.path.abspath(os.environ.get("AGENTBOX", "agentbox"))
HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
BUILTIN_PROFILES = {"base", "default", "readonly", "python", "claude-code", "codex", "gemini",
                    "ci"}
END = "<<agentbox-completion-end>>"


def help_text(env, *cmd):
    r = subprocess.run([AGENTBOX, *cmd, "--help"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise AssertionError("agentbox %s --help: exit %d\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    return r.stdout


def help_subcommands(text):
    """Names listed in the Subcommands: section of a --help."""
    m = re.search(r"^Subcommands:\n((?:  .*\n)+)", text, re.M)
    return re.findall(r"^  (\S+)\s", m.group(1), re.M) if m else []


def help_flags(text):
    """Every spelling of every option in the Options: section: "-p,--profile TEXT" gives -p
    and --profile."""
    m = re.search(r"^Options:\n((?:  .*\n|\n(?=  ))+)", text, re.M)
    flags = set()
    for first in re.findall(r"^  (-\S+)", m.group(1) if m else "", re.M):
        flags.update(f for f in first.split(",") if f.startswith("-"))
    return flags


class Shells:
    """The world every shell completes in, made once: a private HOME and XDG dirs, a project
    with one staged session, a user profile, and `agentbox` on PATH."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="agentbox-compl-")
        os.chmod(self.tmp, 0o755)
        self.home = os.path.join(self.tmp, "home")
        self.project = os.path.join(self.tmp, "project")
        self.bin = os.path.join(self.tmp, "bin")
        for d in (self.home, self.project, self.bin):
            os.makedirs(d)
        os.symlink(AGENTBOX, os.path.join(self.bin, "agentbox"))
        self.env = {
            "PATH": self.bin + os.pathsep + HOST_PATH, "HOME": self.home, "LANG": "C.UTF-8",
            "TERM": "xterm", "NO_COLOR": "1",
            "XDG_STATE_HOME": os.path.join(self.home, ".local", "state"),
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "USER": os.environ.get("USER", "root"),
        }
        # A user profile: its name can only come from asking the binary.
        profiles = os.path.join(self.env["XDG_CONFIG_HOME"], "agentbox", "profiles")
        os.makedirs(profiles)
        with open(os.path.join(profiles, "mine-for-completion.toml"), "w") as f:
            f.write('version = 1\nname = "mine-for-completion"\nextends = ["default"]\n')
        with open(os.path.join(self.project, "README"), "w") as f:
            f.write("project file\n")
        subprocess.run(["git", "init", "-q", self.project], check=True, env=self.env)
        self.scripts = {}
        for shell, name in (("bash", "agentbox.bash"), ("zsh", "_agentbox"), ("fish", "agentbox.fish")):
            r = self.agentbox("completions", shell)
            if r.returncode != 0:
                raise AssertionError("agentbox completions %s: %s" % (shell, r.stderr))
            d = os.path.join(self.tmp, shell)
            os.makedirs(d)
            self.scripts[shell] = os.path.join(d, name)
            with open(self.scripts[shell], "w") as f:
                f.write(r.stdout)
        # Two staged sessions; the sandbox may be unavailable (then session cases skip). The
        # second one's command spans two lines, and so does its line in `agentbox sessions`:
        # completion must offer ids, not whatever word starts a line.
        self.sessions, self.session_error = [], ""
        for script in ("echo x >> README", "echo y >> README\n# a second line"):
            r = self.agentbox("run", "--on-exit", "keep", "-q", "--", "sh", "-c", script)
            self.session_error = self.session_error or (r.stderr if r.returncode else "")
        ids = re.findall(r"^(\d{8}T\d{6}Z-[0-9a-f]+) ", self.agentbox("sessions").stdout, re.M)
        if not self.session_error and len(ids) == 2:
            self.sessions = ids
        self.session = self.sessions[-1] if self.sessions else None

    def agentbox(self, *args):
        return subprocess.run([AGENTBOX, *args], capture_output=True, text=True, env=self.env,
                              cwd=self.project, stdin=subprocess.DEVNULL, timeout=120)

    def cleanup(self):
        subprocess.run(["chmod", "-R", "u+rwx", self.tmp], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- the drivers: each takes queries (lists of words, the last one being completed,
    # "" for a fresh word) and returns one list of offered words per query

    def bash(self, queries, with_bash_completion):
        lines = ["source %s" % BASH_COMPLETION] if with_bash_completion else []
        # The function comes from `complete -p`, as bash itself finds it.
        lines += [
            "source %s" % self.scripts["bash"],
            "spec=$(complete -p agentbox) || exit 3",
            "echo \"SPEC $spec\"",
            "fn=$(sed -n 's/.*-F \\([^ ]*\\).*/\\1/p' <<<\"$spec\")",
            "q() {",
            "  COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}",
            "  COMP_TYPE=9; COMPREPLY=()",
            "  \"$fn\" agentbox \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\" 2>/dev/null",
            "  printf '%s\\n' \"${COMPREPLY[@]}\"; echo '" + END + "'",
            "}",
        ]
        for words in queries:
            lines.append("q " + " ".join(shell_quote(w) for w in words))
        r = subprocess.run(["bash", "--norc", "--noprofile", "-i", "-c", "\n".join(lines)],
                           capture_output=True, text=True, env=self.env, cwd=self.project,
                           stdin=subprocess.DEVNULL, timeout=120)
        spec = re.search(r"^SPEC (.*)$", r.stdout, re.M)
        if r.returncode != 0 or spec is None:
            raise AssertionError("bash failed (%d): %s" % (r.returncode, r.stderr))
        self.bash_spec = spec.group(1)
        return split_results(r.stdout[spec.end():], len(queries))

    def fish(self, queries):
        script = ("source $argv[1]; for q in $argv[2..-1]; complete -C\"$q\"; echo '%s'; end"
                  % END)
        r = subprocess.run(["fish", "--no-config", "-c", script, self.scripts["fish"],
                            *[" ".join(words) for words in queries]],
                           capture_output=True, text=True, env=self.env, cwd=self.project,
                           stdin=subprocess.DEVNULL, timeout=120)
        if r.returncode != 0:
            raise AssertionError("fish failed (%d): %s" % (r.returncode, r.stderr))
        return [[w.split("\t")[0] for w in ws] for ws in split_results(r.stdout, len(queries))]

    def zsh(self, queries):
        """An interactive zsh on a pseudo-terminal: compinit with the script's directory in
        fpath, then each query typed and Tab pressed. compadd is wrapped to record what the
        completion functions offer (after zsh's own prefix matching) into a file."""
        out = os.path.join(self.tmp, "zsh-offered")
        setup = [
            "PS1='> '; PROMPT_EOL_MARK=''",
            # No listing and no menu: Tab only runs the completion functions.
            "unsetopt autolist automenu listambiguous; setopt nobeep",
            # Not ^U: typed while the previous line still runs, the terminal is in cooked
            # mode and the kernel itself would take ^U as "kill line". ^X^K is plain input.
            "bindkey '^X^K' kill-whole-line",
            "fpath=(%s $fpath); autoload -U compinit; compinit -u -D" % os.path.dirname(self.scripts["zsh"]),
            "compadd() {",
            # -O/-A/-D ask compadd for an array instead of offering: not an offer.
            "  if (( ${@[(I)-[OAD]*]} )); then builtin compadd \"$@\"; return; fi",
            "  local -a hits; builtin compadd -A hits \"$@\"",
            "  (( $#hits )) && print -rl -- $hits >> %s" % out,
            "  builtin compadd \"$@\"",
            "}",
            "print -r -- READY >> %s" % out,
        ]
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.chdir(self.project)
                os.execve("/usr/bin/zsh", ["zsh", "-f", "-i"], self.env)
            finally:
                os._exit(127)

        def wait_for(marker, timeout=30):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r:
                    try:
                        os.read(fd, 65536)  # keep the terminal drained
                    except OSError:
                        break
                if os.path.exists(out):
                    with open(out) as f:
                        text = f.read()
                    if marker in text.splitlines():
                        return text
            raise AssertionError("zsh never printed %r" % marker)

        try:
            for line in setup:
                os.write(fd, (line + "\n").encode())
            wait_for("READY")
            results = []
            for i, words in enumerate(queries):
                open(out, "w").close()
                # Tab, then ^X^K (kill the line, whatever completion inserted) and a marker.
                os.write(fd, (" ".join(words) + "\t").encode())
                os.write(fd, ("\x18\x0bprint -r -- END%d >> %s\n" % (i, out)).encode())
                text = wait_for("END%d" % i)
                results.append([w for w in text.splitlines() if w != "END%d" % i])
            return results
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
            os.close(fd)


def shell_quote(w):
    return "'" + w.replace("'", "'\\''") + "'"


def split_results(text, n):
    chunks = text.split(END + "\n")
    results = [[w for w in c.splitlines() if w] for c in chunks[:n]]
    if len(results) != n:
        raise AssertionError("expected %d answers, got %d:\n%s" % (n, len(results), text))
    return results


WORLD = None


def setUpModule():
    global WORLD
    if not os.path.exists(AGENTBOX):
        raise unittest.SkipTest("AGENTBOX is not set to the binary")
    WORLD = Shells()


def tearDownModule():
    if WORLD is not None:
        WORLD.cleanup()


class CompletionCases:
    """The cases, run for each shell by the subclasses below."""
    shell = None
    queries_cache = None

    def complete(self, *queries):
        raise NotImplementedError

    def setUp(self):
        self.w = WORLD
        self.help = {(): help_text(self.w.env)}
        self.commands = help_subcommands(self.help[()])
        self.assertIn("run", self.commands)  # the parser still understands the help
        for c in self.commands:
            self.help[(c,)] = help_text(self.w.env, c)
        for sub in help_subcommands(self.help[("profile",)]):
            self.help[("profile", sub)] = help_text(self.w.env, "profile", sub)

    def test_commands(self):
        [offered] = self.complete(["agentbox", ""])
        self.assertLessEqual(set(self.commands), set(offered))
        [offered] = self.complete(["agentbox", "ex"])
        self.assertEqual({"explain", "export"}, set(offered))

    def test_every_flag_in_help_is_completed(self):
        """`agentbox CMD --help` is the reference: each flag it lists must be offered after
        `agentbox CMD -` (top level, every command, every profile subcommand)."""
        keys = list(self.help)
        offered = self.complete(*[["agentbox", *k, "-"] for k in keys])
        for k, got in zip(keys, offered):
            want = help_flags(self.help[k])
            self.assertTrue(want, k)
            with self.subTest(command=" ".join(k) or "(top level)"):
                self.assertEqual(set(), want - set(got),
                                 "flags in `agentbox %s --help` that %s does not complete"
                                 % (" ".join(k), self.shell))

    def test_profile_subcommands(self):
        [offered] = self.complete(["agentbox", "profile", ""])
        self.assertLessEqual(set(help_subcommands(self.help[("profile",)])), set(offered))

    def test_profile_names_come_from_the_binary(self):
        queries = [["agentbox", "run", "-p", ""], ["agentbox", "run", "--profile", ""],
                   ["agentbox", "explain", "-p", ""], ["agentbox", "profile", "show", ""]]
        for q, offered in zip(queries, self.complete(*queries)):
            with self.subTest(query=" ".join(q)):
                self.assertLessEqual(BUILTIN_PROFILES | {"mine-for-completion"}, set(offered))
        [offered] = self.complete(["agentbox", "run", "-p", "mine-"])
        self.assertIn("mine-for-completion", offered)
        self.assertNotIn("default", offered)

    def test_session_ids(self):
        if self.w.session is None:
            self.skipTest("no session could be made here: %s" % self.w.session_error.strip())
        queries = [["agentbox", c, ""] for c in ("diff", "commit", "discard", "undo", "export", "log")]
        queries += [["agentbox", c, "-s", ""] for c in ("diff", "commit", "discard", "undo", "export")]
        queries += [["agentbox", "diff", "--session", ""], ["agentbox", "diff", self.w.session[:9]]]
        for q, offered in zip(queries, self.complete(*queries)):
            with self.subTest(query=" ".join(q)):
                self.assertIn(self.w.session, offered)
        # Nothing but session ids where only a session fits.
        for q in (["agentbox", "discard", ""], ["agentbox", "undo", "-s", ""]):
            [offered] = self.complete(q)
            with self.subTest(query=" ".join(q)):
                self.assertEqual(set(self.w.sessions), set(offered))

    def test_enumerated_values(self):
        cases = {
            ("run", "--net"): {"none", "proxy", "host"},
            ("run", "--on-exit"): {"ask", "commit", "discard", "keep"},
            ("run", "--backend"): {"auto", "native", "bwrap"},
            ("export", "--format"): {"tar", "tar.gz", "tar.zst", "patch"},
            ("completions",): {"bash", "zsh", "fish"},
            ("explain",): {"read", "write", "exec", "connect", "commit", "env", "request"},
            ("explain", "request"): {"GET", "HEAD", "POST", "DELETE"},
        }
        keys = list(cases)
        for k, offered in zip(keys, self.complete(*[["agentbox", *k, ""] for k in keys])):
            with self.subTest(words=" ".join(k)):
                self.assertLessEqual(cases[k], set(offered))

    def test_the_sandboxed_command_is_completed_as_a_command(self):
        # After `--`, the words belong to the command: `agentbox run -- ech` offers echo...
        [offered] = self.complete(["agentbox", "run", "--", "ech"])
        self.assertIn("echo", offered)
        # ...and its own flags are not agentbox's.
        [offered] = self.complete(["agentbox", "run", "--", "sh", "--pro"])
        self.assertNotIn("--profile", offered)


class SessionsListing(unittest.TestCase):
    def test_a_command_with_a_newline_lists_on_one_line(self):
        # What the completions read: one line per session, whatever its command holds.
        if WORLD.session is None:
            self.skipTest("no session could be made here: %s" % WORLD.session_error.strip())
        lines = WORLD.agentbox("sessions").stdout.splitlines()
        self.assertEqual(2, len(lines), lines)
        self.assertIn("\\n# a second line", lines[1])


class Bash(CompletionCases, unittest.TestCase):
    shell = "bash"

    def complete(self, *queries):
        return self.w.bash(list(queries), with_bash_completion=False)

    def test_registered_with_complete(self):
        self.complete(["agentbox", ""])
        self.assertRegex(self.w.bash_spec, r"^complete -F \S+ agentbox$")


@unittest.skipUnless(os.path.exists(BASH_COMPLETION), "the bash-completion package is missing")
class BashWithBashCompletion(Bash):
    """The same cases where most users meet them: bash-completion loaded, so the script's
    _init_completion and _command_offset paths run."""

    def complete(self, *queries):
        return self.w.bash(list(queries), with_bash_completion=True)


@unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
class Zsh(CompletionCases, unittest.TestCase):
    shell = "zsh"

    def complete(self, *queries):
        return self.w.zsh(list(queries))


@unittest.skipUnless(shutil.which("fish"), "fish is not installed")
class Fish(CompletionCases, unittest.TestCase):
    shell = "fish"

    def complete(self, *queries):
        return self.w.fish(list(queries))


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
    import abtest  # noqa: E402  (its main prints the SUMMARY line tests/run_all.sh counts)
    abtest.main()
