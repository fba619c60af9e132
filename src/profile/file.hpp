// Reading the small text files this module owns (profiles, the trust list).
#pragma once

#include <cstddef>
#include <string>

namespace agentbox::profile {

// Reads all of `path` into `out`. Returns 0, or an errno: the open/read error,
// EINVAL for anything but a regular file (a FIFO must not block the launcher), EFBIG when
// the file is larger than `limit` bytes.
int read_small_file(const std::string& path, std::size_t limit, std::string& out);

}  // namespace agentbox::profile
