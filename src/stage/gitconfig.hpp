// The files a git config file includes (`[include] path`, `[includeIf "..."] path`): git reads
// each as configuration of its own, core.fsmonitor, core.pager and hooksPath included, so one
// that lies in the project is as much a persistence path as `.git/config` itself
// (git-config(1), "Includes").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace agentbox::stage {

// The `path` values of every include section of `text`, unquoted and unescaped, as written
// (relative to the including file's directory, `~/`, or absolute). Every includeIf counts,
// whatever its condition: the condition can hold tomorrow.
std::vector<std::string> git_config_includes(std::string_view text);

// The `core.hooksPath` values of `text`, read as the includes are: the directory git runs its
// hooks from instead of the git directory's hooks/ -- relative to the directory hooks run in
// (a work tree's top), `~/`, or absolute. Teams point it into the work tree (`.githooks`), so
// a file the sandbox writes there runs at the next `git commit` as a hook does.
std::vector<std::string> git_config_hooks_paths(std::string_view text);

}  // namespace agentbox::stage
