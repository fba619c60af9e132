// A resolved profile printed for `profile show`: TOML-like text where every line ends in a
// comment naming where its value came from, or JSON with a "source" beside every value.
#pragma once

#include <string>

#include "profile/model.hpp"

namespace agentbox::cli {

std::string profile_text(const profile::Profile& p);
std::string profile_json(const profile::Profile& p);

}  // namespace agentbox::cli
