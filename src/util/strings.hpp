// Small pure string helpers shared by every module.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace agentbox::util {

std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view trim(std::string_view s);
// Inline, as are has_glob and path_within: compiling a plan asks them for every path against
// every filesystem rule, thousands of times.
inline bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}
inline bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
std::string to_lower(std::string_view s);
// `n` bytes as lowercase hex digits (digests, MACs, blob ids).
std::string hex(const unsigned char* data, std::size_t n);

// Double-quoted, with control and non-printable bytes escaped (\n, \t, \xNN) so that a
// hostile file name cannot drive the user's terminal.
std::string quote(std::string_view s);
// The same as a TOML basic string: control bytes as \uNNNN.
std::string toml_quote(std::string_view s);

// Glob match. In path mode `*` and `?` stop at '/', `**` spans directories ("a/**" matches
// "a/b/c", "**/x" matches "x" and "d/x"); otherwise `*` matches any run of characters.
bool glob_match(std::string_view pattern, std::string_view text, bool path_mode = true);
inline bool has_glob(std::string_view s) {
    for (const char c : s)
        if (c == '*' || c == '?' || c == '[') return true;
    return false;
}

// Levenshtein distance, for did-you-mean suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, if close enough to be a plausible typo; "" otherwise.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

// Lexical path helpers (no filesystem access).
std::string normalize_path(std::string_view p);  // collapse //, /./, /../; keep leading /
// path == dir or below it
inline bool path_within(std::string_view path, std::string_view dir) {
    if (dir == "/") return !path.empty() && path.front() == '/';
    return starts_with(path, dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}
std::string relative_to(std::string_view path, std::string_view dir);  // "" if not within
std::size_t path_depth(std::string_view p);  // number of components

}  // namespace agentbox::util
