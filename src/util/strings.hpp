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
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string to_lower(std::string_view s);

// Double-quoted, with control and non-printable bytes escaped (\n, \t, \xNN) so that a
// hostile file name cannot drive the user's terminal.
std::string quote(std::string_view s);
// The same as a TOML basic string: control bytes as \uNNNN.
std::string toml_quote(std::string_view s);

// Glob match. In path mode `*` and `?` stop at '/', `**` spans directories ("a/**" matches
// "a/b/c", "**/x" matches "x" and "d/x"); otherwise `*` matches any run of characters.
bool glob_match(std::string_view pattern, std::string_view text, bool path_mode = true);
bool has_glob(std::string_view s);

// Levenshtein distance, for did-you-mean suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, if close enough to be a plausible typo; "" otherwise.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

// Lexical path helpers (no filesystem access).
std::string normalize_path(std::string_view p);  // collapse //, /./, /../; keep leading /
bool path_within(std::string_view path, std::string_view dir);  // path == dir or below it
std::string relative_to(std::string_view path, std::string_view dir);  // "" if not within
std::size_t path_depth(std::string_view p);  // number of components

}  // namespace agentbox::util
