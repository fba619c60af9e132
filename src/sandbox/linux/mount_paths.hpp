// Pure helpers for building the new root: how a Plan path maps to the paths the child uses
// while it builds the root, and the options each mount gets. No system calls here, so all of
// it is unit-tested (tests/unit/sandbox/mounts_paths_test.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/plan.hpp"

namespace agentbox::sandbox::lnx {

// While the root is built, one directory in it holds what the sandbox must never see: the
// host's tree (kOldRoot), the masks' empty file (see rootfs.hpp) and, briefly, the masks'
// layer (kMasksLayer). It is removed before the command runs. Its name begins with a control
// character, which no path a profile writes may contain (profile/placeholders.cpp);
// build_root refuses a Plan target inside it all the same.
inline constexpr std::string_view kBuildDir = "/\x01" "agentbox";
inline constexpr std::string_view kOldRoot = "/\x01" "agentbox/host";
// Where the masks' layer (mounts.cpp) is attached while the overlay over the project is
// made: overlayfs takes its layers by path. Detached again right after.
inline constexpr std::string_view kMasksLayer = "/\x01" "agentbox/masks";

// "/usr/lib" -> kOldRoot + "/usr/lib": where a host path is while the new root is being built.
std::string host_path(std::string_view plan_path);

// Whether `plan_path` is kBuildDir or beneath it: a target build_root must refuse.
bool in_build_dir(std::string_view plan_path);

// The components of an absolute, normalized plan path ("/a/b" -> {"a","b"}; "/" -> {}).
// Returns false for a relative path or one with "." or ".." components: the Plan is
// normalized by compile(), so anything else is a bug we refuse rather than interpret.
bool path_components(std::string_view path, std::vector<std::string>& out);

// The mode of a fresh tmpfs at `target`: sticky and world-writable for the shared temporary
// directories (every program expects /tmp to behave like /tmp), private for the home.
const char* tmpfs_mode(std::string_view target, std::string_view home);

// overlayfs' legacy "lowerdir=" option splits on ':' and ',' and treats '\' as an escape;
// escape them so a project path containing them cannot add layers or options.
std::string overlay_escape(std::string_view path);

}  // namespace agentbox::sandbox::lnx
