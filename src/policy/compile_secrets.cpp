// [secrets] in the Plan (agentbox-profile(5)): the stand-ins the sandbox sees, the hosts whose
// TLS the proxy terminates, and the CA bundle that makes the sandbox's clients accept that.
// The real values and the CA key never reach the Plan (net/intercept.hpp keeps them).
#include <algorithm>
#include <stdexcept>

#include "policy/compile_steps.hpp"
#include "policy/hostrules.hpp"
#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

// The variables through which the usual TLS stacks take a CA file: OpenSSL (and so Python's
// ssl, Ruby, PHP), Node, Python requests, curl, git.
constexpr const char* kCaVars[] = {"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
                                   "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"};

void set_env(Plan& plan, const std::string& name, const std::string& value, const std::string& rule) {
    for (auto& v : plan.env)
        if (v.name == name) {
            v.value = value;
            v.rule = rule;
            return;
        }
    plan.env.push_back(EnvVar{name, value, rule});
    std::sort(plan.env.begin(), plan.env.end(),
              [](const EnvVar& a, const EnvVar& b) { return a.name < b.name; });
}

std::string from_of(const profile::Secret& s) {
    if (!s.file.empty()) return "file " + s.file;
    if (!s.command.empty()) return "command " + s.command.front();
    return "environment variable " + s.env;
}

// network.dlp_off: a switch for a host the sandbox can never reach, or in a run the proxy
// does not scan, would read as protection changed where nothing changes; the first is
// refused (a typo in the host most likely), the second noted.
void plan_dlp_off(Plan& plan) {
    for (const auto& d : plan.net.dlp_off) {
        const std::string what = d.src.str() + ": network.dlp_off " + util::quote(d.raw) + ": ";
        if (plan.net.mode != profile::NetMode::proxy)
            throw std::invalid_argument(
                what + "DLP works only through the proxy (network.mode \"proxy\"); the network "
                "mode is \"" + (plan.net.mode == profile::NetMode::host ? "host" : "none") +
                "\" (" + plan.net.mode_src.str() + ")");
        // A switch holds for every port of the host: reachable at any port the rules name
        // for it (or 80, 443) is enough. decide_connect, so that deny rules count too.
        const ConnectTarget t = parse_target(d.host);
        std::vector<std::uint16_t> ports{80, 443};
        for (HostRule r : plan.net.allow) {
            const bool ports_of_rule = !r.any_port;
            r.any_port = true;
            if (ports_of_rule && rule_matches(r, t))
                ports.insert(ports.end(), r.ports.begin(), r.ports.end());
        }
        bool reachable = false;
        for (const std::uint16_t port : ports) {
            // canonical_host writes IPv6 in brackets already.
            const std::string target = t.host + ":" + std::to_string(port);
            reachable = reachable || decide_connect(plan.net, target).verdict != Verdict::deny;
        }
        if (!reachable)
            throw std::invalid_argument(
                what + "no network.allow rule lets the sandbox reach " + util::quote(d.host) +
                " (or a deny rule refuses it, and unlisted hosts are denied): allow the host, "
                "or remove the switch");
    }
    if (!plan.net.dlp_off.empty() && plan.net.secrets.empty() && plan.net.requests.empty())
        plan.notes.push_back("network.dlp_off: requests are scanned only in runs with secrets or "
                             "request rules; this run has neither, so nothing is scanned");
}

}  // namespace

void plan_secrets(Plan& plan, const profile::Profile& profile, const Invocation& inv) {
    // A host with request rules is judged request by request, which needs its TLS terminated:
    // it is intercepted like a secret's host, with the same CA.
    for (const auto& r : plan.net.requests) {
        if (plan.net.mode != profile::NetMode::proxy)
            throw std::invalid_argument(
                r.src.str() + ": network.request " + util::quote(r.raw) +
                ": request rules work only through the proxy (network.mode \"proxy\"); the "
                "network mode is \"" + (plan.net.mode == profile::NetMode::host ? "host" : "none") +
                "\" (" + plan.net.mode_src.str() + ")");
        plan.net.intercept.push_back(r.host);
    }
    for (const auto& [name, s] : profile.secrets) {
        const std::string rule = "secrets." + name;
        if (plan.net.mode != profile::NetMode::proxy)
            throw std::invalid_argument(
                s.src.str() + ": " + rule + ": a secret works only through the proxy "
                "(network.mode \"proxy\", or --allow-host); the network mode is \"" +
                (plan.net.mode == profile::NetMode::host ? "host" : "none") + "\" (" +
                plan.net.mode_src.str() + ")");
        SecretPlan sp;
        sp.name = name;
        for (const auto& h : s.hosts) sp.hosts.push_back(h.value);
        sp.from = from_of(s);
        sp.src = s.src;
        // explain and the unit tests compile without stand-ins: the name then says what it is.
        const auto si = inv.stand_ins.find(name);
        sp.stand_in = si != inv.stand_ins.end() ? si->second : "agentbox-stand-in-for-" + name;
        set_env(plan, name, sp.stand_in, rule + " (a stand-in, not the value)");
        for (const auto& h : sp.hosts) plan.net.intercept.push_back(h);
        plan.net.secrets.push_back(std::move(sp));
    }
    auto& ic = plan.net.intercept;
    std::sort(ic.begin(), ic.end());
    ic.erase(std::unique(ic.begin(), ic.end()), ic.end());
    plan_dlp_off(plan);

    if (ic.empty() || inv.ca_bundle.empty()) return;
    const char* why = profile.secrets.empty() ? "network.request"
                      : plan.net.requests.empty() ? "secrets"
                                                  : "secrets, network.request";
    plan.mounts.push_back(Mount{MountKind::bind_ro, inv.ca_bundle, kCaBundleInside,
                                std::string("implicit: the run's CA for intercepted hosts (") + why + ")",
                                profile::Source{"<agentbox>", 0, 0}});
    for (const char* v : kCaVars)
        set_env(plan, v, kCaBundleInside, std::string("implicit: the run's CA (") + why + ")");
}

}  // namespace agentbox::policy
