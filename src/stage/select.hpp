// What a commit takes (DESIGN.md §5): every staged change judged by policy::decide(commit) and
// the staging rules, and from those verdicts and the approvals given, the changes that go and
// the ones held back. The one place that decides it: the end-of-run prompt and `agentbox
// commit` both call it, so they cannot drift apart.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "policy/request.hpp"
#include "profile/model.hpp"
#include "stage/changes.hpp"
#include "stage/gitrefs.hpp"

namespace agentbox::stage {

struct Judged {
    Change change;
    policy::Verdict verdict = policy::Verdict::allow;  // ask = needs an explicit approval
    std::string why;                                   // for ask and deny
    std::string rule, source;  // the deciding rule and its file:line:col, for the log
    // Set by `choose` on a change it holds back for another's sake: the held-back directory
    // it lies in (or, for a new directory left empty, the path itself). Approving that path
    // is what lets it in; approving this one alone cannot.
    std::string held_by;
};

// Each change judged against the profile's commit rules. `upper` is the session's upper/
// directory: staged symlinks and `.git` files are read from it, as the project's are from
// `project`, to judge a path by every name the project reaches it through and a symlink by
// where it resolves once committed.
std::vector<Judged> judge(const profile::Profile& prof, const std::string& project,
                          const std::string& upper, const std::vector<Change>& changes);

// A branch (or HEAD) that change `change` moves in git directory `git_dir`, and what it
// brings (gitrefs.hpp): what the next `git reset --hard` or checkout writes, shown by `diff`.
struct BranchMove {
    std::string change;   // the staged ref file, packed-refs or HEAD
    std::string git_dir;  // project-relative, "" = the root
    std::string name;     // refs/heads/..., or HEAD
    std::string old_id, new_id;  // old_id "" when the project has no such branch
    RefMove move;
};

// Every branch the change set moves, in change order: the same reading of refs as `judge`
// makes (a loose file, a packed-refs line no loose file overrides, HEAD followed once), in a
// `.git` directory or one shaped like a bare repository. Runs the host's git once per branch.
std::vector<BranchMove> branch_moves(const std::string& project, const std::string& upper,
                                     const std::vector<Change>& changes);

// Changes at or below any of `paths` (project-relative; "" = all; none = all), plus the new
// directories above them that they need.
std::vector<Change> pick(const std::vector<Change>& all, const std::vector<std::string>& paths);

struct Selection {
    std::vector<Change> go;     // to commit, in tree order
    std::vector<Judged> held;   // every other change, in tree order, with why (a replaced
                                // directory's own change excepted: its entries are listed one
                                // by one); go and held together are what the log records
};

// Which judged changes a commit takes: the allowed ones, and those needing approval for which
// `approved` says yes; never a refused one. What lies below a held-back directory that the
// change set creates, deletes, replaces or changes the type of is held back with it, whatever
// its own verdict or approval (`held_by`): the project keeps its entry there, so the change
// would land elsewhere than reviewed, through the host's link, or nowhere. A new directory
// whose entries are all held back is held back too: it would land in the project empty.
Selection choose(const std::vector<Judged>& judged,
                 const std::function<bool(const Judged&)>& approved);

// The same, where an approval lets in a change the rules ask for: what then lands is not what
// `judge` judged in (`.idea` approved as a link to `.vscode`, whose replacement is held back,
// takes `notes -> .idea/x` out through the project's `.vscode`). The changes the rules allowed
// are judged again in the View of what is taken, until none more asks. One whose verdict this
// changes (an allowed change that now asks, an approved one asked for another reason) is in
// `judged` with the new verdict and held back: an approval is of what was shown -- the path
// with its verdict and reason -- and nobody was shown this one.
Selection choose(const profile::Profile& prof, const std::string& project,
                 const std::string& upper, std::vector<Judged>& judged,
                 const std::function<bool(const Judged&)>& approved);

}  // namespace agentbox::stage
