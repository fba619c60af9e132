// The Seatbelt launcher's supervisor (DESIGN.md §9): the command under `sandbox-exec -p
// PROFILE` with what the Linux backends' supervisor gives it -- a pty relayed to the user's
// terminal (Io::tty), signals passed to its process group, the wall-clock limit, the rlimits,
// the network proxy on a loopback port of the host (asking for the run's credential, and
// putting `ask` verdicts to the approver or the prompt, sandbox/asks.hpp), and the same exit
// codes (DESIGN.md §2).
//
// POSIX only, so it is built and tested on Linux too (tests/unit/sandbox/seatbelt_run_test.cpp):
// the program that applies the profile is a parameter, which the tests point at a stand-in
// that drops the profile and runs the command. The product always passes kSandboxExec.
#pragma once

#include <string>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/macos/seatbelt.hpp"

namespace agentbox::sandbox::macos {

// An absolute path, never looked up in PATH: whoever controls PATH must not pick the sandbox.
inline constexpr const char* kSandboxExec = "/usr/bin/sandbox-exec";

// How a supervised run ended, for seatbelt_end().
struct RunEnd {
    bool setup_failed = false;  // the child failed before exec (setrlimit, chdir, the pty)
    bool exec_failed = false;   // `sandbox-exec` itself could not be executed
    bool timed_out = false;     // the wall-clock limit ended it
    bool interrupted = false;   // a second SIGINT ended it
    int err = 0;                // errno of the failure
    std::string what;           // its operation and path
    int status = 0;             // wait status of sandbox-exec, which is the command's
};

// The exit codes of the Linux backends (linux/supervisor.cpp, end_outcome): a failure before
// the command (125: the sandbox program missing is agentbox's failure, never the command's
// 126/127); then the supervisor's own kills (timeout 124, a second Ctrl-C 130); else the
// command's status (N, or 128+N for signal N). Pure.
void seatbelt_end(const RunEnd& end, Outcome& out);

// Runs plan.argv sandboxed by the program `sandbox_exec` (kSandboxExec in the product) with
// the profile seatbelt_launch() makes of `plan` and `facts`, in the session's `copy` and
// `scratch` directories (real paths, created by the caller; "/nonexistent" when there is none).
// Fills `facts` with what only this run knows (the proxy's port, the pty's slave), prepares
// the scratch directories and links, supervises until the command has ended and fills `out`.
// Throws std::invalid_argument and sys::SysError for a setup failure before the start.
void run_seatbelt(const std::string& sandbox_exec, const policy::Plan& plan,
                  const std::string& copy, const std::string& scratch, LaunchFacts facts,
                  const Io& io, const EventSink& sink, Outcome& out);

}  // namespace agentbox::sandbox::macos
