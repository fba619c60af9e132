// The copy staging the bwrap backend needs (the backend itself: sandbox/choose.hpp).
#pragma once

#include <optional>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "stage/session.hpp"
#include "stage/snapshot.hpp"

namespace agentbox::cli {

// A bwrap plan stages by copy (policy/compile.cpp); a bubblewrap whose help lists --overlay
// (0.11.0+) stages in the native backend's overlay instead, when the kernel allows overlayfs in
// a user namespace. Asks bwrap (one `bwrap --help`) only for a bwrap plan that would copy.
void bwrap_staging(policy::Plan& plan, const policy::HostFacts& facts);

// `run --dry-run` of a copy-staged plan: what the copy will cost, as a note of the plan.
std::string copy_cost_note(const policy::Plan& plan);

// Staging::copy around a launch: the snapshot before, the change set into upper/ after.
class CopyStaging {
public:
    // Makes the snapshot when the plan stages by copy; fills dirs.snapshot. Throws.
    void before(const policy::Plan& plan, const stage::Session& session, sandbox::StageDirs& dirs);
    // Moves the differences into upper/ and removes the snapshot. Throws; the snapshot then
    // stays for inspection.
    void after(const stage::Session& session);
    bool active() const { return snap_.has_value(); }

private:
    std::optional<stage::Snapshot> snap_;
};

}  // namespace agentbox::cli
