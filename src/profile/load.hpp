// Loading, layering and validating profiles. toml++ stays inside load.cpp.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "profile/model.hpp"

namespace agentbox::profile {

// Any problem with a profile: bad TOML, unknown key, wrong type, bad value, cycle in extends,
// unset ${VAR}, profile not found. what() is one line: "FILE:LINE:COL: message".
class ProfileError : public std::runtime_error {
public:
    ProfileError(Source where, const std::string& message);
    const Source& where() const { return where_; }
    const std::string& message() const { return message_; }
private:
    Source where_;
    std::string message_;
};

// Parse one TOML document into a single layer (no `extends` resolution). `origin` is what
// Source::file will say. Throws ProfileError.
Profile parse(std::string_view text, const std::string& origin, const Context& ctx);

// One [[test]] of a profile: what `agentbox explain OP TARGET` must answer (DESIGN.md §3).
// Tests belong to the file that writes them: a profile that extends another does not inherit
// its tests.
struct ProfileTest {
    std::string op;      // read|write|exec|connect|commit|env
    std::string target;  // as explain takes it: a path (~ allowed), HOST[:PORT], a name
    std::string expect;  // allow|deny|ask
    std::string note;    // why the profile promises it (optional)
    Source where;
};
// The [[test]] tables of one document, validated. Throws ProfileError.
std::vector<ProfileTest> read_tests(std::string_view text, const std::string& origin);

// Overlay `top` on `base`: set scalars of `top` override, lists append, maps merge per key.
void merge_into(Profile& base, const Profile& top);

// Find a profile by NAME (search path, then built-ins) or by path (contains '/' or ends in
// .toml). Returns the file path, or "<builtin:NAME>". Throws ProfileError if not found.
std::string locate(const std::string& name_or_path, const Context& ctx);

// Load NAME|FILE with its whole `extends` chain resolved and merged, base first.
Profile load(const std::string& name_or_path, const Context& ctx);

// Load several (`-p a -p b`), layered in order.
Profile load_all(const std::vector<std::string>& names, const Context& ctx);

// The search path of DESIGN.md §3 for this environment.
std::vector<std::string> default_search_path(const Context& ctx);

// Names of all profiles reachable (search path + built-ins), with where each one is.
struct Listed {
    std::string name;
    std::string path;
    std::string description;
};
std::vector<Listed> list(const Context& ctx);

// Parse "4GiB", "512M", "100k", "1024" into bytes; "30m", "1h30m", "45s", "500ms" into ms.
// Return std::nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view s);
std::optional<std::uint64_t> parse_duration_ms(std::string_view s);

// Text of a built-in profile, or nullptr.
const char* builtin_text(std::string_view name);
// The hex SHA-256 of builtin_text(name), computed at build time; null for an unknown name.
const char* builtin_sha256(std::string_view name);
std::vector<std::string> builtin_names();
// A profile's text with its comments cut, line breaks and every column before a '#' kept, so
// that positions in messages do not move. toml++ reads a comment character by character like
// any other text, and half of base.toml is comments: the built-ins are parsed this way at every
// start (a unit test checks each parses the same as written); a user's file is parsed as is.
std::string without_comments(std::string_view text);

}  // namespace agentbox::profile
