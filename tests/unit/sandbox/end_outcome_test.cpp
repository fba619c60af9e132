// end_outcome (linux/supervisor.hpp): how a run's end becomes its exit status, error and
// "started", by precedence, without a sandbox.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "sandbox/linux/supervisor.hpp"

using namespace agentbox::sandbox;
using agentbox::sandbox::lnx::EndFacts;
using agentbox::sandbox::lnx::Report;
using agentbox::sandbox::lnx::ReportKind;

namespace {

// Wait statuses as waitpid reports them.
constexpr int exited(int code) { return (code & 0xff) << 8; }
constexpr int killed(int sig) { return sig & 0x7f; }

Report record(ReportKind kind, const char* op, int err) {
    Report r;
    r.kind = kind;
    r.err = err;
    std::strncpy(r.op, op, sizeof r.op - 1);
    return r;
}

Outcome end(const EndFacts& f) {
    Outcome out;
    out.started = true;  // as the supervisor has it after the command's exec
    lnx::end_outcome(f, out);
    return out;
}

}  // namespace

TEST_CASE("the command's own exit status and death by signal are the run's") {
    EndFacts f;
    f.status = exited(3);
    Outcome out = end(f);
    CHECK(out.exit_code == 3);
    CHECK(out.signal == 0);
    CHECK(out.started);
    CHECK(out.error.empty());
    f.status = killed(SIGSEGV);
    out = end(f);
    CHECK(out.exit_code == 128 + SIGSEGV);
    CHECK(out.signal == SIGSEGV);
}

TEST_CASE("a setup failure is 125 with its record, whatever else happened") {
    const Report r = record(ReportKind::setup, "mount", EPERM);
    EndFacts f;
    f.failure = &r;
    f.timed_out = true;
    f.status = exited(125);
    const Outcome out = end(f);
    CHECK(out.exit_code == 125);
    CHECK_FALSE(out.started);
    CHECK(out.error.find("mount") != std::string::npos);
    CHECK_FALSE(out.timed_out);
}

TEST_CASE("an exec failure is 127 for a missing command, else 126") {
    Report r = record(ReportKind::exec, "execve", ENOENT);
    EndFacts f;
    f.failure = &r;
    f.argv0 = "nosuch";
    Outcome out = end(f);
    CHECK(out.exit_code == 127);
    CHECK(out.error == "nosuch: command not found");
    CHECK_FALSE(out.started);
    r.err = EACCES;
    out = end(f);
    CHECK(out.exit_code == 126);
    CHECK(out.error == std::string("nosuch: ") + std::strerror(EACCES));
}

TEST_CASE("bubblewrap failing before init is 125 with bwrap's own status") {
    EndFacts f;
    f.init_ran = false;
    f.status = exited(1);
    Outcome out = end(f);
    CHECK(out.exit_code == 125);
    CHECK_FALSE(out.started);
    CHECK(out.error.find("exit status 1)") != std::string::npos);
    // Ended by us before init ran: the timeout's status, not bwrap's failure.
    f.timed_out = true;
    f.status = killed(SIGKILL);
    out = end(f);
    CHECK(out.exit_code == 124);
}

TEST_CASE("the supervisor's kills: stage_size, then timeout, then a second Ctrl-C") {
    EndFacts f;
    f.status = killed(SIGKILL);
    f.stage_full = true;
    f.timed_out = true;
    f.interrupted = true;
    f.staged = 2048;
    f.stage_max = 1024;
    Outcome out = end(f);
    CHECK(out.exit_code == 128 + SIGKILL);
    CHECK(out.signal == SIGKILL);
    CHECK(out.error.find("reached 2048 bytes, over limits.stage_size (1024)") != std::string::npos);
    f.stage_full = false;
    out = end(f);
    CHECK(out.exit_code == 124);
    CHECK(out.timed_out);
    CHECK(out.signal == SIGKILL);
    f.timed_out = false;
    out = end(f);
    CHECK(out.exit_code == 130);
    CHECK(out.signal == SIGINT);
    CHECK_FALSE(out.timed_out);
}
