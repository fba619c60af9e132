// agentbox's own configuration file, config.toml (agentbox(1), FILES): the system one in
// /etc/agentbox and the user's in $XDG_CONFIG_HOME/agentbox. Parsed by the profile module
// because toml++ lives there (load.cpp); what the settings mean is decided by cli.
//
//   require_signed_profiles = true        # every profile file of a run must carry a signature
//   trusted_keys = ["RWQ..."]             # minisign public keys (the base64 line)
//   otlp_endpoint = "http://host:4318"    # export every run's decision log (OTLP/HTTP)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile/model.hpp"

namespace agentbox::profile {

struct Settings {
    std::optional<bool> require_signed_profiles;
    Source require_signed_profiles_at;
    std::vector<Entry> trusted_keys;  // value = raw = the key as written
    std::optional<std::string> otlp_endpoint;
    Source otlp_endpoint_at;
};

// One config.toml. Unknown keys and wrong types are errors (ProfileError, file:line:col), as
// in a profile: a misspelt require_signed_profiles must not quietly leave signatures off.
Settings parse_settings(std::string_view text, const std::string& origin);

}  // namespace agentbox::profile
