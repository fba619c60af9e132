// Profile enums and quantities written the way the profile schema spells them (DESIGN.md §3),
// so that what `profile show` prints can be pasted back into a profile.
#pragma once

#include <cstdint>
#include <string>

#include "profile/model.hpp"

namespace agentbox::cli {

const char* name_of(profile::NetMode v);
const char* name_of(profile::Unlisted v);
const char* name_of(profile::SeccompMode v);
const char* name_of(profile::LandlockMode v);
const char* name_of(profile::OnExit v);

// 4294967296 -> "4GiB", 1536 -> "1536", 0 -> "0": the largest binary unit that divides exactly,
// so that profile::parse_size reads it back to the same number.
std::string format_size(std::uint64_t bytes);
// 5400000 -> "1h30m", 1500 -> "1500ms", 0 -> "0s"; read back by profile::parse_duration_ms.
std::string format_duration(std::uint64_t ms);

}  // namespace agentbox::cli
