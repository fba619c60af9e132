// Finding and reading profile files: the search path of DESIGN.md §3 and its trust rule.
// Internal to the profile module; callers use locate()/load()/list() from load.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "profile/model.hpp"

namespace agentbox::profile {

struct Located {
    std::string path;  // file path, or "<builtin:NAME>"
    std::string name;  // the NAME it was found by; "" when named by path
    // Position in the search path where it was found; search path size for a built-in.
    std::size_t rank = 0;
    bool by_path() const { return name.empty(); }
};

bool is_builtin_path(const std::string& path);
// The build-time SHA-256 of the built-in profile at `path` ("<builtin:NAME>"); null otherwise.
const char* builtin_sha256_of(const std::string& path);

// The directories actually searched: ctx.search_path (or the default one when empty), minus
// any directory inside the project unless the project is trusted.
std::vector<std::string> effective_search_path(const Context& ctx);

// Resolves NAME or PATH. A relative PATH is taken from `from_dir`. A NAME is looked up in the
// search path from position `min_rank` on, then among the built-ins. Errors are reported at
// `ref` (the extends entry that named it; an empty Source for the command line).
Located find_profile(const std::string& name_or_path, const Context& ctx,
                     const std::string& from_dir, std::size_t min_rank, const Source& ref);

// The bytes of a located profile. Refuses non-regular files and files over 1 MiB: a profile
// named `/dev/zero` or a FIFO must not hang or exhaust the launcher.
std::string read_profile(const Located& where, const Source& ref);

}  // namespace agentbox::profile
