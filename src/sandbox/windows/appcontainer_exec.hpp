// The Windows executor: applies an AppContainerPlan and runs the command in it. Declared for
// every platform (so callers need no #ifdef), defined only on _WIN32.
#pragma once

#include <cstdint>
#include <string>

#include "policy/plan.hpp"
#include "sandbox/windows/appcontainer.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::sandbox::windows {

struct RunResult {
    // as DESIGN.md §2: own status, 124 for the wall-clock limit, 125 setup
    int exit_code = util::kExitSetup;
    bool started = false;
    bool timed_out = false;
    std::string error;    // setup failure: operation, path, Win32 error text
};

// `copy` and `scratch` are the session's directories (created by the caller, empty when the
// Plan stages nothing). Copies the project (leaving out the masked files), creates the scratch
// directories, creates or reuses the AppContainer profile, adds the ACL entries, runs the
// command in a job object with the plan's limits, waits, and revokes the entries again —
// on every path out, so no grant outlives the run.
RunResult run_appcontainer(const policy::Plan& plan, const AppContainerPlan& ac,
                           const std::string& copy, const std::string& scratch);

}  // namespace agentbox::sandbox::windows
