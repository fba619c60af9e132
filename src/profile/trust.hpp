// Which projects may supply their own profiles (./.agentbox/profiles). Like git's
// safe.directory: the user lists them in $XDG_CONFIG_HOME/agentbox/trusted-projects, one
// absolute path per line, '#' starts a comment. The sandbox cannot write that file (base.toml
// denies ~/.config/agentbox), so an agent cannot trust its own project and loosen its next run.
#pragma once

#include <string>

#include "profile/model.hpp"

namespace agentbox::profile {

// $XDG_CONFIG_HOME/agentbox (default ~/.config/agentbox), or "" when neither XDG_CONFIG_HOME
// (absolute) nor a home directory is known.
std::string config_dir(const Context& ctx);

// True when ctx.project is listed in the trusted-projects file. A missing file trusts nothing;
// an unreadable one throws ProfileError (fail closed, loudly).
bool project_trusted(const Context& ctx);

}  // namespace agentbox::profile
