// limits.stage_size for copy staging, measured by portable code (no timerfd, no Linux-only
// walk), so that a backend that stages by copy anywhere -- Seatbelt on macOS -- can enforce
// the limit as the bubblewrap backend does: poll copy_staged_bytes on a timer while the
// command runs and end the sandbox when it is over (the work stays staged), or, where nothing
// polls, check it once after the run and refuse the run's result as over the limit. Only
// polling bounds the disk the command can fill; a plan whose backend does neither must name
// the limit as not enforced (a weakening), never drop it.
#pragma once

#include <cstdint>
#include <string>

namespace agentbox::stage {

// Bytes allocated under `dir` (st_blocks, so a sparse file counts as what it occupies),
// symlinks not followed, what cannot be read counted as 0.
std::uint64_t tree_bytes(const std::string& dir);

// What a copy-staged command has staged so far: the snapshot's bytes now less `base`, its
// bytes when the copy was made (tree_bytes of it before the command starts; a clone counts
// its full size on both sides). 0 when it shrank.
std::uint64_t copy_staged_bytes(const std::string& snapshot, std::uint64_t base);

// Whether `staged` bytes are over limits.stage_size `limit` (0: no limit).
inline bool over_stage_size(std::uint64_t staged, std::uint64_t limit) {
    return limit != 0 && staged > limit;
}

}  // namespace agentbox::stage
