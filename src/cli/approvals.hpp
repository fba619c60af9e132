// Approvals (DESIGN.md §8) as the commands use them: the approver command of a run (the
// --approver flag, else the profile's [approve] command) wrapped for the sandbox backend, and
// the staged changes that need an explicit approval (protected paths, symlinks leading outside
// the project) put to it before a commit.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "audit/event.hpp"
#include "cli/review.hpp"
#include "profile/model.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::cli {

// Used when neither the profile nor a flag sets [approve] timeout.
inline constexpr std::chrono::milliseconds kDefaultApproverTimeout{30000};

struct ApproverSetting {
    std::string command;
    std::chrono::milliseconds timeout = kDefaultApproverTimeout;
};

// The approver a command uses: `flag` (--approver) wins over the profile's [approve] command;
// nullopt when there is none.
std::optional<ApproverSetting> approver_of(const profile::Profile& prof,
                                           const std::optional<std::string>& flag = {});

// For sandbox::Io::approver: each question becomes an approve::ask_command call.
sandbox::Approver backend_approver(const ApproverSetting& a, const std::string& session);

struct CommitApprovals {
    std::set<std::string> allowed;      // paths the approver allowed
    std::vector<audit::Event> events;   // one "approval" event per question, in order
};

// Every change judged `ask` (refused ones are never asked about) put to the approver, one
// request each ({"op":"commit","target":PATH,...}). Its answer covers that path, this time:
// a scope of "session" is recorded but means nothing more for a commit.
CommitApprovals ask_for_commits(const ApproverSetting& a, const std::string& session,
                                const std::vector<Judged>& judged);

// The "approval" event of an approval given by the user directly — at the review prompt
// (`by` "prompt") or by naming the path with --force — with the members every approval has.
audit::Event explicit_approval(const Judged& j, const std::string& session, const std::string& by,
                               const std::string& reason);

// "decision" events (DESIGN.md §7) of one commit, once `choose` has decided: one per change
// held back (outcome "held", with the reason) and one per change that needed approval and
// landed (outcome "committed"; its approval follows), in tree order. A plain allowed change
// that lands is recorded by the "commit" event alone. `judged` is as `choose` left it.
std::vector<audit::Event> commit_decisions(const std::vector<Judged>& judged,
                                           const stage::Selection& sel);

}  // namespace agentbox::cli
