// `agentbox profile keygen|sign|verify`: Ed25519 signatures of profile files in minisign's
// format (audit/minisign.hpp), FILE.minisig next to FILE, so that either tool verifies what
// the other signed. What a run requires of them is set in config.toml (cli/config.hpp).
#pragma once

#include "cli/profile_cmd.hpp"
#include "profile/model.hpp"

namespace agentbox::cli {

void register_profile_signing(CLI::App& profile_cmd, ProfileOptions& o);
int keygen_profile_key(const ProfileOptions& o);
int sign_profiles(const ProfileOptions& o);
int verify_profiles(const ProfileOptions& o, const profile::Context& ctx);

}  // namespace agentbox::cli
