// The built-in profiles, compiled in from profiles/*.toml (cmake/embed_profiles.cmake), so
// that the binary never depends on, or trusts, files installed next to it.
#include <string>
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

std::string without_comments(std::string_view text) {
    // A multi-line string could hold a '#' on a line of its own; no built-in has one, so the
    // cheap answer is the text unchanged.
    if (text.find("\"\"\"") != text.npos || text.find("'''") != text.npos)
        return std::string(text);
    std::string out;
    out.reserve(text.size());
    char quote = 0;        // the quote of the string we are in, if any
    std::size_t kept = 0;  // text[kept, i) is still to be copied
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quote == 0) {
            if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '#') {
                out.append(text.substr(kept, i - kept));
                i = text.find('\n', i);  // the line break stays: it ends the comment
                if (i == text.npos) return out;
                kept = i;
            }
        } else if (quote == '"' && c == '\\') {
            ++i;  // an escaped character, a quote included
        } else if (c == quote) {
            quote = 0;
        }
    }
    out.append(text.substr(kept));
    return out;
}

std::vector<std::string> builtin_names() {
    std::vector<std::string> names;
    for (const auto& b : kBuiltins) names.emplace_back(b.name);
    return names;
}

}  // namespace agentbox::profile
