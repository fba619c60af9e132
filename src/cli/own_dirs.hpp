// agentbox's own directories — state (sessions, logs), config (keys, trust, profiles) and cache
// (compiled seccomp filters) — are never visible inside a sandbox, whatever the profile says:
// a command that could write them could forge a session, trust its own project, or plant a
// permissive seccomp filter for the next run.
#pragma once

#include <string>
#include <vector>

#include "profile/model.hpp"

namespace agentbox::cli {

// A final profile layer denying the three directories (Source "<agentbox>"). With `create`,
// the directories are made first (0700): a mask only covers a path that exists when the Plan
// is made, and one created during the run would otherwise stay writable.
profile::Profile own_dirs_layer(bool create);

// The same three directories, normalized, for policy::Invocation::own_dirs: no grant may reach
// them, nor move a directory above them (policy/compile_own_dirs.cpp).
std::vector<std::string> own_dir_paths();

}  // namespace agentbox::cli
