// The built-in profiles, compiled in from profiles/*.toml (cmake/embed_profiles.cmake), so
// that the binary never depends on, or trusts, files installed next to it.
#include <string_view>

#include "profile/load.hpp"

namespace agentbox::profile {

namespace {

struct Builtin {
    const char* name;
    const char* text;
    const char* sha256;  // of text, hex
};

constexpr Builtin kBuiltins[] = {
#include "builtin_profiles.inc"
};

}  // namespace

const char* builtin_text(std::string_view name) {
    for (const auto& b : kBuiltins)
        if (name == b.name) return b.text;
    return nullptr;
}

const char* builtin_sha256(std::string_view name) {
    for (const auto& b : kBuiltins)
        if (name == b.name) return b.sha256;
    return nullptr;
}

std::vector<std::string> builtin_names() {
    std::vector<std::string> names;
    for (const auto& b : kBuiltins) names.emplace_back(b.name);
    return names;
}

}  // namespace agentbox::profile
