// The small records the sandbox's processes send to the supervisor. A child after clone()
// must not throw or allocate much, so failures travel as one fixed-size record over a pipe
// (like nsjail's kSubprocErrorChar), and the supervisor turns them into messages.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <string>

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

enum class ReportKind : std::uint8_t {
    setup = 1,   // a setup step failed before the command ran: exit 125
    exec = 2,    // execve of the command failed: 126 or 127
    done = 3,    // init: the command ended with wait status `status`, and every other
                 // process of the sandbox has been killed and reaped; `usage` is theirs
};

// Fixed size so that one write() of it is atomic on a pipe (< PIPE_BUF) and a reader never
// sees half a record.
struct Report {
    ReportKind kind = ReportKind::setup;
    std::int32_t err = 0;
    std::int32_t status = 0;  // done: the command's wait status
    struct rusage usage {};   // done: RUSAGE_CHILDREN of init, i.e. the command and all it ran
    char op[64] = {};
    char path[3800] = {};
};
static_assert(sizeof(Report) < 4096, "a Report must fit in PIPE_BUF for atomic writes");

// Child side: fill and write a record; never throws, ignores a dead reader.
void send_report(int fd, ReportKind kind, const char* op, const char* path, int err) noexcept;
inline void send_report(int fd, ReportKind kind, const StepError& e) noexcept {
    send_report(fd, kind, e.op, e.path.c_str(), e.err);
}

// Supervisor side: "op \"path\": strerror" as sys::SysError would print it.
std::string describe(const Report& r);

}  // namespace agentbox::sandbox::lnx
