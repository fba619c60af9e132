#include "cli/config.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "cli/term.hpp"
#include "profile/config.hpp"
#include "profile/file.hpp"
#include "profile/load.hpp"
#include "profile/trust.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr std::size_t kMaxSignatureBytes = 64 << 10;
constexpr const char* kTestEtcEnv = "AGENTBOX_TEST_ETC";

std::optional<profile::Settings> read_settings(const std::string& file) {
    std::string text;
    const int err = profile::read_small_file(file, kMaxConfigBytes, text);
    if (err == ENOENT || err == ENOTDIR) return std::nullopt;
    if (err != 0)
        throw profile::ProfileError(profile::Source{file},
                                    std::string("cannot read the configuration: ") +
                                        std::strerror(err));
    return profile::parse_settings(text, file);
}

void add_keys(const profile::Settings& s, std::vector<audit::minisign::PublicKey>& out) {
    for (const profile::Entry& e : s.trusted_keys) {
        try {
            out.push_back(audit::minisign::parse_public_key(e.value));
        } catch (const audit::minisign::FormatError& x) {
            throw profile::ProfileError(e.src, std::string("trusted_keys: ") + x.what());
        }
    }
}

}  // namespace

std::string system_config_dir() {
#ifdef AGENTBOX_TEST_RESOLVER
    if (const char* dir = std::getenv(kTestEtcEnv); dir != nullptr && *dir != '\0') {
        warn(std::string(kTestEtcEnv) + " is set: the system configuration is read from " + dir);
        return dir;
    }
#else
    if (const char* dir = std::getenv(kTestEtcEnv); dir != nullptr && *dir != '\0')
        warn(std::string(kTestEtcEnv) + " is ignored: this build has AGENTBOX_TEST_RESOLVER off");
#endif
    return "/etc/agentbox";
}

const Config& load_config(const profile::Context& ctx) {
    static std::optional<Config> cached;
    if (cached) return *cached;
    Config c;
    const std::string system_file = system_config_dir() + "/config.toml";
    const std::optional<profile::Settings> sys = read_settings(system_file);
    std::optional<profile::Settings> user;
    if (const std::string dir = profile::config_dir(ctx); !dir.empty())
        user = read_settings(dir + "/config.toml");

    const bool sys_requires = sys && sys->require_signed_profiles.value_or(false);
    const bool user_requires = user && user->require_signed_profiles.value_or(false);
    c.require_signed_profiles = sys_requires || user_requires;
    if (sys_requires) c.required_by = sys->require_signed_profiles_at.file;
    else if (user_requires) c.required_by = user->require_signed_profiles_at.file;
    if (sys) add_keys(*sys, c.trusted_keys);
    if (user && !sys_requires) add_keys(*user, c.trusted_keys);

    if (user && user->otlp_endpoint) c.otlp_endpoint = *user->otlp_endpoint;
    else if (sys && sys->otlp_endpoint) c.otlp_endpoint = *sys->otlp_endpoint;
    cached = std::move(c);
    return *cached;
}

std::string signature_path(const std::string& file) { return file + ".minisig"; }

std::function<std::string(const std::string&, std::string_view)> signature_check(const Config& c) {
    if (!c.require_signed_profiles) return {};
    return [keys = c.trusted_keys, by = c.required_by](const std::string& path,
                                                      std::string_view text) -> std::string {
        const profile::Source at{path};
        const std::string why_required = " (require_signed_profiles is set in " + by + ")";
        if (keys.empty())
            throw profile::ProfileError(at, "not trusted: signatures are required but no "
                                            "trusted_keys are configured" + why_required);
        const std::string sig_file = signature_path(path);
        std::string sig;
        const int err = profile::read_small_file(sig_file, kMaxSignatureBytes, sig);
        if (err == ENOENT)
            throw profile::ProfileError(at, "not signed: there is no " + sig_file + why_required);
        if (err != 0)
            throw profile::ProfileError(at, "cannot read its signature " + sig_file + ": " +
                                                std::strerror(err));
        const audit::minisign::Verdict v = audit::minisign::verify(keys, text, sig);
        if (!v.ok) throw profile::ProfileError(at, "signature " + sig_file + ": " + v.why);
        return v.key_id;
    };
}

}  // namespace agentbox::cli
