#pragma once

#include <string>

namespace agentbox::sys {

// Remove everything inside `dir` (not `dir` itself), never following symlinks: every level is
// opened relative to its parent with O_NOFOLLOW, so a symlink swapped in cannot redirect the
// removal outside. Directories we own but cannot read (overlayfs's mode-000 work dir) are
// made readable first. Throws SysError naming the path that could not be removed.
void remove_contents(const std::string& dir);
// Give the owner rwx on every directory and rw on every regular file inside `dir`, the same
// way, removing nothing: what overlayfs leaves unreadable (mode 000) becomes readable and
// removable with `rm -r`.
void open_up(const std::string& dir);
// Remove the entry `name` of the directory `dirfd` — a file, a link, or a whole tree — the
// same way. Missing is not an error. `shown` names it in errors.
void remove_at(int dirfd, const std::string& name, const std::string& shown);

}  // namespace agentbox::sys
