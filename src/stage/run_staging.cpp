#include "stage/run_staging.hpp"

#include <exception>

namespace agentbox::stage {

std::string RunStaging::before(const std::string& project) {
    if (how_ != policy::Staging::copy) return {};
    snap_ = make_snapshot(project, session_.dir() + "/snapshot");
    return snap_->dir;
}

void RunStaging::after(bool started, bool keep, const Say& say) {
    // Before the flush below, which then covers it.
    if (snap_) {
        try {
            materialise(*snap_, session_.upper());
            discard_snapshot(snap_->dir);
            snap_.reset();
        } catch (const std::exception& e) {
            say(false, std::string("could not stage the changes from the snapshot: ") + e.what() +
                           "; the snapshot stays in " + session_.dir());
        }
    }
    // Flushed before it is reported staged; discarded changes need not be.
    if (how_ != policy::Staging::none && started && keep) {
        try {
            session_.sync_staged();
        } catch (const std::exception& e) {
            say(true, std::string("the staged changes may not survive a crash: ") + e.what());
        }
    }
    // Every process of the sandbox is gone; so is the overlay, or it is going with init.
    if (how_ == policy::Staging::overlay) {
        try {
            session_.open_up_work();
        } catch (const std::exception& e) {
            say(false, std::string("could not open up the overlay work directory: ") + e.what());
        }
    }
}

}  // namespace agentbox::stage
