// Staging by copy as a run plans it: whether bwrap needs it, and what it will cost (the copy
// itself: stage/run_staging.hpp; the backend: sandbox/choose.hpp).
#pragma once

#include <string>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::cli {

// How the Plan's backend stages. A bwrap plan stages by copy (policy/compile.cpp); a bubblewrap
// whose help lists --overlay (0.11.0+) stages in the native backend's overlay instead, when
// the kernel allows overlayfs in a user namespace. Asks bwrap (one `bwrap --help`) only for a
// bwrap plan that would copy. A seatbelt plan stages by copy (macOS has no overlay).
void backend_staging(policy::Plan& plan, const policy::HostFacts& facts);

// `run --dry-run` of a copy-staged plan: what the copy will cost, as a note of the plan;
// agentbox's `own_dirs` (Invocation::own_dirs) are left out of it, as the copy leaves them.
std::string copy_cost_note(const policy::Plan& plan, const std::vector<std::string>& own_dirs);

}  // namespace agentbox::cli
