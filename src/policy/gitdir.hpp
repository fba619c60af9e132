// What git writes in its own directory during ordinary work, and so may be committed from a
// sandbox without approval (agentbox-profile(5), "Git directories"). An allowlist, not a list
// of dangerous files: git reads new files from its directory every few releases (config
// includes, hooks, fsmonitor, alternates, commondir...), and a file it learns to read next
// year must be protected by default.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace agentbox::policy {

// A commit of `rel` (project-relative), judged against every git directory it lies in: each
// `.git` component of the path at any depth, and each of `git_dirs` (project-relative
// directories git also uses as one: a `.git` file's `gitdir:`, a `commondir`). Returns why it
// needs approval, or nullopt when git itself writes such a path in ordinary work. `symlink`:
// the path is (or becomes) a symlink; git writes none in its directory. `rewrite`: the change
// replaces the content of an existing path; git never does so to a stored object.
std::optional<std::string> git_dir_protection(const std::string& rel,
                                              const std::vector<std::string>& git_dirs,
                                              bool symlink, bool rewrite);

// True when `inside` (a path relative to a git directory; "" = the directory itself) is on the
// allowlist.
bool git_writes_in_ordinary_work(const std::string& inside);

}  // namespace agentbox::policy
