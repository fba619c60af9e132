#pragma once

#include <string>

namespace agentbox::sys {

// Remove everything inside `dir` (not `dir` itself), never following symlinks: every level is
// opened relative to its parent with O_NOFOLLOW, so a symlink swapped in cannot redirect the
// removal outside. Directories we own but cannot read (overlayfs's mode-000 work dir) are
// made readable first. Throws SysError naming the path that could not be removed.
void remove_contents(const std::string& dir);

}  // namespace agentbox::sys
