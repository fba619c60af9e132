// The supervisor's wait, after the child was released: one poll loop over init's pidfd, the
// failure-report pipe, the sync socket, signals, the wall-clock timer, seccomp notifications,
// the pty relay and the proxy's event queue (the proxy itself runs on its own thread). Ends when
// nothing in the sandbox runs any more and everything it said has been read.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "net/proxy.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/linux/cgroup.hpp"
#include "sandbox/linux/child.hpp"
#include "sandbox/linux/guards.hpp"
#include "sandbox/linux/landlock_audit.hpp"
#include "sandbox/pty.hpp"
#include "sandbox/linux/report.hpp"
#include "seccomp/rules.hpp"

namespace agentbox::sandbox::lnx {

struct Supervised {
    pid_t pid = -1;        // init, our child
    int pidfd = -1;
    int sync_fd = -1;      // listener fd and status record arrive here
    int report_fd = -1;    // read end: failure records; EOF = execve happened
    int signal_fd = -1;    // the supervisor's blocked signals
    // Network mode proxy: how to run the proxy once init sends its listener ('P').
    const net::ProxyOptions* proxy = nullptr;
    // The overlay's upper directory, watched for limits.stage_size ("" without staging).
    std::string stage_upper;
    // Bytes already under stage_upper at the start, not counted as staged (the copy
    // strategy's snapshot of the project).
    std::uint64_t stage_base = 0;
    // bwrap: pid/pidfd are bubblewrap's monitor, and init reports that it runs by sending its
    // own pidfd; without that, bwrap failed and nothing of ours ran.
    bool init_reports_start = false;
    // The user's terminal in raw mode for the relay (Io::tty), or null: a prompt puts it back
    // to the user's own mode while it asks.
    RawMode* raw = nullptr;
    // Landlock's denials from the kernel's audit records, opened before the command could run
    // (inactive when this host does not let us see them).
    LandlockAudit* landlock = nullptr;
    // The sockets write grants name (unix_connect.hpp), taken before the command's go.
    std::vector<std::pair<dev_t, ino_t>> named_sockets;
};

// A backend's launch around `run(out)`: a failure it throws is a setup failure (125) with its
// message, and the wall time covers all of it.
template <class Run>
Outcome timed_launch(Run&& run) {
    Outcome out;
    const auto start = std::chrono::steady_clock::now();
    try {
        run(out);
    } catch (const std::exception& ex) {
        out.exit_code = kExitSetup;
        out.started = false;
        out.error = ex.what();
    }
    out.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
}

// What the supervisor knows once nothing of the sandbox runs any more, for end_outcome.
struct EndFacts {
    const Report* failure = nullptr;  // the first setup or exec failure record, if any
    bool init_ran = true;      // false: bubblewrap failed before agentbox's init ran
    bool timed_out = false;    // the wall-clock limit ended it
    bool interrupted = false;  // a second Ctrl-C ended it
    bool stage_full = false;   // limits.stage_size ended it
    std::uint64_t staged = 0, stage_max = 0;  // bytes, for stage_full's message
    int status = 0;            // wait status: the command's (init's record), else init's own
    std::string argv0;         // the command, for 126/127's messages
};

// How the run ended, by precedence: a setup failure (125) or an exec failure (126, 127) says
// the command never ran; then bwrap failing before init (125); then the supervisor's own
// kills (stage_size 137, timeout 124, second Ctrl-C 130); else the command's status (N or
// 128+N). Fills exit_code, signal, timed_out, error, and clears `started` where it did not
// run. Pure.
void end_outcome(const EndFacts& f, Outcome& out);

// Supervises until nothing of the sandbox runs any more, then the end both backends share: the
// user's terminal mode back, peak memory, and the first process (`guard`) reaped now, left to
// exit -- or, when cgroups must be removed next, waited for. Fills out: exit_code, signal,
// timed_out, started, error, usage, peak_memory. Throws SysError only for a failure of the
// supervisor itself (after killing init). `rules`: the filter's rule set, or null when the
// filter came from the cache without building it (the notifier builds it if it needs it).
void supervise_to_end(const policy::Plan& plan, const seccomp::RuleSet* rules, const Io& io,
                      const EventSink& sink, const Supervised& s, ChildGuard& guard,
                      const Cgroups& cgroups, Outcome& out);

}  // namespace agentbox::sandbox::lnx
