// The run flags as one more profile layer, Source "<command line>", merged last so that a flag
// wins over every profile (DESIGN.md §2: "each also settable in a profile; the flag wins").
#pragma once

#include <string>

#include "cli/run.hpp"
#include "profile/model.hpp"

namespace agentbox::cli {

// Pure apart from parsing: paths are expanded against `cwd` and `home`. Throws UsageError naming
// the flag for a malformed value (exit 125 under run).
profile::Profile flags_layer(const RunOptions& opts, const std::string& cwd,
                             const std::string& home);

}  // namespace agentbox::cli
