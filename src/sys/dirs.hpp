// Directories: mkdir -p, and reading one directory by descriptor.
#pragma once

#include <string>
#include <vector>

namespace agentbox::sys {

// Creates `path` and any missing parent with mode 0700; existing directories are left as they
// are (not ours to chmod). The usual case, where `path` exists, costs one mkdir(2). Throws
// SysError naming the component that could not be created, or ENOTDIR when `path` exists and
// is not a directory.
void make_dirs(const std::string& path);

struct DirEntry {
    std::string name;
    unsigned char type;  // d_type: DT_DIR, DT_REG, DT_LNK, ...; DT_UNKNOWN on some filesystems
};

// The entries of the directory open at `dfd`, without "." and "..", in readdir order. `dfd`
// is left open and its offset untouched (a duplicate is read). Throws SysError("opendir",
// shown, errno).
std::vector<DirEntry> read_dir(int dfd, const std::string& shown);

}  // namespace agentbox::sys
