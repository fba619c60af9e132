#include "net/resolve.hpp"

#include <stdexcept>

#include "policy/hostrules.hpp"
#include "util/strings.hpp"

namespace agentbox::net {

ResolveMap parse_resolve_override(std::string_view spec) {
    ResolveMap out;
    for (const auto& raw : util::split(spec, ',')) {
        const std::string_view entry = util::trim(raw);
        if (entry.empty()) continue;
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos)
            throw std::invalid_argument(std::string(kResolveOverrideEnv) + ": entry " +
                                        util::quote(entry) + " is not NAME=ADDRESS");
        std::string name, addr;
        try {
            name = policy::canonical_host(util::trim(entry.substr(0, eq)));
            const auto t = policy::parse_target(util::trim(entry.substr(eq + 1)));
            if (!t.ip) throw std::invalid_argument("not an IP address");
            addr = t.host;
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string(kResolveOverrideEnv) + ": entry " +
                                        util::quote(entry) + ": " + e.what());
        }
        out[name].push_back(addr);
    }
    return out;
}

}  // namespace agentbox::net
