// Directories: mkdir -p, and reading one directory by descriptor -- the one readdir loop in
// agentbox.
#pragma once

#include <dirent.h>

#include <string>
#include <string_view>
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

// The entries of the directory open at `dfd`, one at a time, without "." and "..", in readdir
// order: no allocation per entry, for the walks on the diff's hot path. `dfd` is left open
// and its offset untouched (a fresh open description of it is read: a dup would share the
// caller's offset). Throws SysError("opendir" / "readdir", shown, errno).
class DirStream {
public:
    DirStream(int dfd, std::string shown);
    ~DirStream();
    DirStream(const DirStream&) = delete;
    DirStream& operator=(const DirStream&) = delete;
    // The next entry; false at the end. `name` is valid until the next call.
    bool next(std::string_view& name, unsigned char& type);

private:
    DIR* dir_ = nullptr;
    std::string shown_;
};

// The entries of the directory open at `dfd`, as DirStream reads them.
std::vector<DirEntry> read_dir(int dfd, const std::string& shown);
// Whether that directory has any entry (one read of it, however large it is).
bool has_entries(int dfd, const std::string& shown);

}  // namespace agentbox::sys
