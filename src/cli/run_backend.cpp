#include "cli/run_backend.hpp"

namespace agentbox::cli {

void CopyStaging::before(const policy::Plan& plan, const stage::Session& session,
                         sandbox::StageDirs& dirs) {
    if (plan.staging != policy::Staging::copy) return;
    snap_ = stage::make_snapshot(plan.project, session.dir() + "/snapshot");
    dirs.snapshot = snap_->dir;
}

void CopyStaging::after(const stage::Session& session) {
    if (!snap_) return;
    stage::materialise(*snap_, session.upper());
    stage::discard_snapshot(snap_->dir);
    snap_.reset();
}

}  // namespace agentbox::cli
