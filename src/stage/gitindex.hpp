// What a git index (`.git/index`) would make git write into the work tree. The index is on
// the git-directory allowlist (policy/gitdir.hpp) because `git add` rewrites it in ordinary
// work, but it is not only data: `git checkout -- .`, `git restore` and `git stash` write each
// entry to its path, and git (2.39) takes the paths of an index it reads as they are -- an
// entry `.git/hooks/post-checkout` is written into the git directory and run. So a changed
// index commits without approval only when no entry can leave the work tree or reach a git
// directory, and its cache tree (TREE extension), which `git commit` takes as it is for each
// directory it marks valid, records the trees the entries make: pointed at a tree of the
// sandbox's, the user's next commit would record content neither the entries nor `git diff
// --cached` show. The other extensions name nothing git writes: REUC (resolve-undo) names go
// through git's verify_path when `checkout -m` or `rerere forget` restores them, a sparse
// directory's tree through it when expanded; UNTR and FSMN only let git skip work; `link`
// names a shared index in the git directory, which is not on the allowlist.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agentbox::stage {

// Why `data` (the whole index file) needs approval, or nullopt when no path in it has a `.git`
// or `..` component and no valid cache tree differs from its entries. The entries are
// read as git's read-cache.c reads them, for versions 2 to 4, under each object hash size git
// knows (SHA-1, SHA-256: which one a repository uses is in its config, and an index crafted
// for one must not pass as the other). An index git cannot read either way needs approval too.
std::optional<std::string> git_index_hazard(std::string_view data);

// One entry as git reads it: its path (up to a NUL), its object id (raw bytes) and mode.
struct IndexEntry {
    std::string path;
    std::string id;
    std::uint32_t mode = 0;
};

// Every entry of `data`, read as git_index_hazard reads them (SHA-1 sizes first), or nullopt
// when git cannot read it: what `git checkout -- .` or `git stash` would write to the work
// tree, for the caller to judge the paths a change of the index brings.
std::optional<std::vector<IndexEntry>> git_index_entries(std::string_view data);

}  // namespace agentbox::stage
