// Directories: mkdir -p, and reading one directory by descriptor -- the one readdir loop and
// the one getdents64 reader in agentbox.
#pragma once

#include <dirent.h>

#include <cstddef>
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

// The entries of the directory open at `dfd` read through that very descriptor, from its
// offset on, which the reading consumes: no second open, no DIR, and the caller's buffer
// (`buf`, `size` bytes, 8-byte aligned) bounds each read. One getdents64 fills it on Linux;
// elsewhere a DIR over a duplicate of `dfd` (which shares the offset) reads. Without "."
// and "..". It names no path: a caller whose reading stopped early asks error() and says
// which directory (the change walk builds that name only then).
class DentReader {
public:
    DentReader(int dfd, char* buf, std::size_t size);
    ~DentReader();
    DentReader(const DentReader&) = delete;
    DentReader& operator=(const DentReader&) = delete;
    // The next entry; false at the end or on an error. `name` is valid until the next call.
    bool next(std::string_view& name, unsigned char& type);
    // The errno that stopped the reading, 0 at the end.
    int error() const { return err_; }

private:
    int fd_;
    char* buf_;
    std::size_t size_;
    long have_ = 0, at_ = 0;  // bytes in buf_, and where the next record starts
    DIR* dir_ = nullptr;      // without getdents64
    int err_ = 0;
};

// The entries of the directory open at `dfd`, without "." and "..": a fresh open description
// of it read from its start, so `dfd`'s offset is left alone.
std::vector<DirEntry> read_dir(int dfd, const std::string& shown);
// The same read through `dfd` itself, from its offset on, which it consumes: a call fewer,
// for a descriptor its owner uses for nothing else that reads it (a walk's own levels).
std::vector<DirEntry> read_dir_here(int dfd, const std::string& shown);
// Whether that directory has any entry: a fresh open description of it, read from its start
// with DentReader (one read, however large it is); `dfd`'s offset is left alone.
bool has_entries(int dfd, const std::string& shown);
// The same read through `dfd` itself, from its offset on, which it consumes: a call fewer,
// for a descriptor opened only to ask this.
bool has_entries_here(int dfd, const std::string& shown);

}  // namespace agentbox::sys
