// What `profile list` shows of a profile without validating all of it: a broken file still
// gets listed, with its error as description.
#pragma once

#include <string>
#include <string_view>

namespace agentbox::profile {

// The `description` of a profile document ("" when it has none). Throws ProfileError when the
// TOML itself does not parse or the description is not a string.
std::string read_description(std::string_view text, const std::string& origin);

}  // namespace agentbox::profile
