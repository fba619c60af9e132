// Names of the profile enums (their one table is profile/names.hpp) and Landlock access sets
// as the Plan rendering and `explain` print them.
#pragma once

#include <string>

#include "profile/names.hpp"

namespace agentbox::policy {

using profile::name_of;

// "read,write,exec" for a LandlockAccess bit set, in a fixed order.
std::string access_names(unsigned access);

}  // namespace agentbox::policy
