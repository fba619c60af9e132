// The staging side of one run, around the sandbox: copy staging's snapshot before it, and after
// it the staged work made ready for review and safe on disk. cli calls and reports; the work is
// here.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/plan.hpp"
#include "stage/session.hpp"
#include "stage/snapshot.hpp"

namespace agentbox::stage {

// The session kind a run staged `how` records (Session::create_unrecorded).
Staged staged_as(policy::Staging how);

class RunStaging {
public:
    // Says what could not be done; `error` when it may cost the staged work, a warning else.
    using Say = std::function<void(bool error, const std::string& message)>;

    RunStaging(const Session& session, policy::Staging how) : session_(session), how_(how) {}

    // Staging::copy: the project copied into the session, returning the copy's directory, the
    // project the sandbox sees; "" for the other stagings. agentbox's `own_dirs`
    // (Invocation::own_dirs) are left out of the copy (make_snapshot). Throws.
    std::string before(const std::string& project, const std::vector<std::string>& own_dirs);
    // The command is done (`started`: it ran at all). In order, each failure told and the next
    // step still run, so that the staged work is kept whatever fails:
    // - Staging::copy: what the command changed in the snapshot becomes upper/, the overlay's
    //   format, so review, diff and commit read it as they read an overlay's; the snapshot is
    //   removed (kept for inspection when that fails);
    // - a command that ran: its staged changes flushed (Session::sync_staged), unless they are
    //   to be discarded (`keep` false);
    // - Staging::overlay: the overlay's work directory opened up (Session::open_up_work).
    void after(bool started, bool keep, const Say& say);
    // After after(): upper/ was found to hold nothing at all (by the flush), so the review can
    // only find the session empty. False when that was not looked at.
    bool nothing_staged() const { return nothing_staged_; }

private:
    const Session& session_;
    const policy::Staging how_;
    std::optional<Snapshot> snap_;
    bool nothing_staged_ = false;
};

}  // namespace agentbox::stage
