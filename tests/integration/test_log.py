#!/usr/bin/python3
"""Integration: the decision log of a real run (DESIGN.md §7, agentbox-log(5)).

A run writes session.start, plan, exec, syscall.denied, process.exit and session.end, each line
matching the documented schema; `agentbox log --verify` passes on it and fails on every kind of
tampering; a supervisor killed with SIGKILL leaves a log that verifies up to its last line and
is reported as cut short; no environment value ever reaches the log."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest, probe, sleeper, wait_gone  # noqa: E402

HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX128 = re.compile(r"^[0-9a-f]{128}$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

INT, STR, BOOL, LIST, OBJ, NULL = int, str, bool, list, dict, type(None)

# The members each event must have, with their types, as agentbox-log(5) documents them.
# Members an event may have besides are listed in OPTIONAL.
SCHEMA = {
    "session.start": {"agentbox": STR, "argv": LIST, "project": STR, "cwd": STR, "uid": INT,
                      "pid": INT, "profiles": LIST, "backend": STR, "kernel": OBJ, "key": STR},
    "plan": {"staging": STR, "namespaces": OBJ, "mounts": LIST, "seccomp": OBJ, "landlock": OBJ,
             "network": OBJ, "env": LIST, "limits": LIST, "weakenings": LIST,
             "allow_weaker": BOOL, "on_exit": STR, "log_size": INT},
    "exec": {"argv0": STR},
    "syscall.denied": {"syscall": STR, "nr": INT, "pid": INT, "comm": STR, "arch": STR,
                       "errno": INT},
    "process.exit": {"started": BOOL, "status": INT, "exit_code": INT, "signal": (STR, NULL),
                     "timed_out": BOOL, "duration_ms": INT, "peak_memory": INT, "rusage": OBJ},
    "session.end": {"status": STR, "key": STR, "dropped": INT},
    "log.summary": {"of": STR, "count": INT, "total": INT, "first": STR, "last": STR},
    "warning": {},
    "log.resume": {"after": STR, "fragment_bytes": INT, "pid": INT},
    "decision": {"op": STR, "target": STR, "verdict": STR, "rule": STR, "source": STR},
    "approval": {"op": STR, "target": STR, "rule": STR, "source": STR, "verdict": STR,
                 "scope": STR, "by": STR, "how": STR, "reason": STR, "ms": INT},
}
OPTIONAL = {"plan": {"exec_allow": LIST}, "process.exit": {"error": STR},
            # a commit's: what became of the change, and why it was held back
            "decision": {"outcome": STR, "reason": STR},
            # a run's own session.end; not those of the commands that resume its log
            "session.end": {"counted": INT, "log_size_reached": BOOL},
            # the arguments that are numbers or flags, never pointers
            "syscall.denied": {"arg%d" % i: STR for i in range(6)},
            # the key of what was counted: the member that names it, and the caller
            "log.summary": {"syscall": STR, "blockers": STR, "operation": STR, "target": STR,
                            "host": STR, "argv0": STR, "comm": STR}}
# audit::Repeats::kPerKey: a denial repeated under one key is written this often, then counted.
PER_KEY = 20
RUSAGE = ["utime_us", "stime_us", "maxrss_kib", "minflt", "majflt", "inblock", "oublock",
          "nvcsw", "nivcsw"]


def typed(value, t):
    ts = t if isinstance(t, tuple) else (t,)
    # bool is an int in Python: an int member must not be a bool, and the other way round.
    if isinstance(value, bool):
        return BOOL in ts
    return isinstance(value, ts)


class LogTest(BoxTest):
    def read_log(self, session_dir=None):
        s = session_dir or self.box.sessions()[-1]
        with open(os.path.join(s, "log.jsonl"), "rb") as f:
            return f.read()

    def events(self, data):
        return [json.loads(line) for line in data.decode().splitlines()]

    def log_cmd(self, *args, env=None):
        return self.host_run([AGENTBOX, "log", "-C", self.box.project] + list(args),
                             env=self.box.env(env))

    def check_schema(self, events):
        for i, e in enumerate(events):
            where = "line %d: %s" % (i + 1, json.dumps(e)[:300])
            keys = list(e.keys())
            self.assertEqual(keys[:5], ["v", "ts", "session", "seq", "event"], where)
            self.assertEqual(keys[-1], "hash", where)
            self.assertEqual(e["v"], 1, where)
            self.assertRegex(e["ts"], TS, where)
            self.assertEqual(e["seq"], i, where)
            self.assertEqual(e["session"], events[0]["session"], where)
            self.assertRegex(e["prev"], HEX64, where)
            self.assertRegex(e["hash"], HEX64, where)
            kind = e["event"]
            self.assertIn(kind, SCHEMA, "undocumented event " + where)
            envelope = {"v", "ts", "session", "seq", "event", "prev", "hash"}
            # session.end is signed; so is every line after a signed one (agentbox-log(5)).
            if kind == "session.end" or "sig" in e:
                envelope.add("sig")
                self.assertRegex(e["sig"], HEX128, where)
            allowed = dict(SCHEMA[kind], **OPTIONAL.get(kind, {}))
            for name, t in SCHEMA[kind].items():
                self.assertIn(name, e, "%s lacks %s: %s" % (kind, name, where))
            for name, value in e.items():
                if name in envelope:
                    continue
                if kind == "warning":
                    self.assertTrue(typed(value, STR), where)
                    continue
                self.assertIn(name, allowed, "undocumented member %s of %s" % (name, where))
                self.assertTrue(typed(value, allowed[name]),
                                "%s.%s has the wrong type: %s" % (kind, name, where))
            if kind == "process.exit":
                self.assertEqual(sorted(e["rusage"]), sorted(RUSAGE), where)
            if kind in ("session.start", "session.end"):
                self.assertRegex(e["key"], HEX64, where)


CONNECT_MISSING = '''
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/tmp/agentbox-no-such.sock")
except OSError as e:
    print(e.errno)
'''


class RealRun(LogTest):
    def test_a_filter_from_the_cache_logs_and_answers_as_a_compiled_one(self):
        # issue 22: a cache hit builds no rule set; the entry carries the rule set's digest and
        # size for the plan event, and the notifier builds the set when a denial arrives. The
        # first run compiles (miss), the second takes the filter from the cache (hit).
        runs = []
        for _ in range(2):
            before = set(self.box.sessions())
            res = self.box.run([probe("syscalls"), "mount", "bpf"])
            self.assertSandboxRan(res)
            self.assertDenied(res, "mount")
            (session,) = set(self.box.sessions()) - before
            runs.append(self.events(self.read_log(session)))
        cache = os.path.join(self.box.cache, "agentbox", "seccomp")
        self.assertTrue([n for n in os.listdir(cache) if n.startswith("in-")], os.listdir(cache))
        plans = [next(e for e in r if e["event"] == "plan")["seccomp"] for r in runs]
        self.assertEqual(plans[0], plans[1])
        self.assertRegex(plans[1]["digest"], "^[0-9a-f]{16}$")
        self.assertGreater(plans[1]["rules"], 0)
        for r in runs:
            denied = [(e["syscall"], e["errno"]) for e in r if e["event"] == "syscall.denied"]
            self.assertEqual(denied, [("mount", 1), ("bpf", 1)], denied)
        # A gated connect on a hit: the notifier must know connect is gated (Action::notify), not
        # a denial (EPERM): a missing socket is ENOENT, as without the cache.
        res = self.box.run(["python3", "-c", CONNECT_MISSING])
        self.assertRc(res, 0)
        self.assertEqual(res.out.strip(), "2", res)

    def test_a_run_logs_every_event_in_schema_and_verifies(self):
        res = self.box.run([probe("syscalls"), "mount", "bpf"])
        self.assertSandboxRan(res)
        self.assertDenied(res, "mount")
        events = self.events(self.read_log())
        self.check_schema(events)
        names = [e["event"] for e in events]
        self.assertEqual(names[:2], ["session.start", "plan"], names)
        self.assertEqual(names[-2:], ["process.exit", "session.end"], names)
        self.assertIn("exec", names)
        denied = [e for e in events if e["event"] == "syscall.denied"]
        self.assertEqual([d["syscall"] for d in denied], ["mount", "bpf"], denied)
        self.assertEqual(denied[0]["comm"], "syscalls")
        self.assertEqual(denied[0]["errno"], 1)
        # mount(source, target, fstype, flags, data): only the flags are a number; the
        # strings behind the four pointers are never read, and their addresses not logged.
        self.assertEqual([k for k in denied[0] if k.startswith("arg")], ["arg3"], denied[0])
        self.assertEqual(denied[0]["arg3"], "0x0")
        self.assertEqual([k for k in denied[1] if k.startswith("arg")], ["arg0", "arg2"])
        start = events[0]
        self.assertEqual(start["argv"], [probe("syscalls"), "mount", "bpf"])
        self.assertEqual(start["project"], os.path.realpath(self.box.project))
        self.assertTrue(all(re.match(r"^[0-9a-f]{64}$", p["sha256"] or "0" * 64)
                            for p in start["profiles"]), start["profiles"])
        self.assertIn("default", [p["name"] for p in start["profiles"]])
        exit_ = events[-2]
        self.assertEqual(exit_["status"], 0)
        self.assertIsNone(exit_["signal"])
        self.assertEqual(events[-1]["dropped"], 0)

        r = self.log_cmd("--verify")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("ok", r.out)
        self.assertIn("(yours)", r.out)

    def test_an_empty_run_records_its_status_and_log_head_in_one_write(self):
        # A run that staged nothing rewrote its meta.json three times after the command:
        # "staged" before the review, "empty" when the review found nothing, then the head of
        # the log's signed session.end. Now once, after session.end: status and head together.
        strace = shutil.which("strace")
        if strace is None:
            self.skipTest("strace is not installed (deps/debian.txt)")
        trace = os.path.join(self.box.root, "strace-out")
        argv = [strace, "-y", "-s", "4096", "-o", trace, "-e", "trace=pwrite64,write"] + \
            self.box.argv(["true"])
        self.assertSandboxRan(self.box.run(None, argv=argv))
        with open(trace) as f:
            calls = [line for line in f if "/log.jsonl>" in line or "/meta.json>" in line]
        # From the exec event on: the command ran, then the run's end.
        after_exec = calls[[i for i, c in enumerate(calls) if '\\"exec\\"' in c][0]:]
        self.assertTrue(any("session.end" in c for c in after_exec), after_exec)
        metas = [c for c in after_exec if "/meta.json>" in c]
        self.assertEqual(len(metas), 1, after_exec)
        self.assertTrue(after_exec[-1].startswith("pwrite64") and "/meta.json>" in after_exec[-1],
                        after_exec)
        session = self.box.sessions()[-1]
        with open(os.path.join(session, "meta.json")) as f:
            meta = json.loads(f.read().split("\n#agentbox-mac")[0])
        last = json.loads(open(os.path.join(session, "log.jsonl")).read().splitlines()[-1])
        self.assertEqual(last["event"], "session.end")
        self.assertEqual((meta["status"], meta["log_seq"], meta["log_hash"]),
                         ("empty", last["seq"], last["hash"]))
        r = self.log_cmd("--verify")
        self.assertEqual(r.rc, 0, r)

    def test_the_key_is_private_and_outside_the_sandbox(self):
        key = os.path.join(self.box.config, "agentbox", "log-key")
        res = self.box.run(["sh", "-c", "cat %s; echo rc=$?" % key])
        self.assertSandboxRan(res)
        self.assertIn("rc=1", res.out, res)
        st = os.stat(key)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        with open(key) as f:
            secret = f.read().strip()
        self.assertNotIn(secret, self.read_log().decode())

    def test_a_run_whose_log_cannot_be_opened_never_runs_the_command(self):
        # The log is opened while the sandbox is being built; the command waits for it.
        key = os.path.join(self.box.config, "agentbox", "log-key")
        self.assertSandboxRan(self.box.run(["true"]))
        os.chmod(key, 0o644)
        try:
            res = self.box.run(["sh", "-c", "echo the-command-ran"])
        finally:
            os.chmod(key, 0o600)
        self.assertEqual(res.rc, 125, res)
        self.assertNotIn("the-command-ran", res.out)
        self.assertIn("log-key", res.err)

    def test_a_killed_command_logs_its_signal(self):
        res = self.box.run(["sh", "-c", "kill -KILL $$"])
        self.assertRc(res, 128 + signal.SIGKILL)
        exit_ = [e for e in self.events(self.read_log()) if e["event"] == "process.exit"][0]
        self.assertEqual(exit_["signal"], "SIGKILL")
        self.assertEqual(exit_["exit_code"], 137)

    def test_environment_values_never_reach_the_log(self):
        secret = abtest.token("env")
        res = self.box.run(["sh", "-c", "test -n \"$MY_TOKEN\" && echo set"],
                           args=["--env", "MY_TOKEN", "--env", "OTHER_SECRET=" + secret + "x"],
                           env={"MY_TOKEN": secret})
        self.assertRc(res, 0)
        self.assertEqual(res.out, "set\n")
        data = self.read_log().decode()
        self.assertNotIn(secret, data, "an environment value was logged")
        plan = [e for e in self.events(self.read_log()) if e["event"] == "plan"][0]
        self.assertIn("MY_TOKEN", plan["env"])
        self.assertIn("OTHER_SECRET", plan["env"])

    def test_log_file_and_fd_get_the_same_lines(self):
        copy = os.path.join(self.box.outside, "copy.jsonl")
        r, w = os.pipe()
        try:
            res = self.box.run(["true"], args=["--log", copy, "--log-fd", str(w)], pass_fds=(w,))
        finally:
            os.close(w)
        piped = b""
        while True:
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            piped += chunk
        os.close(r)
        self.assertRc(res, 0)
        own = self.read_log()
        with open(copy, "rb") as f:
            self.assertEqual(f.read(), own)
        self.assertEqual(piped, own)
        r = self.host_run([AGENTBOX, "log", "--verify", copy])
        self.assertEqual(r.rc, 0, r)

    def test_a_closed_log_fd_does_not_stop_the_run(self):
        r, w = os.pipe()
        os.close(r)  # the collector is gone before the first line
        try:
            res = self.box.run(["echo", "still ran"], args=["--log-fd", str(w)], pass_fds=(w,))
        finally:
            os.close(w)
        self.assertRc(res, 0)
        self.assertEqual(res.out, "still ran\n")
        self.assertIn("--log-fd", res.err)
        self.assertEqual(self.log_cmd("--verify").rc, 0)

    def test_log_fd_that_is_not_open_is_refused(self):
        res = self.box.run(["true"], args=["--log-fd", "97"])
        self.assertRc(res, abtest.EXIT_SETUP)
        self.assertIn("--log-fd", res.err)

    def test_a_denial_loop_cannot_fill_the_disk_but_every_call_is_counted(self):
        # AT's attack: a denied call in a loop wrote 33,328 lines (12 MB) in 5 s. Now the first
        # PER_KEY are written in full and the rest counted, in signed log.summary lines.
        n = 20000
        res = self.box.run([probe("denied_loop"), str(n)], timeout=300)
        self.assertRc(res, 0)
        self.assertIn("denied=%d other=0" % n, res.out)
        data = self.read_log()
        self.assertLess(len(data), 64 * 1024, "the log grew with the loop")
        events = self.events(data)
        self.check_schema(events)
        denied = [e for e in events if e["event"] == "syscall.denied"]
        self.assertEqual(len(denied), PER_KEY)
        self.assertTrue(all(d["syscall"] == "mount" and d["comm"] == "denied_loop"
                            for d in denied), denied)
        sums = [e for e in events if e["event"] == "log.summary"]
        self.assertTrue(sums, "no summary of the counted calls")
        for s in sums:
            self.assertEqual((s["of"], s["syscall"], s["comm"]),
                             ("syscall.denied", "mount", "denied_loop"), s)
            self.assertLessEqual(s["first"], s["last"], s)
        self.assertEqual(sum(s["count"] for s in sums), n - PER_KEY)
        self.assertEqual(sums[-1]["total"], n - PER_KEY)
        names = [e["event"] for e in events]
        # Counted before the run's own end: the summary comes before process.exit.
        self.assertLess(names.index("log.summary"), names.index("process.exit"), names)
        end = events[-1]
        self.assertEqual((end["dropped"], end["counted"], end["log_size_reached"]),
                         (0, n - PER_KEY, False), end)
        # The summaries are in the chain the signature covers: an edited count fails.
        self.assertEqual(self.log_cmd("--verify").rc, 0)
        log = os.path.join(self.box.sessions()[-1], "log.jsonl")
        forged = data.replace(b'"count":%d,' % sums[-1]["count"], b'"count":1,', 1)
        self.assertNotEqual(forged, data)
        with open(log, "wb") as f:
            f.write(forged)
        self.assertEqual(self.log_cmd("--verify").rc, 1)

    def test_past_log_size_the_commands_events_are_only_counted(self):
        # A command that varies what it is denied (a new comm per call) escapes the per-key
        # bound; limits.log_size bounds the log anyway.
        prof = self.box.write_profile("small", 'version = 1\nextends = ["default"]\n'
                                      '[limits]\nlog_size = "1KiB"\n')
        res = self.box.run([probe("syscalls"), "mount", "bpf"], profiles=[prof])
        self.assertSandboxRan(res)
        self.assertDenied(res, "mount")
        events = self.events(self.read_log())
        self.check_schema(events)
        names = [e["event"] for e in events]
        self.assertGreater(len(self.read_log()), 1024)  # session.start and plan alone
        self.assertNotIn("syscall.denied", names)
        self.assertNotIn("exec", names)
        counted = {(s["of"], s.get("syscall", s.get("argv0"))): s["count"]
                   for s in events if s["event"] == "log.summary"}
        self.assertEqual(counted[("syscall.denied", "mount")], 1, counted)
        self.assertEqual(counted[("syscall.denied", "bpf")], 1, counted)
        self.assertIn("exec", [k[0] for k in counted], counted)
        self.assertEqual(events[0]["event"], "session.start")
        self.assertEqual(next(e for e in events if e["event"] == "plan")["log_size"], 1024)
        end = events[-1]
        self.assertTrue(end["log_size_reached"], end)
        self.assertEqual(end["counted"], sum(counted.values()))
        self.assertEqual(self.log_cmd("--verify").rc, 0)


class Reading(LogTest):
    def test_text_json_and_prefix(self):
        res = self.box.run([probe("syscalls"), "mount"])
        self.assertSandboxRan(res)
        session = os.path.basename(self.box.sessions()[-1])
        text = self.log_cmd()
        self.assertEqual(text.rc, 0, text)
        self.assertRegex(text.out, r"#3 syscall.denied syscall=mount ")
        self.assertNotIn("\x1b", text.out, "colour on a pipe")
        js = self.log_cmd("--json", session[:20])
        self.assertEqual(js.rc, 0, js)
        self.assertEqual(js.out.encode(), self.read_log())

    def test_a_process_name_cannot_drive_the_terminal_through_log(self):
        # The name is the sandboxed process's choice: an escape sequence in it must come out
        # of `agentbox log` escaped, not as a sequence the user's terminal would obey.
        script = ("import ctypes; c = ctypes.CDLL(None); "
                  "c.prctl(15, b'\\x1b]0;pwn\\x07\\x1b[2J', 0, 0, 0); "
                  "c.syscall(165, b'none', b'/tmp', b'tmpfs', 0, None)")
        res = self.box.run(["python3", "-c", script])
        self.assertSandboxRan(res)
        denied = [e for e in self.events(self.read_log()) if e["event"] == "syscall.denied"]
        self.assertTrue(denied, res)
        self.assertIn("\x1b", denied[0]["comm"])
        for args in ((), ("--follow",)):
            text = self.log_cmd(*args)
            self.assertNotIn("\x1b", text.out + text.err, args)
            self.assertIn("\\x1b", text.out, args)

    def test_colour_only_on_a_terminal(self):
        res = self.box.run([probe("syscalls"), "mount"])
        self.assertSandboxRan(res)
        plain = self.log_cmd()
        self.assertNotIn("\x1b", plain.out)
        env = self.box.env()
        env.pop("NO_COLOR", None)
        # --no-pager: on a terminal log pages (#19), and less writes escapes of its own.
        t = abtest.PtyRun([AGENTBOX, "log", "--no-pager", "-C", self.box.project], env,
                          self.box.project)
        try:
            self.assertEqual(t.wait(), 0, t.output)
        finally:
            t.close()
        self.assertIn(b"\x1b[31msyscall.denied\x1b[0m", t.output)
        no = dict(env, NO_COLOR="1")
        t = abtest.PtyRun([AGENTBOX, "log", "--no-pager", "-C", self.box.project], no,
                          self.box.project)
        try:
            self.assertEqual(t.wait(), 0, t.output)
        finally:
            t.close()
        self.assertNotIn(b"\x1b[", t.output)

    def test_follow_ends_with_the_session(self):
        p = self.box.popen(["sh", "-c", "sleep 1; exit 3"])
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        deadline = time.monotonic() + 20
        # The session's directory comes before its meta.json and log.jsonl: wait for the log.
        def log_exists():
            s = self.box.sessions()
            return s and os.path.exists(os.path.join(s[-1], "log.jsonl"))
        while not log_exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(log_exists())
        f = self.log_cmd("--follow", "--json")
        self.assertEqual(f.rc, 0, f)
        names = [json.loads(line)["event"] for line in f.out.splitlines()]
        self.assertEqual(names[-1], "session.end", names)
        self.assertIn("process.exit", names)
        self.assertEqual(p.wait(timeout=20), 3)

    def test_a_log_file_whose_members_have_other_types_is_shown_not_a_crash(self):
        # A log file on disk is anyone's bytes: a "ts" or "event" that is not a string made
        # `agentbox log FILE` end with a JSON library's type error instead of showing it.
        path = os.path.join(self.box.outside, "odd.jsonl")
        with open(path, "w") as f:
            f.write('{"v":1,"ts":5,"event":{"x":1},"seq":0}\n'
                    '{"ts":"2026-12-06T13:37:52.551Z","event":7,"seq":"a"}\n')
        r = self.host_run([AGENTBOX, "log", "--no-pager", path])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.splitlines(), ['5 #0 "?"', '13:37:52.551 #a "?"'])

    def test_no_session_is_refused(self):
        r = self.log_cmd()
        self.assertEqual(r.rc, 1, r)
        self.assertIn("no session", r.err)


class Tampering(LogTest):
    def setUp(self):
        super().setUp()
        res = self.box.run([probe("syscalls"), "mount", "bpf"])
        self.assertSandboxRan(res)
        self.path = os.path.join(self.box.sessions()[-1], "log.jsonl")
        with open(self.path, "rb") as f:
            self.lines = f.read().splitlines(keepends=True)
        self.assertEqual(self.log_cmd("--verify").rc, 0)

    def write(self, lines):
        with open(self.path, "wb") as f:
            f.write(b"".join(lines))

    def assertCaught(self, line_no, what):
        r = self.log_cmd("--verify")
        self.assertEqual(r.rc, 1, "%s was not caught\n%s" % (what, r))
        self.assertIn("line %d:" % line_no, r.out, "%s: wrong line named\n%s" % (what, r))

    def test_edited_line(self):
        i = [n for n, l in enumerate(self.lines) if b'"syscall":"mount"' in l][0]
        self.lines[i] = self.lines[i].replace(b'"syscall":"mount"', b'"syscall":"getpid"')
        self.write(self.lines)
        self.assertCaught(i + 1, "an edited line")

    def test_deleted_line(self):
        del self.lines[2]
        self.write(self.lines)
        self.assertCaught(3, "a deleted line")

    def test_reordered_lines(self):
        self.lines[3], self.lines[4] = self.lines[4], self.lines[3]
        self.write(self.lines)
        self.assertCaught(4, "swapped lines")

    def test_appended_line(self):
        self.write(self.lines + [self.lines[3]])
        self.assertCaught(len(self.lines) + 1, "an appended copy of a line")

    def test_replaced_key(self):
        # Someone who rewrites the log can sign it with a key of their own; it must not pass
        # as this user's. Here: the log was signed by another user's key (another config dir).
        other = os.path.join(self.box.root, "other-config")
        os.makedirs(other)
        res = self.box.run(["true"], env={"XDG_CONFIG_HOME": other})
        self.assertRc(res, 0)
        forged = os.path.join(self.box.sessions()[-1], "log.jsonl")
        shutil.copyfile(forged, self.path)
        r = self.log_cmd("--verify", os.path.basename(os.path.dirname(self.path)))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("line 1:", r.out)
        self.assertIn("not yours", r.out)

    def test_supervisor_sigkill_leaves_a_log_cut_short(self):
        argv, marker = sleeper()
        self.addCleanup(abtest.kill_matching, marker)
        p = self.box.popen(argv)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        deadline = time.monotonic() + 20
        log = None
        while time.monotonic() < deadline:
            sessions = self.box.sessions()
            if sessions and sessions[-1] != os.path.dirname(self.path):
                log = os.path.join(sessions[-1], "log.jsonl")
                if os.path.exists(log) and b'"event":"exec"' in open(log, "rb").read():
                    break
            time.sleep(0.05)
        self.assertIsNotNone(log)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        self.assertEqual(wait_gone(marker, 10), [])
        r = self.log_cmd("--verify", os.path.basename(os.path.dirname(log)))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("cut short", r.out)
        self.assertIn("3 lines verified", r.out)


if __name__ == "__main__":
    abtest.main()
