// What `agentbox run` writes to the decision log (agentbox-log(5)): the events built from the
// Plan, the host facts, the backend's own events and the Outcome. Pure apart from reading the
// clock; the writing is audit::Log's.
//
// Secrets stay out: of the environment only names are taken, never values; of the command
// line only the sandboxed command's argv, never agentbox's own flags (--env NAME=VALUE).
#pragma once

#include <string>

#include "approve/approver.hpp"
#include "audit/event.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "stage/run_record.hpp"

namespace agentbox::cli {

audit::Event session_start_event(const policy::Plan& plan, const policy::HostFacts& facts);
// `prepared`: the backend's seccomp digest and rule count (Io::ready); null when the launch
// failed before it, and then they are computed here.
audit::Event plan_event(const policy::Plan& plan, const sandbox::Prepared* prepared);
// A backend event ("exec", "syscall.denied", "warning", ...) with its numeric members as
// numbers.
audit::Event backend_event(const sandbox::Event& ev);
audit::Event process_exit_event(const sandbox::Outcome& out, int exit_code);
using stage::session_end_event;  // stage/run_record.hpp
// The answer to an `ask` (DESIGN.md §8), whoever gave it; for the proxy and commit to log.
audit::Event approval_event(const approve::Request& req, const approve::Answer& answer);

// "SIGKILL" for 9; "signal 77" for a number without a name.
std::string signal_name(int sig);

}  // namespace agentbox::cli
