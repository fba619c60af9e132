// The filesystem queries of policy::HostFacts (kind, realpath, readlink, glob) in plain POSIX:
// what the macOS host (host_macos.cpp) answers with. Linux answers with its own (linux/probe.cpp,
// whose deny-glob walk reads directories with getdents64 and keeps a cache); both give the
// same answers, which tests/unit/sandbox/fs_posix_test.cpp compares on Linux.
#pragma once

#include <string>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::posix {

policy::PathKind path_kind(const std::string& path);  // lstat: a symlink is a symlink
std::string real_path(const std::string& path);       // "" when unresolvable
std::string read_link(const std::string& path);       // "" when not a symlink

// The paths matching `pattern` (util::glob_match in path mode, where ** spans directories),
// sorted. Dotfiles match, "." and ".." never do; symlinks are matched but never followed, so
// a link loop or a link out of the tree cannot make the walk wander.
std::vector<std::string> expand_glob(const std::string& pattern);

// HostFacts with only these queries set, and the uid and gid.
policy::HostFacts fs_facts();

}  // namespace agentbox::sandbox::posix
