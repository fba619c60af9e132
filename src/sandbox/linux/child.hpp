// What the sandbox's processes need after clone(), prepared by the supervisor BEFORE clone so
// that the child only reads it: no parsing, few allocations, no exceptions after clone.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/linux/report.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::sandbox::lnx {

// Points of the sandbox's side of a start, for bench/startup.py --phases (util/phases.hpp):
// init: id maps written, root tmpfs entered, the Plan's mounts made, the host tree detached
// (`pivot`, the name it had when that took a second pivot_root), the sandbox built; the
// command's process started, it waits for its go, the go seen, its first execve; init back
// from the command's exec with its capabilities dropped; init with the command and everything
// else reaped, about to send its final record.
enum class ChildPoint { maps, base, mounts, pivot, built, command, waiting, went, exec, resumed,
                        reaped, count };

// The seccomp program, handed to the command in memory the supervisor shares with the child
// (MAP_SHARED, mapped before clone): the supervisor compiles it while the child builds the
// sandbox and puts it here before the command's go, which the command waits for before reading
// it. exec drops the mapping from the command; init, which keeps it, is not dumpable.
class SharedFilter {
public:
    SharedFilter();
    ~SharedFilter();
    SharedFilter(const SharedFilter&) = delete;
    SharedFilter& operator=(const SharedFilter&) = delete;
    // Supervisor, before the go. Throws when the program does not fit (more than BPF_MAXINSNS).
    void put(const std::vector<std::uint8_t>& bpf);
    // Command, after the go.
    const std::uint8_t* data() const { return base_ + sizeof(std::uint64_t); }
    std::size_t size() const;
    // The sandbox's processes read the clock at a ChildPoint into this shared memory (a clock
    // read and a store: no allocation after clone); the supervisor marks the readings once the
    // sandbox is done. Only when ChildSetup::stamps.
    void stamp(ChildPoint p) const noexcept;
    void mark_points() const noexcept;

private:
    std::uint8_t* base_ = nullptr;
};

struct ChildSetup {
    const policy::Plan* plan = nullptr;
    const StageDirs* stage = nullptr;
    const std::vector<std::uint8_t>* bpf = nullptr;  // compiled seccomp filter (bwrap), or
    const SharedFilter* shared_bpf = nullptr;         // the same, to read after the go
    bool stamps = false;     // shared_bpf->stamp() the ChildPoints (phases are being marked)
    bool notify = false;     // bpf routes denials to a listener that goes to the supervisor
    int sync_fd = -1;        // SOCK_SEQPACKET to the supervisor: listener, final record
    int go_fd = -1;          // eventfd (semaphore, guards.hpp Go): +1 releases init, +1 lets
                             // the command go
    bool release = true;     // init waits for its release (the supervisor adds it to cgroups)
    uid_t outside_uid = 0;   // the supervisor's effective ids, for init's uid/gid maps
    gid_t outside_gid = 0;
    // The CPUs the command may run on: the supervisor's own. Init starts on the others only
    // (launch.cpp, spread_child), so the command puts this set back after its go.
    bool restore_cpus = false;
    cpu_set_t cpus{};
    int report_fd = -1;      // CLOEXEC pipe: failure records; EOF once the command exec'd
    bool tty = false;        // Io::tty: the command opens a pty in the sandbox's own devpts
    Io io;                   // the command's 0,1,2 when there is no pty
    std::vector<char*> argv;             // NULL-terminated, points into plan->argv
    std::vector<std::string> env_storage;  // "NAME=value" from plan->env
    std::vector<char*> envp;             // NULL-terminated, points into env_storage
    std::vector<std::string> candidates;  // where argv[0] may be, in PATH order
};

inline void stamp(const ChildSetup& cs, ChildPoint p) noexcept {
    if (cs.stamps && cs.shared_bpf != nullptr) cs.shared_bpf->stamp(p);
}

// Fill argv/envp/candidates from the plan (supervisor side, before clone).
void prepare_exec(ChildSetup& cs);

// PATH lookup the way execvp does it, but with the sandbox's PATH: "" or "a::b" components
// mean the current directory. argv0 containing '/' is used as is.
std::vector<std::string> exec_candidates(const std::string& argv0, const std::string& path);

// The clone()d child: becomes the sandbox's init (PID 1). Never returns.
[[noreturn]] void child_main(const ChildSetup& cs);

// The same init, exec'd by bubblewrap inside the sandbox it built (sandbox/bwrap/). Never
// returns.
[[noreturn]] void bwrap_child_main(const ChildSetup& cs);

// The command's process, forked by init: last steps, then execve. Never returns.
[[noreturn]] void command_main(const ChildSetup& cs);

// Waits for the supervisor's next go: one count of the eventfd `go_fd` (guards.hpp, Go). False
// when the supervisor went away instead (its end of the sync socket `sync_fd` hung up).
// Async-signal-safe: bwrap's child waits with it between fork and exec.
bool wait_go(int go_fd, int sync_fd) noexcept;

// Send `fd` over the sync socket with a one-byte tag ('P' proxy listener, 'T' pty master,
// 'L' seccomp listener). Never throws; returns -1 with errno set on failure.
int send_tagged_fd(int sync_fd, char tag, int fd) noexcept;

// Exit codes the sandbox's processes use for a failure they also report over report_fd.
using util::kExitNotExecutable;
using util::kExitNotFound;
using util::kExitSetup;

// A setup step of init or the command failed: report it, exit 125.
[[noreturn]] inline void die(const ChildSetup& cs, const StepError& e) {
    send_report(cs.report_fd, ReportKind::setup, e);
    ::_exit(kExitSetup);
}
[[noreturn]] inline void die_errno(const ChildSetup& cs, const char* op, const char* path) {
    send_report(cs.report_fd, ReportKind::setup, op, path, errno);
    ::_exit(kExitSetup);
}

}  // namespace agentbox::sandbox::lnx
