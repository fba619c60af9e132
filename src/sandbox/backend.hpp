// A backend enforces a Plan (DESIGN.md §4). It either enforces every rule of the Plan or
// refuses with the rule it cannot enforce; it never weakens silently.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::net {
struct Intercept;  // net/intercept.hpp
}

namespace agentbox::sandbox {

// Where staged writes go (from stage::Session). Empty when Plan::staging == none.
// The overlay's layers for a staged project. `work` must be empty and never used by an earlier
// run: the overlay is mounted volatile (sandbox/linux/mounts.cpp), and the kernel refuses a
// work dir that a volatile mount has used.
struct StageDirs {
    std::string upper;
    std::string work;
    std::string snapshot;  // Staging::copy: the session's copy of the project (bwrap)
    std::string scratch;   // a directory of the session the backend may use for its own files
    std::string home;      // Plan::state non-empty: the session's home directory, bound at the
                           // home (MountKind::state_home) in place of the empty tmpfs
};

// A verdict of `ask` met while the command runs (a proxy connection; DESIGN.md §8).
struct AskRequest {
    std::string op;      // "connect"
    std::string target;  // "example.com:443"
    std::string rule;    // the rule that said ask, as written
    std::string source;  // its file:line:col
};

// The answer, whoever gave it; the backend logs it as an "approval" event.
struct AskAnswer {
    bool allow = false;
    bool session = false;  // scope "session": remembered for the rest of the run
    std::string by;        // "approver", "prompt", "none"
    std::string how;       // "answered", or why it is a denial ("timeout", "no terminal", ...)
    std::string reason;
    long long ms = 0;
};

// Runs the user's approver command. Called on a thread of its own, never the supervisor's, so
// a slow approver delays nothing but the connection that waits for it; `cancel_fd` becomes
// readable when the run ends and the answer is no longer wanted.
using Approver = std::function<AskAnswer(const AskRequest&, int cancel_fd)>;

// What a backend made of the Plan before the command may run, for the caller's record (the
// decision log's plan event): built once per run, by the backend.
struct Prepared {
    std::string seccomp_digest;     // seccomp::digest of the filter's rule set
    std::size_t seccomp_rules = 0;  // its number of rules
};

struct Io {
    int in = 0, out = 1, err = 2;
    bool tty = false;  // relay a new pty (stdin is a terminal and not --no-tty)
    // Who answers an ask, in order (DESIGN.md §8): `approver` when set; else a prompt on the
    // controlling terminal (/dev/tty) when `prompt` and there is one, with the pty relay
    // paused; else deny.
    Approver approver = nullptr;
    bool prompt = true;
    // Called once the sandbox's first process exists and before the command may exec: work of
    // the caller's that can overlap with building the sandbox (opening the decision log). If it
    // throws, the sandbox is ended before the command runs and launch reports a setup failure.
    std::function<void(const Prepared&)> ready = nullptr;
    // The run's CA and secrets (net/intercept.hpp), for the proxy; null without [secrets].
    // Handed over here, not in the Plan: the Plan is printed and passed inside, these never.
    std::shared_ptr<net::Intercept> intercept = nullptr;
};

// Events the backend reports while it runs; the cli turns them into decision-log events.
struct Event {
    std::string type;  // "exec", "syscall.denied", "net.connect", "limit", "warning", ...
    std::vector<std::pair<std::string, std::string>> fields;
};
using EventSink = std::function<void(const Event&)>;

struct Outcome {
    int exit_code = util::kExitSetup;  // as DESIGN.md §2: own status, 128+N, 124, 125, 126, 127
    int signal = 0;           // the signal that ended the command, if any
    bool timed_out = false;
    bool started = false;     // the command was exec'd
    std::string error;        // setup failure, one line (operation, path, errno)
    double wall_seconds = 0;
    struct rusage usage {};
    std::uint64_t peak_memory = 0;  // bytes, from the cgroup when there is one, else rusage
    // A child of ours that has reported the end of the sandbox and may still be exiting (its
    // exit tears the namespaces down): the caller reaps it without waiting (waitpid, WNOHANG)
    // once it is done with the run, so that the teardown overlaps with the review; if it is
    // not gone by then, whoever inherits it does. -1: nothing left to reap.
    pid_t reap_later = -1;
};

// The end of a command that ran, as every backend reports it (DESIGN.md §2): the supervisor's
// own kills first (the wall-clock limit 124, a second Ctrl-C 130), else the command's wait
// status (N, or 128+N for signal N). Sets exit_code, signal and timed_out. Pure
// (sandbox/outcome.cpp), so that the Linux and macOS supervisors cannot drift apart.
void command_end(int wait_status, bool timed_out, bool interrupted, Outcome& out);

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;
    // Weakenings this backend adds for this plan (rules it cannot enforce). Empty = all fine.
    virtual std::vector<policy::Weakening> check(const policy::Plan& plan) const = 0;
    // True when check() is the whole list: the backend uses none of the host mechanisms whose
    // absence policy::compile reports (Landlock, seccomp, cgroups: Linux's), so the Plan's
    // weakenings from compile do not apply to it and check() replaces them (Seatbelt).
    virtual bool checks_everything() const { return false; }
    virtual Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
                           const EventSink& sink) = 0;
};

// Linux only (native.cpp, bwrap/backend.cpp); sandbox/choose.hpp picks between them.
std::unique_ptr<Backend> make_native();
std::unique_ptr<Backend> make_bwrap();
// Built on every system (macos/seatbelt_exec.cpp, POSIX but for clonefile): its check() is
// what `run --dry-run --target macos` reports anywhere; it launches only on macOS
// (choose.hpp, cannot_run_here).
std::unique_ptr<Backend> make_seatbelt();

}  // namespace agentbox::sandbox
