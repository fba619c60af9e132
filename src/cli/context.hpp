// Where a command runs: the user's paths, the project, and the profile::Context built from
// them. Shared by run, explain and profile.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "profile/model.hpp"

namespace agentbox::cli {

// The whole process environment as a map (for ${VAR} placeholders and env.pass).
std::map<std::string, std::string> environment();

// $HOME, else the passwd entry of the real uid. Throws UsageError when neither exists.
std::string home_dir(const std::map<std::string, std::string>& env);

// The current directory. Throws sys::SysError.
std::string current_dir();

// A path as the user typed it on the command line: "~" and "~/x" expand to `home`, relative
// paths are taken from `cwd`, then the result is normalized lexically. Pure.
std::string expand_path(std::string_view path, const std::string& cwd, const std::string& home);

// The closest directory at or above `cwd` holding a `.git` entry (a directory, or the file a
// worktree or submodule has), without running git; "" when there is none.
std::string git_top_level(const std::string& cwd);

// The project directory, canonical. `flag` is -C DIR if given. Without it: the git top level of
// `cwd`, else `cwd`; then "/" and `home` themselves are refused (DESIGN.md §2) when
// `refuse_broad` is set, with a message saying how to name them explicitly.
std::string resolve_project(const std::optional<std::string>& flag, const std::string& cwd,
                            const std::string& home, bool refuse_broad);

// The placeholder context for profile loading: project, cwd, home, tmp "/tmp", the environment,
// the trust decision for project-local profiles, and the search path.
profile::Context make_context(const std::string& project, const std::string& cwd,
                              const std::string& home,
                              std::map<std::string, std::string> env);

}  // namespace agentbox::cli
