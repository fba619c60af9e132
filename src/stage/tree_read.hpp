// Read-only access to one side of a change (the project or upper/) for diff and export.
// Internal to the stage module.
//
// Every path is resolved from the root fd with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS:
// upper/ is written by the sandboxed command and the project may be edited meanwhile, so a
// symlink in an intermediate component must never lead a read outside the tree. Only regular
// files are ever opened for reading (a fifo would block, a device could have side effects);
// symlinks are read with readlinkat on their parent.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sys/fd.hpp"

namespace agentbox::stage::detail {

class Tree {
public:
    explicit Tree(std::string root);  // opens the root directory (fsops::kDirHandle)

    const std::string& root() const { return root_; }
    std::string shown(const std::string& rel) const { return root_ + "/" + rel; }

    // lstat of `rel`; false when it does not exist.
    bool lstat(const std::string& rel, struct ::stat& st) const;
    // The directory `rel` ("" = the root), fsops::kDirHandle (O_PATH) unless `readable`.
    sys::unique_fd open_dir(const std::string& rel, bool readable = false) const;
    // A regular file opened for reading; throws if `rel` is anything else.
    sys::unique_fd open_file(const std::string& rel) const;
    std::string read_link(const std::string& rel) const;

    // The content of a regular file, or the target of a symlink. At most `limit` bytes.
    std::string read(const std::string& rel, mode_t mode, std::uint64_t limit = UINT64_MAX) const;

    // Every non-directory entry below the directory `rel` (recursively, not following
    // symlinks), as paths relative to the root, each with its st_mode, in byte order; the
    // directories below it too when `dirs`.
    std::vector<std::pair<std::string, mode_t>> walk(const std::string& rel,
                                                     bool dirs = false) const;

private:
    std::string root_;
    sys::unique_fd fd_;
};

// Read all of `fd` (or at most `limit` bytes) from the current offset.
std::string read_fd(int fd, const std::string& shown, std::uint64_t limit = UINT64_MAX);

}  // namespace agentbox::stage::detail
