// The agent state files of a run (Plan::state; stage/state.hpp): copied into the session
// before the sandbox starts, saved back or held for review after it is gone.
#pragma once

#include "audit/log.hpp"
#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "stage/session.hpp"

namespace agentbox::cli {

// Copies the host files into the session's home directory and points the backend at it
// (dirs.home). Nothing to do without state files.
void prepare_run_state(const policy::Plan& plan, const stage::Session& session,
                       sandbox::StageDirs& dirs);

// Saves what may be saved, keeps the rest in the session, logs one `state` event per changed
// file and says on stderr what happened to each: held and kept files always (even with -q),
// since the user has something to do; saved ones unless quiet.
void finish_run_state(const policy::Plan& plan, const stage::Session& session, audit::Log* log,
                      bool quiet);

}  // namespace agentbox::cli
