// limits.stage_size: the bytes the command has staged, watched from outside. No kernel
// mechanism bounds one directory tree of a shared filesystem for an unprivileged user (quotas
// need root and a prepared filesystem; a size-limited tmpfs would not outlive the sandbox), so
// the supervisor measures upper/ on a timer and ends the sandbox when it is over the limit.
// The limit can be overshot by what the command writes between two measurements; the staged
// work itself is kept either way.
#pragma once

#include <cstdint>
#include <string>

#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

class StageWatch {
public:
    // Inactive (fd() == -1) when limit is 0 or upper is empty.
    StageWatch(std::string upper, std::uint64_t limit);
    int fd() const { return timer_.get(); }
    // Call when fd() is readable. True when the staged size is over the limit.
    bool over();
    std::uint64_t last() const { return last_; }
    std::uint64_t limit() const { return limit_; }

private:
    void arm(long ms);
    std::string upper_;
    std::uint64_t limit_ = 0;
    std::uint64_t last_ = 0;
    sys::unique_fd timer_;
};

// Bytes allocated under `dir` (st_blocks, so sparse files count as what they occupy),
// symlinks not followed. Unreadable entries count as 0.
std::uint64_t tree_bytes(const std::string& dir);

}  // namespace agentbox::sandbox::lnx
