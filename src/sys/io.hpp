// Whole reads and writes: read(2) and write(2) may do less than asked, or be interrupted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agentbox::sys {

// Writes all of `data` to `fd`, retrying short writes and EINTR. Throws SysError("write",
// shown, errno) on failure; `shown` names the file (a path, "standard output").
void write_all(int fd, std::string_view data, const std::string& shown);
// The same loop, the one in agentbox, for callers that report a failure their own way (the
// decision log's copies, a cache): 0, or the errno of the failure (EIO when write(2) wrote
// nothing). `written`, if given, receives how much was written before a failure.
int write_full(int fd, std::string_view data, std::size_t* written = nullptr);
// Copies the rest of `in` to `out`: copy_file_range(2) where the filesystems allow it (a
// reflink on btrfs and XFS), read and write_all otherwise. Throws SysError naming `shown`.
void copy_data(int in, int out, const std::string& shown);

// Everything written to the filesystem holding the file or directory open at `fd` made
// durable: syncfs on Linux; elsewhere sync(2), every filesystem (macOS has no per-filesystem
// sync, and its sync(2) may return before the writes are done and flushes no drive cache, so
// a power cut right after may still find commit's journal ahead of the data it describes).
// Throws SysError naming `shown`.
void sync_fs(int fd, const std::string& shown);

// The whole file at `path` into `out`, read to its end: /proc and /sys files have no size
// until read. Returns 0, or the errno of the failure (EFBIG past `limit` bytes). `flags` are
// added to open(2)'s (O_NOFOLLOW). No iostreams: a probe at every start reads several of these.
int read_file(const std::string& path, std::string& out, std::size_t limit = 1 << 20,
              int flags = 0);
// The same, of any size, throwing SysError("open" or "read", path, errno).
std::string read_file(const std::string& path, int flags = 0);

// The rest of the file open at `fd` into `out` (replacing what it held): 0, or the errno of
// the failure (EFBIG past `limit` bytes). The one read loop: read_file's, and that of a file
// opened some other way (beneath a tree).
int read_fd(int fd, std::string& out, std::size_t limit);

// A cache entry agentbox wrote (a compiled filter, a probe's answer, a walk): read whole, at
// most `limit` bytes, only when it is a regular file, not a symlink, owned by the effective
// user, that group and others cannot write. False otherwise, or when it cannot be read: what
// a sandbox is built from is never taken from a file someone else could have written.
bool read_own_file(const std::string& path, std::string& out, std::size_t limit);
// Replaces `path` with `data` through a temporary file (mode 0600), `path`.tmp, renamed over
// it: a reader sees the old file or the whole new one. Not flushed. False on any failure,
// leaving no temporary file behind, and when another writer is at it: for caches, where a
// failed write costs only time. A writer killed part way leaves `path`.tmp, which the next
// one reuses: never more than one per file.
bool replace_own_file(const std::string& path, std::string_view data);

}  // namespace agentbox::sys
