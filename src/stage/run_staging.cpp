#include "stage/run_staging.hpp"

#include <exception>
#include <stdexcept>

namespace agentbox::stage {

std::string RunStaging::before(const std::string& project,
                               const std::vector<std::string>& own_dirs) {
    if (how_ != policy::Staging::copy) return {};
    // The session records its kind when it is made (Session::create_unrecorded): a copy run in
    // a session that says otherwise would stage deletions its readers do not honour.
    if (session_.meta().staged != Staged::copy)
        throw std::logic_error("copy staging in session " + session_.meta().id +
                               ", which was not created for it");
    snap_ = make_snapshot(project, session_.dir() + "/snapshot", own_dirs);
    return snap_->dir;
}

Staged staged_as(policy::Staging how) {
    switch (how) {
        case policy::Staging::overlay: return Staged::overlay;
        case policy::Staging::copy: return Staged::copy;
        case policy::Staging::none: return Staged::none;
    }
    return Staged::overlay;
}

void RunStaging::after(bool started, bool keep, const Say& say) {
    // Before the flush below, which then covers it.
    if (snap_) {
        try {
            materialise(*snap_, session_.upper(), session_.whiteouts());
            discard_snapshot(snap_->dir);
            snap_.reset();
        } catch (const std::exception& e) {
            say(false, std::string("could not stage the changes from the snapshot: ") + e.what() +
                           "; the snapshot stays in " + session_.dir());
        }
    }
    // The overlay left the command's modes in upper/ (materialise does this itself).
    if (how_ == policy::Staging::overlay && started) {
        try {
            open_up_staged(session_.upper());
        } catch (const std::exception& e) {
            say(false, std::string("could not open up the staged files and directories: ") +
                           e.what());
        }
    }
    // Flushed before it is reported staged; discarded changes need not be.
    if (how_ != policy::Staging::none && started && keep) {
        try {
            // A snapshot kept (its staging failed) may hold what upper/ lacks.
            nothing_staged_ = !session_.sync_staged() && !snap_;
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
