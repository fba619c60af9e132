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

}  // namespace agentbox::stage
