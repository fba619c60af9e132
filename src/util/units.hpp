// Sizes and durations written the way profiles spell them ("4GiB", "1h30m"), so that what
// `profile show`, `--dry-run` and the Windows plan print can be pasted back into a profile.
// The reading side is profile::parse_size and profile::parse_duration_ms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace agentbox::util {

// 4294967296 -> "4GiB", 1536 -> "1536", 0 -> "0": the largest binary unit (up to PiB) that
// divides exactly, so that profile::parse_size reads it back to the same number. A count of
// bytes gets `bytes_unit` ("1536B" in the plan rendering).
std::string format_size(std::uint64_t bytes, std::string_view bytes_unit = "");
// 5400000 -> "1h30m", 1500 -> "1500ms", 0 -> "0s"; read back by profile::parse_duration_ms.
std::string format_duration(std::uint64_t ms);

}  // namespace agentbox::util
