// `run --backend`: which backend runs the Plan, and the copy staging the bwrap backend needs.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"
#include "stage/session.hpp"
#include "stage/snapshot.hpp"

namespace agentbox::cli {

// auto: native where agentbox can create user namespaces itself; else bubblewrap where it can
// (a distribution that allows user namespaces only to some programs, e.g. Ubuntu 24.04's
// AppArmor restriction); else a Failure (125) that says what doctor says. Others as asked.
std::string choose_backend(const std::string& requested, const policy::HostFacts& facts);

std::unique_ptr<sandbox::Backend> make_backend(const std::string& name);

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
