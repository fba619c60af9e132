// Whole writes: write(2) may write less than asked, or be interrupted.
#pragma once

#include <string>
#include <string_view>

namespace agentbox::sys {

// Writes all of `data` to `fd`, retrying short writes and EINTR. Throws SysError("write",
// shown, errno) on failure; `shown` names the file (a path, "standard output").
void write_all(int fd, std::string_view data, const std::string& shown);

}  // namespace agentbox::sys
