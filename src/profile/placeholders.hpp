// Placeholder expansion in profile values (DESIGN.md §3): `@project`, `@cwd`, `@tmp`, `~` and
// `@home` at the start of a value, `${VAR}` anywhere. Pure: the values come from Context.
#pragma once

#include <string>
#include <string_view>

#include "profile/model.hpp"

namespace agentbox::profile {

// A filesystem.* entry: placeholders expanded, normalized, and required to be absolute.
// `field` names the setting in messages ("filesystem.read"). Throws ProfileError at `src`.
std::string expand_path(std::string_view raw, const std::string& field, const Source& src,
                        const Context& ctx);

// An env.set value: the same placeholders, but the result is free text (not normalized, need
// not be a path).
std::string expand_value(std::string_view raw, const std::string& field, const Source& src,
                         const Context& ctx);

// A commit.protect entry: a glob relative to the project. A leading "@project/" is dropped and
// absolute paths (or ~, @home...) must lie inside the project; "@project" itself protects
// everything ("**"). The result never starts with "/" or "..".
std::string project_glob(std::string_view raw, const std::string& field, const Source& src,
                         const Context& ctx);

}  // namespace agentbox::profile
