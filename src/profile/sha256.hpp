// SHA-256 (FIPS 180-4) of a profile's bytes, for the `layers` recorded in the decision log.
// A small local implementation keeps libsodium inside the audit module (DESIGN.md §10).
#pragma once

#include <string>
#include <string_view>

namespace agentbox::profile {

// Lower-case hex digest of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace agentbox::profile
