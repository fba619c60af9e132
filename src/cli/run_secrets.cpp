#include "cli/run_secrets.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "cli/errors.hpp"
#include "net/secrets.hpp"

namespace agentbox::cli {

RunSecrets::RunSecrets(RunSecrets&& o) noexcept
    : intercept(std::move(o.intercept)), bundle_dir(std::exchange(o.bundle_dir, {})) {}

RunSecrets& RunSecrets::operator=(RunSecrets&& o) noexcept {
    std::swap(intercept, o.intercept);
    std::swap(bundle_dir, o.bundle_dir);
    return *this;
}

RunSecrets::~RunSecrets() {
    if (bundle_dir.empty()) return;
    ::unlink((bundle_dir + "/ca-bundle.pem").c_str());
    ::rmdir(bundle_dir.c_str());
}

void RunSecrets::scrub(policy::Plan& plan) const {
    if (!intercept) return;
    for (auto& v : plan.env) net::mask_reals(v.value, intercept->secrets);
}

RunSecrets prepare_secrets(const profile::Profile& profile, policy::Invocation& inv) {
    RunSecrets out;
    // The CA is made whenever some host is intercepted: a secret's, or one that request rules
    // judge (network.request), which the proxy cannot judge without seeing the requests.
    if (profile.secrets.empty() && profile.network.request.empty()) return out;
    auto ic = std::make_shared<net::Intercept>();
    try {
        ic->secrets = net::resolve_secrets(profile.secrets);
        ic->ca = net::Authority::create();
    } catch (const std::runtime_error& e) {
        throw Failure(std::string("run: ") + e.what(), exit_setup);
    }
    for (const auto& s : ic->secrets) inv.stand_ins[s.name] = s.stand_in;
    // The bundle holds only certificates (the CA's key stays in this process). It lives in a
    // directory of its own outside every sandbox grant, bound read-only inside.
    const char* rt = std::getenv("XDG_RUNTIME_DIR");
    std::string tmpl = std::string(rt && *rt == '/' ? rt : "/tmp") + "/agentbox-ca-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw Failure("run: mkdtemp " + tmpl + ": " + std::strerror(errno), exit_setup);
    out.bundle_dir = tmpl;
    ::chmod(tmpl.c_str(), 0755);
    inv.ca_bundle = tmpl + "/ca-bundle.pem";
    try {
        net::write_ca_bundle(*ic->ca, inv.ca_bundle);
    } catch (const std::runtime_error& e) {
        throw Failure(std::string("run: the CA bundle: ") + e.what(), exit_setup);
    }
    out.intercept = std::move(ic);
    return out;
}

}  // namespace agentbox::cli
