#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "util/escape.hpp"

namespace agentbox::util {

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string hex(const unsigned char* data, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    return out;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

namespace {

// Any other control byte as \uNNNN, as TOML wants it.
std::string toml_basic(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
    return out;
}

}  // namespace

std::string quote(std::string_view s) {
    // One escaping for everything shown to the user (util/escape.hpp); '"' escaped as well so
    // that the quotes delimit the name.
    std::string out = "\"";
    for (const char c : escape_for_terminal(s)) {
        if (c == '"') out += '\\';
        out += c;
    }
    return out + '"';
}

std::string toml_quote(std::string_view s) { return toml_basic(s); }

// A plain loop: find_first_of searches the set once per character, and this runs for every
// rule against every environment variable and path when a plan is compiled.

namespace {

// Iterative matcher with backtracking for `*` and `**`. Patterns are short (profile rules),
// so the worst case stays small; recursion is only for `**`, bounded by path depth.
bool match(std::string_view p, std::string_view t, bool path_mode) {
    std::size_t pi = 0, ti = 0;
    std::size_t star_p = std::string_view::npos, star_t = 0;
    while (ti < t.size() || pi < p.size()) {
        if (pi < p.size()) {
            char c = p[pi];
            if (path_mode && c == '*' && pi + 1 < p.size() && p[pi + 1] == '*') {
                // `**/` also matches zero directories; `**` at the end matches everything.
                std::string_view rest = p.substr(pi + 2);
                bool slash = !rest.empty() && rest.front() == '/';
                if (slash) rest.remove_prefix(1);
                if (rest.empty()) return true;
                for (std::size_t k = ti; k <= t.size(); ++k) {
                    if (k == ti || t[k - 1] == '/' || !slash)
                        if (match(rest, t.substr(k), path_mode)) return true;
                }
                return false;
            }
            if (c == '*') {
                star_p = pi++;
                star_t = ti;
                continue;
            }
            if (ti < t.size() && (c == '?' ? !(path_mode && t[ti] == '/') : c == t[ti])) {
                ++pi;
                ++ti;
                continue;
            }
        }
        if (star_p != std::string_view::npos && star_t < t.size() &&
            !(path_mode && t[star_t] == '/')) {
            pi = star_p + 1;
            ti = ++star_t;
            continue;
        }
        return false;
    }
    return true;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool path_mode) {
    return match(pattern, text, path_mode);
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the most
// common typo ("raed" for "read").
std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t w = b.size() + 1;
    std::vector<std::size_t> d((a.size() + 1) * w);
    for (std::size_t i = 0; i <= a.size(); ++i) d[i * w] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            std::size_t v = std::min({d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1,
                                      d[(i - 1) * w + j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = std::min(v, d[(i - 2) * w + j - 2] + 1);
            d[i * w + j] = v;
        }
    }
    return d[a.size() * w + b.size()];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_d = std::string::npos;
    for (const auto& c : candidates) {
        std::size_t d = edit_distance(to_lower(word), to_lower(c));
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    // A typo is at most a third of the word wrong (and at least one edit is allowed).
    std::size_t limit = std::max<std::size_t>(1, std::max(word.size(), best.size()) / 3);
    if (best_d <= limit) return best;
    // Else a short form of one name, and of one only: "claude" for "claude-code".
    std::string only;
    if (word.size() >= 3)
        for (const auto& c : candidates)
            if (c.size() > word.size() && to_lower(c).starts_with(to_lower(word))) {
                if (!only.empty()) return std::string();
                only = c;
            }
    return only;
}

namespace {

// No empty, "." or ".." segment and no trailing slash: normalize_path would return it as it is.
// Most paths a plan compiles are already so, and the general case splits and joins strings.
bool already_normal(std::string_view p) {
    if (p == "/") return true;
    if (p.empty() || p.back() == '/') return false;
    std::size_t start = p.front() == '/' ? 1 : 0;
    for (std::size_t i = start; i <= p.size(); ++i) {
        if (i < p.size() && p[i] != '/') continue;
        const std::string_view seg = p.substr(start, i - start);
        if (seg.empty() || seg == "." || seg == "..") return false;
        start = i + 1;
    }
    return true;
}

}  // namespace

std::string normalize_path(std::string_view p) {
    if (already_normal(p)) return std::string(p);
    bool abs = !p.empty() && p.front() == '/';
    std::vector<std::string> parts;
    for (auto& seg : split(p, '/')) {
        if (seg.empty() || seg == ".") continue;
        if (seg == "..") {
            if (!parts.empty() && parts.back() != "..") parts.pop_back();
            else if (!abs) parts.push_back(seg);
            continue;
        }
        parts.push_back(seg);
    }
    std::string out = abs ? "/" : "";
    out += join(parts, "/");
    if (out.empty()) out = ".";
    return out;
}


std::string relative_to(std::string_view path, std::string_view dir) {
    if (!path_within(path, dir)) return {};
    if (path.size() == dir.size()) return ".";
    std::size_t skip = dir == "/" ? 1 : dir.size() + 1;
    return std::string(path.substr(skip));
}

std::size_t path_depth(std::string_view p) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i] != '/' && (i == 0 || p[i - 1] == '/')) ++n;  // the first character of a component
    return n;
}

}  // namespace agentbox::util
