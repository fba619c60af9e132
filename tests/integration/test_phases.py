#!/usr/bin/python3
"""Integration: the phase points of a run (AGENTBOX_PHASES, src/util/phases.hpp) that
bench/startup.py --phases reads, the sandbox's side included (sandbox/linux/child.hpp,
ChildPoint): init and the command read the clock into memory shared with the supervisor,
which reports the readings with its own points at the end.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import BACKEND, BoxTest  # noqa: E402

SANDBOX = ["sandbox:maps", "sandbox:base", "sandbox:mounts", "sandbox:pivot", "sandbox:built",
           "sandbox:command", "sandbox:waiting", "sandbox:went", "sandbox:exec",
           "sandbox:resumed"]


def points(err):
    out = {}
    for line in err.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "agentbox-phase":
            out[f[1]] = int(f[2])
    return out


class Phases(BoxTest):
    def test_the_sandbox_side_is_reported_in_order_and_after_the_supervisors_ready(self):
        res = self.box.run(["true"], profiles=["default"], args=["-q"],
                           env={"AGENTBOX_PHASES": "1"}, probes=False)
        self.assertRc(res, 0)
        p = points(res.err)
        for name in ("main", "started", "ready", "go", "exec", "ended"):
            self.assertIn(name, p, res)
        if BACKEND == "bwrap":
            # bubblewrap builds the sandbox: no memory is shared with it for the readings.
            self.assertEqual([n for n in p if n.startswith("sandbox:")], [], res)
            return
        for name in SANDBOX:
            self.assertIn(name, p, res)
        times = [p[n] for n in SANDBOX]
        self.assertEqual(times, sorted(times), res)
        # The command cannot pass its go before the supervisor's part is done.
        self.assertGreaterEqual(p["sandbox:went"], p["ready"], res)
        self.assertGreaterEqual(p["sandbox:maps"], p["main"], res)

    def test_inits_end_is_reported_between_the_commands_exec_and_the_supervisors_end(self):
        # A daemon the command leaves behind is killed and reaped before init's record: the
        # point is read after that, and the supervisor's `ended` only once the record is in.
        res = self.box.run(["sh", "-c", "sleep 30 & exit 0"], profiles=["default"],
                           args=["-q"], env={"AGENTBOX_PHASES": "1"}, probes=False)
        self.assertRc(res, 0)
        p = points(res.err)
        if BACKEND == "bwrap":
            self.assertNotIn("sandbox:reaped", p, res)
            return
        self.assertIn("sandbox:reaped", p, res)
        self.assertGreaterEqual(p["sandbox:reaped"], p["sandbox:resumed"], res)
        self.assertLessEqual(p["sandbox:reaped"], p["ended"], res)

    def test_no_point_is_reported_without_the_variable(self):
        res = self.box.run(["true"], profiles=["default"], args=["-q"], probes=False)
        self.assertRc(res, 0)
        self.assertNotIn("agentbox-phase", res.err, res)


if __name__ == "__main__":
    abtest.main()
