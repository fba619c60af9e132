#!/usr/bin/python3
"""Integration: the decision log exported to an OpenTelemetry collector (agentbox-log(5),
OPENTELEMETRY).

The collector is tests/integration/otlp_receiver.js, which decodes every request with the
official OTLP schema (the code the OpenTelemetry project generates from opentelemetry-proto,
from npm; installed by scripts/agents.sh). Each event arrives as a log record, in order, with
the resource attributes and the chain fields; a collector that is down, answers 500 or 429,
or is slow, and an agentbox killed while it sends, only delay delivery to the next run or log
command, which resends - at least once and in order; the run's wall time is bounded."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BUILD_DIR, EXIT_SETUP, BoxTest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVER = os.path.join(HERE, "otlp_receiver.js")
NODE_MODULES = os.path.join(BUILD_DIR, "agents", "node_modules")
SCHEMA = os.path.join(NODE_MODULES, "@opentelemetry", "otlp-transformer", "build", "src",
                      "generated", "root.js")
NODE = shutil.which("node")
STRACE = shutil.which("strace")
# agentbox's export budget after a run (cli/otlp_export.hpp, kOtlpBudget) and slack for a
# loaded machine.
BUDGET = 2.0
SLACK = 1.5


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Collector:
    def __init__(self, tc, root, port=0):
        self.out = os.path.join(root, "otlp-received-%d.jsonl" % time.monotonic_ns())
        self.control = self.out + ".control"
        self.set()
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        self.proc = subprocess.Popen([NODE, RECEIVER, str(port), self.out, self.control],
                                     stdout=subprocess.PIPE, env=env)
        line = self.proc.stdout.readline().decode().strip()
        tc.assertTrue(line.isdigit(), "the test collector did not start")
        self.port = int(line)
        self.url = "http://127.0.0.1:%d" % self.port
        tc.addCleanup(self.stop)

    def set(self, statuses=(), delay_ms=0):
        with open(self.control + ".tmp", "w") as f:
            json.dump({"statuses": list(statuses), "delay_ms": delay_ms}, f)
        os.replace(self.control + ".tmp", self.control)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def requests(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]

    def records(self):
        """Every record of every accepted request, in arrival order."""
        out = []
        for r in self.requests():
            self_errors = r.get("error")
            if self_errors:
                raise AssertionError("the collector could not decode a request: " + self_errors)
            if r["status"] == 200:
                out += r["records"]
        return out


class OtlpTest(BoxTest):
    def setUp(self):
        super().setUp()
        if NODE is None or not os.path.exists(SCHEMA):
            self.skipTest("the OTLP schema is not installed (%s): run scripts/agents.sh %s" %
                          (SCHEMA, BUILD_DIR))

    # ---- helpers
    def run_exported(self, url, cmd=("true",), extra=()):
        return self.box.run(list(cmd), args=["--otlp", url] + list(extra))

    def agentbox(self, *args):
        return self.host_run([AGENTBOX] + list(args) + ["-C", self.box.project]
                             if args[0] == "log" else [AGENTBOX] + list(args))

    def log_lines(self, session=None):
        session = session or self.box.sessions()[-1]
        with open(os.path.join(session, "log.jsonl")) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def assertDeliveredInOrder(self, records, lines):
        """Every event of the log arrived, at least once, and the last delivery of each is in
        log order (a resent batch may repeat events, never reorder them)."""
        seqs = [r["attributes"]["agentbox.seq"] for r in records]
        want = [line["seq"] for line in lines]
        self.assertEqual(sorted(set(seqs)), want, "events missing: %s" % seqs)
        # Duplicates only as whole resent runs: after dropping repeats the order is the log's.
        last = {}
        for i, s in enumerate(seqs):
            last[s] = i
        self.assertEqual(sorted(want, key=lambda s: last[s]), want, seqs)
        # Each delivery (one request) is itself in order.
        for r in self.collector_requests:
            got = [rec["attributes"]["agentbox.seq"] for rec in r.get("records", [])]
            self.assertEqual(got, sorted(got))

    # ---- cases
    def test_events_arrive_in_order_with_resource_attrs_and_chain_fields(self):
        c = Collector(self, self.box.root)
        res = self.run_exported(c.url, ["sh", "-c", "exit 3"])
        self.assertRc(res, 3)
        records = c.records()
        lines = self.log_lines()
        self.assertEqual([r["attributes"]["agentbox.seq"] for r in records],
                         [line["seq"] for line in lines])
        self.assertEqual(records[0]["body"], "session.start")
        self.assertEqual(records[-1]["body"], "session.end")
        for rec, line in zip(records, lines):
            a = rec["attributes"]
            self.assertEqual(rec["body"], line["event"])
            self.assertEqual(a["agentbox.event"], line["event"])
            self.assertEqual(a["agentbox.hash"], line["hash"])
            self.assertEqual(a["agentbox.prev"], line["prev"])
            self.assertEqual(a["agentbox.session"], line["session"])
            self.assertEqual(a["agentbox.ts"], line["ts"])
            self.assertGreater(int(rec["timeUnixNano"]), 1_600_000_000 * 10**9)
            self.assertIn(rec["severityText"], ("INFO", "WARN"))
        start = records[0]["attributes"]
        self.assertEqual(start["agentbox.argv"], ["sh", "-c", "exit 3"])
        exit_rec = [r for r in records if r["body"] == "process.exit"][0]
        self.assertEqual(exit_rec["attributes"]["agentbox.exit_code"], 3)
        resource = c.requests()[0]["resource"]
        self.assertEqual(resource["service.name"], "agentbox")
        self.assertEqual(resource["host.name"], socket.gethostname())
        self.assertTrue(resource["user.name"])
        self.assertEqual(resource["enduser.id"], resource["user.name"])
        self.assertEqual(resource["agentbox.session"], lines[0]["session"])
        # A second run sends its own session only: nothing of the first again.
        n = len(records)
        self.assertRc(self.run_exported(c.url), 0)
        again = c.records()[n:]
        self.assertEqual({r["attributes"]["agentbox.session"] for r in again},
                         {self.log_lines()[0]["session"]})

    def test_denials_are_warn_records(self):
        c = Collector(self, self.box.root)
        res = self.run_exported(c.url, [abtest.probe("syscalls"), "ptrace", "bpf"])
        records = c.records()
        denied = [r for r in records if r["body"] == "syscall.denied"]
        if not denied:
            self.skipTest("the probe caused no syscall.denied event here\n%s" % res)
        self.assertTrue(all(r["severityText"] == "WARN" and r["severityNumber"] == 13
                            for r in denied))

    def test_collector_down_then_up_resends_in_order(self):
        port = free_port()
        url = "http://127.0.0.1:%d" % port
        res = self.run_exported(url)
        self.assertRc(res, 0)
        spool = os.path.join(self.box.sessions()[-1], "otlp.json")
        with open(spool) as f:
            self.assertEqual(json.load(f)["acked_seq"], -1)
        c = Collector(self, self.box.root, port)
        res = self.agentbox("log", "--no-pager")
        self.assertEqual(res.rc, 0, res)
        self.collector_requests = c.requests()
        self.assertDeliveredInOrder(c.records(), self.log_lines())
        # Acknowledged: nothing is sent again, and with nothing left queued the pending
        # directory goes with its last marker (what lets a run's end skip the listing).
        n = len(c.requests())
        self.assertEqual(self.agentbox("log", "--no-pager").rc, 0)
        self.assertEqual(len(c.requests()), n)
        self.assertFalse(os.path.exists(os.path.join(self.box.state, "agentbox", "otlp-pending")))

    def test_collector_errors_are_retried_later(self):
        c = Collector(self, self.box.root)
        c.set(statuses=[500])
        res = self.run_exported(c.url)
        self.assertRc(res, 0)
        self.assertEqual(c.records(), [])
        c.set(statuses=[429])
        self.assertEqual(self.agentbox("log", "--no-pager").rc, 0)
        self.assertEqual(c.records(), [])
        self.assertEqual([r["status"] for r in c.requests()], [500, 429])
        c.set()
        self.assertEqual(self.agentbox("log", "--no-pager").rc, 0)
        self.collector_requests = c.requests()
        records = c.records()
        self.assertDeliveredInOrder(records, self.log_lines())
        # Refused requests were not half-taken: each event arrived exactly once.
        self.assertEqual(len(records), len(self.log_lines()))

    def test_slow_or_down_collector_does_not_hold_the_run(self):
        cmd = ["sh", "-c", "sleep 0.2"]
        t0 = time.monotonic()
        self.assertRc(self.box.run(cmd), 0)
        base = time.monotonic() - t0
        # Down: a refused connection costs next to nothing.
        t0 = time.monotonic()
        self.assertRc(self.run_exported("http://127.0.0.1:%d" % free_port(), cmd), 0)
        down = time.monotonic() - t0
        # Slow: accepts, then answers after 20 s; agentbox gives up after its budget.
        c = Collector(self, self.box.root)
        c.set(delay_ms=20000)
        t0 = time.monotonic()
        res = self.run_exported(c.url, cmd)
        slow = time.monotonic() - t0
        self.assertRc(res, 0)
        sys.stderr.write("\n  wall time: no export %.2fs, collector down %.2fs, slow %.2fs\n"
                         % (base, down, slow))
        self.assertLess(down - base, 1.0)
        self.assertLess(slow - base, BUDGET + SLACK)
        # The events are still delivered later.
        c.set()
        self.assertEqual(self.agentbox("log", "--no-pager").rc, 0)
        self.assertTrue(self.log_lines()[-1]["seq"] in
                        [r["attributes"]["agentbox.seq"] for r in c.records()])

    def kill_mid_export(self, c):
        """Runs `true` exporting to collector C (made to hang) and kills agentbox inside the
        export, which starts right after session.end is written."""
        c.set(delay_ms=20000)
        p = subprocess.Popen(self.box.argv(["true"], args=["--otlp", c.url]),
                             env=self.box.env(), cwd=self.box.project, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = self.box.sessions()
            if s and os.path.exists(os.path.join(s[-1], "log.jsonl")) and \
                    any(line["event"] == "session.end" for line in self.log_lines(s[-1])):
                break
            time.sleep(0.02)
        time.sleep(0.3)
        self.assertIsNone(p.poll(), "agentbox was no longer exporting")
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    def test_agentbox_killed_mid_export_next_command_resends(self):
        c = Collector(self, self.box.root)
        self.kill_mid_export(c)
        with open(os.path.join(self.box.sessions()[-1], "otlp.json")) as f:
            self.assertEqual(json.load(f)["acked_seq"], -1)
        c.stop()
        c2 = Collector(self, self.box.root)
        # The spool names the old collector; the next command sends there, so hand the same
        # session to the new one explicitly, then check a plain command has nothing left.
        res = self.agentbox("log", "--export", "otlp", c2.url, "--no-pager")
        self.assertEqual(res.rc, 0, res)
        self.collector_requests = c2.requests()
        self.assertDeliveredInOrder(c2.records(), self.log_lines())

    def test_killed_then_next_run_resends_to_the_same_collector(self):
        port = free_port()
        c = Collector(self, self.box.root, port)
        self.kill_mid_export(c)
        first = self.box.sessions()[-1]
        c.set()
        # Any run resends the pending session, to the collector its spool names.
        self.assertRc(self.box.run(["true"]), 0)
        lines = self.log_lines(first)
        got = [r for r in c.records() if r["attributes"]["agentbox.session"] == lines[0]["session"]]
        self.collector_requests = c.requests()
        self.assertDeliveredInOrder(got, lines)

    def test_log_export_command(self):
        self.assertRc(self.box.run(["true"]), 0)
        session = os.path.basename(self.box.sessions()[-1])
        down = "http://127.0.0.1:%d" % free_port()
        res = self.agentbox("log", "--export", "otlp", down, session)
        self.assertEqual(res.rc, 1, res)
        self.assertIn("not yet", res.err)
        c = Collector(self, self.box.root)
        res = self.agentbox("log", "--export", "otlp", c.url, session)
        self.assertEqual(res.rc, 0, res)
        self.collector_requests = c.requests()
        self.assertDeliveredInOrder(c.records(), self.log_lines())
        res = self.agentbox("log", "--export", "json", c.url, session)
        self.assertEqual(res.rc, 2, res)

    def test_config_endpoint_exports_every_run(self):
        c = Collector(self, self.box.root)
        os.makedirs(os.path.join(self.box.config, "agentbox"), exist_ok=True)
        with open(os.path.join(self.box.config, "agentbox", "config.toml"), "w") as f:
            f.write('otlp_endpoint = "%s"\n' % c.url)
        self.assertRc(self.box.run(["true"]), 0)
        self.collector_requests = c.requests()
        self.assertDeliveredInOrder(c.records(), self.log_lines())

    def test_commit_after_the_export_is_sent_by_the_next_command(self):
        # The lines a later command appends (commit, discard, undo) are found by the next
        # flush although the run's own lines were all acknowledged and its marker cleared.
        c = Collector(self, self.box.root)
        self.assertRc(self.run_exported(c.url, ["sh", "-c", "echo x > new.txt"]), 0)
        first = self.box.sessions()[-1]
        self.assertRc(self.box.run(["true"]), 0)  # its flush clears the first's marker
        self.assertFalse(os.path.exists(self.pending_marker(first)))
        res = self.host_run([AGENTBOX, "commit"], cwd=self.box.project)
        self.assertEqual(res.rc, 0, res)
        res = self.agentbox("log", "--no-pager")
        self.assertEqual(res.rc, 0, res)
        lines = self.log_lines(first)
        self.assertIn("commit", [line["event"] for line in lines])
        got = [r for r in c.records() if r["attributes"]["agentbox.session"] == lines[0]["session"]]
        self.collector_requests = c.requests()
        self.assertDeliveredInOrder(got, lines)

    def pending_marker(self, session):
        return os.path.join(self.box.state, "agentbox", "otlp-pending", os.path.basename(session))

    def test_https_endpoint_is_refused_before_the_command_runs(self):
        res = self.run_exported("https://collector.example:4318", ["true"])
        self.assertRc(res, EXIT_SETUP)
        self.assertIn("local OpenTelemetry Collector", res.err)
        self.assertEqual(self.box.sessions(), [])


class OtlpIndexTest(BoxTest):
    """The end of a run looks at the sessions marked as pending export, not at every session
    kept: with hundreds kept, reading each one's otlp.json was most of a run's system calls."""

    def pending_dir(self):
        return os.path.join(self.box.state, "agentbox", "otlp-pending")

    def test_run_end_with_nothing_queued_lists_no_directory(self):
        # With no collector anywhere, every run's end listed otlp-pending (an open, an fstat,
        # two fcntl, two getdents64, a close and a 32 KiB buffer) to find nothing in it. The
        # directory now goes with its last marker, and a run finds nothing queued by one stat.
        if STRACE is None:
            self.skipTest("strace is not installed (deps/debian.txt)")
        self.assertRc(self.box.run(["true"]), 0)  # the first flush indexes what there is
        self.assertFalse(os.path.exists(self.pending_dir()))
        trace = os.path.join(self.box.root, "strace-out")
        argv = [STRACE, "-o", trace, "-e", "trace=%file,%desc"] + self.box.argv(["true"])
        self.assertRc(self.box.run(None, argv=argv), 0)
        with open(trace) as f:
            touched = [line for line in f if "otlp-pending" in line]
        self.assertEqual(len(touched), 1, touched)
        self.assertIn("ENOENT", touched[0])
        self.assertFalse(os.path.exists(self.pending_dir()))

    def test_scan_mark_of_an_older_agentbox_is_honoured_and_moved_out(self):
        # An agentbox from before kept its one-time scan's mark as otlp-pending/.scanned, which
        # would keep the directory from ever being empty: the next run takes it as scanned,
        # marks that outside, and removes the old mark and the directory.
        os.makedirs(self.pending_dir())
        open(os.path.join(self.pending_dir(), ".scanned"), "w").close()
        self.assertRc(self.box.run(["true"]), 0)
        self.assertFalse(os.path.exists(self.pending_dir()))
        self.assertTrue(os.path.exists(os.path.join(self.box.state, "agentbox", "otlp-scanned")))

    def test_run_end_does_not_read_every_kept_session(self):
        if STRACE is None:
            self.skipTest("strace is not installed (deps/debian.txt)")
        self.assertRc(self.box.run(["true"]), 0)  # the first flush indexes what there is
        base = os.path.join(self.box.state, "agentbox", "sessions")
        for i in range(40):
            d = os.path.join(base, "kept-%02d" % i)
            os.makedirs(d)
            with open(os.path.join(d, "otlp.json"), "w") as f:
                json.dump({"endpoint": "http://127.0.0.1:9", "acked_seq": 3, "offset": 0}, f)
        trace = os.path.join(self.box.root, "strace-out")
        argv = [STRACE, "-f", "-o", trace, "-e", "trace=%file"] + self.box.argv(["true"])
        self.assertRc(self.box.run(None, argv=argv), 0)
        with open(trace) as f:
            touched = [line for line in f if "/kept-" in line]
        self.assertEqual(touched, [])


if __name__ == "__main__":
    abtest.main()
