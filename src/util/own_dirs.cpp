#include "util/own_dirs.hpp"

#include "util/strings.hpp"

namespace agentbox::util {

const char* xdg_variable(OwnDir kind) {
    switch (kind) {
        case OwnDir::state: return "XDG_STATE_HOME";
        case OwnDir::config: return "XDG_CONFIG_HOME";
        case OwnDir::cache: return "XDG_CACHE_HOME";
    }
    return "";
}

std::string own_dir(OwnDir kind, std::string_view xdg, std::string_view home) {
    if (!xdg.empty() && xdg.front() == '/') return normalize_path(std::string(xdg) + "/agentbox");
    if (home.empty() || home.front() != '/') return {};
    const char* under = kind == OwnDir::state    ? "/.local/state/agentbox"
                        : kind == OwnDir::config ? "/.config/agentbox"
                                                 : "/.cache/agentbox";
    return normalize_path(std::string(home) + under);
}

}  // namespace agentbox::util
