#include "cli/run_backend.hpp"

#include <cstdio>

#include "sandbox/host.hpp"
#include "stage/snapshot.hpp"

namespace agentbox::cli {

void backend_staging(policy::Plan& plan, const policy::HostFacts& facts) {
    if (plan.backend == "seatbelt") {
        // No mount namespace, so no overlay: the project is cloned into the session.
        if (plan.staging == policy::Staging::overlay) plan.staging = policy::Staging::copy;
        return;
    }
    if (plan.backend != "bwrap" || plan.staging != policy::Staging::copy) return;
    if (facts.overlay_userxattr && sandbox::bwrap_overlay()) plan.staging = policy::Staging::overlay;
}

std::string copy_cost_note(const policy::Plan& plan, const std::vector<std::string>& own_dirs) {
    const stage::CopyCost c = stage::snapshot_cost(plan.project, own_dirs);
    char mib[32];
    std::snprintf(mib, sizeof mib, "%.1f MiB", static_cast<double>(c.bytes) / (1024.0 * 1024.0));
    // The copy is made before every run, even one that writes nothing: said up front.
    return "staging by copy: each run first copies the project into its session, now " +
           std::to_string(c.files) + " files of " + std::to_string(c.bytes) + " bytes (" + mib +
           "), " + std::to_string(c.dirs) + " directories and " + std::to_string(c.links) +
           " symlinks; files are shared by reflink where the session's filesystem can (btrfs, "
           "xfs), else copied";
}

}  // namespace agentbox::cli
