// File operations for commit and undo: every path resolved beneath a root fd without following
// symlinks, moves that fall back to copies across filesystems, and durable small files.
#pragma once

#include <sys/stat.h>

#include <string>

#include "sys/fd.hpp"

namespace agentbox::stage::fsops {

// The directory `rel` ("" = the root itself) under `root`, resolved with openat2
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS; O_PATH. Throws SysError.
sys::unique_fd open_dir_beneath(int root, const std::string& rel, const std::string& shown);
// As above, and create missing directories (mode 0700) on the way.
sys::unique_fd make_dirs_beneath(int root, const std::string& rel, const std::string& shown);

// Split "a/b/c" into "a/b" and "c".
std::pair<std::string, std::string> split_parent(const std::string& rel);

bool exists_at(int dirfd, const std::string& name, struct stat* st = nullptr);

// Move an entry (file, link or tree) from one directory to another without replacing anything
// at the destination (EEXIST if there is something). Across filesystems: a copy to a temporary
// name beside the destination, fsynced, renamed into place, then the source removed.
void move_at(int sdir, const std::string& sname, int ddir, const std::string& dname,
             const std::string& shown);
// Copy a regular file or symlink to `dname` via a temporary name (fsynced, renamed over
// whatever is there). Setuid and setgid bits are not copied.
void copy_into(int sdir, const std::string& sname, int ddir, const std::string& dname,
               const std::string& shown);

// Write `data` to `path` atomically and durably (temp file, fsync, rename, fsync of the dir).
void write_file_atomic(const std::string& path, const std::string& data);
void fsync_dir(const std::string& path);

}  // namespace agentbox::stage::fsops
