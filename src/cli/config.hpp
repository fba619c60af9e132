// agentbox's configuration files (agentbox(1), FILES): /etc/agentbox/config.toml, set by
// whoever administers the machine, and $XDG_CONFIG_HOME/agentbox/config.toml, the user's. The
// sandbox can write neither (base.toml hides ~/.config/agentbox; /etc is read-only inside).
//
// Signed profiles: require_signed_profiles is on when either file turns it on. The keys that
// count are the system file's when the system file requires signatures (a user cannot widen
// what the machine's owner requires), else those of both files.
// OTLP export: the user's otlp_endpoint, else the system's.
#pragma once

#include <string>
#include <vector>

#include "audit/minisign.hpp"
#include "profile/model.hpp"

namespace agentbox::cli {

struct Config {
    bool require_signed_profiles = false;
    std::string required_by;  // the file that turned it on
    std::vector<audit::minisign::PublicKey> trusted_keys;
    std::string otlp_endpoint;
};

// /etc/agentbox; in a test build, the directory AGENTBOX_TEST_ETC names instead (announced
// on stderr every time, like the other test switches).
std::string system_config_dir();

// Both files, read and checked once per process. Throws profile::ProfileError for a file that
// does not parse or a key that is not a minisign public key, and for one that cannot be read
// (fail closed: a missing file is the only "no settings").
const Config& load_config(const profile::Context& ctx);

// The check profile::Context::check_signature runs on each profile file: FILE.minisig must
// verify with a trusted key. Empty (no check) unless signatures are required.
std::function<std::string(const std::string&, std::string_view)> signature_check(const Config& c);

// FILE.minisig: where minisign puts the signature of FILE, and where agentbox looks for it.
std::string signature_path(const std::string& file);

}  // namespace agentbox::cli
