// Whole reads and writes: read(2) and write(2) may do less than asked, or be interrupted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agentbox::sys {

// Writes all of `data` to `fd`, retrying short writes and EINTR. Throws SysError("write",
// shown, errno) on failure; `shown` names the file (a path, "standard output").
void write_all(int fd, std::string_view data, const std::string& shown);

// The whole file at `path` into `out`, read to its end: /proc and /sys files have no size
// until read. Returns 0, or the errno of the failure (EFBIG past `limit` bytes). `flags` are
// added to open(2)'s (O_NOFOLLOW). No iostreams: a probe at every start reads several of these.
int read_file(const std::string& path, std::string& out, std::size_t limit = 1 << 20,
              int flags = 0);
// The same, of any size, throwing SysError("open" or "read", path, errno).
std::string read_file(const std::string& path, int flags = 0);

}  // namespace agentbox::sys
