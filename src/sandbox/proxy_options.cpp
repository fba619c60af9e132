#include "sandbox/proxy_options.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "net/resolve.hpp"

namespace agentbox::sandbox {

std::optional<net::ProxyOptions> proxy_options(const policy::Plan& plan, const EventSink& sink) {
    if (plan.net.mode != profile::NetMode::proxy) return std::nullopt;
    net::ProxyOptions o;
    o.net = plan.net;
    // The test overrides change where allowed names connect to and when connections end:
    // never silent.
    auto announce = [&sink](const char* what, const char* env, const std::string& how) {
        if (sink) sink(Event{"warning", {{what, std::string(env) + how}}});
    };
#ifdef AGENTBOX_TEST_RESOLVER
    if (const char* spec = std::getenv(net::kResolveOverrideEnv); spec && *spec) {
        o.resolve_override = net::parse_resolve_override(spec);
        announce("resolver", net::kResolveOverrideEnv, std::string(" is set: ") + spec);
    }
    if (const char* ms = std::getenv(net::kIdleOverrideEnv); ms && *ms) {
        char* end = nullptr;
        const long v = std::strtol(ms, &end, 10);
        if (*end != '\0' || v <= 0)
            throw std::invalid_argument(std::string(net::kIdleOverrideEnv) +
                                        ": not a number of milliseconds: " + ms);
        o.idle_timeout = std::chrono::milliseconds(v);
        announce("proxy", net::kIdleOverrideEnv, std::string(" is set: ") + ms);
    }
#else
    for (const auto& [what, env] : {std::pair{"resolver", net::kResolveOverrideEnv},
                                    std::pair{"proxy", net::kIdleOverrideEnv}})
        if (const char* v = std::getenv(env); v && *v)
            announce(what, env, " is ignored: this build has AGENTBOX_TEST_RESOLVER off");
#endif
    return o;
}

}  // namespace agentbox::sandbox
