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

}  // namespace agentbox::cli
