// Joining and splitting paths, lexically (no filesystem access): the one spelling of each, for
// absolute host paths and for paths relative to a tree (a session's upper/, the project).
// Inline: the change scan joins once per entry of both trees.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace agentbox::util {

// `name` below `dir`: "/" + "a" is "/a" (no double slash); "" + "a" is "a" (the root of a
// relative tree); a `name` of "" is `dir` itself.
inline std::string path_join(std::string_view dir, std::string_view name) {
    if (name.empty()) return std::string(dir);
    if (dir.empty()) return std::string(name);
    std::string out;
    out.reserve(dir.size() + 1 + name.size());
    out.append(dir);
    if (dir != "/") out += '/';
    out.append(name);
    return out;
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
inline std::pair<std::string, std::string> split_parent(std::string_view rel) {
    const auto slash = rel.rfind('/');
    if (slash == std::string_view::npos) return {"", std::string(rel)};
    return {std::string(rel.substr(0, slash)), std::string(rel.substr(slash + 1))};
}

}  // namespace agentbox::util
