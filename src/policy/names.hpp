// Names of the profile enums and Landlock access sets as the Plan rendering and `explain` print
// them. Called name_of() rather than to_string() so that they never collide, through argument-
// dependent lookup, with a profile::to_string() the profile module may declare.
#pragma once

#include <string>

#include "profile/model.hpp"

namespace agentbox::policy {

const char* name_of(profile::NetMode);
const char* name_of(profile::Unlisted);
const char* name_of(profile::SeccompMode);
const char* name_of(profile::LandlockMode);
const char* name_of(profile::OnExit);

// "read,write,exec" for a LandlockAccess bit set, in a fixed order.
std::string access_names(unsigned access);

}  // namespace agentbox::policy
