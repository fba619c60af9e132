// The copy staging the bwrap backend needs (the backend itself: sandbox/choose.hpp).
#pragma once

#include <optional>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "stage/session.hpp"
#include "stage/snapshot.hpp"

namespace agentbox::cli {

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
