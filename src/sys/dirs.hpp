// mkdir -p.
#pragma once

#include <string>

namespace agentbox::sys {

// Creates `path` and any missing parent with mode 0700; existing directories are left as they
// are (not ours to chmod). The usual case, where `path` exists, costs one mkdir(2). Throws
// SysError naming the component that could not be created, or ENOTDIR when `path` exists and
// is not a directory.
void make_dirs(const std::string& path);

}  // namespace agentbox::sys
