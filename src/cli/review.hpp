// The end of a run's review, and what `agentbox commit` shares with it: the listing of judged
// changes and their log events. What may be committed is decided in stage/select.hpp.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/request.hpp"
#include "profile/model.hpp"
#include "stage/changes.hpp"
#include "stage/select.hpp"
#include "stage/session.hpp"

namespace agentbox::audit {
class Log;
}

namespace agentbox::cli {

// The verdicts and the selection live in stage/select.hpp; the cli reports them.
using Judged = stage::Judged;

// The profile a session ran with (its -p names, else "default"), loaded for its project.
profile::Profile session_profile(const stage::Session& s);

// stage::judge for the session's change set.
std::vector<Judged> judge(const profile::Profile& prof, const stage::Session& s,
                          const std::vector<stage::Change>& changes);

// stage::pick: changes at or below any of `paths`, plus the new directories above them.
std::vector<stage::Change> select(const std::vector<stage::Change>& all,
                                  const std::vector<std::string>& paths);

// A path the user typed (relative to the current directory) as a project-relative path.
std::string project_path(const std::string& typed, const std::string& project);

// One line per change for the terminal: "A  path", with marks for protected/refused/outside.
// At most `limit` changes that need no decision are listed (0 = all); the rest are counted.
std::string describe(const std::vector<Judged>& judged, int fd, std::size_t limit = 100);

// `judged` with the verdicts `sel` acts on: a change `choose` holds back for another's sake
// (below a held-back directory, a new directory left empty) shows as held, and why.
std::vector<Judged> as_chosen(std::vector<Judged> judged, const stage::Selection& sel);

// One warning per change `sel` holds back, with the reason and, for one that approval can let
// in, the path to approve (`held_by` for a change held back for that one's sake).
void warn_held(const stage::Selection& sel);

// What became of a run's staged changes (the summary's line, and --summary-fd's "outcome").
struct RunReview {
    std::string line;             // "3 change(s) staged in session X", "committed 2 change(s)..."
    // empty (nothing changed), kept, discarded, committed (all of them), partial (some
    // committed, the rest left staged), held (nothing committed: all held back for approval
    // or refused), conflict (nothing committed: the project changed meanwhile)
    std::string outcome = "kept";
    std::size_t changes = 0;      // what the command left staged
    std::size_t committed = 0;
    std::size_t left_staged = 0;  // after the review
    bool interrupted = false;     // Ctrl-C at the review prompt: kept, and said so
};

// The end of a run: ask / commit / discard / keep (DESIGN.md §5).
// Every change, and what was done with them, goes to `log` (change, commit, discard events).
RunReview finish_run(stage::Session& s, const profile::Profile& prof, profile::OnExit on_exit,
                     audit::Log* log);

// Decision-log events of the staging layer (agentbox-log(5)): names, kinds, verdicts and
// rules; never file contents.
void log_changes(audit::Log& log, const std::vector<Judged>& judged);
void log_commit(audit::Log& log, int number, const std::vector<std::string>& applied,
                const std::vector<std::string>& stripped, std::size_t held, bool forced);
// For commands that act on a finished session: resume its log, append, sign again.
void append_to_session_log(stage::Session& s,
                           const std::function<void(audit::Log&)>& write);

}  // namespace agentbox::cli
